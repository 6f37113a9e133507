import XCTest

@testable import SwiftpropCore

/// NumpyShuffle against NumPy's own numbers: `np.random.RandomState(5489)`
/// (MT19937's reference seed) and its `shuffle`.
final class NumpyShuffleTests: XCTestCase {
  /// NumPy's legacy seeding of an integer (Matsumoto and Nishimura's
  /// init_genrand): x₀ = seed, xᵢ = 1812433253·(xᵢ₋₁ ⊕ (xᵢ₋₁ ≫ 30)) + i, and
  /// the position at the end, so the first draw twists.
  func state(seed: UInt32) -> [UInt32] {
    var key = [UInt32](repeating: 0, count: 625)
    key[0] = seed
    for i in 1..<624 {
      key[i] = 1_812_433_253 &* (key[i - 1] ^ (key[i - 1] >> 30)) &+ UInt32(i)
    }
    key[624] = 624
    return key
  }

  func testTheFirstDrawsAreMT19937s() throws {
    var key = state(seed: 5489)
    try key.withUnsafeMutableBufferPointer { buffer in
      var stream = try XCTUnwrap(NumpyShuffle(state: buffer.baseAddress!))
      // The reference implementation's first outputs for seed 5489.
      XCTAssertEqual(stream.next32(), 3_499_211_612)
      XCTAssertEqual(stream.next32(), 581_869_302)
      XCTAssertEqual(stream.next32(), 3_890_346_734)
      stream.store()
    }
    XCTAssertEqual(key[624], 3)
  }

  func testShuffleIsRandomStateShuffle() throws {
    var key = state(seed: 5489)
    var order = Array(0..<10)
    try key.withUnsafeMutableBufferPointer { buffer in
      var stream = try XCTUnwrap(NumpyShuffle(state: buffer.baseAddress!))
      order.withUnsafeMutableBufferPointer { stream.shuffle($0) }
      // np.random.RandomState(5489).shuffle(a := np.arange(10)); a
      XCTAssertEqual(order, [4, 9, 0, 7, 8, 3, 2, 1, 5, 6])
      order.withUnsafeMutableBufferPointer { stream.shuffle($0) }
      // ... shuffled a second time, from that order
      XCTAssertEqual(order, [7, 6, 3, 5, 2, 0, 9, 8, 1, 4])
      stream.store()
    }
    // 18 bounded draws and their redraws: NumPy's get_state()[2] then.
    XCTAssertEqual(key[624], 26)
  }

  func testAPositionPastTheKeyIsRefused() {
    var key = state(seed: 1)
    key[624] = 625
    key.withUnsafeMutableBufferPointer { buffer in
      XCTAssertNil(NumpyShuffle(state: buffer.baseAddress!))
    }
  }

  func testIntervalStaysInRange() throws {
    var key = state(seed: 7)
    try key.withUnsafeMutableBufferPointer { buffer in
      var stream = try XCTUnwrap(NumpyShuffle(state: buffer.baseAddress!))
      for limit in [0, 1, 2, 3, 5, 1000, 1 << 31, UInt64(UInt32.max), 1 << 40] as [UInt64] {
        for _ in 0..<50 { XCTAssertLessThanOrEqual(stream.interval(limit), limit) }
      }
    }
  }
}
