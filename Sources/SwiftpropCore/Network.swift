/// A fully-connected network: its layers, its loss, its parameters and the
/// generator that initialised them and shuffles its mini-batches.
///
/// Parameters are kept as one buffer per array, in the order
/// W₀, b₀, W₁, b₁, …; W is row-major (inputs × outputs). The flat
/// parameter vector used across the ABI is that order concatenated.
///
/// A network is not thread-safe: the Python layer serialises calls on one
/// network with a lock.
public final class Network<T: Scalar> {
  public let layers: [Dense]
  public let loss: Loss
  public var generator: SeededGenerator
  /// True while `fit` runs; calls that would disturb it are refused.
  public internal(set) var isTraining = false

  /// W₀, b₀, W₁, b₁, … end to end in one allocation (`Buffer.consecutive`).
  var parameters: [Buffer<T>]
  var optimizer: OptimizerState<T>?
  var trainingSpace: Workspace<T>?
  var inferenceSpace: Workspace<T>?

  /// Each layer's dropout rate p in [0, 1) (`setDropout`); the output
  /// layer's is always 0. Training steps drop; nothing else does.
  public internal(set) var dropout: [Double]
  /// Whether any rate is > 0: training steps then run the general pass.
  public internal(set) var dropsUnits = false

  /// Builds a network and draws its weights from `SeededGenerator(seed:)`
  /// in layer order, row by row of each W; biases start at zero.
  public init(layers: [Dense], loss: Loss, initializer: Initializer, seed: UInt64) throws {
    if let problem = Dense.problem(in: layers, loss: loss) {
      throw EngineError(.invalidArgument, problem)
    }
    self.layers = layers
    self.loss = loss
    dropout = Array(repeating: 0, count: layers.count)
    generator = SeededGenerator(seed: seed)
    let parameters = try Buffer<T>.consecutive(counts: parameterCounts(of: layers))
    for (l, layer) in layers.enumerated() {
      let weights = parameters[2 * l]
      for i in 0..<weights.count {
        weights.pointer[i] = T(
          initializer.draw(inputs: layer.inputs, outputs: layer.outputs, from: &generator))
      }
    }
    self.parameters = parameters
    parameterCount = parameters.reduce(0) { $0 + $1.count }
    largestLayerProduct = layers.reduce(0) { max($0, $1.inputs * $1.outputs) }
    widestLayer = layers.reduce(0) { max($0, $1.inputs, $1.outputs) }
  }

  public var inputCount: Int { layers[0].inputs }
  public var outputCount: Int { layers[layers.count - 1].outputs }

  /// Number of weights and biases.
  public let parameterCount: Int
  /// The largest inputs × outputs of any layer (sizes one row's products).
  @usableFromInline let largestLayerProduct: Int
  /// The largest input or output count of any layer.
  @usableFromInline let widestLayer: Int

  /// Copies the flat parameter vector W₀, b₀, W₁, b₁, … into `values`
  /// (parameterCount values).
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  public func copyParameters(into values: MutableMatrix<T>) throws {
    try values.check("values", count: parameterCount)
    copy(parameters, into: values.base)
  }

  /// Replaces every parameter from a flat vector of parameterCount values;
  /// all or nothing.
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  public func setParameters(_ values: Matrix<T>) throws {
    guard values.count == parameterCount else {
      throw EngineError(
        .invalidArgument, "expected \(parameterCount) parameter values, got \(values.count)")
    }
    guard allFinite(values.base, count: values.count) else {
      throw EngineError(.invalidValue, "weights contain NaN or infinity")
    }
    try refuseWhileTraining("set the weights")
    var offset = 0
    for buffer in parameters {
      buffer.pointer.update(from: values.base + offset, count: buffer.count)
      offset += buffer.count
    }
  }

  /// The optimizer's memory, for saving: its kind and step count, with its
  /// state vectors (`kind.stateVectors` of them: SGD's velocity, Adam's two
  /// moments) copied in parameter order into the first of `vectors`
  /// (parameterCount values each; the others are left alone). Nil, and
  /// nothing copied, before any training step.
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  public func copyOptimizerState(into vectors: [MutableMatrix<T>]) throws
    -> (kind: OptimizerKind, step: Int)?
  {
    guard let optimizer else { return nil }
    guard vectors.count >= optimizer.vectors.count else {
      throw EngineError(
        .invalidArgument,
        "\(optimizer.kind.name)'s state has \(optimizer.vectors.count) vectors, got room for \(vectors.count)")
    }
    for (buffers, out) in zip(optimizer.vectors, vectors) {
      try out.check("optimizer state", count: parameterCount)
      copy(buffers, into: out.base)
    }
    return (optimizer.kind, optimizer.step)
  }

  /// Restores optimizer memory saved by `copyOptimizerState`: `vectors`
  /// holds at least `kind.stateVectors` vectors of parameterCount values
  /// (further ones are ignored).
  ///
  /// Refuses, with the network unchanged, a state the optimizer could
  /// never have produced: a step count past `OptimizerState.maximumStep`
  /// (2⁵³), NaN or infinity, or what the rule itself rules out (Adam's
  /// negative second moments), so a hand-made or damaged state fails here,
  /// by name, instead of making every later step diverge.
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  public func restoreOptimizer(kind: OptimizerKind, step: Int, vectors: [Matrix<T>]) throws {
    try refuseWhileTraining("restore the optimizer")
    guard step >= 0 else { throw EngineError(.invalidArgument, "step must be >= 0, got \(step)") }
    let maximum = OptimizerState<T>.maximumStep
    guard step <= maximum else {
      throw EngineError(
        .invalidArgument,
        "step must be <= \(maximum) (2**53, beyond which a step count is not exact in a Double), got \(step)")
    }
    let vectors = Array(vectors.prefix(kind.stateVectors))
    guard vectors.count == kind.stateVectors else {
      throw EngineError(
        .invalidArgument,
        "\(kind.name)'s state needs \(kind.stateVectors) vectors, got \(vectors.count)")
    }
    for vector in vectors { try vector.check("optimizer state", count: parameterCount) }
    if let problem = kind.rule.stateProblem(vectors.map(\.base), count: parameterCount) {
      throw EngineError(.invalidValue, problem)
    }
    let state = try OptimizerState<T>(kind: kind, counts: parameters.map(\.count))
    state.restore(step: step, vectors: vectors.map(\.base))
    optimizer = state
  }

  /// The optimizer whose memory the network keeps; nil before any step.
  public var optimizerKind: OptimizerKind? { optimizer?.kind }

  /// Forgets the optimizer's momentum or moments and Adam's step count.
  public func resetOptimizer() { optimizer = nil }

  func refuseWhileTraining(_ action: String) throws {
    if isTraining {
      throw EngineError(.busy, "cannot \(action) while fit is running on this network")
    }
  }

}

/// The sizes of W₀, b₀, W₁, b₁, …, checked for overflow.
func parameterCounts(of layers: [Dense]) throws -> [Int] {
  var counts: [Int] = []
  for layer in layers {
    counts.append(try product(layer.inputs, layer.outputs))
    counts.append(layer.outputs)
  }
  return counts
}

/// Copies buffers end to end into `out`.
func copy<T: Scalar>(_ buffers: [Buffer<T>], into out: UnsafeMutablePointer<T>) {
  var offset = 0
  for buffer in buffers {
    (out + offset).update(from: buffer.pointer, count: buffer.count)
    offset += buffer.count
  }
}
