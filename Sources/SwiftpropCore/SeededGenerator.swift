#if canImport(Glibc)
  import Glibc
#endif

/// SplitMix64 (Steele, Lea and Flood, 2014): the engine's only source of
/// randomness, for initial weights and shuffling orders.
///
/// The Python twin is `swiftprop/_random.py`; both produce the same stream
/// from the same seed, so the NumPy reference can replay a Swift network.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
  public var state: UInt64

  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A double in [0, 1) with 53 random bits.
  public mutating func uniform() -> Double {
    Double(next() >> 11) * 0x1.0p-53
  }

  /// An integer in [0, n): the high word of the 128-bit product next() · n.
  public mutating func below(_ n: Int) -> Int {
    Int(next().multipliedFullWidth(by: UInt64(n)).high)
  }

  /// A standard normal draw (Box–Muller, cosine branch only).
  public mutating func normal() -> Double {
    let u1 = 1.0 - uniform()  // in (0, 1]: log(u1) is finite
    let u2 = uniform()
    return (-2.0 * Double.log(u1)).squareRoot() * cos(2.0 * Double.pi * u2)
  }

  /// Fisher–Yates shuffle of 0..<order.count, starting from the identity.
  public mutating func fillPermutation(_ order: UnsafeMutableBufferPointer<Int>) {
    for i in order.indices { order[i] = i }
    var i = order.count - 1
    while i > 0 {
      order.swapAt(i, below(i + 1))
      i -= 1
    }
  }

  /// The same shuffle of an array (tests and small callers).
  public mutating func fillPermutation(_ order: inout [Int]) {
    order.withUnsafeMutableBufferPointer { fillPermutation($0) }
  }
}
