/// The gradients as the Python API hands them out: analytic, by the
/// backward pass (`Network+Backward.swift`), and numerical, by central
/// differences to check them.
extension Network {
  /// Gradients of the data loss over the samples of `x` with targets `y`,
  /// as one flat vector in parameter order (W₀, b₀, W₁, …) into `output`
  /// (parameterCount values); returns the loss.
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  public func gradients(
    _ x: Matrix<T>, _ y: Matrix<T>, weights: Matrix<T>? = nil, into output: MutableMatrix<T>
  ) throws -> Double {
    try checkSamples(x, y)
    try output.check("gradients", count: parameterCount)
    let weightSum = try weights.map { try checkWeights($0, rows: x.rows, name: "sample_weight") }
    defer { releaseLargeWorkspaces() }
    return try gradients(
      x.base, y.base, rows: x.rows, into: output.base, weights: weights?.base,
      weightSum: weightSum ?? 0)
  }

  func gradients(
    _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, rows: Int, into output: UnsafeMutablePointer<T>,
    weights: UnsafePointer<T>? = nil, weightSum: Double = 0
  ) throws -> Double {
    try refuseWhileTraining("compute gradients")
    let chunkRows = gradientChunkRows
    if rows > chunkRows {
      return try chunkedGradients(
        x, y, rows: rows, chunkRows: chunkRows, into: output, weights: weights,
        weightSum: weightSum)
    }
    let space = try workspace(rows: rows, forTraining: true)
    let value = backward(
      x, y, rows: rows, space: space, keepLayers: false, weights: weights, weightSum: weightSum)
    var offset = 0
    for gradient in space.gradients {
      (output + offset).update(from: gradient.pointer, count: gradient.count)
      offset += gradient.count
    }
    return value
  }

  /// Rows per chunk of a large `gradients` call: enough rows that a chunk
  /// is about 2²⁷ multiply-adds of forward pass (tens of milliseconds), and
  /// never fewer than 1024, so the matrix products stay efficient. Ctrl-C
  /// is heard between chunks: with 4096 rows at least, a chunk of a 4.3
  /// million-parameter network took 2.2 s here and 22 s on a loaded
  /// machine; 1024 rows made the whole call no slower (16,384 rows, runs
  /// alternated: 10.1 and 11.7 s, against 9.6 and 11.7 with 4096).
  var gradientChunkRows: Int { max(1024, (1 << 27) / max(parameterCount, 1)) }

  /// The gradients of a large batch, chunk by chunk: every loss is a mean
  /// over the rows, so with chunks c of n_c rows out of n,
  /// ∇L = Σ_c (n_c / n) ∇L_c and L = Σ_c (n_c / n) L_c, summed in Double.
  /// With sample weights each chunk is scaled by the whole batch's weight
  /// sum W (its rows' δ by wᵣ / W), so the chunks' results add up as they
  /// are.
  /// Between chunks the call hears interrupts, and its workspace holds one
  /// chunk instead of the whole batch. The sum's rounding differs from
  /// one pass over all rows in the last bits (about 1e-16 relative in
  /// Double).
  func chunkedGradients(
    _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, rows: Int, chunkRows: Int,
    into output: UnsafeMutablePointer<T>, weights: UnsafePointer<T>? = nil, weightSum: Double = 0
  ) throws -> Double {
    let sums = try Buffer<Double>(count: parameterCount)
    let space = try workspace(rows: chunkRows, forTraining: true)
    var interrupts = InterruptPoll()
    var loss = 0.0
    var start = 0
    while start < rows {
      try interrupts.check()
      let count = min(chunkRows, rows - start)
      let share = weights == nil ? Double(count) / Double(rows) : 1
      loss += share * backward(
        x + start * inputCount, y + start * outputCount, rows: count, space: space,
        keepLayers: false, weights: weights.map { $0 + start }, weightSum: weightSum)
      var offset = 0
      for gradient in space.gradients {
        for i in 0..<gradient.count {
          sums.pointer[offset + i] += share * Double(gradient.pointer[i])
        }
        offset += gradient.count
      }
      start += count
    }
    for i in 0..<parameterCount { output[i] = T(sums.pointer[i]) }
    return loss
  }

  /// Central finite differences (L(p + ε) − L(p − ε)) / 2ε of the data loss
  /// for every parameter, in parameter order, into `output` (parameterCount
  /// values), computed in Double whatever the network's element type (a
  /// Float twin would drown in rounding).
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  public func numericalGradients(
    _ x: Matrix<T>, _ y: Matrix<T>, epsilon: Double, into output: MutableMatrix<Double>
  ) throws {
    try checkSamples(x, y)
    try output.check("gradients", count: parameterCount)
    guard epsilon.isFinite, epsilon > 0 else {
      throw EngineError(.invalidArgument, "eps must be > 0, got \(epsilon)")
    }
    try numericalGradients(x.base, y.base, rows: x.rows, epsilon: epsilon, into: output.base)
  }

  func numericalGradients(
    _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, rows: Int, epsilon: Double,
    into output: UnsafeMutablePointer<Double>
  ) throws {
    try refuseWhileTraining("compute gradients")
    let twin = try Network<Double>(layers: layers, loss: loss, initializer: .xavier, seed: 0)
    for (mine, theirs) in zip(parameters, twin.parameters) {
      for i in 0..<mine.count { theirs.pointer[i] = Double(mine.pointer[i]) }
    }
    // A Double network's samples are read in place; a Float network's are
    // widened once, into checked buffers as large as the data.
    var widened: (x: Buffer<Double>, y: Buffer<Double>)?
    if T.self != Double.self {
      let x64 = try Buffer<Double>(count: product(rows, inputCount))
      let y64 = try Buffer<Double>(count: product(rows, outputCount))
      for i in 0..<x64.count { x64.pointer[i] = Double(x[i]) }
      for i in 0..<y64.count { y64.pointer[i] = Double(y[i]) }
      widened = (x64, y64)
    }
    let x64 = widened.map { UnsafePointer($0.x.pointer) }
      ?? UnsafeRawPointer(x).assumingMemoryBound(to: Double.self)
    let y64 = widened.map { UnsafePointer($0.y.pointer) }
      ?? UnsafeRawPointer(y).assumingMemoryBound(to: Double.self)
    try withExtendedLifetime(widened) {
      var interrupts = InterruptPoll()
      var offset = 0
      for buffer in twin.parameters {
        for i in 0..<buffer.count {
          try interrupts.check()
          let saved = buffer.pointer[i]
          buffer.pointer[i] = saved + epsilon
          let above = try twin.lossValue(x64, y64, rows: rows)
          buffer.pointer[i] = saved - epsilon
          let below = try twin.lossValue(x64, y64, rows: rows)
          buffer.pointer[i] = saved
          output[offset + i] = (above - below) / (2 * epsilon)
        }
        offset += buffer.count
      }
    }
  }
}
