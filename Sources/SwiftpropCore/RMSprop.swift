/// RMSprop (Tieleman and Hinton, 2012), PyTorch's rule: with g = ∂L/∂p
/// (+ l2·W), the running mean of squares v = α·v + (1 − α)·g², then
/// p −= lr · g / (√v + ε); with momentum μ > 0 the step goes through a
/// buffer b = μ·b + g / (√v + ε) and p −= lr · b.
///
/// Settings: "alpha" in [0, 1), "eps" > 0, "momentum" in [0, 1). State:
/// v and the momentum buffer b.
struct RMSprop: UpdateRule {
  static let settingNames = ["alpha", "eps", "momentum"]
  static let stateVectors = 2

  static func problem(_ config: OptimizerConfig) -> String? {
    if let problem = OptimizerConfig.outside("alpha", config.values[2], 0, 1) { return problem }
    let eps = config.values[3]
    if !(eps > 0) { return "eps must be > 0, got \(eps)" }
    return OptimizerConfig.outside("momentum", config.values[4], 0, 1)
  }

  /// The running mean of squares averages squared gradients, so it is
  /// never negative; both vectors are finite.
  static func stateProblem<T: Scalar>(_ vectors: [UnsafePointer<T>], count: Int) -> String? {
    if let problem = nonFiniteProblem(
      vectors, count: count, names: ["RMSprop's mean of squares", "RMSprop's momentum buffer"])
    {
      return problem
    }
    return negativeSquaresProblem(vectors[0], count: count, name: "RMSprop's mean of squares")
  }

  static func sumsSquaresInPass<T: Scalar>(_ type: T.Type) -> Bool { false }

  var learningRate, alpha, eps, momentum: Double

  init(_ config: borrowing OptimizerConfig, step: Int) {
    learningRate = config.values[0]
    alpha = config.values[2]
    eps = config.values[3]
    momentum = config.values[4]
  }

  @inline(__always)
  func update<T: Scalar>(
    _ p: UnsafePointer<T>, into next: UnsafeMutablePointer<T>, gradient: UnsafePointer<T>,
    state: StateVectors<T>, count: Int, decay: T, wantSquares: Bool
  ) -> (finite: Bool, squares: Double) {
    // 1 − α in Double, then rounded, as NumPy's reference rounds it.
    let lr = T(learningRate), alpha = T(alpha), keep = T(1 - self.alpha)
    let eps = T(eps), mu = T(momentum)
    let v = state.first!, vNext = state.nextFirst!
    let b = state.second!, bNext = state.nextSecond!
    for i in 0..<count {
      let g = gradient[i] + decay * p[i]
      vNext[i] = alpha * v[i] + keep * g * g
      let step = g / (vNext[i].squareRoot() + eps)
      if mu > 0 {
        bNext[i] = mu * b[i] + step
        next[i] = p[i] - lr * bNext[i]
      } else {
        next[i] = p[i] - lr * step
      }
    }
    let finite = allFinite(next, count: count) && allFinite(vNext, count: count)
    return (finite, wantSquares ? sumOfSquares(gradient, count: count) : 0)
  }
}
