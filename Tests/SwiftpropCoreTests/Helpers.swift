import SwiftpropCore

/// Array conveniences over the core's matrix views, for tests.
extension Array where Element: Scalar {
  /// Runs `body` on this array viewed as `rows` rows.
  func viewed<R>(rows: Int, _ body: (Matrix<Element>) throws -> R) throws -> R {
    try withUnsafeBufferPointer { try body(Matrix($0, rows: rows, columns: count / Swift.max(rows, 1))) }
  }

  mutating func viewedMutably<R>(rows: Int = 1, _ body: (MutableMatrix<Element>) throws -> R) throws
    -> R
  {
    let columns = count / Swift.max(rows, 1)
    return try withUnsafeMutableBufferPointer { try body(MutableMatrix($0, rows: rows, columns: columns)) }
  }
}

extension Network {
  func predict(_ x: [T], rows: Int) throws -> [T] {
    var out = [T](repeating: 0, count: rows * outputCount)
    try x.viewed(rows: rows) { x in
      try out.viewedMutably(rows: rows) { out in try predict(x, into: out) }
    }
    return out
  }

  func loss(_ x: [T], _ y: [T], rows: Int) throws -> Double {
    try x.viewed(rows: rows) { x in try y.viewed(rows: rows) { y in try lossValue(x, y) } }
  }

  func gradients(_ x: [T], _ y: [T], rows: Int) throws -> [T] {
    var out = [T](repeating: 0, count: parameterCount)
    _ = try x.viewed(rows: rows) { x in
      try y.viewed(rows: rows) { y in try out.viewedMutably { try gradients(x, y, into: $0) } }
    }
    return out
  }

  func numericalGradients(_ x: [T], _ y: [T], rows: Int, epsilon: Double = 1e-6) throws -> [Double] {
    var out = [Double](repeating: 0, count: parameterCount)
    try x.viewed(rows: rows) { x in
      try y.viewed(rows: rows) { y in
        try out.viewedMutably { try numericalGradients(x, y, epsilon: epsilon, into: $0) }
      }
    }
    return out
  }

  func trainStep(_ x: [T], _ y: [T], rows: Int, config: OptimizerConfig) throws -> Double {
    try x.viewed(rows: rows) { x in
      try y.viewed(rows: rows) { y in try trainStep(x, y, config: config) }
    }
  }

  /// Runs fit and returns the per-epoch losses.
  func fit(
    _ x: [T], _ y: [T], rows: Int, config: OptimizerConfig, options: FitOptions,
    handler: (FitEvent) -> FitControl = { _ in .proceed }
  ) throws -> (losses: [Double], outcome: FitOutcome) {
    var losses = [Double](repeating: .nan, count: options.epochs)
    let outcome = try x.viewed(rows: rows) { x in
      try y.viewed(rows: rows) { y in
        try losses.viewedMutably { history in
          try fit(
            x, y, config: config, options: options, history: FitHistory(loss: history),
            handler: handler)
        }
      }
    }
    return (Array(losses.prefix(outcome.epochs)), outcome)
  }

  /// The flat parameter vector.
  var parameterValues: [T] {
    var values = [T](repeating: 0, count: parameterCount)
    try! values.viewedMutably { try copyParameters(into: $0) }
    return values
  }

  func setParameters(_ values: [T]) throws {
    try values.viewed(rows: 1) { try setParameters($0) }
  }
}

/// Every activation a hidden layer may have, and every (output activation,
/// loss) pair a network may end in, from the lists themselves: a new case
/// is tested as soon as it exists.
let hiddenActivations = Activation.allCases.filter { !$0.isOutputOnly }
let outputPairings: [(Activation, Loss)] = Loss.allCases.flatMap { loss in
  loss.requiredOutput.map { [($0, loss)] } ?? Activation.allCases.map { ($0, loss) }
}

/// A small deterministic data set: `rows` samples, inputs in [−1, 1), and
/// targets suited to `loss` (probabilities, one-hot rows or real values).
func sampleData(rows: Int, inputs: Int, outputs: Int, loss: Loss, seed: UInt64) -> ([Double], [Double]) {
  var generator = SeededGenerator(seed: seed)
  let x = (0..<rows * inputs).map { _ in 2 * generator.uniform() - 1 }
  var y = [Double](repeating: 0, count: rows * outputs)
  for r in 0..<rows {
    switch loss {
    case .mse: for j in 0..<outputs { y[r * outputs + j] = 2 * generator.uniform() - 1 }
    case .huber:
      // Targets in [−3, 3): residuals on both sides of huber's δ = 1.
      for j in 0..<outputs { y[r * outputs + j] = 6 * generator.uniform() - 3 }
    case .binaryCrossEntropy: for j in 0..<outputs { y[r * outputs + j] = generator.uniform() }
    case .poisson:
      // Counts-like targets in [0, 4), with some exact zeros (0·log 0).
      for j in 0..<outputs { y[r * outputs + j] = (4 * generator.uniform()).rounded(.down) }
    case .crossEntropy: y[r * outputs + generator.below(outputs)] = 1
    }
  }
  return (x, y)
}

let xorInputs: [Double] = [0, 0, 0, 1, 1, 0, 1, 1]
let xorTargets: [Double] = [0, 1, 1, 0]
