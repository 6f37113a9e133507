/// A network of either element type, for the C ABI, which sees data only
/// as raw pointers. Every call switches on the case here, inside the core
/// module, so the core runs fully specialised for Float or Double (through
/// a protocol existential, or from another module, it would run its
/// generic code, several times slower).
public enum AnyNetwork {
  case float32(Network<Float>)
  case float64(Network<Double>)

  /// The dtype code of the ABI (0 = float32, 1 = float64).
  public var dtype: Int32 {
    switch self {
    case .float32: Float.dtype.code
    case .float64: Double.dtype.code
    }
  }

  /// The element-type-independent description of the network.
  public var shape: (layers: Int, inputs: Int, outputs: Int, parameters: Int, training: Bool) {
    switch self {
    case .float32(let n): (n.layers.count, n.inputCount, n.outputCount, n.parameterCount, n.isTraining)
    case .float64(let n): (n.layers.count, n.inputCount, n.outputCount, n.parameterCount, n.isTraining)
    }
  }
  public var inputCount: Int {
    switch self {
    case .float32(let n): n.inputCount
    case .float64(let n): n.inputCount
    }
  }
  public var outputCount: Int {
    switch self {
    case .float32(let n): n.outputCount
    case .float64(let n): n.outputCount
    }
  }
  public var parameterCount: Int {
    switch self {
    case .float32(let n): n.parameterCount
    case .float64(let n): n.parameterCount
    }
  }
  public var isTraining: Bool {
    switch self {
    case .float32(let n): n.isTraining
    case .float64(let n): n.isTraining
    }
  }

  public var generatorState: UInt64 {
    get {
      switch self {
      case .float32(let n): n.generator.state
      case .float64(let n): n.generator.state
      }
    }
    nonmutating set {
      switch self {
      case .float32(let n): n.generator.state = newValue
      case .float64(let n): n.generator.state = newValue
      }
    }
  }

  public func getOptimizer(first: UnsafeMutableRawPointer, second: UnsafeMutableRawPointer?) -> (Int32, Int) {
    switch self {
    case .float32(let n): n.getOptimizerErased(first: first, second: second)
    case .float64(let n): n.getOptimizerErased(first: first, second: second)
    }
  }

  public func setOptimizer(kind: OptimizerKind, step: Int, first: UnsafeRawPointer,
                    second: UnsafeRawPointer?) throws {
    switch self {
    case .float32(let n): try n.setOptimizerErased(kind: kind, step: step, first: first, second: second)
    case .float64(let n): try n.setOptimizerErased(kind: kind, step: step, first: first, second: second)
    }
  }

  public func resetOptimizer() {
    switch self {
    case .float32(let n): n.resetOptimizer()
    case .float64(let n): n.resetOptimizer()
    }
  }

  public func copyParameters(to out: UnsafeMutableRawPointer) {
    switch self {
    case .float32(let n): n.copyParameters(to: out)
    case .float64(let n): n.copyParameters(to: out)
    }
  }

  public func setParameters(from values: UnsafeRawPointer, count: Int) throws {
    switch self {
    case .float32(let n): try n.setParameters(from: values, count: count)
    case .float64(let n): try n.setParameters(from: values, count: count)
    }
  }

  public func allFinite(_ values: UnsafeRawPointer, count: Int) -> Bool {
    switch self {
    case .float32(let n): n.allFinite(values, count: count)
    case .float64(let n): n.allFinite(values, count: count)
    }
  }

  public func predictErased(_ x: UnsafeRawPointer, rows: Int, into out: UnsafeMutableRawPointer) throws {
    switch self {
    case .float32(let n): try n.predictErased(x, rows: rows, into: out)
    case .float64(let n): try n.predictErased(x, rows: rows, into: out)
    }
  }

  public func lossValueErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int) throws -> Double {
    switch self {
    case .float32(let n): try n.lossValueErased(x, y, rows: rows)
    case .float64(let n): try n.lossValueErased(x, y, rows: rows)
    }
  }

  public func gradientsErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int,
                       into out: UnsafeMutableRawPointer) throws -> Double {
    switch self {
    case .float32(let n): try n.gradientsErased(x, y, rows: rows, into: out)
    case .float64(let n): try n.gradientsErased(x, y, rows: rows, into: out)
    }
  }

  public func numericalGradientsErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int,
                                epsilon: Double, into out: UnsafeMutablePointer<Double>) throws {
    switch self {
    case .float32(let n): try n.numericalGradientsErased(x, y, rows: rows, epsilon: epsilon, into: out)
    case .float64(let n): try n.numericalGradientsErased(x, y, rows: rows, epsilon: epsilon, into: out)
    }
  }

  public func trainStepErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int,
                       config: OptimizerConfig) throws -> Double {
    switch self {
    case .float32(let n): try n.trainStepErased(x, y, rows: rows, config: config)
    case .float64(let n): try n.trainStepErased(x, y, rows: rows, config: config)
    }
  }

  /// Values in one layer-by-layer trace (rows × Σ outputs).
  public var traceWidth: Int {
    switch self {
    case .float32(let n): n.layers.reduce(0) { $0 + $1.outputs }
    case .float64(let n): n.layers.reduce(0) { $0 + $1.outputs }
    }
  }

  public func forwardErased(_ x: UnsafeRawPointer, rows: Int, z: UnsafeMutableRawPointer,
                     a: UnsafeMutableRawPointer) throws {
    switch self {
    case .float32(let n): try n.forwardErased(x, rows: rows, z: z, a: a)
    case .float64(let n): try n.forwardErased(x, rows: rows, z: z, a: a)
    }
  }

  public func backwardErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int,
                      deltas: UnsafeMutableRawPointer, gradients: UnsafeMutableRawPointer,
                      inputGradient: UnsafeMutableRawPointer) throws -> Double {
    switch self {
    case .float32(let n):
      try n.backwardErased(x, y, rows: rows, deltas: deltas, gradients: gradients, inputGradient: inputGradient)
    case .float64(let n):
      try n.backwardErased(x, y, rows: rows, deltas: deltas, gradients: gradients, inputGradient: inputGradient)
    }
  }

  public func fitErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int,
                 validationX: UnsafeRawPointer?, validationY: UnsafeRawPointer?, validationRows: Int,
                 config: OptimizerConfig, options: FitOptions,
                 lossHistory: UnsafeMutablePointer<Double>, validationHistory: UnsafeMutablePointer<Double>?,
                 gradientNorms: UnsafeMutablePointer<Double>?,
                 handler: (FitEvent) -> FitControl) throws -> FitOutcome {
    switch self {
    case .float32(let n):
      try n.fitErased(x, y, rows: rows, validationX: validationX, validationY: validationY,
                      validationRows: validationRows, config: config, options: options,
                      lossHistory: lossHistory, validationHistory: validationHistory,
                      gradientNorms: gradientNorms, handler: handler)
    case .float64(let n):
      try n.fitErased(x, y, rows: rows, validationX: validationX, validationY: validationY,
                      validationRows: validationRows, config: config, options: options,
                      lossHistory: lossHistory, validationHistory: validationHistory,
                      gradientNorms: gradientNorms, handler: handler)
    }
  }
}

/// Binds raw pointers to the network's scalar type.
extension Network {
  func getOptimizerErased(first: UnsafeMutableRawPointer, second: UnsafeMutableRawPointer?) -> (Int32, Int) {
    guard let snapshot = optimizerSnapshot else { return (-1, 0) }
    for (vector, out) in zip(snapshot.vectors, [first, second]) {
      guard let out else { continue }
      let values = out.bindMemory(to: T.self, capacity: parameterCount)
      for (i, value) in vector.enumerated() { values[i] = value }
    }
    return (snapshot.kind.code, snapshot.step)
  }

  func setOptimizerErased(kind: OptimizerKind, step: Int, first: UnsafeRawPointer,
                          second: UnsafeRawPointer?) throws {
    let vectors = [first, second].compactMap { $0?.assumingMemoryBound(to: T.self) }
    try restoreOptimizer(kind: kind, step: step, vectors: vectors)
  }

  func copyParameters(to out: UnsafeMutableRawPointer) {
    let values = parameterValues
    values.withUnsafeBufferPointer { source in
      out.bindMemory(to: T.self, capacity: values.count)
        .update(from: source.baseAddress!, count: values.count)
    }
  }

  func setParameters(from values: UnsafeRawPointer, count: Int) throws {
    try setParameters(UnsafeBufferPointer(start: values.assumingMemoryBound(to: T.self), count: count))
  }

  func allFinite(_ values: UnsafeRawPointer, count: Int) -> Bool {
    SwiftpropCore.allFinite(values.assumingMemoryBound(to: T.self), count: count)
  }

  func predictErased(_ x: UnsafeRawPointer, rows: Int, into out: UnsafeMutableRawPointer) throws {
    try predict(x.assumingMemoryBound(to: T.self), rows: rows,
                into: out.assumingMemoryBound(to: T.self))
  }

  func lossValueErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int) throws -> Double {
    try lossValue(x.assumingMemoryBound(to: T.self), y.assumingMemoryBound(to: T.self), rows: rows)
  }

  func gradientsErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int,
                 into out: UnsafeMutableRawPointer) throws -> Double {
    try gradients(x.assumingMemoryBound(to: T.self), y.assumingMemoryBound(to: T.self),
                  rows: rows, into: out.assumingMemoryBound(to: T.self))
  }

  func numericalGradientsErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int,
                          epsilon: Double, into out: UnsafeMutablePointer<Double>) throws {
    try numericalGradients(x.assumingMemoryBound(to: T.self), y.assumingMemoryBound(to: T.self),
                           rows: rows, epsilon: epsilon, into: out)
  }

  func trainStepErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int,
                 config: OptimizerConfig) throws -> Double {
    try trainStep(x.assumingMemoryBound(to: T.self), y.assumingMemoryBound(to: T.self),
                  rows: rows, config: config)
  }

  func forwardErased(_ x: UnsafeRawPointer, rows: Int, z: UnsafeMutableRawPointer,
                     a: UnsafeMutableRawPointer) throws {
    try forwardTrace(x.assumingMemoryBound(to: T.self), rows: rows,
                     z: z.assumingMemoryBound(to: T.self), a: a.assumingMemoryBound(to: T.self))
  }

  func backwardErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int,
                      deltas: UnsafeMutableRawPointer, gradients: UnsafeMutableRawPointer,
                      inputGradient: UnsafeMutableRawPointer) throws -> Double {
    try backwardTrace(x.assumingMemoryBound(to: T.self), y.assumingMemoryBound(to: T.self),
                      rows: rows, deltas: deltas.assumingMemoryBound(to: T.self),
                      gradients: gradients.assumingMemoryBound(to: T.self),
                      inputGradient: inputGradient.assumingMemoryBound(to: T.self))
  }

  func fitErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int,
           validationX: UnsafeRawPointer?, validationY: UnsafeRawPointer?, validationRows: Int,
           config: OptimizerConfig, options: FitOptions,
           lossHistory: UnsafeMutablePointer<Double>, validationHistory: UnsafeMutablePointer<Double>?,
           gradientNorms: UnsafeMutablePointer<Double>?,
           handler: (FitEvent) -> FitControl) throws -> FitOutcome {
    var validation: ValidationData<T>? = nil
    if let validationX, let validationY, validationRows > 0 {
      validation = ValidationData(x: validationX.assumingMemoryBound(to: T.self),
                                  y: validationY.assumingMemoryBound(to: T.self),
                                  rows: validationRows)
    }
    return try fit(x.assumingMemoryBound(to: T.self), y.assumingMemoryBound(to: T.self), rows: rows,
                   validation: validation, config: config, options: options,
                   lossHistory: lossHistory, validationHistory: validationHistory,
                      gradientNorms: gradientNorms, handler: handler)
  }
}

