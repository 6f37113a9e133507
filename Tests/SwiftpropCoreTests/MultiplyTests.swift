import Foundation
import XCTest

@testable import SwiftpropCore

/// The one matrix product against a plain triple loop, for every
/// combination of transposes and for sizes that are not multiples of the
/// kernel's tile (6 rows × 2 vectors), on both sides of the small-product,
/// depth-block and two-thread limits.
final class MultiplyTests: XCTestCase {
  func naive(_ a: [Double], _ tA: Bool, _ b: [Double], _ tB: Bool, m: Int, n: Int, k: Int) -> [Double] {
    var c = [Double](repeating: 0, count: m * n)
    for i in 0..<m {
      for j in 0..<n {
        var sum = 0.0
        for p in 0..<k {
          sum += (tA ? a[p * m + i] : a[i * k + p]) * (tB ? b[j * k + p] : b[p * n + j])
        }
        c[i * n + j] = sum
      }
    }
    return c
  }

  /// With `slack`, B is followed by `bufferSlack` NaNs that the product
  /// may read (as it may past a `Buffer`) but must never let into C.
  func check<T: Scalar>(_: T.Type, m: Int, n: Int, k: Int, tolerance: Double, slack: Bool = false) {
    var generator = SeededGenerator(seed: UInt64(m * 10_000 + n * 100 + k))
    let a = (0..<m * k).map { _ in generator.uniform() - 0.5 }
    let b = (0..<k * n).map { _ in generator.uniform() - 0.5 }
    let start = (0..<m * n).map { _ in generator.uniform() }
    var scratch = [T](repeating: 0, count: multiplyScratchCount(maxColumns: n, maxRows: m, maxDepth: k, of: T.self))
    for (tA, tB) in [(false, false), (true, false), (false, true), (true, true)] {
      let expected = naive(a, tA, b, tB, m: m, n: n, k: k)
      for accumulate in [false, true] {
        var c = start.map { T($0) }
        let aT = a.map { T($0) }
        let bT = b.map { T($0) } + (slack ? Array(repeating: .nan, count: bufferSlack(of: T.self)) : [])
        aT.withUnsafeBufferPointer { ap in
          bT.withUnsafeBufferPointer { bp in
            c.withUnsafeMutableBufferPointer { cp in
              scratch.withUnsafeMutableBufferPointer { sp in
                multiply(ap.baseAddress!, transposeA: tA, bp.baseAddress!, transposeB: tB,
                         into: cp.baseAddress!, m: m, n: n, k: k, accumulate: accumulate,
                         scratch: sp.baseAddress!, bSlack: slack)
              }
            }
          }
        }
        var worst = 0.0
        for i in 0..<m * n {
          let want = expected[i] + (accumulate ? Double(T(start[i])) : 0)
          let difference = abs(Double(c[i]) - want)
          if !(difference <= worst) { worst = difference }  // a NaN sticks
        }
        XCTAssertLessThanOrEqual(
          worst, tolerance * Double(k),
          "\(T.self) m \(m) n \(n) k \(k) tA \(tA) tB \(tB) accumulate \(accumulate)")
      }
    }
  }

  func testSmallAndOddSizes() {
    for (m, n, k) in [(1, 1, 1), (4, 2, 2), (7, 5, 3), (13, 17, 19), (6, 16, 40), (1, 70, 64), (5, 33, 9)] {
      check(Double.self, m: m, n: n, k: k, tolerance: 1e-15)
      check(Float.self, m: m, n: n, k: k, tolerance: 1e-6)
    }
  }

  func testPackedKernelEdges() {
    for (m, n, k) in [(37, 70, 300), (97, 33, 257), (6, 16, 600), (101, 9, 65), (130, 129, 33)] {
      check(Double.self, m: m, n: n, k: k, tolerance: 1e-15)
      check(Float.self, m: m, n: n, k: k, tolerance: 1e-6)
    }
  }

  func testWeightsReadInPlaceAndPacked() {
    // k·n below and above the size read in place, with and without a last
    // panel narrower than the tile, and depths past one block.
    for (m, n, k) in [(32, 128, 64), (32, 10, 128), (128, 10, 32), (45, 130, 300), (7, 1030, 40), (300, 40, 200)] {
      for slack in [false, true] {
        check(Double.self, m: m, n: n, k: k, tolerance: 1e-15, slack: slack)
        check(Float.self, m: m, n: n, k: k, tolerance: 1e-6, slack: slack)
      }
    }
  }

  func testEveryTileHeight() {
    // Row counts whose last tiles are 1 to 5 rows high, read in place and
    // (m·k large enough) packed in blocks of rows.
    for m in 6...22 {
      check(Double.self, m: m, n: 40, k: 24, tolerance: 1e-15, slack: m % 2 == 0)
      check(Float.self, m: m, n: 40, k: 24, tolerance: 1e-6, slack: m % 2 == 0)
    }
    for m in [103, 104, 105, 199] {
      check(Double.self, m: m, n: 35, k: 300, tolerance: 1e-15)
      check(Float.self, m: m, n: 35, k: 300, tolerance: 1e-6)
    }
  }

  func testTwoThreadPath() {
    check(Float.self, m: 200, n: 150, k: 160, tolerance: 1e-6)
    check(Double.self, m: 160, n: 200, k: 170, tolerance: 1e-15)
  }

  /// The operands A (m·k values) and B (k·n) of `product`.
  func productOperands(m: Int, n: Int, k: Int) -> (a: [Double], b: [Double]) {
    var generator = SeededGenerator(seed: 5)
    let a = (0..<m * k).map { _ in generator.uniform() - 0.5 }
    let b = (0..<k * n).map { _ in generator.uniform() - 0.5 }
    return (a, b)
  }

  /// C of a product large enough for two threads, with the helper thread
  /// allowed or not.
  func product<T: Scalar>(
    _: T.Type, m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool = false, helper: Bool
  ) -> [T] {
    let operands = productOperands(m: m, n: n, k: k)
    let a = operands.a.map { T($0) }
    let b = operands.b.map { T($0) }
    var c = [T](repeating: 0, count: m * n)
    var scratch = [T](repeating: 0, count: multiplyScratchCount(maxColumns: n, maxRows: m, maxDepth: k, of: T.self))
    HelperThread.shared.enabled = helper
    defer { HelperThread.shared.enabled = true }
    multiply(a, transposeA: transposeA, b, transposeB: transposeB, into: &c, m: m, n: n, k: k,
             accumulate: false, scratch: &scratch)
    return c
  }

  /// A shared product whose A is larger than `packedBandBytes`: packed and
  /// multiplied in bands of rows (the second band's packing waits for the
  /// first band's products), against the plain loops and bit for bit
  /// against the calling thread alone.
  func testSharedProductInSeveralBands() {
    let (m, n, k) = (700, 40, 400)
    XCTAssertLessThan(packedBandRows(k: k, of: Double.self), m)
    XCTAssertGreaterThanOrEqual(m * n * k, parallelProductLimit)
    check(Double.self, m: m, n: n, k: k, tolerance: 1e-15)
    for (transposeA, transposeB) in [(false, false), (true, false), (false, true)] {
      let two = product(
        Double.self, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, helper: true)
      let one = product(
        Double.self, m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, helper: false)
      XCTAssertEqual(two.map(\.bitPattern), one.map(\.bitPattern))
    }
  }

  /// Many shared products whose panel units wait for the packing units:
  /// the helper may claim a unit, wait for the packing, and find the
  /// caller done with every other unit; its unit must still run (every
  /// result equals the calling thread's alone, to the bit).
  func testEveryUnitRunsWhenTheHelperWaitsForAPhase() {
    let (m, n, k) = (300, 64, 300)
    XCTAssertGreaterThan(m * k * MemoryLayout<Float>.stride, directInputBytes)
    let one = product(Float.self, m: m, n: n, k: k, transposeA: false, helper: false)
    for _ in 0..<30 {
      let two = product(Float.self, m: m, n: n, k: k, transposeA: false, helper: true)
      XCTAssertEqual(two.map(\.bitPattern), one.map(\.bitPattern))
    }
  }

  /// Products whose rows are one block, with a wide packed B: B is packed
  /// a group of panels at a time, and a shared product runs a phase per
  /// depth block. With two threads, with the calling thread running every
  /// unit, and with a thread limit of one (the unsplit loop), C is the
  /// same to the bit; against the plain loops within rounding. Sizes: A
  /// packed (several bands of rows for k = 2800) and read in place, a last
  /// partial group, a narrow last panel, a partial last depth block.
  func testGroupedPanelsAndDepthPhases() {
    func modes<T: Scalar>(_: T.Type, m: Int, n: Int, k: Int) {
      let limit = HelperThread.shared.threadLimit
      defer { HelperThread.shared.threadLimit = limit }
      HelperThread.shared.threadLimit = 2
      let splits = HelperThread.shared.counts.splitProducts
      let two = product(T.self, m: m, n: n, k: k, transposeA: false, helper: true)
      XCTAssertEqual(HelperThread.shared.counts.splitProducts, splits + 1, "\(T.self) \(m) \(n) \(k)")
      let caller = product(T.self, m: m, n: n, k: k, transposeA: false, helper: false)
      HelperThread.shared.threadLimit = 1
      let one = product(T.self, m: m, n: n, k: k, transposeA: false, helper: true)
      func bits(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }
      XCTAssert(bits(two) == bits(caller), "caller alone: \(T.self) \(m) \(n) \(k)")
      XCTAssert(bits(two) == bits(one), "thread limit 1: \(T.self) \(m) \(n) \(k)")
    }
    let groupPanels = packedGroupBytes / MemoryLayout<Double>.stride / panelStride(of: Double.self)
    let width = KernelVector<Double>.scalarCount * 2
    XCTAssertGreaterThan(490, 2 * groupPanels * width)
    XCTAssertLessThanOrEqual(packedBandRows(k: 2800, of: Double.self), rowBlock)
    // n = 236 (220 with 512-bit vectors): the two workers' slots are every
    // panel, the last one narrow (packed into the group's slots only).
    let slotsExactly = 2 * groupPanels * width - 4
    XCTAssertGreaterThanOrEqual(64 * slotsExactly * 600, parallelProductLimit)
    for (m, n, k) in [(64, 490, 600), (64, slotsExactly, 600), (20, 600, 400), (100, 120, 2800)] {
      modes(Double.self, m: m, n: n, k: k)
    }
    modes(Float.self, m: 30, n: 500, k: 700)
    // Against the plain loops (C = A·B only: `check` covers the rest).
    let (m, n, k) = (20, 600, 400)
    let c = product(Double.self, m: m, n: n, k: k, transposeA: false, helper: true)
    let (a, b) = productOperands(m: m, n: n, k: k)
    let expected = naive(a, false, b, false, m: m, n: n, k: k)
    let worst = zip(c, expected).map { abs($0 - $1) }.max() ?? .nan
    XCTAssertLessThanOrEqual(worst, 1e-15 * Double(k))
  }

  /// A transposed B packed panel by panel: depths that are and are not a
  /// whole number of vectors, a last panel narrower than the tile, and
  /// rows of B a multiple of 4 KiB apart.
  func testTransposedPanels() {
    for (m, n, k) in [(40, 70, 300), (33, 45, 1024), (17, 130, 19)] {
      check(Float.self, m: m, n: n, k: k, tolerance: 1e-6)
      check(Double.self, m: m, n: n, k: k, tolerance: 1e-15)
    }
  }

  /// Up to `thinDepth` rows times a transposed B (δ·Wᵀ of a small batch):
  /// rows of A and B against each other, four rows of A and two of B at a
  /// time (one row of A and four of B for one row), with depths that are
  /// and are not whole vectors and an odd n.
  func testFewRowsTimesTransposedB() {
    for m in 1...thinDepth {
      for (n, k) in [(1, 8), (2, 13), (7, 300), (64, 17)] {
        check(Float.self, m: m, n: n, k: k, tolerance: 1e-6)
        check(Double.self, m: m, n: n, k: k, tolerance: 1e-15)
      }
    }
    // One row (four rows of B at a time) is, to the bit, the first row of
    // the same product over two rows (four of A against two of B).
    func oneRow<T: Scalar>(_: T.Type, n: Int, k: Int) {
      var (a, b, start, scratch) = operands(T.self, m: 2, n: n, k: k)
      for accumulate in [false, true] {
        var one = Array(start.prefix(n)), two = start
        multiply(a, transposeA: false, b, transposeB: true, into: &one, m: 1, n: n, k: k,
                 accumulate: accumulate, scratch: &scratch)
        multiply(a, transposeA: false, b, transposeB: true, into: &two, m: 2, n: n, k: k,
                 accumulate: accumulate, scratch: &scratch)
        XCTAssertEqual(one, Array(two.prefix(n)), "\(T.self) n \(n) k \(k) accumulate \(accumulate)")
      }
    }
    for (n, k) in [(1, 8), (6, 13), (7, 300), (64, 17)] {
      oneRow(Float.self, n: n, k: k)
      oneRow(Double.self, n: n, k: k)
    }
  }

  /// Aᵀ·B over a few rows (dW of a small batch): odd row counts (a last
  /// row without a pair), columns that are not whole blocks or vectors,
  /// against the plain loop; and every element to the bit the kernel's
  /// chain of multiply-adds from zero over r, in either accumulate mode.
  func testThinDepthTransposedA() {
    for k in 1...thinDepth {
      for (m, n) in [(fewRows, 700), (7, 33), (129, 40), (64, 513)] {
        check(Float.self, m: m, n: n, k: k, tolerance: 1e-6)
        check(Double.self, m: m, n: n, k: k, tolerance: 1e-15)
      }
    }
    func chains<T: Scalar>(_: T.Type) {
      let m = 9, n = 45, k = 5
      var generator = SeededGenerator(seed: 17)
      let a = (0..<k * m).map { _ in T(generator.uniform() - 0.5) }
      let b = (0..<k * n).map { _ in T(generator.uniform() - 0.5) }
      let start = (0..<m * n).map { _ in T(generator.uniform()) }
      for accumulate in [false, true] {
        var c = start
        c.withUnsafeMutableBufferPointer { cp in
          multiplyThinDepth(a, b, into: cp.baseAddress!, m: m, n: n, k: k, accumulate: accumulate)
        }
        for i in 0..<m {
          for j in 0..<n {
            var chain = SIMD2<T>()
            for r in 0..<k {
              chain = multiplyAdd(chain, SIMD2(repeating: a[r * m + i]), SIMD2(repeating: b[r * n + j]))
            }
            let want = accumulate ? start[i * n + j] + chain[0] : chain[0]
            XCTAssertEqual(Double(c[i * n + j]), Double(want), "\(T.self) \(i) \(j) \(accumulate)")
          }
        }
      }
    }
    chains(Float.self)
    chains(Double.self)
  }

  /// A (m·k values) and B (k·n) in [−0.5, 0.5), a starting C (m·n) in
  /// [0, 1), and the scratch a product of that shape needs; seeded by the
  /// shape.
  func operands<T: Scalar>(_: T.Type, m: Int, n: Int, k: Int) -> (a: [T], b: [T], start: [T], scratch: [T]) {
    var generator = SeededGenerator(seed: UInt64(m * 1000 + n + k))
    let a = (0..<m * k).map { _ in T(generator.uniform() - 0.5) }
    let b = (0..<k * n).map { _ in T(generator.uniform() - 0.5) }
    let start = (0..<m * n).map { _ in T(generator.uniform()) }
    let scratch = [T](
      repeating: 0, count: multiplyScratchCount(maxColumns: n, maxRows: m, maxDepth: k, of: T.self))
    return (a, b, start, scratch)
  }

  /// A · B of 1 to `streamedRows` rows runs over B a chunk of rows at a time, the sums
  /// waiting in C between chunks: every element must still be one chain
  /// over p in order (fused multiply-adds in the vector blocks, a multiply
  /// then an add in the columns past them), from zero or from C, with one
  /// chunk (k small) or many (k past a chunk, rows wider than L1).
  func testFewRowsInChunksAreOneChain() {
    func chains<T: Scalar>(_: T.Type, m: Int, n: Int, k: Int) {
      var (a, b, start, scratch) = operands(T.self, m: m, n: n, k: k)
      let blocked = n / (4 * T.Vector.scalarCount) * (4 * T.Vector.scalarCount)
      for accumulate in [false, true] {
        var c = start
        c.withUnsafeMutableBufferPointer { cp in
          scratch.withUnsafeMutableBufferPointer { sp in
            multiply(a, transposeA: false, b, transposeB: false, into: cp.baseAddress!, m: m, n: n,
                     k: k, accumulate: accumulate, scratch: sp.baseAddress!)
          }
        }
        var differing = 0
        for i in 0..<m {
          for j in 0..<n {
            var chain = SIMD2<T>(repeating: accumulate ? start[i * n + j] : 0)
            for p in 0..<k {
              let x = SIMD2(repeating: a[i * k + p]), y = SIMD2(repeating: b[p * n + j])
              chain = j < blocked ? multiplyAdd(chain, x, y) : chain + x * y
            }
            if c[i * n + j] != chain[0] { differing += 1 }
          }
        }
        XCTAssertEqual(differing, 0, "\(T.self) m \(m) n \(n) k \(k) accumulate \(accumulate)")
      }
    }
    for m in [1, 2, 3, 4, 5, 6, 7, 8, 11, streamedRows] {
      for (n, k) in [(40, 3), (33, 300), (1000, 37), (9000, 9)] {
        chains(Float.self, m: m, n: n, k: k)
        chains(Double.self, m: m, n: n, k: k)
      }
    }
  }

  /// The paths a product takes, and so its bits, must not depend on the
  /// build's tile height (6 rows, or 8 with SWIFTPROP_WIDE_TILE, which
  /// `scripts/test.sh` also runs): products of 6 and 7 rows with A
  /// transposed are each element's multiply-add chain over p from zero
  /// (then added to C), the micro-kernel's order. (A · B up to
  /// `streamedRows` rows and A · Bᵀ up to `thinDepth` rows take the
  /// few-row paths: the same code, on `T.Vector`, in every build.)
  func testProductsOfSixToEightRowsAreTheChainInEveryBuild() {
    func chains<T: Scalar>(_: T.Type, m: Int, n: Int, k: Int, tA: Bool, tB: Bool) {
      var (a, b, start, scratch) = operands(T.self, m: m, n: n, k: k)
      for accumulate in [false, true] {
        var c = start
        c.withUnsafeMutableBufferPointer { cp in
          scratch.withUnsafeMutableBufferPointer { sp in
            multiply(a, transposeA: tA, b, transposeB: tB, into: cp.baseAddress!, m: m, n: n, k: k,
                     accumulate: accumulate, scratch: sp.baseAddress!)
          }
        }
        var differing = 0
        for i in 0..<m {
          for j in 0..<n {
            var chain = SIMD2<T>()
            for p in 0..<k {
              chain = multiplyAdd(
                chain, SIMD2(repeating: tA ? a[p * m + i] : a[i * k + p]),
                SIMD2(repeating: tB ? b[j * k + p] : b[p * n + j]))
            }
            let want = accumulate ? start[i * n + j] + chain[0] : chain[0]
            if c[i * n + j] != want { differing += 1 }
          }
        }
        XCTAssertEqual(differing, 0, "\(T.self) m \(m) n \(n) k \(k) tA \(tA) tB \(tB) accumulate \(accumulate)")
      }
    }
    for (tA, tB) in [(true, false), (true, true)] {
      for m in [6, 7] {
        for (n, k) in [(70, 40), (33, 200), (300, 5)] {
          chains(Float.self, m: m, n: n, k: k, tA: tA, tB: tB)
          chains(Double.self, m: m, n: n, k: k, tA: tA, tB: tB)
        }
      }
    }
  }

  func testAThreadLimitOfOneSplitsNoProduct() {
    let limit = HelperThread.shared.threadLimit
    defer { HelperThread.shared.threadLimit = limit }
    HelperThread.shared.threadLimit = 1
    let before = HelperThread.shared.counts.splitProducts
    let one = product(Double.self, m: 240, n: 150, k: 120, transposeA: false, helper: true)
    XCTAssertEqual(HelperThread.shared.counts.splitProducts, before)
    HelperThread.shared.threadLimit = 2
    let two = product(Double.self, m: 240, n: 150, k: 120, transposeA: false, helper: true)
    XCTAssertEqual(HelperThread.shared.counts.splitProducts, before + 1)
    XCTAssertEqual(one, two)
  }

  func testOneThreadGivesTheTwoThreadResultBitForBit() {
    XCTAssertGreaterThanOrEqual(240 * 150 * 120, parallelProductLimit)
    for transposeA in [false, true] {
      let two = product(Float.self, m: 240, n: 150, k: 120, transposeA: transposeA, helper: true)
      let one = product(Float.self, m: 240, n: 150, k: 120, transposeA: transposeA, helper: false)
      XCTAssertEqual(two.map(\.bitPattern), one.map(\.bitPattern))
      let two64 = product(Double.self, m: 240, n: 150, k: 120, transposeA: transposeA, helper: true)
      let one64 = product(Double.self, m: 240, n: 150, k: 120, transposeA: transposeA, helper: false)
      XCTAssertEqual(two64.map(\.bitPattern), one64.map(\.bitPattern))
    }
  }

  /// Eight threads at once share the one helper (the others run both
  /// halves themselves): every result is still the single-thread one.
  func testConcurrentProductsShareTheHelper() {
    let expected = product(Double.self, m: 240, n: 150, k: 120, transposeA: false, helper: false)
    let lock = NSLock()
    var results: [[Double]] = []
    DispatchQueue.concurrentPerform(iterations: 8) { _ in
      for _ in 0..<2 {
        let c = product(Double.self, m: 240, n: 150, k: 120, transposeA: false, helper: true)
        lock.lock()
        results.append(c)
        lock.unlock()
      }
    }
    XCTAssertEqual(results.count, 16)
    for result in results { XCTAssertEqual(result, expected) }
  }
}
