import XCTest

#if canImport(Glibc)
  import Glibc
#endif

@testable import SwiftpropCore

/// Analytic gradients against central finite differences, for every
/// activation with every loss it can be paired with.
final class GradientTests: XCTestCase {
  /// ‖a − b‖ / (‖a‖ + ‖b‖), the usual measure for gradient checks.
  func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
    return norm(zip(a, b).map { $0 - $1 }) / max(norm(a) + norm(b), 1e-300)
  }

  func testEveryActivationAndLossMatchesFiniteDifferences() throws {
    for (seed, activation) in hiddenActivations.enumerated() {
      for (output, loss) in outputPairings {
        let layers = [Dense(3, 5, activation), Dense(5, 4, activation), Dense(4, 3, output)]
        let network = try Network<Double>(
          layers: layers, loss: loss, initializer: .xavier, seed: UInt64(seed))
        let (x, y) = sampleData(rows: 7, inputs: 3, outputs: 3, loss: loss, seed: 99)
        let analytic = try network.gradients(x, y, rows: 7)
        let numeric = try network.numericalGradients(x, y, rows: 7)
        XCTAssertLessThan(
          relativeError(analytic, numeric), 1e-6, "\(activation.name) hidden, \(output.name) output, \(loss.name)")
      }
    }
  }

  func testGradientIsTheMeanOverTheBatch() throws {
    // Two copies of the same sample give the same gradient as one.
    let network = try Network<Double>(
      layers: [Dense(2, 3, .tanh), Dense(3, 1, .sigmoid)], loss: .mse, initializer: .he, seed: 4)
    let once = try network.gradients([0.3, -0.2], [1], rows: 1)
    let twice = try network.gradients([0.3, -0.2, 0.3, -0.2], [1, 1], rows: 2)
    for (a, b) in zip(once, twice) { XCTAssertEqual(a, b, accuracy: 1e-15) }
  }

  func testOneSgdStepWorkedByHand() throws {
    // One sigmoid unit, W = 0.5, b = 0, x = 1, y = 1, mse:
    // a = σ(0.5) = 0.6224593312; dL/da = 2(a − 1) = −0.7550813376;
    // δ = dL/da · a(1 − a) = −0.1774199; W ← 0.5 − 0.1·δ·x, b ← 0 − 0.1·δ.
    let network = try Network<Double>(
      layers: [Dense(1, 1, .sigmoid)], loss: .mse, initializer: .xavier, seed: 0)
    try network.setParameters([0.5, 0])
    let a = 1 / (1 + exp(-0.5))
    let delta = 2 * (a - 1) * a * (1 - a)
    let before = try network.trainStep([1], [1], rows: 1, config: .sgd(0.1))
    XCTAssertEqual(before, (a - 1) * (a - 1), accuracy: 1e-15)
    XCTAssertEqual(network.parameterValues[0], 0.5 - 0.1 * delta, accuracy: 1e-15)
    XCTAssertEqual(network.parameterValues[1], -0.1 * delta, accuracy: 1e-15)
  }

  func testFloat32NumericalGradientsAreComputedInDouble() throws {
    let network = try Network<Float>(
      layers: [Dense(2, 4, .tanh), Dense(4, 2, .softmax)], loss: .crossEntropy,
      initializer: .xavier, seed: 8)
    let (x, y) = sampleData(rows: 5, inputs: 2, outputs: 2, loss: .crossEntropy, seed: 1)
    let analytic = try network.gradients(x.map(Float.init), y.map(Float.init), rows: 5).map(Double.init)
    let numeric = try network.numericalGradients(x.map(Float.init), y.map(Float.init), rows: 5)
    XCTAssertLessThan(relativeError(analytic, numeric), 1e-4)
  }
}
