import XCTest

@testable import SwiftpropCore

final class LBFGSTests: XCTestCase {
  // MARK: - The line search

  /// φ(α) = (α − m)² − m² along a direction of slope −2m at 0.
  func quadratic(minimum m: Double) -> (Double) -> LinePoint {
    { α in LinePoint(step: α, value: (α - m) * (α - m) - m * m, slope: 2 * (α - m)) }
  }

  func testLineSearchMeetsTheStrongWolfeConditions() {
    // Initial steps far too short (extrapolation), about right, and far
    // too long (zoom), on minima near and far.
    for minimum in [1e-3, 0.7, 250.0] {
      for initial in [1e-6, 1.0, 1e4] {
        let phi = quadratic(minimum: minimum)
        let start = phi(0)
        var evaluations = 0
        let outcome = StrongWolfeSearch.run(
          from: start, initialStep: initial, maxEvaluations: 40,
          evaluate: { evaluations += 1; return phi($0) }, keepAsLow: {})
        let point: LinePoint
        switch outcome {
        case .trial(let p), .low(let p): point = p
        default: return XCTFail("no step for minimum \(minimum) from \(initial): \(outcome)")
        }
        XCTAssertLessThanOrEqual(evaluations, 40)
        XCTAssertLessThanOrEqual(
          point.value, start.value + StrongWolfeSearch.sufficientDecrease * point.step * start.slope,
          "minimum \(minimum), initial \(initial)")
        if case .trial = outcome {
          XCTAssertLessThanOrEqual(abs(point.slope), -StrongWolfeSearch.curvature * start.slope)
        }
      }
    }
  }

  func testLineSearchTakesTheFirstStepThatQualifies() {
    let phi = quadratic(minimum: 1)
    var steps: [Double] = []
    let outcome = StrongWolfeSearch.run(
      from: phi(0), initialStep: 1, maxEvaluations: 20,
      evaluate: { steps.append($0); return phi($0) }, keepAsLow: {})
    XCTAssertEqual(outcome, .trial(phi(1)))
    XCTAssertEqual(steps, [1])
  }

  func testLineSearchFailsWhenNothingDecreases() {
    // φ rises at once beyond a tiny step: every trial fails sufficient
    // decrease, and the evaluations run out.
    let phi: (Double) -> LinePoint = { α in
      LinePoint(step: α, value: -α + 1e12 * α * α, slope: -1 + 2e12 * α)
    }
    var evaluations = 0
    let outcome = StrongWolfeSearch.run(
      from: phi(0), initialStep: 1, maxEvaluations: 5,
      evaluate: { evaluations += 1; return phi($0) }, keepAsLow: {})
    XCTAssertEqual(outcome, .failed)
    XCTAssertEqual(evaluations, 5)
  }

  func testLineSearchTreatsNonFiniteValuesAsTooLong() {
    // NaN beyond α = 2: the search backs off and finds the minimum at 1.
    let phi: (Double) -> LinePoint = { α in
      α > 2 ? LinePoint(step: α, value: .nan, slope: .nan)
        : LinePoint(step: α, value: (α - 1) * (α - 1) - 1, slope: 2 * (α - 1))
    }
    let outcome = StrongWolfeSearch.run(
      from: phi(0), initialStep: 100, maxEvaluations: 20, evaluate: phi, keepAsLow: {})
    guard case .trial(let point) = outcome else { return XCTFail("\(outcome)") }
    XCTAssertLessThanOrEqual(abs(point.slope), 0.9 * 2)
    XCTAssertLessThanOrEqual(point.step, 2)
  }

  func testLineSearchCanBeStopped() {
    let outcome = StrongWolfeSearch.run(
      from: quadratic(minimum: 1)(0), initialStep: 1, maxEvaluations: 20,
      evaluate: { _ in nil }, keepAsLow: {})
    XCTAssertEqual(outcome, .stopped)
  }

  func testCubicMinimizerIsExactOnACubic() {
    // φ(α) = α³ − 3α (minimum at 1), from points 0 and 3.
    func point(_ α: Double) -> LinePoint { LinePoint(step: α, value: α * α * α - 3 * α, slope: 3 * α * α - 3) }
    XCTAssertEqual(StrongWolfeSearch.cubicMinimizer(point(0), point(3))!, 1, accuracy: 1e-12)
    XCTAssertEqual(StrongWolfeSearch.cubicMinimizer(point(3), point(0))!, 1, accuracy: 1e-12)
    // A cubic with no minimiser (φ' = 3α² + 1 > 0).
    func rising(_ α: Double) -> LinePoint { LinePoint(step: α, value: α * α * α + α, slope: 3 * α * α + 1) }
    XCTAssertNil(StrongWolfeSearch.cubicMinimizer(rising(0), rising(1)))
  }

  // MARK: - The two-loop recursion

  func testTwoLoopRecursionMeetsTheSecantEquation() throws {
    // H y = s for the newest pair whatever the older ones, so the direction
    // for g = y_newest is −s_newest.
    let n = 5
    let pairs = try CorrectionPairs<Double>(capacity: 3, count: n)
    var generator = SeededGenerator(seed: 3)
    var last: (s: [Double], y: [Double]) = ([], [])
    for _ in 0..<5 {  // more than the capacity: the oldest are dropped
      let old = (0..<n).map { _ in generator.uniform() }
      let s = (0..<n).map { _ in generator.uniform() - 0.5 }
      let new = zip(old, s).map { $0 + $1 }
      let oldGradient = (0..<n).map { _ in generator.uniform() }
      let y = s.enumerated().map { 2 * $1 + 0.1 * Double($0) * $1 }  // sᵀy > 0
      let newGradient = zip(oldGradient, y).map { $0 + $1 }
      let curvature = pairs.stage(from: old, oldGradient, to: new, newGradient, count: n)
      XCTAssertGreaterThan(curvature, 0)
      pairs.commit(curvature: curvature)
      last = (zip(new, old).map { $0 - $1 }, zip(newGradient, oldGradient).map { $0 - $1 })
    }
    XCTAssertEqual(pairs.kept, 3)
    var direction = [Double](repeating: 0, count: n)
    pairs.direction(for: last.y, into: &direction)
    for (d, s) in zip(direction, last.s) { XCTAssertEqual(d, -s, accuracy: 1e-12) }
    pairs.clear()
    pairs.direction(for: last.y, into: &direction)
    XCTAssertEqual(direction, last.y.map { -$0 })
  }

  // MARK: - Fits

  func xorNetwork(seed: UInt64) throws -> Network<Double> {
    try Network<Double>(
      layers: [Dense(2, 8, .tanh), Dense(8, 1, .sigmoid)], loss: .binaryCrossEntropy,
      initializer: .xavier, seed: seed)
  }

  func fit(
    _ network: Network<Double>, _ options: LBFGSOptions,
    handler: (FitEvent) -> FitControl = { _ in .proceed }
  ) throws -> (losses: [Double], outcome: LBFGSOutcome) {
    var losses = [Double](repeating: .nan, count: options.maxIterations)
    let outcome = try xorInputs.viewed(rows: 4) { x in
      try xorTargets.viewed(rows: 4) { y in
        try losses.viewedMutably { history in
          try network.fitLBFGS(x, y, options: options, history: history, handler: handler)
        }
      }
    }
    return (Array(losses.prefix(outcome.iterations)), outcome)
  }

  func testXorIsLearnedAndTheHistoryDecreases() throws {
    let network = try xorNetwork(seed: 1)
    let (losses, outcome) = try fit(network, LBFGSOptions(maxIterations: 500))
    XCTAssertLessThan(outcome.value, 1e-4)
    XCTAssertEqual(losses.last, outcome.value)
    XCTAssertEqual(outcome.value, try network.loss(xorInputs, xorTargets, rows: 4), accuracy: 1e-15)
    for (before, after) in zip(losses, losses.dropFirst()) { XCTAssertLessThan(after, before) }
    XCTAssertGreaterThanOrEqual(outcome.evaluations, outcome.iterations + 1)
    XCTAssertNotEqual(outcome.reason, .maxIterations)
  }

  func testIterationLimitAndHandler() throws {
    let limited = try fit(try xorNetwork(seed: 2), LBFGSOptions(maxIterations: 3))
    XCTAssertEqual(limited.outcome.iterations, 3)
    XCTAssertEqual(limited.outcome.reason, .maxIterations)

    var reported: [Int] = []
    let stopped = try fit(try xorNetwork(seed: 2), LBFGSOptions(maxIterations: 50, reportEvery: 1)) {
      event in
      guard case .epochEnd(let iteration, _, _, _) = event else { return .proceed }
      reported.append(iteration)
      return iteration == 1 ? .stop : .proceed
    }
    XCTAssertEqual(reported, [0, 1])
    XCTAssertEqual(stopped.outcome.reason, .callback)
    XCTAssertEqual(stopped.outcome.iterations, 2)
    XCTAssertEqual(Array(limited.losses.prefix(2)), stopped.losses)

    // A poll that aborts at once: the network keeps its initial weights.
    let network = try xorNetwork(seed: 2)
    let initial = network.parameterValues
    let aborted = try fit(network, LBFGSOptions(maxIterations: 50, pollInterval: 0)) { event in
      if case .poll = event { return .abort }
      return .proceed
    }
    XCTAssertEqual(aborted.outcome.reason, .interrupted)
    XCTAssertEqual(aborted.outcome.iterations, 0)
    XCTAssertEqual(network.parameterValues, initial)
  }

  func testBadOptionsAndHugeMemoryAreErrors() throws {
    let network = try xorNetwork(seed: 0)
    for options in [
      LBFGSOptions(maxIterations: 0), LBFGSOptions(maxIterations: 5, memory: 0),
      LBFGSOptions(maxIterations: 5, gradientTolerance: -1), LBFGSOptions(maxIterations: 5, scale: 0),
      LBFGSOptions(maxIterations: 5, l2: .nan),
    ] {
      XCTAssertThrowsError(try fit(network, options)) { error in
        XCTAssertEqual((error as? EngineError)?.code, .invalidArgument)
      }
    }
    XCTAssertThrowsError(try fit(network, LBFGSOptions(maxIterations: 5, memory: 1 << 60))) { error in
      XCTAssertEqual((error as? EngineError)?.code, .outOfMemory)
    }
    XCTAssertFalse(network.isTraining)
  }
}
