extension Network {
  /// The forward pass: z_l = a_{l−1} · W_l + b_l and a_l = f_l(z_l) for every
  /// layer, kept in `space` for the backward pass. a₋₁ is `x` (rows × inputs).
  /// With `dropping` (training steps only), each layer with a dropout rate
  /// draws its mask and the next layer reads ã (`Network+Dropout`).
  func forward(_ x: UnsafePointer<T>, rows: Int, space: Workspace<T>, dropping: Bool = false) {
    var input = UnsafePointer(x)
    for (l, layer) in layers.enumerated() {
      let z = space.z[l].pointer
      let W = parameters[2 * l].pointer
      let b = parameters[2 * l + 1].pointer
      multiply(
        input, transposeA: false, W, transposeB: false, into: z,
        m: rows, n: layer.outputs, k: layer.inputs, accumulate: false,
        scratch: space.scratch.pointer, bSlack: true)
      layer.activation.apply(
        z, bias: b, into: space.a[l].pointer, rows: rows, cols: layer.outputs)
      input = UnsafePointer(space.a[l].pointer)
      if dropping && drops(l) {
        dropUnits(layer: l, rows: rows, space: space)
        input = UnsafePointer(space.dropped[l].pointer)
      }
    }
  }

  /// The output activations for the rows of `x` (samples × inputCount),
  /// into `output` (samples × outputCount).
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  public func predict(_ x: Matrix<T>, into output: MutableMatrix<T>) throws {
    try x.check("X", columns: inputCount)
    try output.check("out", rows: x.rows, columns: outputCount)
    defer { releaseLargeWorkspaces() }
    try predict(x.base, rows: x.rows, into: output.base)
  }

  func predict(_ x: UnsafePointer<T>, rows: Int, into output: UnsafeMutablePointer<T>) throws {
    let last = layers.count - 1
    try forEachInferenceBlock(x, rows: rows) { start, count, space in
      (output + start * outputCount).update(from: space.a[last].pointer, count: count * outputCount)
    }
  }

  /// The forward pass over the `rows` samples of `x` in blocks of at most
  /// `inferenceBlockRows` rows (so the workspace stays small however many
  /// rows come), calling `body(start, count, space)` after each block's
  /// pass with the block's z and a in `space`. Rows are independent, so
  /// the values are those of one pass over all rows. The installed
  /// interrupt poll (Ctrl-C) is heard before each block.
  @inline(__always)
  func forEachInferenceBlock(
    _ x: UnsafePointer<T>, rows: Int,
    _ body: (_ start: Int, _ count: Int, _ space: Workspace<T>) throws -> Void
  ) throws {
    let space = try workspace(rows: min(rows, inferenceBlockRows), forTraining: false)
    var interrupts = InterruptPoll()
    var start = 0
    while start < rows {
      try interrupts.check()
      let count = min(inferenceBlockRows, rows - start)
      forward(x + start * inputCount, rows: count, space: space)
      try body(start, count, space)
      start += count
    }
  }

  /// The data loss over the samples of `x` with targets `y` (without the
  /// l2 term); large inputs are scored in blocks and the block losses
  /// averaged by their rows.
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  public func lossValue(_ x: Matrix<T>, _ y: Matrix<T>, weights: Matrix<T>? = nil) throws
    -> Double
  {
    try checkSamples(x, y)
    defer { releaseLargeWorkspaces() }
    if let weights {
      let sum = try checkWeights(weights, rows: x.rows, name: "sample_weight")
      return try evaluate(
        TrainingSet(x: x.base, y: y.base, weights: weights.base, weightSum: sum, rows: x.rows),
        metrics: []
      ).loss
    }
    return try lossValue(x.base, y.base, rows: x.rows)
  }

  /// Throws unless `x` and `y` are samples for this network: at least one
  /// row, as many rows in each, inputCount and outputCount columns, and
  /// targets the loss is defined for (`Loss.targetRange`).
  func checkSamples(_ x: Matrix<T>, _ y: Matrix<T>, names: (String, String) = ("X", "y")) throws {
    try x.check(names.0, columns: inputCount)
    try y.check(names.1, rows: x.rows, columns: outputCount)
    if let problem = loss.targetProblem(y.base, count: y.rows * y.columns, name: names.1) {
      throw EngineError(.invalidValue, problem)
    }
  }

  func lossValue(_ x: UnsafePointer<T>, _ y: UnsafePointer<T>, rows: Int) throws -> Double {
    let last = layers.count - 1
    var total = 0.0
    try forEachInferenceBlock(x, rows: rows) { start, count, space in
      let value = loss.value(
        z: space.z[last].pointer, a: space.a[last].pointer, y: y + start * outputCount,
        rows: count, cols: outputCount)
      // One block: its mean as it is (not scaled by rows and back).
      total += count == rows ? value : value * Double(count)
    }
    return rows <= inferenceBlockRows ? total : total / Double(rows)
  }
}
