import SwiftpropCore

/// Array conveniences over the core's pointer API, for tests.
extension Network {
  func predict(_ x: [T], rows: Int) throws -> [T] {
    var out = [T](repeating: 0, count: rows * outputCount)
    try x.withUnsafeBufferPointer { xp in
      try out.withUnsafeMutableBufferPointer { op in
        try predict(xp.baseAddress!, rows: rows, into: op.baseAddress!)
      }
    }
    return out
  }

  func loss(_ x: [T], _ y: [T], rows: Int) throws -> Double {
    try x.withUnsafeBufferPointer { xp in
      try y.withUnsafeBufferPointer { yp in try lossValue(xp.baseAddress!, yp.baseAddress!, rows: rows) }
    }
  }

  func gradients(_ x: [T], _ y: [T], rows: Int) throws -> [T] {
    var out = [T](repeating: 0, count: parameterCount)
    _ = try x.withUnsafeBufferPointer { xp in
      try y.withUnsafeBufferPointer { yp in
        try out.withUnsafeMutableBufferPointer { op in
          try gradients(xp.baseAddress!, yp.baseAddress!, rows: rows, into: op.baseAddress!)
        }
      }
    }
    return out
  }

  func numericalGradients(_ x: [T], _ y: [T], rows: Int, epsilon: Double = 1e-6) throws -> [Double] {
    var out = [Double](repeating: 0, count: parameterCount)
    try x.withUnsafeBufferPointer { xp in
      try y.withUnsafeBufferPointer { yp in
        try out.withUnsafeMutableBufferPointer { op in
          try numericalGradients(
            xp.baseAddress!, yp.baseAddress!, rows: rows, epsilon: epsilon, into: op.baseAddress!)
        }
      }
    }
    return out
  }

  func trainStep(_ x: [T], _ y: [T], rows: Int, config: OptimizerConfig) throws -> Double {
    try x.withUnsafeBufferPointer { xp in
      try y.withUnsafeBufferPointer { yp in
        try trainStep(xp.baseAddress!, yp.baseAddress!, rows: rows, config: config)
      }
    }
  }

  /// Runs fit and returns the per-epoch losses.
  func fit(
    _ x: [T], _ y: [T], rows: Int, config: OptimizerConfig, options: FitOptions,
    handler: (FitEvent) -> FitControl = { _ in .proceed }
  ) throws -> (losses: [Double], outcome: FitOutcome) {
    var losses = [Double](repeating: .nan, count: options.epochs)
    let outcome = try x.withUnsafeBufferPointer { xp in
      try y.withUnsafeBufferPointer { yp in
        try losses.withUnsafeMutableBufferPointer { lp in
          try fit(
            xp.baseAddress!, yp.baseAddress!, rows: rows, validation: nil, config: config,
            options: options, lossHistory: lp.baseAddress!, validationHistory: nil,
            handler: handler)
        }
      }
    }
    return (Array(losses.prefix(outcome.epochs)), outcome)
  }
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
    case .binaryCrossEntropy: for j in 0..<outputs { y[r * outputs + j] = generator.uniform() }
    case .crossEntropy: y[r * outputs + generator.below(outputs)] = 1
    }
  }
  return (x, y)
}

let xorInputs: [Double] = [0, 0, 0, 1, 1, 0, 1, 1]
let xorTargets: [Double] = [0, 1, 1, 0]
