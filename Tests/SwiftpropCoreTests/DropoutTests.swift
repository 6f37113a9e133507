import XCTest

@testable import SwiftpropCore

final class DropoutTests: XCTestCase {
  let rows = 6
  let x: [Double] = (0..<18).map { Double(($0 * 7) % 11) / 5.0 - 1.0 }
  let y: [Double] = (0..<12).map { Double(($0 * 5) % 7) / 3.0 - 1.0 }

  func makeNetwork(rate: Double = 0.4, seed: UInt64 = 3) throws -> Network<Double> {
    let network = try Network<Double>(
      layers: [Dense(3, 5, .tanh), Dense(5, 2, .identity)], loss: .mse,
      initializer: .xavier, seed: seed)
    try network.setDropout([rate, 0])
    return network
  }

  func testBadRatesAreRefusedAndChangeNothing() throws {
    let network = try makeNetwork(rate: 0.25)
    for rates in [[0.5], [1.0, 0], [-0.1, 0], [.nan, 0], [0.5, 0.5]] {
      XCTAssertThrowsError(try network.setDropout(rates), "\(rates)")
    }
    XCTAssertEqual(network.dropout, [0.25, 0])
    XCTAssertTrue(network.dropsUnits)
    try network.setDropout([0, 0])
    XCTAssertFalse(network.dropsUnits)
  }

  /// One SGD step with lr 1 moves the parameters by minus the gradient; it
  /// must be the gradient of the loss with the step's mask held fixed,
  /// replayed here from a copy of the generator (one uniform per row and
  /// unit, kept when u ≥ p) and differentiated by central differences.
  func testStepFollowsTheGradientOfTheMaskedLoss() throws {
    let p = 0.4
    let network = try makeNetwork(rate: p)
    var replay = network.generator
    let mask = (0..<rows * 5).map { _ in replay.uniform() >= p ? 1 / (1 - p) : 0.0 }
    XCTAssertTrue(mask.contains(0) && mask.contains { $0 > 0 })
    let before = network.parameterValues
    _ = try network.trainStep(x, y, rows: rows, config: .sgd(1))
    XCTAssertEqual(network.generator.state, replay.state)
    let step = zip(before, network.parameterValues).map { $0 - $1 }

    func maskedLoss(_ theta: [Double]) -> Double {
      // theta: W0 (3×5), b0 (5), W1 (5×2), b1 (2).
      var total = 0.0
      for r in 0..<rows {
        var hidden = [Double](repeating: 0, count: 5)
        for j in 0..<5 {
          var z = theta[15 + j]
          for i in 0..<3 { z += x[r * 3 + i] * theta[i * 5 + j] }
          hidden[j] = Double.tanh(z) * mask[r * 5 + j]
        }
        for k in 0..<2 {
          var out = theta[30 + k]
          for j in 0..<5 { out += hidden[j] * theta[20 + j * 2 + k] }
          total += (out - y[r * 2 + k]) * (out - y[r * 2 + k])
        }
      }
      return total / Double(rows * 2)
    }
    let epsilon = 1e-6
    for i in before.indices {
      var above = before
      var below = before
      above[i] += epsilon
      below[i] -= epsilon
      let estimate = (maskedLoss(above) - maskedLoss(below)) / (2 * epsilon)
      XCTAssertEqual(step[i], estimate, accuracy: 1e-7, "parameter \(i)")
    }
  }

  func testInferenceNeitherDropsNorDraws() throws {
    let network = try makeNetwork(rate: 0.5)
    let plain = try makeNetwork(rate: 0)
    let state = network.generator.state
    XCTAssertEqual(try network.predict(x, rows: rows), try plain.predict(x, rows: rows))
    XCTAssertEqual(try network.loss(x, y, rows: rows), try plain.loss(x, y, rows: rows))
    XCTAssertEqual(try network.gradients(x, y, rows: rows), try plain.gradients(x, y, rows: rows))
    XCTAssertEqual(network.generator.state, state)
  }

  func testSameSeedSameFitBitForBit() throws {
    func train(seed: UInt64) throws -> [Double] {
      let network = try makeNetwork(rate: 0.3, seed: seed)
      _ = try network.fit(
        x, y, rows: rows, config: .sgd(0.1, momentum: 0.9),
        options: FitOptions(epochs: 50, batchSize: 4, shuffle: true))
      return network.parameterValues
    }
    XCTAssertEqual(try train(seed: 9), try train(seed: 9))
    XCTAssertNotEqual(try train(seed: 9), try train(seed: 10))
  }

  func testLBFGSRefusesDropout() throws {
    let network = try makeNetwork(rate: 0.2)
    var history = [Double](repeating: 0, count: 10)
    XCTAssertThrowsError(
      try x.viewed(rows: rows) { x in
        try y.viewed(rows: rows) { y in
          try history.viewedMutably { history in
            try network.fitLBFGS(
              x, y, options: LBFGSOptions(maxIterations: 10), history: history
            ) { _ in .proceed }
          }
        }
      })
  }

  func testMaskBuffersOnlyForDroppedLayersOfTrainingWorkspaces() throws {
    let network = try makeNetwork(rate: 0.2)
    let training = try network.workspace(rows: 4, forTraining: true)
    XCTAssertEqual(training.mask.map(\.count), [20, 0])
    XCTAssertEqual(training.dropped.map(\.count), [20, 0])
    let inference = try network.workspace(rows: 4, forTraining: false)
    XCTAssertEqual(inference.mask.map(\.count), [0, 0])
  }
}
