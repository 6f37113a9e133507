/// Layer-by-layer access for custom training loops, as the tutorials teach
/// it: every z and a of the forward pass, every δ of the backward pass and
/// the gradient dX that the first layer hands back to the input.
extension Network {
  /// Runs the forward pass over `rows` samples and copies every layer's
  /// pre-activation z and activation a out, layer after layer: layer l
  /// takes rows × outputs_l values in each of `z` and `a`.
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  public func forwardTrace(_ x: Matrix<T>, z: MutableMatrix<T>, a: MutableMatrix<T>) throws {
    try x.check("X", columns: inputCount)
    let count = try product(x.rows, traceWidth)
    try z.check("z", count: count)
    try a.check("a", count: count)
    defer { releaseLargeWorkspaces() }
    try forwardTrace(x.base, rows: x.rows, z: z.base, a: a.base)
  }

  /// Values of one layer-by-layer trace per row: Σ outputs of the layers.
  public var traceWidth: Int { layers.reduce(0) { $0 + $1.outputs } }

  func forwardTrace(
    _ x: UnsafePointer<T>, rows: Int, z: UnsafeMutablePointer<T>, a: UnsafeMutablePointer<T>
  ) throws {
    // Blocks of rows, as `predict` runs them (the last layer's a is
    // predict's).
    try forEachInferenceBlock(x, rows: rows) { start, count, space in
      var offset = 0
      for (l, layer) in layers.enumerated() {
        let blockOffset = offset + start * layer.outputs
        (z + blockOffset).update(from: space.z[l].pointer, count: count * layer.outputs)
        (a + blockOffset).update(from: space.a[l].pointer, count: count * layer.outputs)
        offset += rows * layer.outputs
      }
    }
  }

  /// The backward pass over `rows` samples, without an update: copies every
  /// layer's δ = ∂L/∂z (laid out as in `forwardTrace`), the flat gradient
  /// (parameter order) and dX = δ₀ · W₀ᵀ (rows × inputs) out; returns the
  /// loss.
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  public func backwardTrace(
    _ x: Matrix<T>, _ y: Matrix<T>, deltas: MutableMatrix<T>, gradients: MutableMatrix<T>,
    inputGradient: MutableMatrix<T>
  ) throws -> Double {
    try checkSamples(x, y)
    try deltas.check("deltas", count: try product(x.rows, traceWidth))
    try gradients.check("gradients", count: parameterCount)
    try inputGradient.check("dx", rows: x.rows, columns: inputCount)
    defer { releaseLargeWorkspaces() }
    return try backwardTrace(
      x.base, y.base, rows: x.rows, deltas: deltas.base, gradients: gradients.base,
      inputGradient: inputGradient.base)
  }

  func backwardTrace(
    _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, rows: Int,
    deltas: UnsafeMutablePointer<T>, gradients: UnsafeMutablePointer<T>,
    inputGradient: UnsafeMutablePointer<T>
  ) throws -> Double {
    try refuseWhileTraining("run a backward pass")
    let space = try workspace(rows: rows, forTraining: true)
    let value = backward(x, y, rows: rows, space: space)
    var offset = 0
    for (l, layer) in layers.enumerated() {
      (deltas + offset).update(from: space.delta[l].pointer, count: rows * layer.outputs)
      offset += rows * layer.outputs
    }
    offset = 0
    for gradient in space.gradients {
      (gradients + offset).update(from: gradient.pointer, count: gradient.count)
      offset += gradient.count
    }
    multiply(
      UnsafePointer(space.delta[0].pointer), transposeA: false, parameters[0].pointer,
      transposeB: true, into: inputGradient, m: rows, n: inputCount, k: layers[0].outputs,
      accumulate: false, scratch: space.scratch.pointer)
    return value
  }

  /// ‖dW_l‖ (Frobenius) of every layer's last computed weight gradient,
  /// added to `sums`: the vanishing/exploding-gradient diagnostic.
  @inline(__always)
  func addGradientNorms(_ space: Workspace<T>, to sums: UnsafeMutablePointer<Double>) {
    for l in layers.indices {
      let gradient = space.gradients[2 * l].pointer
      let count = space.gradients[2 * l].count
      // Below one round of `sumOfSquares`' four vectors, its sum is this
      // loop's (from zero, in order): the toy networks' layers skip a call.
      var squares = 0.0
      if count < 4 * T.Vector.scalarCount {
        for i in 0..<count { squares += Double(gradient[i]) * Double(gradient[i]) }
      } else {
        squares = sumOfSquares(UnsafePointer(gradient), count: count)
      }
      sums[l] += squares.squareRoot()
    }
  }
}
