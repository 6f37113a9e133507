/// The forward and backward pass for networks so small that calling the
/// matrix product, the bias add and the activation separately costs more
/// than the arithmetic (the tutorials' XOR network: 2-2-1 on 4 rows).
///
/// It computes what `backward` computes, in the same buffers, but each
/// layer's product and bias run as one loop nest, with no calls between
/// them. Sums run in the general path's order (products from zero, the
/// bias last, rows in index order) and nothing is fused into a
/// multiply-add, so for these sizes the results are the general path's.
extension Network {
  /// True when every product of a step on `rows` rows is below the size
  /// where the general matrix product would do more than plain loops.
  @inlinable
  func isSmallPass(rows: Int) -> Bool {
    rows <= smallPassRows && largestLayerProduct * rows < smallProductLimit
  }

  /// `backward` for small networks: fills z, a, δ and the gradients of
  /// every layer in `space`; returns the data loss.
  func smallBackward(
    _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, rows: Int, space: Workspace<T>
  ) -> Double {
    let last = layers.count - 1
    var input = x
    for l in 0...last {
      let n = layers[l].outputs
      let k = layers[l].inputs
      let W = UnsafePointer(parameters[2 * l].pointer)
      let b = UnsafePointer(parameters[2 * l + 1].pointer)
      let z = space.z[l].pointer
      for r in 0..<rows {
        let aRow = input + r * k
        let zRow = z + r * n
        for j in 0..<n {
          var sum: T = 0
          for p in 0..<k { sum += aRow[p] * W[p * n + j] }
          zRow[j] = sum + b[j]
        }
      }
      layers[l].activation.apply(z, into: space.a[l].pointer, rows: rows, cols: n)
      input = UnsafePointer(space.a[l].pointer)
    }
    let lossValue = lossAndOutputDelta(y, rows: rows, space: space)
    // From the last layer down (a counting loop: `stride` was left
    // unspecialised here, an iterator call per layer and step).
    var l = last
    while l >= 0 {
      defer { l -= 1 }
      let n = layers[l].outputs
      let k = layers[l].inputs
      let delta = UnsafePointer(space.delta[l].pointer)
      let input = l == 0 ? x : UnsafePointer(space.a[l - 1].pointer)
      let dW = space.gradients[2 * l].pointer
      let db = space.gradients[2 * l + 1].pointer
      // dW = inputᵀ · δ and db = Σ_rows δ, one pass over the rows.
      for j in 0..<n { db[j] = 0 }
      for p in 0..<k { for j in 0..<n { dW[p * n + j] = 0 } }
      for r in 0..<rows {
        let dRow = delta + r * n
        let aRow = input + r * k
        for j in 0..<n { db[j] += dRow[j] }
        for p in 0..<k {
          let a = aRow[p]
          for j in 0..<n { dW[p * n + j] += a * dRow[j] }
        }
      }
      if l > 0 {
        // δ_{l−1} = (δ_l · W_lᵀ) ⊙ f'_{l−1}
        let W = UnsafePointer(parameters[2 * l].pointer)
        let previous = space.delta[l - 1].pointer
        for r in 0..<rows {
          let dRow = delta + r * n
          for p in 0..<k {
            var sum: T = 0
            for j in 0..<n { sum += dRow[j] * W[p * n + j] }
            previous[r * k + p] = sum
          }
        }
        layers[l - 1].activation.multiplyByDerivative(
          previous, z: space.z[l - 1].pointer, a: space.a[l - 1].pointer, count: rows * k)
      }
    }
    return lossValue
  }
}

/// Most rows a step may have to take the small pass.
@usableFromInline let smallPassRows = 64
