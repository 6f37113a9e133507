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
  ///
  /// With sample `weights` (one per row, summing to `weightSum` > 0) the
  /// loss is the weighted mean Σᵣ wᵣ·Lᵣ / Σᵣ wᵣ of the rows' losses and
  /// each row's δ is scaled by wᵣ / Σᵣ wᵣ in place of 1/n; the general
  /// pass runs.
  ///
  /// With `dropping` (training steps) and a dropout rate on some layer, the
  /// general pass runs and drops units (`Network+Dropout`): the layer above
  /// reads ã_l, and ∂L/∂a_l is multiplied by the mask before f′.
  ///
  /// With `fusedWeights` (a training step), the general pass leaves dW of
  /// the layers `fusesUpdate` names unwritten: the step makes it a block at
  /// a time as it updates them.
  @discardableResult
  func backward(
    _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, rows: Int, space: Workspace<T>,
    keepLayers: Bool = true, sameBatch: Bool = false, kind: PassKind? = nil,
    weights: UnsafePointer<T>? = nil, weightSum: Double = 0, dropping: Bool = false,
    fusedWeights: Bool = false
  ) -> Double {
    let dropping = dropping && dropsUnits
    switch weights != nil || dropping ? .general : kind ?? passKind(rows: rows) {
    case .lanes:
      return laneBackward(
        x, y, rows: rows, space: space, keepLayers: keepLayers, sameBatch: sameBatch)
    case .small: return smallBackward(x, y, rows: rows, space: space)
    case .general: break
    }
    forward(x, rows: rows, space: space, dropping: dropping)
    let last = layers.count - 1
    let lossValue = lossAndOutputDelta(
      y, rows: rows, space: space, weights: weights, weightSum: weightSum)
    // From the last layer down (a counting loop: `stride` was left
    // unspecialised here, an iterator call per layer and step).
    var l = last
    while l >= 0 {
      defer { l -= 1 }
      let layer = layers[l]
      let delta = space.delta[l].pointer
      // dW of a layer whose update the step fuses with it is left to the step.
      if !(fusedWeights && fusesUpdate(l, rows: rows, space: space)) {
        multiply(
          weightGradientInput(l, x, space: space, dropping: dropping), transposeA: true, delta,
          transposeB: false, into: space.gradients[2 * l].pointer,
          m: layer.inputs, n: layer.outputs, k: rows, accumulate: false,
          scratch: space.scratch.pointer, bSlack: true)
      }
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
        if dropping && drops(l - 1) {
          let mask = space.mask[l - 1].pointer
          for i in 0..<rows * layer.inputs { previous[i] *= mask[i] }
        }
        layers[l - 1].activation.multiplyByDerivative(
          previous, z: space.z[l - 1].pointer, a: space.a[l - 1].pointer,
          count: rows * layer.inputs)
      }
    }
    return lossValue
  }

  /// What layer l's weight gradient multiplies δ_l by: the inputs x, or
  /// the layer below's output a_{l−1} as the layer read it (ã_{l−1} when
  /// that layer drops units in this pass).
  @inline(__always)
  func weightGradientInput(
    _ l: Int, _ x: UnsafePointer<T>, space: Workspace<T>, dropping: Bool
  ) -> UnsafePointer<T> {
    if l == 0 { return x }
    return UnsafePointer(
      dropping && drops(l - 1) ? space.dropped[l - 1].pointer : space.a[l - 1].pointer)
  }

  /// The data loss of the forward pass in `space`, and δ of the output
  /// layer written into it.
  func lossAndOutputDelta(
    _ y: UnsafePointer<T>, rows: Int, space: Workspace<T>,
    weights: UnsafePointer<T>? = nil, weightSum: Double = 0
  ) -> Double {
    let last = layers.count - 1
    if let weights {
      return loss.weightedValueAndDelta(
        z: space.z[last].pointer, a: space.a[last].pointer, y: y, weights: weights,
        weightSum: weightSum, rows: rows, cols: outputCount, output: layers[last].activation,
        into: space.delta[last].pointer)
    }
    let value = loss.value(
      z: space.z[last].pointer, a: space.a[last].pointer, y: y, rows: rows, cols: outputCount)
    loss.outputDelta(
      z: space.z[last].pointer, a: space.a[last].pointer, y: y, rows: rows, cols: outputCount,
      output: layers[last].activation, into: space.delta[last].pointer)
    return value
  }
}
