import XCTest

@testable import SwiftpropCore

/// A small batch's step updates the large weight matrices a block of rows
/// at a time straight from a_{l−1} and δ_l (`fusedWeightUpdate`). It must
/// give the parameters and optimizer state of the unfused step (dW
/// written whole, then the update) to the bit, for every rule, with decay
/// and dropout, on one thread or two; and a step that overflows must leave
/// the network as it was.
final class FusedUpdateTests: XCTestCase {
  /// 300-256-256-3: the first two weight matrices are fused (76 800 and
  /// 65 536 values), the last is not.
  func network<T: Scalar>(_: T.Type, dropout: Bool = false) throws -> Network<T> {
    let network = try Network<T>(
      layers: [Dense(300, 256, .relu), Dense(256, 256, .tanh), Dense(256, 3, .identity)],
      loss: .mse, initializer: .xavier, seed: 3)
    if dropout { try network.setDropout([0.2, 0.1, 0]) }
    return network
  }

  func data<T: Scalar>(_: T.Type, rows: Int) -> (x: [T], y: [T]) {
    var generator = SeededGenerator(seed: UInt64(rows))
    let x = (0..<rows * 300).map { _ in T(generator.uniform() - 0.5) }
    let y = (0..<rows * 3).map { _ in T(generator.uniform()) }
    return (x, y)
  }

  /// Three steps on `rows` rows; with `fused` false the step keeps its
  /// layers, which turns the fusion off. Returns the parameters and the
  /// summed ‖dW‖ of each layer.
  func train<T: Scalar>(
    _ network: Network<T>, rows: Int, config: OptimizerConfig, fused: Bool,
    bounds: WeightBounds? = nil
  ) throws -> (parameters: [T], norms: [Double]) {
    let (x, y) = data(T.self, rows: rows)
    let space = try network.workspace(rows: rows, forTraining: true)
    let state = try network.optimizerState(for: config)
    var norms = [Double](repeating: 0, count: network.layers.count)
    XCTAssertEqual(
      network.fusesUpdate(0, rows: rows, space: space), rows <= thinDepth, "rows \(rows)")
    XCTAssertFalse(network.fusesUpdate(2, rows: rows, space: space))
    for _ in 0..<3 {
      let value = x.withUnsafeBufferPointer { x in
        y.withUnsafeBufferPointer { y in
          norms.withUnsafeMutableBufferPointer { norms in
            network.step(
              x.baseAddress!, y.baseAddress!, rows: rows, space: space, state: state,
              config: config, norms: norms.baseAddress!, keepLayers: !fused, bounds: bounds)
          }
        }
      }
      XCTAssertNotNil(value)
    }
    return (network.parameterValues, norms)
  }

  func configs() -> [OptimizerConfig] {
    [
      .sgd(0.05), OptimizerConfig(kind: .sgd, ["lr": 0.05, "l2": 0.01]),
      .sgd(0.05, momentum: 0.9, nesterov: true), .adam(0.001),
      OptimizerConfig(kind: .adam, ["lr": 0.001, "l2": 0.001]),
      OptimizerConfig(kind: .rmsprop, ["lr": 0.001, "momentum": 0.5]),
    ]
  }

  func checkMatchesUnfused<T: Scalar>(
    _: T.Type, configs: [OptimizerConfig], rows: [Int], dropout: Bool = false
  ) throws {
    for config in configs {
      for rows in rows {
        let fused = try train(try network(T.self, dropout: dropout), rows: rows, config: config, fused: true)
        let plain = try train(try network(T.self, dropout: dropout), rows: rows, config: config, fused: false)
        let label = "\(T.self) \(config.kind) \(config.values) rows \(rows) dropout \(dropout)"
        let first = fused.parameters.indices.first { fused.parameters[$0] != plain.parameters[$0] }
        XCTAssertNil(first, "\(label): parameter \(first ?? -1) differs")
        for l in 0..<3 {
          XCTAssertEqual(
            fused.norms[l], plain.norms[l], accuracy: plain.norms[l] * (T.self == Float.self ? 1e-5 : 1e-12),
            label)
        }
      }
    }
  }

  // Sizes kept few: a debug build's steps at these widths are slow.
  func testDoubleStepsAreTheUnfusedStepsBitForBit() throws {
    try checkMatchesUnfused(Double.self, configs: configs(), rows: [1, 5, 9])
  }

  func testFloatStepsAreTheUnfusedStepsBitForBit() throws {
    try checkMatchesUnfused(Float.self, configs: configs(), rows: [2, 8])
  }

  func testWithDropoutTheStepsAreTheUnfusedSteps() throws {
    try checkMatchesUnfused(
      Double.self, configs: [configs()[2], configs()[4]], rows: [4], dropout: true)
  }

  /// A 600-512 layer is shared with the helper thread: the same bits with
  /// a thread limit of 1.
  func testOneThreadGivesTheTwoThreadStepBitForBit() throws {
    XCTAssertGreaterThanOrEqual(600 * 512, sharedUpdateCount)
    func run(threads: Int) throws -> [Float] {
      let limit = HelperThread.shared.threadLimit
      defer { HelperThread.shared.threadLimit = limit }
      HelperThread.shared.threadLimit = threads
      let network = try Network<Float>(
        layers: [Dense(300, 600, .relu), Dense(600, 512, .relu), Dense(512, 3, .identity)],
        loss: .mse, initializer: .he, seed: 5)
      let (x, y) = data(Float.self, rows: 2)
      for _ in 0..<3 { _ = try network.trainStep(x, y, rows: 2, config: .sgd(0.01, momentum: 0.9)) }
      return network.parameterValues
    }
    let one = try run(threads: 1)
    let two = try run(threads: 2)
    let first = one.indices.first { one[$0].bitPattern != two[$0].bitPattern }
    XCTAssertNil(first, "parameter \(first ?? -1) differs")
  }

  /// With bounds carried from step to step, plain SGD's fused layers are
  /// updated in place (the parameters stay in their buffer): the same bits
  /// as out of place, with decay, on one row or several, in Float and
  /// Double; a rule with state (momentum) stays out of place.
  func testInPlaceStepsAreTheOutOfPlaceStepsBitForBit() throws {
    func check<T: Scalar>(_: T.Type, _ config: OptimizerConfig, rows: Int, inPlace: Bool) throws {
      let network = try network(T.self)
      let start = network.parameters[0].pointer
      let bounds = WeightBounds()
      let proven = try train(network, rows: rows, config: config, fused: true, bounds: bounds)
      let plain = try train(try self.network(T.self), rows: rows, config: config, fused: true)
      let label = "\(T.self) \(config.kind) \(config.values) rows \(rows)"
      // Three steps: out of place, the parameters end in the other buffer.
      XCTAssertEqual(network.parameters[0].pointer == start, inPlace, label)
      XCTAssertEqual(bounds.values.isEmpty, !inPlace, label)
      let first = proven.parameters.indices.first { proven.parameters[$0] != plain.parameters[$0] }
      XCTAssertNil(first, "\(label): parameter \(first ?? -1) differs")
      XCTAssertEqual(proven.norms, plain.norms, label)
      if inPlace {
        // The bounds hold: every weight is within its layer's.
        let values = network.parameterValues
        XCTAssertLessThanOrEqual(
          values.prefix(300 * 256).map { abs(Double($0)) }.max()!, bounds.values[0]!, label)
      }
    }
    let decay = OptimizerConfig(kind: .sgd, ["lr": 0.05, "l2": 0.01])
    try check(Double.self, .sgd(0.05), rows: 1, inPlace: true)
    try check(Double.self, decay, rows: 5, inPlace: true)
    try check(Float.self, .sgd(0.05), rows: 8, inPlace: true)
    try check(Double.self, .sgd(0.05, momentum: 0.9), rows: 2, inPlace: false)
    try check(Double.self, .adam(0.001), rows: 2, inPlace: false)
  }

  /// A bound carried too large to prove the step is replaced by W's own
  /// largest value; a step that overflows is not taken in place, is
  /// refused and changes nothing; a step out of place forgets the bounds.
  func testInPlaceStepsNeedAProof() throws {
    let network = try network(Double.self)
    let (x, y) = data(Double.self, rows: 2)
    let space = try network.workspace(rows: 2, forTraining: true)
    let start = network.parameters[0].pointer
    func step(_ config: OptimizerConfig, _ x: [Double], bounds: WeightBounds) throws -> Double? {
      let state = try network.optimizerState(for: config)
      return network.step(x, y, rows: 2, space: space, state: state, config: config, bounds: bounds)
    }
    let bounds = WeightBounds()
    bounds.values = [.greatestFiniteMagnitude, .greatestFiniteMagnitude, nil]
    XCTAssertNotNil(try step(.sgd(0.01), x, bounds: bounds))
    XCTAssertEqual(network.parameters[0].pointer, start)
    XCTAssertLessThan(bounds.values[0]!, 1000)
    // lr 1e308: no proof, and the update overflows.
    let large = x.map { $0 * 1000 }
    let before = network.parameterValues
    XCTAssertNil(try step(.sgd(1e308), large, bounds: bounds))
    XCTAssertTrue(network.parameterValues == before, "the refused step changed the network")
    XCTAssertEqual(network.parameters[0].pointer, start)
    // A rule with state: out of place, and the bounds are forgotten.
    XCTAssertNotNil(try step(.sgd(0.01, momentum: 0.5), x, bounds: bounds))
    XCTAssertNotEqual(network.parameters[0].pointer, start)
    XCTAssertTrue(bounds.values.isEmpty)
  }

  /// One sample: SGD makes each gradient vector of the outer product
  /// x ⊗ δ in its own pass (`updateProduct`), never storing dW. The same
  /// bits as the unfused step, with and without decay and momentum, in
  /// Float and Double, on layers whose width is not a multiple of the
  /// vector (250 and 1050: a partial vector ends every row) and on one
  /// the helper thread shares (250 × 1050 values); one thread gives
  /// the two-thread bits; an overflowing step is refused.
  func testOneSampleStepsAreTheUnfusedStepsBitForBit() throws {
    func network<T: Scalar>(_: T.Type) throws -> Network<T> {
      try Network<T>(
        layers: [Dense(300, 250, .relu), Dense(250, 1050, .tanh), Dense(1050, 3, .identity)],
        loss: .mse, initializer: .xavier, seed: 4)
    }
    XCTAssertGreaterThanOrEqual(250 * 1050, sharedUpdateCount)
    func check<T: Scalar>(_: T.Type, _ config: OptimizerConfig) throws {
      let label = "\(T.self) \(config.kind) \(config.values)"
      let fused = try train(try network(T.self), rows: 1, config: config, fused: true)
      let plain = try train(try network(T.self), rows: 1, config: config, fused: false)
      let first = fused.parameters.indices.first { fused.parameters[$0] != plain.parameters[$0] }
      XCTAssertNil(first, "\(label): parameter \(first ?? -1) differs")
      for l in 0..<3 {
        XCTAssertEqual(
          fused.norms[l], plain.norms[l],
          accuracy: plain.norms[l] * (T.self == Float.self ? 1e-5 : 1e-12), label)
      }
      // In place, with bounds (a rule without state): the same bits again.
      if config["momentum"] == 0 {
        let bounds = WeightBounds()
        let proven = try train(
          try network(T.self), rows: 1, config: config, fused: true, bounds: bounds)
        XCTAssertFalse(bounds.values.isEmpty, label)
        XCTAssertTrue(proven.parameters == fused.parameters, label)
      }
    }
    let configs: [OptimizerConfig] = [
      .sgd(0.05), OptimizerConfig(kind: .sgd, ["lr": 0.05, "l2": 0.01]),
      .sgd(0.05, momentum: 0.9, nesterov: true),
      OptimizerConfig(kind: .sgd, ["lr": 0.05, "momentum": 0.5, "lr_in_velocity": 1]),
    ]
    for config in configs { try check(Double.self, config) }
    for config in configs.prefix(3) { try check(Float.self, config) }

    func twoSteps(threads: Int) throws -> [Float] {
      let limit = HelperThread.shared.threadLimit
      defer { HelperThread.shared.threadLimit = limit }
      HelperThread.shared.threadLimit = threads
      let network = try network(Float.self)
      let (x, y) = data(Float.self, rows: 1)
      for _ in 0..<2 { _ = try network.trainStep(x, y, rows: 1, config: .sgd(0.01)) }
      return network.parameterValues
    }
    let one = try twoSteps(threads: 1)
    let two = try twoSteps(threads: 2)
    let first = one.indices.first { one[$0].bitPattern != two[$0].bitPattern }
    XCTAssertNil(first, "parameter \(first ?? -1) differs between 1 and 2 threads")

    let overflowing = try network(Double.self)
    let (small, y) = data(Double.self, rows: 1)
    let before = overflowing.parameterValues
    XCTAssertThrowsError(
      try overflowing.trainStep(small.map { $0 * 1000 }, y, rows: 1, config: .sgd(1e308)))
    XCTAssertEqual(overflowing.parameterValues, before)
  }

  /// A step whose update overflows is refused and changes nothing.
  func testAnOverflowingFusedStepLeavesTheNetworkAsItWas() throws {
    let network = try network(Double.self)
    let (small, y) = data(Double.self, rows: 2)
    let x = small.map { $0 * 1000 }
    // Some weight's step lr·g overflows: |g| > 2 with lr 1e308.
    let gradients = try network.gradients(x, y, rows: 2)
    XCTAssertGreaterThan(gradients.prefix(300 * 256).map(abs).max()!, 2)
    let before = network.parameterValues
    XCTAssertThrowsError(try network.trainStep(x, y, rows: 2, config: .sgd(1e308)))
    XCTAssertEqual(network.parameterValues, before)
    // And the network still trains.
    _ = try network.trainStep(x, y, rows: 2, config: .sgd(0.01))
    XCTAssertNotEqual(network.parameterValues, before)
  }
}
