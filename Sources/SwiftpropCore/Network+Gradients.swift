/// The implementations of the forward and backward pass.
enum PassKind: CaseIterable { case lanes, small, general }

extension Network {
  /// The pass `backward` runs for `rows` rows.
  func passKind(rows: Int) -> PassKind {
    if isLanePass(rows: rows) { return .lanes }
    if isSmallPass(rows: rows) { return .small }
    return .general
  }

  /// Forward and backward pass over `rows` samples: fills every layer's δ
  /// and every parameter's gradient in `space`, returns the data loss.
  ///
  /// δ_L = ∂L/∂z_L comes from the loss (fused with sigmoid or softmax where
  /// it can be); then, from the last layer down,
  /// dW_l = a_{l−1}ᵀ · δ_l, db_l = Σ_rows δ_l, δ_{l−1} = (δ_l · W_lᵀ) ⊙ f'_{l−1}.
  ///
  /// Tiny networks run a fused pass instead (`kind` picks one for tests):
  /// rows as SIMD lanes up to 8 rows (`laneBackward`), plain loop nests
  /// while every product is small (`smallBackward`). Without `keepLayers`
  /// the lane pass may leave z, a and δ in `space` unwritten (a training
  /// step needs only the gradients); with `sameBatch` it reuses the
  /// transposed x and y of the previous lane pass.
  @discardableResult
  func backward(
    _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, rows: Int, space: Workspace<T>,
    keepLayers: Bool = true, sameBatch: Bool = false, kind: PassKind? = nil
  ) -> Double {
    switch kind ?? passKind(rows: rows) {
    case .lanes:
      return laneBackward(
        x, y, rows: rows, space: space, keepLayers: keepLayers, sameBatch: sameBatch)
    case .small: return smallBackward(x, y, rows: rows, space: space)
    case .general: break
    }
    forward(x, rows: rows, space: space)
    let last = layers.count - 1
    let lossValue = lossAndOutputDelta(y, rows: rows, space: space)
    for l in stride(from: last, through: 0, by: -1) {
      let layer = layers[l]
      let delta = space.delta[l].pointer
      let input = l == 0 ? x : UnsafePointer(space.a[l - 1].pointer)
      multiply(
        input, transposeA: true, delta, transposeB: false, into: space.gradients[2 * l].pointer,
        m: layer.inputs, n: layer.outputs, k: rows, accumulate: false,
        scratch: space.scratch.pointer, bSlack: true)
      let db = space.gradients[2 * l + 1].pointer
      db.update(repeating: 0, count: layer.outputs)
      for r in 0..<rows {
        let dRow = delta + r * layer.outputs
        for j in 0..<layer.outputs { db[j] += dRow[j] }
      }
      if l > 0 {
        let previous = space.delta[l - 1].pointer
        multiply(
          delta, transposeA: false, parameters[2 * l].pointer, transposeB: true, into: previous,
          m: rows, n: layer.inputs, k: layer.outputs, accumulate: false, scratch: space.scratch.pointer)
        layers[l - 1].activation.multiplyByDerivative(
          previous, z: space.z[l - 1].pointer, a: space.a[l - 1].pointer,
          count: rows * layer.inputs)
      }
    }
    return lossValue
  }

  /// The data loss of the forward pass in `space`, and δ of the output
  /// layer written into it.
  func lossAndOutputDelta(_ y: UnsafePointer<T>, rows: Int, space: Workspace<T>) -> Double {
    let last = layers.count - 1
    let value = loss.value(
      z: space.z[last].pointer, a: space.a[last].pointer, y: y, rows: rows, cols: outputCount)
    loss.outputDelta(
      z: space.z[last].pointer, a: space.a[last].pointer, y: y, rows: rows, cols: outputCount,
      output: layers[last].activation, into: space.delta[last].pointer)
    return value
  }

  /// Gradients of the data loss over `rows` samples, as one flat vector in
  /// parameter order (W₀, b₀, W₁, …) into `output`; returns the loss.
  public func gradients(
    _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, rows: Int, into output: UnsafeMutablePointer<T>
  ) throws -> Double {
    try refuseWhileTraining("compute gradients")
    let space = try workspace(rows: rows, forTraining: true)
    let value = backward(x, y, rows: rows, space: space, keepLayers: false)
    var offset = 0
    for gradient in space.gradients {
      (output + offset).update(from: gradient.pointer, count: gradient.count)
      offset += gradient.count
    }
    return value
  }

  /// Central finite differences (L(p + ε) − L(p − ε)) / 2ε of the data loss
  /// for every parameter, in parameter order, computed in Double whatever
  /// the network's element type (a Float twin would drown in rounding).
  public func numericalGradients(
    _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, rows: Int, epsilon: Double,
    into output: UnsafeMutablePointer<Double>
  ) throws {
    try refuseWhileTraining("compute gradients")
    let twin = try Network<Double>(layers: layers, loss: loss, initializer: .xavier, seed: 0)
    let values = parameterValues.map(Double.init)
    try twin.setParameters(values)
    let x64 = try Buffer<Double>(count: product(rows, inputCount))
    let y64 = try Buffer<Double>(count: product(rows, outputCount))
    for i in 0..<x64.count { x64.pointer[i] = Double(x[i]) }
    for i in 0..<y64.count { y64.pointer[i] = Double(y[i]) }
    var offset = 0
    for buffer in twin.parameters {
      for i in 0..<buffer.count {
        let saved = buffer.pointer[i]
        buffer.pointer[i] = saved + epsilon
        let above = try twin.lossValue(x64.pointer, y64.pointer, rows: rows)
        buffer.pointer[i] = saved - epsilon
        let below = try twin.lossValue(x64.pointer, y64.pointer, rows: rows)
        buffer.pointer[i] = saved
        output[offset + i] = (above - below) / (2 * epsilon)
      }
      offset += buffer.count
    }
  }
}
