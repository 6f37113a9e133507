import XCTest

@testable import SwiftpropCore

final class TrainingTests: XCTestCase {
  func xorNetwork(_ hidden: Int, _ activation: Activation, seed: UInt64) throws -> Network<Double> {
    try Network<Double>(
      layers: [Dense(2, hidden, activation), Dense(hidden, 1, .sigmoid)], loss: .mse,
      initializer: .xavier, seed: seed)
  }

  func testXorWithSgdLearnsForMostSeeds() throws {
    var solved = 0
    for seed in 0..<10 {
      let network = try xorNetwork(4, .sigmoid, seed: UInt64(seed))
      let (losses, _) = try network.fit(
        xorInputs, xorTargets, rows: 4, config: .sgd(2.0),
        options: FitOptions(epochs: 10_000, batchSize: 4))
      if losses.last! < 0.01 { solved += 1 }
    }
    XCTAssertGreaterThanOrEqual(solved, 9)
  }

  func testXorWithAdamLearnsForEverySeed() throws {
    for seed in 0..<10 {
      let network = try xorNetwork(8, .tanh, seed: UInt64(seed))
      let (losses, _) = try network.fit(
        xorInputs, xorTargets, rows: 4, config: .adam(0.05),
        options: FitOptions(epochs: 1000, batchSize: 4))
      XCTAssertLessThan(losses.last!, 0.01, "seed \(seed)")
    }
  }

  func testSameSeedSameWeightsBitForBit() throws {
    func train() throws -> [Double] {
      let network = try xorNetwork(4, .relu, seed: 42)
      _ = try network.fit(
        xorInputs, xorTargets, rows: 4, config: .sgd(0.1, momentum: 0.9),
        options: FitOptions(epochs: 200, batchSize: 3, shuffle: true))
      return network.parameterValues
    }
    XCTAssertEqual(try train(), try train())
  }

  func testHandlerCanStopAndAbortBetweenSteps() throws {
    let network = try xorNetwork(2, .sigmoid, seed: 1)
    let stopped = try network.fit(
      xorInputs, xorTargets, rows: 4, config: .sgd(0.1),
      options: FitOptions(epochs: 100, batchSize: 4, reportEvery: 1)
    ) { event in
      if case .epochEnd(let epoch, _, _, _) = event, epoch == 4 { return .stop }
      return .proceed
    }
    XCTAssertEqual(stopped.outcome.epochs, 5)
    XCTAssertEqual(stopped.outcome.reason, .callback)

    let aborted = try network.fit(
      xorInputs, xorTargets, rows: 4, config: .sgd(0.1),
      options: FitOptions(epochs: 1_000_000, batchSize: 1, pollInterval: 0)
    ) { event in
      if case .poll = event { return .abort }
      return .proceed
    }
    XCTAssertEqual(aborted.outcome.reason, .interrupted)
    XCTAssertFalse(network.isTraining)
  }

  func testDivergenceStopsWithFiniteWeights() throws {
    let network = try Network<Double>(
      layers: [Dense(1, 1, .identity)], loss: .mse, initializer: .xavier, seed: 0)
    let (losses, outcome) = try network.fit(
      [1e150, -1e150], [1, -1], rows: 2, config: .sgd(1e10),
      options: FitOptions(epochs: 50, batchSize: 2))
    XCTAssertEqual(outcome.reason, .diverged)
    XCTAssertEqual(losses.count, outcome.epochs)
    XCTAssertTrue(network.parameterValues.allSatisfy(\.isFinite))
  }

  func testAdamStepWithAnOverflowingMomentIsNotApplied() throws {
    // Gradients finite but so large that g² overflows into Adam's second
    // moment (the new weights themselves stay finite): the step must be
    // refused, in the 16-lane Float pass and in the Double one alike.
    func check<T: Scalar>(_: T.Type, input: T) throws {
      let network = try Network<T>(
        layers: [Dense(1, 24, .identity)], loss: .mse, initializer: .xavier, seed: 1)
      let before = network.parameterValues
      let (_, outcome) = try network.fit(
        [input], [T](repeating: 0, count: 24), rows: 1, config: .adam(1e-3),
        options: FitOptions(epochs: 3, batchSize: 1))
      XCTAssertEqual(outcome.reason, .diverged, "\(T.self)")
      XCTAssertEqual(outcome.epochs, 0, "\(T.self)")
      XCTAssertEqual(network.parameterValues, before, "\(T.self)")
    }
    try check(Float.self, input: 1e12)
    try check(Double.self, input: 1e105)
  }

  func testConvergenceStopsWithPatience() throws {
    let network = try xorNetwork(4, .tanh, seed: 3)
    let (_, outcome) = try network.fit(
      xorInputs, xorTargets, rows: 4, config: .adam(0.05),
      options: FitOptions(epochs: 100_000, batchSize: 4, tolerance: 1e-3, patience: 5))
    XCTAssertEqual(outcome.reason, .converged)
    XCTAssertLessThan(outcome.epochs, 100_000)
  }

  func testBadSettingsAreErrorsNotTraps() throws {
    XCTAssertThrowsError(
      try Network<Double>(layers: [Dense(2, 3, .softmax), Dense(3, 1, .sigmoid)], loss: .mse,
                          initializer: .xavier, seed: 0))
    XCTAssertThrowsError(
      try Network<Double>(layers: [Dense(2, 3, .relu)], loss: .crossEntropy, initializer: .xavier, seed: 0))
    let network = try xorNetwork(2, .sigmoid, seed: 0)
    XCTAssertThrowsError(try network.trainStep(xorInputs, xorTargets, rows: 4, config: .sgd(-1)))
    XCTAssertThrowsError(try network.setParameters([1, 2, 3]))
    XCTAssertThrowsError(try Network<Double>(
      layers: [Dense(1 << 40, 1 << 40, .relu)], loss: .mse, initializer: .xavier, seed: 0))
    XCTAssertThrowsError(try Network<Double>(
      layers: [Dense](repeating: Dense(1, 1, .identity), count: Dense.maximumLayers + 1),
      loss: .mse, initializer: .xavier, seed: 0)) { error in
      XCTAssertEqual("\(error)", "a network has at most 100000 layers, got 100001")
    }
  }
}

/// Sample weights, schedules, metrics and best weights in the core (the
/// Python suite checks them against the NumPy twin number for number).
final class TrainingFeatureTests: XCTestCase {
  func testIntegerWeightsEqualRepeatedRows() throws {
    let (x, y) = sampleData(rows: 5, inputs: 2, outputs: 1, loss: .mse, seed: 4)
    let counts = [2, 0, 1, 3, 1]
    var repeatedX: [Double] = []
    var repeatedY: [Double] = []
    for (r, count) in counts.enumerated() {
      for _ in 0..<count {
        repeatedX += x[2 * r..<2 * r + 2]
        repeatedY.append(y[r])
      }
    }
    let layers = [Dense(2, 3, .tanh), Dense(3, 1, .identity)]
    let weighted = try Network<Double>(layers: layers, loss: .mse, initializer: .xavier, seed: 2)
    let repeated = try Network<Double>(layers: layers, loss: .mse, initializer: .xavier, seed: 2)
    let weights = counts.map(Double.init)
    for _ in 0..<10 {
      _ = try x.viewed(rows: 5) { x in
        try y.viewed(rows: 5) { y in
          try weights.viewed(rows: 5) { w in try weighted.trainStep(x, y, weights: w, config: .sgd(0.3)) }
        }
      }
      _ = try repeated.trainStep(repeatedX, repeatedY, rows: 7, config: .sgd(0.3))
    }
    for (a, b) in zip(weighted.parameterValues, repeated.parameterValues) {
      XCTAssertEqual(a, b, accuracy: 1e-12)
    }
  }

  func testNegativeOrZeroWeightsAreRefused() throws {
    let network = try Network<Double>(
      layers: [Dense(2, 1, .identity)], loss: .mse, initializer: .xavier, seed: 0)
    let x: [Double] = [0, 0, 1, 1]
    let y: [Double] = [0, 1]
    for bad in [[1.0, -1.0], [0.0, 0.0], [1.0, .nan]] {
      XCTAssertThrowsError(
        try x.viewed(rows: 2) { x in
          try y.viewed(rows: 2) { y in
            try bad.viewed(rows: 2) { w in try network.lossValue(x, y, weights: w) }
          }
        })
    }
  }

  func testScheduleRates() {
    let cosine = Schedule(kind: .cosine, values: [10, 0.1])
    XCTAssertEqual(cosine.rate(epoch: 0, base: 1, current: 1, rows: 4), 1, accuracy: 1e-15)
    XCTAssertEqual(cosine.rate(epoch: 10, base: 1, current: 1, rows: 4), 0.1, accuracy: 1e-15)
    let step = Schedule(kind: .step, values: [3, 0.5], warmupEpochs: 2, warmupStart: 0.5)
    XCTAssertEqual(step.rate(epoch: 0, base: 1, current: 1, rows: 4), 0.5)
    XCTAssertEqual(step.rate(epoch: 1, base: 1, current: 1, rows: 4), 0.75)
    XCTAssertEqual(step.rate(epoch: 2 + 3, base: 1, current: 1, rows: 4), 0.5)
    let inverse = Schedule(kind: .invScaling, values: [0.5, 0])
    XCTAssertEqual(inverse.rate(epoch: 2, base: 1, current: 1, rows: 4), 1 / 3, accuracy: 1e-15)
    XCTAssertNotNil(Schedule(kind: .step, values: [0, 0.5]).problem)
    XCTAssertNotNil(Schedule(kind: .plateau, values: [2, 1, 0, 0]).problem)
    XCTAssertNotNil(Schedule(kind: .cosine, values: [1]).problem)
  }
}
