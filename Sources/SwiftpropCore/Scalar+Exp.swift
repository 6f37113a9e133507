/// eˣ over arrays, written so that the compiler vectorises it (the C
/// library's exp is one call per value).
///
/// x = k·ln 2 + r with |r| ≤ ln 2 / 2 (Cody–Waite, ln 2 in two parts);
/// eʳ is a Taylor polynomial (degree 13 for Double, 7 for Float: the
/// truncation error is below 1e-17 and 1e-8 relative) and 2ᵏ is built in the
/// exponent bits. The result is within a few units in the last place of the
/// C library's (the float64 tests hold the engine to NumPy at 1e-10).
/// Overflow gives +inf, results below the smallest normal number flush to
/// 0, NaN stays NaN.
extension Scalar {
  /// out[i] = exp(sign · x[i] − shift) for `count` values; `out` must not
  /// overlap `x`.
  @inlinable
  static func exp(
    _ x: UnsafePointer<Self>, sign: Self, shift: Self, into out: UnsafeMutablePointer<Self>,
    count: Int
  ) {
    if Self.self == Double.self {
      let input = UnsafeRawPointer(x).assumingMemoryBound(to: Double.self)
      let output = UnsafeMutableRawPointer(out).assumingMemoryBound(to: Double.self)
      let sign = Double(sign), shift = Double(shift)
      for i in 0..<count { output[i] = vectorisableExp(sign * input[i] - shift) }
    } else {
      let input = UnsafeRawPointer(x).assumingMemoryBound(to: Float.self)
      let output = UnsafeMutableRawPointer(out).assumingMemoryBound(to: Float.self)
      let sign = Float(sign), shift = Float(shift)
      for i in 0..<count { output[i] = vectorisableExp(sign * input[i] - shift) }
    }
  }
}

@inlinable @inline(__always)
func vectorisableExp(_ x: Double) -> Double {
  let high = 709.782712893384, low = -708.3964185322641  // ln(max), ln(min normal)
  let clamped = min(max(x, low), high)
  // k = round(x / ln 2) through the 1.5·2⁵² trick: its low bits hold k.
  let shifted = clamped * 1.4426950408889634 + 0x1.8p52
  let k = shifted - 0x1.8p52
  let r = (clamped - k * 0x1.62e42fee00000p-1) - k * 0x1.a39ef35793c76p-33
  var p = 1.0 / 6_227_020_800  // 1/13!
  p = p * r + 1.0 / 479_001_600
  p = p * r + 1.0 / 39_916_800
  p = p * r + 1.0 / 3_628_800
  p = p * r + 1.0 / 362_880
  p = p * r + 1.0 / 40_320
  p = p * r + 1.0 / 5_040
  p = p * r + 1.0 / 720
  p = p * r + 1.0 / 120
  p = p * r + 1.0 / 24
  p = p * r + 1.0 / 6
  p = p * r + 0.5
  p = p * r + 1.0
  p = p * r + 1.0
  // 2ᵏ·p: add k to p's exponent field. The 1.5·2⁵² trick left k in the low
  // bits of `shifted`; shifting by 52 keeps exactly k·2⁵² (two's complement).
  // The clamp keeps the sum a normal number.
  let bits = Int64(bitPattern: shifted.bitPattern) &<< 52
  let scaled = Double(bitPattern: UInt64(bitPattern: Int64(bitPattern: p.bitPattern) &+ bits))
  let result = x > high ? Double.infinity : (x < low ? 0 : scaled)
  return x.isNaN ? x : result
}

@inlinable @inline(__always)
func vectorisableExp(_ x: Float) -> Float {
  let high: Float = 88.72283, low: Float = -87.33654  // ln(max), ln(min normal)
  let clamped = min(max(x, low), high)
  let shifted = clamped * 1.442695 + 0x1.8p23
  let k = shifted - 0x1.8p23
  let r = (clamped - k * 0x1.62e4p-1) - k * 0x1.7f7d1cp-20
  var p: Float = 1.0 / 5040
  p = p * r + 1.0 / 720
  p = p * r + 1.0 / 120
  p = p * r + 1.0 / 24
  p = p * r + 1.0 / 6
  p = p * r + 0.5
  p = p * r + 1
  p = p * r + 1
  let bits = Int32(bitPattern: shifted.bitPattern) &<< 23
  let scaled = Float(bitPattern: UInt32(bitPattern: Int32(bitPattern: p.bitPattern) &+ bits))
  let result = x > high ? Float.infinity : (x < low ? 0 : scaled)
  return x.isNaN ? x : result
}
