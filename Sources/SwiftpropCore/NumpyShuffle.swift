/// NumPy's legacy random stream (`numpy.random.RandomState`: the 32-bit
/// Mersenne Twister MT19937 of Matsumoto and Nishimura, 1998) and the
/// Fisher–Yates shuffle `RandomState.shuffle` makes of it, so a fit can
/// take scikit-learn's batch order: scikit-learn's MLP shuffles its row
/// numbers once per epoch with `random_state.shuffle`, continuing the
/// stream its initial weights were drawn from.
///
/// The state is the caller's: `key` points at NumPy's 624 state words
/// followed by the position `pos` (`RandomState.get_state()`'s key and pos),
/// read and advanced in place, so the caller's `RandomState` can continue
/// from where the engine stopped. Python's twin is NumPy itself.
struct NumpyShuffle {
  static let words = 624
  private static let shift = 397
  private let key: UnsafeMutablePointer<UInt32>
  private var position: Int

  /// nil when the position is outside 0...624 (not a state NumPy makes).
  init?(state: UnsafeMutablePointer<UInt32>) {
    let position = Int(state[Self.words])
    guard position <= Self.words else { return nil }
    key = state
    self.position = position
  }

  /// Writes the position back after the key words.
  func store() { key[Self.words] = UInt32(position) }

  /// The next 32 bits: when all 624 words are used, the twist makes 624 new
  /// ones (x_{k+624} = x_{k+397} ⊕ ((upper bit of x_k | lower 31 of
  /// x_{k+1}) ≫ 1) ⊕ (0x9908B0DF if that bit pattern is odd)); each word is
  /// then tempered by four shift-and-mask steps.
  mutating func next32() -> UInt32 {
    if position >= Self.words { twist() }
    var y = key[position]
    position += 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C_5680
    y ^= (y << 15) & 0xEFC6_0000
    y ^= y >> 18
    return y
  }

  private mutating func twist() {
    let n = Self.words
    for k in 0..<n {
      let y = (key[k] & 0x8000_0000) | (key[(k + 1) % n] & 0x7FFF_FFFF)
      key[k] = key[(k + Self.shift) % n] ^ (y >> 1) ^ (y & 1 == 0 ? 0 : 0x9908_B0DF)
    }
    position = 0
  }

  /// A uniform integer in 0...limit, NumPy's bounded draw: values of 32 bits
  /// (64, two draws high word first, when limit needs more) masked to the
  /// smallest 2^k − 1 ≥ limit, redrawn while above the limit.
  mutating func interval(_ limit: UInt64) -> UInt64 {
    if limit == 0 { return 0 }
    var mask = limit
    mask |= mask >> 1
    mask |= mask >> 2
    mask |= mask >> 4
    mask |= mask >> 8
    mask |= mask >> 16
    mask |= mask >> 32
    if limit <= UInt64(UInt32.max) {
      while true {
        let value = UInt64(next32()) & mask
        if value <= limit { return value }
      }
    }
    while true {
      let high = UInt64(next32())
      let value = ((high << 32) | UInt64(next32())) & mask
      if value <= limit { return value }
    }
  }

  /// `RandomState.shuffle` of `order` in place: for i from count − 1 down
  /// to 1, swap entry i with entry interval(i).
  mutating func shuffle(_ order: UnsafeMutableBufferPointer<Int>) {
    var i = order.count - 1
    while i > 0 {
      order.swapAt(i, Int(interval(UInt64(i))))
      i -= 1
    }
  }
}
