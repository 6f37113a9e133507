/// Inverted dropout on the outputs of hidden layers, during training only.
///
/// A layer with rate p passes on ã = a ⊙ m / (1 − p), with m ∈ {0, 1} drawn
/// per sample and unit, P(m = 1) = 1 − p, so E[ã] = a and inference (which
/// never drops) needs no rescaling. The next layer reads ã: its dW is
/// ãᵀ · δ, and the backward pass goes through the same mask,
/// ∂L/∂a = (δ_{l+1} · W_{l+1}ᵀ) ⊙ m / (1 − p), then δ_l = ∂L/∂a ⊙ f′(z_l).
///
/// ## The masks' draws (the NumPy twin, `sp.reference`, draws the same)
///
/// Only training steps drop (`trainStep`, each step of `fit`); `predict`,
/// the loss, `gradients`, `forward`, `backward`, the traces, the numerical
/// gradients and a fit's validation scores never do. Each such step draws
/// from the network's `SeededGenerator`, after the epoch's shuffling
/// permutation: for each hidden layer with p > 0 in layer order, for each
/// row of the batch in order, for each unit in order, one `uniform()` u;
/// the unit is kept (m = 1) when u ≥ p. So the same seed gives the same
/// masks and the same fit, bit for bit.
extension Network {
  /// Sets every layer's dropout rate (one per layer, the output layer's 0);
  /// all or nothing. Refused while `fit` runs.
  ///
  /// - Throws: `.invalidArgument` unless there is one rate per layer, each
  ///   finite and in [0, 1), and the output layer's is 0.
  public func setDropout(_ rates: [Double]) throws {
    guard rates.count == layers.count else {
      throw EngineError(
        .invalidArgument,
        "dropout needs one rate per layer (\(layers.count)), got \(rates.count)")
    }
    for (l, p) in rates.enumerated() where !(p >= 0 && p < 1) {
      throw EngineError(.invalidArgument, "dropout of layer \(l) must be in [0, 1), got \(p)")
    }
    if rates[layers.count - 1] != 0 {
      throw EngineError(
        .invalidArgument,
        "dropout on the output layer (layer \(layers.count - 1)) is not supported, got \(rates[layers.count - 1])")
    }
    try refuseWhileTraining("set the dropout rates")
    dropout = rates
    dropsUnits = rates.contains { $0 > 0 }
    trainingSpace = nil  // its mask buffers follow the rates
  }

  /// Draws layer `l`'s mask for `rows` rows (see the type's notes for the
  /// order) into `space.mask[l]` as m / (1 − p), and writes
  /// ã = a ⊙ m / (1 − p) into `space.dropped[l]`.
  func dropUnits(layer l: Int, rows: Int, space: Workspace<T>) {
    let p = dropout[l]
    let kept = T(1 / (1 - p))
    let count = rows * layers[l].outputs
    let a = space.a[l].pointer
    let mask = space.mask[l].pointer
    let dropped = space.dropped[l].pointer
    for i in 0..<count {
      let m: T = generator.uniform() >= p ? kept : 0
      mask[i] = m
      dropped[i] = a[i] * m
    }
  }

  /// Whether layer `l`'s output is dropped in a pass that drops.
  @inline(__always)
  func drops(_ l: Int) -> Bool { dropout[l] > 0 }
}
