#if canImport(Glibc)
  import Glibc
#endif

/// Adam (Kingma and Ba, 2015), PyTorch's rule: with g = ∂L/∂p (+ l2·W),
/// t += 1 once per step; m = β₁m + (1−β₁)g; v = β₂v + (1−β₂)g²;
/// p −= lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε), computed as PyTorch
/// computes it: p −= (lr / (1−β₁ᵗ)) · m / (√v · (1 / √(1−β₂ᵗ)) + ε), one
/// square root and one division per value, in the order of operations the
/// Python reference has (so that Float and Double runs match NumPy's).
///
/// With "eps_hat" = 1, ε is Kingma and Ba's ε̂ (their section 2's note,
/// the form of Keras, TensorFlow and scikit-learn): added to √v before the
/// bias correction, p −= lr_t · m / (√v + ε̂) with
/// lr_t = lr · √(1−β₂ᵗ) / (1−β₁ᵗ); the same pass with rootScale 1. (The two
/// differ where √v is as small as ε: for a parameter whose gradient is
/// nearly zero.)
///
/// Settings: "beta1", "beta2" in [0, 1), "eps" > 0, "eps_hat" 0 or 1.
/// State: the moments m, v.
struct Adam: UpdateRule {
  static let settingNames = ["beta1", "beta2", "eps", "eps_hat"]
  static let stateVectors = 2

  static func problem(_ config: OptimizerConfig) -> String? {
    if let problem = OptimizerConfig.outside("beta1", config.values[2], 0, 1) { return problem }
    if let problem = OptimizerConfig.outside("beta2", config.values[3], 0, 1) { return problem }
    let eps = config.values[4]
    if !(eps > 0) { return "eps must be > 0, got \(eps)" }
    let hat = config.values[5]
    return hat == 0 || hat == 1 ? nil : "eps_hat must be 0 or 1, got \(hat)"
  }

  /// The moments must be finite, and the second moment, an average of
  /// squared gradients, >= 0: a negative one has no square root, and every
  /// step from it would be NaN (refused as diverged). The first moment can
  /// be any finite value. (The step count was checked by the network.)
  static func stateProblem<T: Scalar>(_ vectors: [UnsafePointer<T>], count: Int) -> String? {
    if let problem = nonFiniteProblem(
      vectors, count: count, names: ["Adam's first moment", "Adam's second moment"])
    {
      return problem
    }
    return negativeSquaresProblem(vectors[1], count: count, name: "Adam's second moment")
  }

  /// In Float the 16-lane pass sums them; Double runs the plain loop.
  static func sumsSquaresInPass<T: Scalar>(_ type: T.Type) -> Bool { T.self == Float.self }

  var beta1, beta2, eps, stepSize, rootScale: Double

  init(_ config: borrowing OptimizerConfig, step t: Int) {
    beta1 = config.values[2]
    beta2 = config.values[3]
    eps = config.values[4]
    let correction2 = (1 - pow(beta2, Double(t))).squareRoot()
    if config.values[5] == 1 {
      stepSize = config.values[0] * correction2 / (1 - pow(beta1, Double(t)))
      rootScale = 1
    } else {
      stepSize = config.values[0] / (1 - pow(beta1, Double(t)))
      rootScale = 1 / correction2
    }
  }

  /// Float: 16 lanes at a time, with both sums in the pass, up to the last
  /// multiple of 16; the rest (all of it in Double) by the plain loop,
  /// which the compiler vectorises, and the sums as passes of their own.
  @inline(__always)
  func update<T: Scalar>(
    _ p: UnsafePointer<T>, into next: UnsafeMutablePointer<T>, gradient: UnsafePointer<T>,
    state: StateVectors<T>, count: Int, decay: T, wantSquares: Bool
  ) -> (finite: Bool, squares: Double) {
    let pass = Pass<T>(
      b1: T(beta1), b2: T(beta2), eps: T(eps), stepSize: T(stepSize), rootScale: T(rootScale),
      l2: decay)
    let m = state.first!, v = state.second!
    let mNext = state.nextFirst!, vNext = state.nextSecond!
    var done = 0
    var finite = true
    var squares = 0.0
    if T.self == Float.self {
      done = count - count % SIMD16<T>.scalarCount
      let sums = pass.runOnSixteenLanes(p, gradient, m, v, next, mNext, vNext, count: done)
      finite = sums.probe.isFinite
      squares = Double(sums.squares)
    }
    let rest = count - done
    pass.run(
      p + done, gradient + done, m + done, v + done, next + done, mNext + done,
      vNext + done, count: rest)
    finite = finite && allFinite(next + done, count: rest) && allFinite(vNext + done, count: rest)
    if wantSquares { squares += sumOfSquares(gradient + done, count: rest) }
    return (finite, wantSquares ? squares : 0)
  }

  /// The update in the network's element type.
  struct Pass<T: Scalar> {
    var b1, b2, eps, stepSize, rootScale, l2: T

    /// The update of `count` values, as a plain loop.
    @inline(__always)
    func run(
      _ p: UnsafePointer<T>, _ gradient: UnsafePointer<T>, _ m: UnsafePointer<T>,
      _ v: UnsafePointer<T>, _ next: UnsafeMutablePointer<T>, _ mNext: UnsafeMutablePointer<T>,
      _ vNext: UnsafeMutablePointer<T>, count: Int
    ) {
      for i in 0..<count {
        let g = gradient[i] + l2 * p[i]
        mNext[i] = b1 * m[i] + (1 - b1) * g
        vNext[i] = b2 * v[i] + (1 - b2) * g * g
        next[i] = p[i] - stepSize * (mNext[i] / (vNext[i].squareRoot() * rootScale + eps))
      }
    }

    /// The same on 16 lanes at a time (`count` a multiple of 16), with the
    /// finiteness probe of the new values and second moments and Σ g² in
    /// the pass, beside the square root and the division that bound it.
    /// For Float only: 512 bits of Float ran faster than both the plain
    /// loop with its two extra passes and 8 lanes; in Double, 8 lanes (512
    /// bits) had their square roots split lane by lane by the compiler. In
    /// a function of its own for the same reason.
    @inline(never)
    func runOnSixteenLanes(
      _ p: UnsafePointer<T>, _ gradient: UnsafePointer<T>, _ m: UnsafePointer<T>,
      _ v: UnsafePointer<T>, _ next: UnsafeMutablePointer<T>, _ mNext: UnsafeMutablePointer<T>,
      _ vNext: UnsafeMutablePointer<T>, count: Int
    ) -> (probe: T, squares: T) {
      typealias Wide = SIMD16<T>
      @inline(__always) func get(_ pointer: UnsafePointer<T>) -> Wide {
        UnsafeRawPointer(pointer).loadUnaligned(as: Wide.self)
      }
      @inline(__always) func put(_ value: Wide, _ pointer: UnsafeMutablePointer<T>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Wide.self)
      }
      var probe = Wide(), squares = Wide()
      var i = 0
      while i < count {
        let w = get(p + i)
        let raw = get(gradient + i)
        let g = raw + l2 * w
        squares += raw * raw
        let first = b1 * get(m + i) + (1 - b1) * g
        let second = b2 * get(v + i) + (1 - b2) * g * g
        let value = w - stepSize * (first / (second.squareRoot() * rootScale + eps))
        put(first, mNext + i)
        put(second, vNext + i)
        put(value, next + i)
        probe += (value - value) + (second - second)
        i += Wide.scalarCount
      }
      return (probe.sum(), squares.sum())
    }
  }
}
