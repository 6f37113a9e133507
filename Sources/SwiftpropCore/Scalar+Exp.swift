/// eˣ on SIMD vectors, and over arrays through them (the C library's exp
/// is one call per value).
///
/// x = k·ln 2 + r with |r| ≤ ln 2 / 2 (Cody–Waite, ln 2 in two parts);
/// eʳ is a Taylor polynomial (degree 13 for Double, 7 for Float: the
/// truncation error is below 1e-17 and 1e-8 relative), summed by Estrin's
/// scheme so that it is a short chain of dependent steps, and 2ᵏ is built in the
/// exponent bits. The result is within a few units in the last place of the
/// C library's (the float64 tests hold the engine to NumPy at 1e-10).
/// Overflow gives +inf, results below the smallest normal number flush to
/// 0, NaN stays NaN.
extension Scalar {
  /// out[i] = exp(sign · x[i] − shift) for `count` values; `out` must not
  /// overlap `x`. A last partial vector is computed in a padded copy.
  @inlinable
  static func exp(
    _ x: UnsafePointer<Self>, sign: Self, shift: Self, into out: UnsafeMutablePointer<Self>,
    count: Int
  ) {
    var i = 0
    while i + 8 <= count {
      let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Self>.self)
      UnsafeMutableRawPointer(out + i).storeBytes(
        of: laneExp(sign * v - shift), as: SIMD8<Self>.self)
      i += 8
    }
    if i < count {
      var v = SIMD8<Self>()
      for j in 0..<(count - i) { v[j] = x[i + j] }
      let e = laneExp(sign * v - shift)
      for j in 0..<(count - i) { out[i + j] = e[j] }
    }
  }
}

/// eˣ in every lane, for either scalar type.
@inlinable @_transparent
func laneExp<T: Scalar>(_ x: SIMD8<T>) -> SIMD8<T> {
  if T.self == Double.self {
    return unsafeBitCast(exp8(unsafeBitCast(x, to: SIMD8<Double>.self)), to: SIMD8<T>.self)
  }
  return unsafeBitCast(exp8(unsafeBitCast(x, to: SIMD8<Float>.self)), to: SIMD8<T>.self)
}

@inlinable @_transparent
func exp8(_ x: SIMD8<Double>) -> SIMD8<Double> {
  typealias V = SIMD8<Double>
  let high = 709.782712893384, low = -708.3964185322641  // ln(max), ln(min normal)
  var clamped = x
  clamped.replace(with: low, where: x .< low)
  clamped.replace(with: high, where: x .> high)
  // k = round(x / ln 2) through the 1.5·2⁵² trick: its low bits hold k.
  let shifted = clamped * 1.4426950408889634 + 0x1.8p52
  let k = shifted - 0x1.8p52
  let r = (clamped - k * 0x1.62e42fee00000p-1) - k * 0x1.a39ef35793c76p-33
  // The Taylor coefficients 1/i!, summed by Estrin's scheme: pairs, then
  // pairs of pairs in r², r⁴ and r⁸, a short chain of dependent steps.
  let r2 = r * r, r4 = r2 * r2, r8 = r4 * r4
  let q0 = 1.0 + r
  let q1 = 0.5 + r * (1.0 / 6)
  let q2 = 1.0 / 24 + r * (1.0 / 120)
  let q3 = 1.0 / 720 + r * (1.0 / 5_040)
  let q4 = 1.0 / 40_320 + r * (1.0 / 362_880)
  let q5 = 1.0 / 3_628_800 + r * (1.0 / 39_916_800)
  let q6 = 1.0 / 479_001_600 + r * (1.0 / 6_227_020_800)  // 1/12!, 1/13!
  let p = ((q0 + q1 * r2) + (q2 + q3 * r2) * r4) + ((q4 + q5 * r2) + q6 * r4) * r8
  // 2ᵏ·p: add k to p's exponent field. The 1.5·2⁵² trick left k in the low
  // bits of `shifted`; shifting by 52 keeps exactly k·2⁵² (two's complement).
  // The clamp keeps the sum a normal number.
  let bits = unsafeBitCast(shifted, to: SIMD8<Int64>.self) &<< 52
  var result = unsafeBitCast(unsafeBitCast(p, to: SIMD8<Int64>.self) &+ bits, to: V.self)
  result.replace(with: .infinity, where: x .> high)
  result.replace(with: 0, where: x .< low)
  result.replace(with: x, where: x .!= x)  // NaN stays NaN
  return result
}

@inlinable @_transparent
func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
  typealias V = SIMD8<Float>
  let high: Float = 88.72283, low: Float = -87.33654  // ln(max), ln(min normal)
  var clamped = x
  clamped.replace(with: low, where: x .< low)
  clamped.replace(with: high, where: x .> high)
  let shifted = clamped * 1.442695 + 0x1.8p23
  let k = shifted - 0x1.8p23
  let r = (clamped - k * 0x1.62e4p-1) - k * 0x1.7f7d1cp-20
  let r2 = r * r, r4 = r2 * r2
  let q0 = 1 + r
  let q1 = 0.5 + r * (1 / 6 as Float)
  let q2 = 1 / 24 + r * (1 / 120 as Float)
  let q3 = 1 / 720 + r * (1 / 5040 as Float)
  let p = (q0 + q1 * r2) + (q2 + q3 * r2) * r4
  let bits = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &<< 23
  var result = unsafeBitCast(unsafeBitCast(p, to: SIMD8<Int32>.self) &+ bits, to: V.self)
  result.replace(with: .infinity, where: x .> high)
  result.replace(with: 0, where: x .< low)
  result.replace(with: x, where: x .!= x)
  return result
}
