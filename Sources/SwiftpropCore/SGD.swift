/// Stochastic gradient descent, PyTorch's rule: with g = ∂L/∂p (+ l2·W),
/// without momentum p −= lr·g; with momentum μ the velocity
/// v = μ·v + g, then p −= lr·(g + μ·v) (Nesterov) or p −= lr·v.
/// With "lr_in_velocity" = 1, Keras's and scikit-learn's rule, the velocity
/// holds steps (parameter units): v = μ·v − lr·g, then p += μ·v − lr·g
/// (Nesterov) or p += v. The two agree while lr is constant (v = −lr·v'),
/// and differ once a schedule changes it.
///
/// Settings: "momentum" in [0, 1] (1: the velocity never decays, as
/// scikit-learn and PyTorch allow), "nesterov" 0 or 1 (needs momentum > 0
/// to matter), "lr_in_velocity" 0 or 1. State: the velocity v.
struct SGD: UpdateRule {
  static let settingNames = ["momentum", "nesterov", "lr_in_velocity"]
  static let stateVectors = 1

  static func problem(_ config: OptimizerConfig) -> String? {
    let nesterov = config.values[3]
    if nesterov != 0 && nesterov != 1 { return "nesterov must be 0 or 1, got \(nesterov)" }
    let inVelocity = config.values[4]
    if inVelocity != 0 && inVelocity != 1 {
      return "lr_in_velocity must be 0 or 1, got \(inVelocity)"
    }
    return OptimizerConfig.outside("momentum", config.values[2], 0, 1, closed: true)
  }

  static func sumsSquaresInPass<T: Scalar>(_ type: T.Type) -> Bool { true }

  /// Any finite velocity can be reached (it accumulates gradients, which
  /// can be anything finite); NaN or infinity cannot.
  static func stateProblem<T: Scalar>(_ vectors: [UnsafePointer<T>], count: Int) -> String? {
    nonFiniteProblem(vectors, count: count, names: ["SGD's velocity"])
  }

  /// Without momentum no state is kept and p′ = p − lr·(g + l2·p), so
  /// |p′| ≤ |p| + lr·(|g| + l2·|p|) (before rounding, which `Network.step`
  /// allows for).
  static func inPlaceBound(
    parameter: Double, gradient: Double, decay: Double, config: OptimizerConfig
  ) -> Double? {
    guard config.values[2] == 0 else { return nil }
    return parameter + abs(config.learningRate) * (gradient + abs(decay) * parameter)
  }

  var learningRate, momentum: Double
  var nesterov, lrInVelocity: Bool

  init(_ config: borrowing OptimizerConfig, step: Int) {
    learningRate = config.values[0]
    momentum = config.values[2]
    nesterov = config.values[3] != 0
    lrInVelocity = config.values[4] != 0
  }

  /// Written on vectors: the finiteness probe (x − x is 0 for finite x,
  /// NaN otherwise) and Σ g² are sums the compiler would not vectorise.
  @inline(__always)
  func update<T: Scalar>(
    _ p: UnsafePointer<T>, into next: UnsafeMutablePointer<T>, gradient: UnsafePointer<T>,
    state: StateVectors<T>, count: Int, decay: T, wantSquares: Bool
  ) -> (finite: Bool, squares: Double) {
    let v = state.first!, vNext = state.nextFirst!
    let lanes = T.Vector.scalarCount
    var sums = (probe: T.Vector(), squares: T.Vector())
    withPass(decay: decay, finiteKnown: false) { pass in
      var i = 0
      while i + lanes <= count {
        pass.step(p + i, load(gradient + i), v + i, next + i, vNext + i, n: lanes, into: &sums)
        i += lanes
      }
      if i < count {
        let n = count - i
        pass.step(p + i, load(gradient + i, n), v + i, next + i, vNext + i, n: n, into: &sums)
      }
    }
    return (sums.probe.sum().isFinite, wantSquares ? Double(sums.squares.sum()) : 0)
  }

  /// The same pass, row by row, with each gradient vector made from the
  /// outer product where it is read.
  @inline(__always)
  func updateProduct<T: Scalar>(
    _ p: UnsafePointer<T>, into next: UnsafeMutablePointer<T>, product: OuterProduct<T>,
    state: StateVectors<T>, rows: Int, decay: T, wantSquares: Bool, finiteKnown: Bool
  ) -> (finite: Bool, squares: Double)? {
    let v = state.first!, vNext = state.nextFirst!
    let lanes = T.Vector.scalarCount
    let n = product.n
    var sums = (probe: T.Vector(), squares: T.Vector())
    withPass(decay: decay, finiteKnown: finiteKnown) { pass in
      for i in 0..<rows {
        let row = i * n
        var j = 0
        while j + lanes <= n {
          let at = row + j
          pass.step(
            p + at, product.vector(row: i, column: j), v + at, next + at, vNext + at, n: lanes,
            into: &sums)
          j += lanes
        }
        if j < n {
          let at = row + j
          pass.step(
            p + at, product.vector(row: i, column: j, count: n - j), v + at, next + at,
            vNext + at, n: n - j, into: &sums)
        }
      }
    }
    let finite = (finiteKnown && momentum == 0) || sums.probe.sum().isFinite
    return (finite, wantSquares ? Double(sums.squares.sum()) : 0)
  }

  /// `body` run with the pass for these settings. Without momentum (the
  /// common case, and the in-place one) the pass is made with mu, l2 when
  /// it is 0, and whether it probes as constants, so that their branches
  /// fold out of the loop; with `finiteKnown` (values proven finite) it
  /// does not probe (on Zen 1 the probe's subtract and add held one
  /// sample's update at the adders' rate).
  @inline(__always)
  func withPass<T: Scalar>(decay: T, finiteKnown: Bool, _ body: (Pass<T>) -> Void) {
    let lr = T(learningRate)
    guard momentum == 0 else {
      body(
        Pass(lr: lr, l2: decay, mu: T(momentum), nesterov: nesterov, lrInVelocity: lrInVelocity))
      return
    }
    switch (decay == 0, finiteKnown) {
    case (true, true):
      body(Pass(lr: lr, l2: 0, mu: 0, nesterov: false, lrInVelocity: false, probes: false))
    case (true, false): body(Pass(lr: lr, l2: 0, mu: 0, nesterov: false, lrInVelocity: false))
    case (false, true):
      body(Pass(lr: lr, l2: decay, mu: 0, nesterov: false, lrInVelocity: false, probes: false))
    case (false, false):
      body(Pass(lr: lr, l2: decay, mu: 0, nesterov: false, lrInVelocity: false))
    }
  }

  /// Plain SGD (`mu` 0, no velocity kept), with momentum, or Nesterov's,
  /// on one vector of n ≤ lanes values with gradient `raw` (zero past n);
  /// adds to `sums` the finiteness probe of what it writes and the squares
  /// of the gradient.
  struct Pass<T: Scalar> {
    var lr, l2, mu: T
    var nesterov, lrInVelocity: Bool
    /// Whether `sums.probe` is kept (off when the values are proven
    /// finite; only without momentum).
    var probes = true

    @inline(__always)
    func step(
      _ p: UnsafePointer<T>, _ raw: T.Vector, _ v: UnsafePointer<T>,
      _ next: UnsafeMutablePointer<T>, _ vNext: UnsafeMutablePointer<T>, n: Int,
      into sums: inout (probe: T.Vector, squares: T.Vector)
    ) {
      let w = load(p, n)
      sums.squares += raw * raw
      if mu == 0 {
        // Without decay g = raw + 0·w is raw but for zero's sign, which
        // w − lr·g cannot show (w is finite: every committed step is), so
        // the two multiplies and adds are left out; with momentum the
        // sign of a zero velocity could differ, so they stay there.
        let value = w - lr * (l2 == 0 ? raw : raw + l2 * w)
        store(value, next, n)
        if probes { sums.probe += value - value }
        return
      }
      let g = raw + l2 * w
      let velocity: T.Vector
      let value: T.Vector
      if lrInVelocity {
        velocity = mu * load(v, n) - lr * g
        value = w + (nesterov ? mu * velocity - lr * g : velocity)
      } else {
        velocity = mu * load(v, n) + g
        value = w - lr * (nesterov ? g + mu * velocity : velocity)
      }
      store(velocity, vNext, n)
      store(value, next, n)
      sums.probe += (value - value) + (velocity - velocity)
    }
  }
}
