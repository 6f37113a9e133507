import XCTest

@testable import SwiftpropCore

/// Restored optimizer state: what a rule could have produced is taken
/// back bit for bit; what it never could (a wrapped step count, a negative
/// second moment, NaN) is refused by name, and the network keeps the state
/// it had.
final class OptimizerStateTests: XCTestCase {
  func network() throws -> Network<Double> {
    try Network<Double>(
      layers: [Dense(2, 3, .tanh), Dense(3, 1, .sigmoid)], loss: .mse, initializer: .xavier,
      seed: 0)
  }

  /// Restores `vectors` (each parameterCount values) at `step`.
  func restore(
    _ network: Network<Double>, _ kind: OptimizerKind, step: Int, _ vectors: [[Double]]
  ) throws {
    try withViews(vectors) { try network.restoreOptimizer(kind: kind, step: step, vectors: $0) }
  }

  /// `body` on views of each array, one row each.
  func withViews(_ arrays: [[Double]], _ body: ([Matrix<Double>]) throws -> Void) throws {
    guard let first = arrays.first else { return try body([]) }
    try first.withUnsafeBufferPointer { buffer in
      let view = try Matrix(buffer)
      try withViews(Array(arrays.dropFirst())) { try body([view] + $0) }
    }
  }

  /// The message of the error `body` throws, or nil.
  func message(_ body: () throws -> Void) -> String? {
    do {
      try body()
      return nil
    } catch {
      return "\(error)"
    }
  }

  func testAdamRefusesANegativeSecondMoment() throws {
    let network = try network()
    let count = network.parameterCount
    var second = [Double](repeating: 0.25, count: count)
    second[3] = -0.5
    let problem = message {
      try restore(network, .adam, step: 10, [[Double](repeating: 0.1, count: count), second])
    }
    XCTAssertEqual(
      problem,
      "Adam's second moment has negative values (-0.5 at index 3); it averages squared gradients, so every value must be >= 0"
    )
    XCTAssertNil(network.optimizerKind)
    // Negative zero is zero, and the first moment may be negative.
    second[3] = -0.0
    try restore(network, .adam, step: 10, [[Double](repeating: -0.1, count: count), second])
    XCTAssertEqual(network.optimizerKind, .adam)
  }

  func testStepCountsThatCannotAdvanceAreRefused() throws {
    let network = try network()
    let count = network.parameterCount
    let zeros = [Double](repeating: 0, count: count)
    for kind in OptimizerKind.allCases {
      for step in [Int.max, (1 << 53) + 1] {
        XCTAssertEqual(
          message { try restore(network, kind, step: step, [zeros, zeros]) },
          "step must be <= 9007199254740992 (2**53, beyond which a step count is not exact in a Double), got \(step)"
        )
      }
      XCTAssertNil(network.optimizerKind)
    }
    // The largest step is accepted, and Adam's next step is finite.
    try restore(network, .adam, step: 1 << 53, [zeros, zeros])
    let before = network.parameterValues
    XCTAssertNoThrow(
      try network.trainStep(xorInputs, xorTargets, rows: 4, config: .adam(0.01)))
    XCTAssertNotEqual(network.parameterValues, before)
    XCTAssertTrue(network.parameterValues.allSatisfy(\.isFinite))
  }

  func testNaNAndInfinityAreRefusedByName() throws {
    let network = try network()
    let count = network.parameterCount
    var bad = [Double](repeating: 0, count: count)
    bad[count - 1] = .nan
    let good = [Double](repeating: 0.5, count: count)
    XCTAssertEqual(
      message { try restore(network, .sgd, step: 3, [bad]) },
      "SGD's velocity contains NaN or infinity")
    bad[count - 1] = -.infinity
    XCTAssertEqual(
      message { try restore(network, .adam, step: 3, [bad, good]) },
      "Adam's first moment contains NaN or infinity")
    XCTAssertEqual(
      message { try restore(network, .adam, step: 3, [good, bad]) },
      "Adam's second moment contains NaN or infinity")
    XCTAssertNil(network.optimizerKind)
  }

  /// The network's Adam state: its step and its two moments.
  func savedAdam(_ network: Network<Double>) throws -> (step: Int?, vectors: [[Double]]) {
    var first = [Double](repeating: 0, count: network.parameterCount)
    var second = first
    let saved = try first.withUnsafeMutableBufferPointer { first in
      try second.withUnsafeMutableBufferPointer { second in
        try network.copyOptimizerState(into: [MutableMatrix(first), MutableMatrix(second)])
      }
    }
    return (saved?.step, [first, second])
  }

  func testARefusedStateLeavesTheOldOneInPlace() throws {
    let network = try network()
    _ = try network.trainStep(xorInputs, xorTargets, rows: 4, config: .adam(0.01))
    let before = try savedAdam(network)
    XCTAssertEqual(before.step, 1)
    var negative = before.vectors[1]
    negative[0] = -1
    XCTAssertNotNil(message { try restore(network, .adam, step: 2, [before.vectors[0], negative]) })
    let after = try savedAdam(network)
    XCTAssertEqual(after.step, 1)
    XCTAssertEqual(after.vectors, before.vectors)
  }

  /// One update of `count` values (SGD with momentum, velocity 0.5) with
  /// the helper allowed or not: the next parameters, velocity, finiteness
  /// and Σ g².
  func sharedUpdate(count: Int, helper: Bool, poison: Int? = nil)
    throws -> (next: [Float], velocity: [Float], finite: Bool, squares: Double)
  {
    let state = try OptimizerState<Float>(kind: .sgd, counts: [count])
    let p = (0..<count).map { Float($0 % 97) / 97 }
    var gradient = (0..<count).map { Float($0 % 89) / 89 - 0.5 }
    if let poison { gradient[poison] = .nan }
    let velocity = [Float](repeating: 0.5, count: count)
    velocity.withUnsafeBufferPointer { state.restore(step: 0, vectors: [$0.baseAddress!]) }
    var next = [Float](repeating: 0, count: count)
    HelperThread.shared.enabled = helper
    defer { HelperThread.shared.enabled = true }
    let result = next.withUnsafeMutableBufferPointer { out in
      state.update(
        p, into: out.baseAddress!, count: count, index: 0, gradient: gradient,
        config: .sgd(0.1, momentum: 0.9), decay: 0, wantSquares: true)
    }
    state.commit()
    let nextVelocity = Array(UnsafeBufferPointer(start: state.vectors[0][0].pointer, count: count))
    return (next, nextVelocity, result.finite, result.squares)
  }

  /// From `sharedUpdateCount` values on the update runs in pieces the two
  /// threads share: every value as the rule computes it alone, the same
  /// bits either way, Σ g² within Float rounding of the exact sum, and a NaN in
  /// the last piece still refuses the step.
  func testASharedUpdateIsTheRuleValueByValue() throws {
    let count = sharedUpdateCount + 37
    let two = try sharedUpdate(count: count, helper: true)
    let one = try sharedUpdate(count: count, helper: false)
    XCTAssertEqual(two.next.map(\.bitPattern), one.next.map(\.bitPattern))
    XCTAssertEqual(two.velocity.map(\.bitPattern), one.velocity.map(\.bitPattern))
    XCTAssertEqual(two.squares.bitPattern, one.squares.bitPattern)
    XCTAssertTrue(two.finite)
    var exact = 0.0
    for i in 0..<count {
      let g = Float(i % 89) / 89 - 0.5
      let v = 0.9 * 0.5 + g
      XCTAssertEqual(two.velocity[i], v, "velocity \(i)")
      XCTAssertEqual(two.next[i], Float(i % 97) / 97 - 0.1 * v, "value \(i)")
      exact += Double(g) * Double(g)
    }
    // Summed in Float lanes within each piece.
    XCTAssertEqual(two.squares, exact, accuracy: exact * 1e-4)
    XCTAssertFalse(try sharedUpdate(count: count, helper: true, poison: count - 1).finite)
  }
}
