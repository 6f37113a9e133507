/// Optimizer settings and state, with PyTorch's update rules.
///
/// With g the gradient of the data loss, plus `l2 · W` for weight matrices
/// (never biases):
/// - SGD: without momentum p −= lr·g; with momentum v = μ·v + g and
///   p −= lr·(g + μ·v) (Nesterov) or p −= lr·v.
/// - Adam: t += 1 once per step; m = β₁m + (1−β₁)g; v = β₂v + (1−β₂)g²;
///   p −= lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε), computed as PyTorch
///   computes it: p −= (lr / (1−β₁ᵗ)) · m / (√v · (1 / √(1−β₂ᵗ)) + ε), one
///   square root and one division per value.
public struct OptimizerConfig: Sendable, Equatable {
  public enum Kind: Int32, Sendable { case sgd = 0, adam = 1 }

  public var kind: Kind
  public var learningRate: Double
  public var momentum: Double
  public var nesterov: Bool
  public var beta1: Double
  public var beta2: Double
  public var epsilon: Double
  public var l2: Double

  public init(
    kind: Kind, learningRate: Double, momentum: Double = 0, nesterov: Bool = false,
    beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, l2: Double = 0
  ) {
    self.kind = kind
    self.learningRate = learningRate
    self.momentum = momentum
    self.nesterov = nesterov
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.l2 = l2
  }

  public static func sgd(_ learningRate: Double, momentum: Double = 0, nesterov: Bool = false)
    -> OptimizerConfig
  {
    OptimizerConfig(kind: .sgd, learningRate: learningRate, momentum: momentum, nesterov: nesterov)
  }

  public static func adam(_ learningRate: Double) -> OptimizerConfig {
    OptimizerConfig(kind: .adam, learningRate: learningRate)
  }

  /// Why these settings cannot be used, or nil when they can.
  public var problem: String? {
    func bad(_ value: Double, _ ok: Bool) -> Bool { !value.isFinite || !ok }
    if bad(learningRate, learningRate > 0) { return "lr must be > 0, got \(learningRate)" }
    if bad(l2, l2 >= 0) { return "l2 must be >= 0, got \(l2)" }
    switch kind {
    case .sgd:
      if bad(momentum, momentum >= 0 && momentum < 1) {
        return "momentum must be in [0, 1), got \(momentum)"
      }
    case .adam:
      if bad(beta1, beta1 >= 0 && beta1 < 1) { return "beta1 must be in [0, 1), got \(beta1)" }
      if bad(beta2, beta2 >= 0 && beta2 < 1) { return "beta2 must be in [0, 1), got \(beta2)" }
      if bad(epsilon, epsilon > 0) { return "eps must be > 0, got \(epsilon)" }
    }
    return nil
  }
}

/// Per-parameter optimizer memory: velocity (SGD) or the two moments
/// (Adam), one buffer per parameter array, in `Network.parameters` order
/// and, like the parameters, end to end in one allocation.
///
/// Updates are out of place: a step reads the current parameters and state
/// and writes the next ones into spare buffers, which `commit` swaps in.
/// A step whose result is not finite is simply not committed, so the
/// network and the optimizer keep their last finite values at no cost.
final class OptimizerState<T: Scalar> {
  let kind: OptimizerConfig.Kind
  private(set) var first: [Buffer<T>]
  private(set) var second: [Buffer<T>]
  private var nextFirst: [Buffer<T>]
  private var nextSecond: [Buffer<T>]
  /// Adam's t: the number of committed steps.
  fileprivate(set) var step = 0

  init(kind: OptimizerConfig.Kind, counts: [Int]) throws {
    self.kind = kind
    let keepsFirst = kind == .adam
    first = try Buffer<T>.consecutive(counts: counts)
    nextFirst = try Buffer<T>.consecutive(counts: counts)
    second = keepsFirst ? try Buffer<T>.consecutive(counts: counts) : []
    nextSecond = keepsFirst ? try Buffer<T>.consecutive(counts: counts) : []
  }

  /// The state as flat vectors in parameter order (empty when unused), for
  /// saving a network.
  var snapshot: (step: Int, first: [T], second: [T]) {
    (step, first.flatMap(\.values), second.flatMap(\.values))
  }

  /// Restores a snapshot taken from a network of the same shape.
  func restore(step: Int, first: UnsafePointer<T>?, second: UnsafePointer<T>?) {
    self.step = step
    var offset = 0
    for (index, buffer) in self.first.enumerated() {
      if let first { buffer.pointer.update(from: first + offset, count: buffer.count) }
      if let second, index < self.second.count {
        self.second[index].pointer.update(from: second + offset, count: buffer.count)
      }
      offset += buffer.count
    }
  }

  /// Makes the state written by the last `update` calls current.
  func commit() {
    swap(&first, &nextFirst)
    swap(&second, &nextSecond)
    step += 1
  }

  /// Writes the updated parameter number `index` into `next`, reading the
  /// current values `p` and `gradient`; `decay` is the l2 factor for
  /// weight matrices and 0 for biases. Index 0 with the count of all
  /// parameters updates all of them (the buffers are consecutive).
  ///
  /// Returns whether every new value is finite and, with `wantSquares`,
  /// Σ gradient² (for the gradient norms; 0 otherwise). SGD runs on vectors
  /// and takes both in its own pass; so does Adam in Float (see
  /// `AdamRule`).
  func update(
    _ p: UnsafePointer<T>, into next: UnsafeMutablePointer<T>, count: Int, index: Int,
    gradient: UnsafePointer<T>, config: OptimizerConfig, decay: Double,
    wantSquares: Bool = false
  ) -> (finite: Bool, squares: Double) {
    let lr = T(config.learningRate)
    let l2 = T(decay)
    switch kind {
    case .sgd:
      // Written on vectors: the finiteness probe (x − x is 0 for finite x,
      // NaN otherwise) and Σ g² are sums the compiler would not vectorise.
      let mu = T(config.momentum)
      let v = first[index].pointer
      let vNext = nextFirst[index].pointer
      let rule = SGDRule(lr: lr, l2: l2, mu: mu, nesterov: config.nesterov)
      let lanes = T.Vector.scalarCount
      var sums = (probe: T.Vector(), squares: T.Vector())
      var i = 0
      while i + lanes <= count {
        rule.step(p + i, gradient + i, v + i, next + i, vNext + i, n: lanes, into: &sums)
        i += lanes
      }
      if i < count {
        rule.step(p + i, gradient + i, v + i, next + i, vNext + i, n: count - i, into: &sums)
      }
      return (sums.probe.sum().isFinite, wantSquares ? Double(sums.squares.sum()) : 0)
    case .adam:
      let t = Double(step + 1)
      let rule = AdamRule(
        b1: T(config.beta1), b2: T(config.beta2), eps: T(config.epsilon),
        stepSize: T(config.learningRate / (1 - pow(config.beta1, t))),
        rootScale: T(1 / (1 - pow(config.beta2, t)).squareRoot()), l2: l2)
      let m = first[index].pointer, v = second[index].pointer
      let mNext = nextFirst[index].pointer, vNext = nextSecond[index].pointer
      // Float: 16 lanes at a time, with both sums in the pass, up to the
      // last multiple of 16; the rest (all of it in Double) by the plain
      // loop, which the compiler vectorises, and the sums as passes of
      // their own.
      var done = 0
      var finite = true
      var squares = 0.0
      if T.self == Float.self {
        done = count - count % SIMD16<T>.scalarCount
        let sums = rule.runOnSixteenLanes(p, gradient, m, v, next, mNext, vNext, count: done)
        finite = sums.probe.isFinite
        squares = Double(sums.squares)
      }
      let rest = count - done
      rule.run(
        p + done, gradient + done, m + done, v + done, next + done, mNext + done,
        vNext + done, count: rest)
      finite = finite && allFinite(next + done, count: rest) && allFinite(vNext + done, count: rest)
      if wantSquares { squares += sumOfSquares(gradient + done, count: rest) }
      return (finite, wantSquares ? squares : 0)
    }
  }
}

/// Adam, in the order of operations the Python reference has (so that
/// Float and Double runs match NumPy's).
struct AdamRule<T: Scalar> {
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
  /// For Float only: 512 bits of Float ran faster than both the plain loop
  /// with its two extra passes and 8 lanes; in Double, 8 lanes (512 bits)
  /// had their square roots split lane by lane by the compiler. In a
  /// function of its own for the same reason.
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

/// Plain SGD (`mu` 0, no velocity kept), with momentum, or Nesterov's, on
/// one vector of n ≤ lanes values; adds to `sums` the finiteness probe of
/// what it writes and the squares of the gradient.
struct SGDRule<T: Scalar> {
  var lr, l2, mu: T
  var nesterov: Bool

  @inline(__always)
  func step(
    _ p: UnsafePointer<T>, _ gradient: UnsafePointer<T>, _ v: UnsafePointer<T>,
    _ next: UnsafeMutablePointer<T>, _ vNext: UnsafeMutablePointer<T>, n: Int,
    into sums: inout (probe: T.Vector, squares: T.Vector)
  ) {
    let w = load(p, n)
    let raw = load(gradient, n)
    let g = raw + l2 * w
    sums.squares += raw * raw
    if mu == 0 {
      let value = w - lr * g
      store(value, next, n)
      sums.probe += value - value
      return
    }
    let velocity = mu * load(v, n) + g
    let value = w - lr * (nesterov ? g + mu * velocity : velocity)
    store(velocity, vNext, n)
    store(value, next, n)
    sums.probe += (value - value) + (velocity - velocity)
  }
}

#if canImport(Glibc)
  import Glibc
#endif
