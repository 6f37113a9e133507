import CSwiftprop

/// The optimizers: their registry, their settings and their memory.
///
/// Every optimizer is an `UpdateRule` in a file of its own (`SGD.swift`,
/// `Adam.swift`), PyTorch's update rules written out there. With g the
/// gradient of the data loss plus `l2 · W` for weight matrices (never
/// biases), a rule maps (p, g, its state vectors) to (p', the next state)
/// out of place; the training loop never asks which rule it runs.
///
/// Adding an optimizer: a rule in a file of its own, a case here (its
/// name, its `SP_*` code, its rule in `rule` and in `OptimizerState.update`),
/// the code in `swiftprop.h`, and its settings class in the Python
/// package's `optimizers.py` (plus its twin in `reference.py`).
public enum OptimizerKind: String, Coded {
  case sgd, adam, rmsprop

  public var code: Int32 {
    switch self {
    case .sgd: headerCode(SP_SGD)
    case .adam: headerCode(SP_ADAM)
    case .rmsprop: headerCode(SP_RMSPROP)
    }
  }

  /// The rule's description: its settings and its state.
  var rule: any UpdateRule.Type {
    switch self {
    case .sgd: SGD.self
    case .adam: Adam.self
    case .rmsprop: RMSprop.self
    }
  }

  /// The settings this optimizer takes, in the order the ABI passes them:
  /// "lr" and "l2", then the rule's own.
  public var settingNames: [String] { ["lr", "l2"] + rule.settingNames }

  /// State vectors (of one value per parameter) the optimizer keeps.
  public var stateVectors: Int { rule.stateVectors }
}

/// One optimizer's update of one parameter array (or of all of them: they
/// are consecutive) in a training step.
protocol UpdateRule {
  /// The settings after "lr" and "l2", in the order the ABI passes them.
  static var settingNames: [String] { get }
  /// State vectors the rule keeps (0, 1 or 2).
  static var stateVectors: Int { get }
  /// Why the rule's own settings cannot be used, or nil when they can.
  static func problem(_ config: OptimizerConfig) -> String?
  /// Why `vectors` (its `stateVectors` state vectors of `count` values
  /// each) are not a state the rule could have produced, or nil when they
  /// could be: restored state (`Network.restoreOptimizer`, which has
  /// checked the step count) is checked here before any step reads it.
  static func stateProblem<T: Scalar>(_ vectors: [UnsafePointer<T>], count: Int) -> String?
  /// Whether `update` sums the gradient squares (for the gradient norms)
  /// in its own pass, for element type `T`.
  static func sumsSquaresInPass<T: Scalar>(_ type: T.Type) -> Bool

  /// An upper bound on |p′| after a step from |p| ≤ `parameter` with a
  /// raw gradient |g| ≤ `gradient` (both finite) and l2 factor `decay`,
  /// for a rule that keeps no state for this step; nil when it keeps some
  /// (the step must then stay out of place: see `Network.step`).
  static func inPlaceBound(
    parameter: Double, gradient: Double, decay: Double, config: OptimizerConfig
  ) -> Double?

  /// The rule for the step number `step` (1 for the first).
  init(_ config: borrowing OptimizerConfig, step: Int)

  /// Writes the updated `count` values of `p` into `next` and the updated
  /// state into `state.next…`, reading the gradient and `state`; `decay`
  /// is the l2 factor (0 for biases). Returns whether every new value is
  /// finite and, with `wantSquares`, Σ gradient² (0 otherwise).
  func update<T: Scalar>(
    _ p: UnsafePointer<T>, into next: UnsafeMutablePointer<T>, gradient: UnsafePointer<T>,
    state: StateVectors<T>, count: Int, decay: T, wantSquares: Bool
  ) -> (finite: Bool, squares: Double)

  /// `update` for `rows` rows of a weight matrix whose gradient is one
  /// sample's outer product dW = x ⊗ δ, each gradient vector made where
  /// the rule reads it (`OuterProduct.vector`): dW is never stored and
  /// read back (on Zen 1 a 256-bit store takes two cycles: an SGD step on
  /// one sample spent a fifth of its time writing and reading dW). The
  /// same values as `update` on the stored product, to the bit; with
  /// `wantSquares`, Σ gradient² from this pass (there is no stored dW to
  /// sum afterwards). With `finiteKnown` the caller has proven every new
  /// value finite (`Network.inPlaceBounds`): the rule may skip its probe
  /// and say finite. Nil for a rule without such a pass (the default):
  /// the caller then stores dW a block at a time and calls `update`.
  func updateProduct<T: Scalar>(
    _ p: UnsafePointer<T>, into next: UnsafeMutablePointer<T>, product: OuterProduct<T>,
    state: StateVectors<T>, rows: Int, decay: T, wantSquares: Bool, finiteKnown: Bool
  ) -> (finite: Bool, squares: Double)?
}

extension UpdateRule {
  static func inPlaceBound(
    parameter: Double, gradient: Double, decay: Double, config: OptimizerConfig
  ) -> Double? { nil }

  func updateProduct<T: Scalar>(
    _ p: UnsafePointer<T>, into next: UnsafeMutablePointer<T>, product: OuterProduct<T>,
    state: StateVectors<T>, rows: Int, decay: T, wantSquares: Bool, finiteKnown: Bool
  ) -> (finite: Bool, squares: Double)? { nil }
}

/// The gradient of some rows of a weight matrix as one sample's outer
/// product dW[i, j] = x[i] · δ[j], a vector at a time: the one
/// multiply-add from zero that `multiply` computes for a product of depth
/// 1 (`multiplyThinDepth`), so the bits are the stored product's.
struct OuterProduct<T: Scalar> {
  /// x[i] for the block's rows i = 0, 1, ….
  let x: UnsafePointer<T>
  /// δ: n values.
  let delta: UnsafePointer<T>
  let n: Int

  /// dW[i, j..<j+lanes].
  @inline(__always)
  func vector(row i: Int, column j: Int) -> T.Vector {
    multiplyAdd(T.Vector(), T.Vector(repeating: x[i]), load(delta + j))
  }

  /// dW[i, j..<j+count] (zero past `count`).
  @inline(__always)
  func vector(row i: Int, column j: Int, count: Int) -> T.Vector {
    multiplyAdd(T.Vector(), T.Vector(repeating: x[i]), load(delta + j, count))
  }
}

/// The current and next state vectors of one parameter array; the ones a
/// rule does not keep (past its `stateVectors`) are nil.
struct StateVectors<T: Scalar> {
  var first, second: UnsafePointer<T>?
  var nextFirst, nextSecond: UnsafeMutablePointer<T>?
}

/// An optimizer and its settings: "lr", "l2", then the rule's own, in the
/// order of `kind.settingNames`.
public struct OptimizerConfig: Sendable, Equatable {
  public var kind: OptimizerKind
  public var values: [Double]

  public init(kind: OptimizerKind, values: [Double]) {
    self.kind = kind
    self.values = values
  }

  /// The settings by name; unnamed ones take their defaults (the
  /// constructors PyTorch's optimizers have).
  public init(kind: OptimizerKind, _ settings: [String: Double]) {
    let defaults: [String: Double] = [
      "l2": 0, "momentum": 0, "nesterov": 0, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
      "eps_hat": 0, "alpha": 0.99, "lr_in_velocity": 0,
    ]
    self.init(kind: kind, values: kind.settingNames.map { settings[$0] ?? defaults[$0] ?? .nan })
  }

  public static func sgd(_ learningRate: Double, momentum: Double = 0, nesterov: Bool = false)
    -> OptimizerConfig
  {
    OptimizerConfig(
      kind: .sgd, ["lr": learningRate, "momentum": momentum, "nesterov": nesterov ? 1 : 0])
  }

  public static func adam(_ learningRate: Double) -> OptimizerConfig {
    OptimizerConfig(kind: .adam, ["lr": learningRate])
  }

  public var learningRate: Double { values[0] }
  public var l2: Double { values[1] }

  /// The setting called `name`; nil if this optimizer has none.
  public subscript(name: String) -> Double? {
    kind.settingNames.firstIndex(of: name).map { values[$0] }
  }

  /// Why these settings cannot be used, or nil when they can.
  public var problem: String? {
    let names = kind.settingNames
    guard values.count == names.count else {
      return "\(kind.name) takes \(names.count) settings (\(names.joined(separator: ", "))), got \(values.count)"
    }
    for (name, value) in zip(names, values) where !value.isFinite {
      return "\(name) must be finite, got \(value)"
    }
    if !(learningRate > 0) { return "lr must be > 0, got \(learningRate)" }
    if !(l2 >= 0) { return "l2 must be >= 0, got \(l2)" }
    return kind.rule.problem(self)
  }

  /// Why `value`, the setting `name`, is out of [low, high) (or [low,
  /// high] with `closed`), or nil.
  static func outside(
    _ name: String, _ value: Double, _ low: Double, _ high: Double, closed: Bool = false
  ) -> String? {
    let inside = value >= low && (closed ? value <= high : value < high)
    return inside ? nil : "\(name) must be in [\(low), \(high)\(closed ? "]" : ")"), got \(value)"
  }
}

/// Per-parameter optimizer memory: the rule's state vectors, one buffer per
/// parameter array in `Network.parameters` order and, like the parameters,
/// end to end in one allocation per vector.
///
/// Updates are out of place: a step reads the current parameters and state
/// and writes the next ones into spare buffers, which `commit` swaps in.
/// A step whose result is not finite is simply not committed, so the
/// network and the optimizer keep their last finite values at no cost.
final class OptimizerState<T: Scalar> {
  let kind: OptimizerKind
  /// vectors[v][i]: state vector v of parameter array i.
  private(set) var vectors: [[Buffer<T>]]
  private var nextVectors: [[Buffer<T>]]
  /// Where each vector's values start (its buffers are consecutive) and
  /// where parameter array i starts in them: what a step reads, without
  /// reference counting the buffers (a tenth of an XOR step).
  private var bases: (first: UnsafeMutablePointer<T>?, second: UnsafeMutablePointer<T>?)
  private var nextBases: (first: UnsafeMutablePointer<T>?, second: UnsafeMutablePointer<T>?)
  private let offsets: [Int]
  /// The number of committed steps (Adam's t).
  fileprivate(set) var step = 0

  /// The largest step count a restored state may have: 2⁵³. Adam takes
  /// t = step + 1 to a Double power in its bias corrections 1 − βᵗ; up to
  /// 2⁵³ every count is exact in a Double and t + 1 cannot wrap, and for
  /// any 1 ≤ t ≤ 2⁵³ + 1, βᵗ is in [0, β], so 1 − βᵗ is in [1 − β, 1]:
  /// finite and non-zero. Past it a count stops meaning anything (at
  /// 2⁶³ − 1, t wraps to −2⁶³, βᵗ is infinite and every later step is NaN
  /// and refused as diverged). No run gets near it: 2⁵³ steps at one per
  /// nanosecond take 104 days.
  static var maximumStep: Int { 1 << 53 }

  init(kind: OptimizerKind, counts: [Int]) throws {
    self.kind = kind
    let count = kind.stateVectors
    vectors = try (0..<count).map { _ in try Buffer<T>.consecutive(counts: counts) }
    nextVectors = try (0..<count).map { _ in try Buffer<T>.consecutive(counts: counts) }
    var offsets: [Int] = []
    var offset = 0
    for count in counts {
      offsets.append(offset)
      offset += count
    }
    self.offsets = offsets
    bases = (vectors.first?.first?.pointer, vectors.count > 1 ? vectors[1].first?.pointer : nil)
    nextBases = (
      nextVectors.first?.first?.pointer, nextVectors.count > 1 ? nextVectors[1].first?.pointer : nil
    )
  }

  /// Restores flat state vectors in parameter order (as many as the rule
  /// keeps) taken from a network of the same shape.
  func restore(step: Int, vectors flat: [UnsafePointer<T>]) {
    self.step = step
    for (buffers, source) in zip(vectors, flat) {
      var offset = 0
      for buffer in buffers {
        buffer.pointer.update(from: source + offset, count: buffer.count)
        offset += buffer.count
      }
    }
  }

  /// The current and next state vectors from value `at` on (in the flat
  /// order of all parameters), for `update` and `updateProduct`.
  @inline(__always)
  private func stateVectors(at: Int) -> StateVectors<T> {
    StateVectors(
      first: bases.first.map { UnsafePointer($0 + at) },
      second: bases.second.map { UnsafePointer($0 + at) },
      nextFirst: nextBases.first.map { $0 + at }, nextSecond: nextBases.second.map { $0 + at })
  }

  /// Makes the state written by the last `update` calls current.
  func commit() {
    swap(&vectors, &nextVectors)
    swap(&bases, &nextBases)
    step += 1
  }

  /// Writes the updated parameter array number `index` into `next`, reading
  /// the current values `p` and `gradient`; `decay` is the l2 factor for
  /// weight matrices and 0 for biases. Index 0 with the count of all
  /// parameters updates all of them (the buffers are consecutive). With
  /// `start`, p, `next` and `gradient` point at value `start` of the
  /// array, and the state is read and written from there on.
  ///
  /// From `sharedUpdateCount` values on, the array is cut into
  /// `updateUnits` pieces at fixed places (set by `count` alone) that the
  /// calling thread and the helper share (`runShared`): every value's
  /// update is its own, and Σ gradient² adds the pieces' sums in piece
  /// order, so the result does not depend on which thread ran which
  /// piece, nor on the thread count.
  @inline(__always)
  func update(
    _ p: UnsafePointer<T>, into next: UnsafeMutablePointer<T>, count: Int, index: Int,
    gradient: UnsafePointer<T>, config: OptimizerConfig, decay: Double,
    wantSquares: Bool = false, from start: Int = 0
  ) -> (finite: Bool, squares: Double) {
    let offset = offsets[index] + start
    /// Values start..<start+length of the array.
    func piece<R: UpdateRule>(_ rule: R, _ start: Int, _ length: Int) -> (finite: Bool, squares: Double) {
      let state = stateVectors(at: offset + start)
      return rule.update(
        p + start, into: next + start, gradient: gradient + start, state: state, count: length,
        decay: T(decay), wantSquares: wantSquares)
    }
    func run<R: UpdateRule>(_ rule: R) -> (finite: Bool, squares: Double) {
      if count < sharedUpdateCount { return piece(rule, 0, count) }
      let length = cacheLinePieceLength(count: count, pieces: updateUnits, of: T.self)
      let pieces = (count + length - 1) / length
      return withUnsafeTemporaryAllocation(of: (Bool, Double).self, capacity: pieces) { results in
        runShared(units: pieces) { unit in
          let start = unit * length
          let result = piece(rule, start, min(length, count - start))
          (results.baseAddress! + unit).initialize(to: (result.finite, result.squares))
        }
        var finite = true
        var squares = 0.0
        for unit in 0..<pieces {
          finite = finite && results[unit].0
          squares += results[unit].1
        }
        return (finite, squares)
      }
    }
    // The registry's dispatch, so that each rule runs specialised.
    switch kind {
    case .sgd: return run(SGD(config, step: step + 1))
    case .adam: return run(Adam(config, step: step + 1))
    case .rmsprop: return run(RMSprop(config, step: step + 1))
    }
  }

  /// `update` of `rows` rows of the weight matrix number `index` from
  /// value `start` on, whose gradient is the outer product `product`, by the rule's
  /// `updateProduct`; nil when the rule has none. On one thread (the
  /// caller shares the blocks).
  @inline(__always)
  func updateProduct(
    _ p: UnsafePointer<T>, into next: UnsafeMutablePointer<T>, product: OuterProduct<T>,
    rows: Int, index: Int, config: OptimizerConfig, decay: Double, wantSquares: Bool,
    finiteKnown: Bool, from start: Int
  ) -> (finite: Bool, squares: Double)? {
    let state = stateVectors(at: offsets[index] + start)
    func run<R: UpdateRule>(_ rule: R) -> (finite: Bool, squares: Double)? {
      rule.updateProduct(
        p, into: next, product: product, state: state, rows: rows, decay: T(decay),
        wantSquares: wantSquares, finiteKnown: finiteKnown)
    }
    switch kind {
    case .sgd: return run(SGD(config, step: step + 1))
    case .adam: return run(Adam(config, step: step + 1))
    case .rmsprop: return run(RMSprop(config, step: step + 1))
    }
  }
}

/// Parameter arrays of at least this many values are updated by both
/// threads (below it, waking the helper costs more than it saves).
let sharedUpdateCount = 1 << 18
/// Pieces a shared update is cut into.
let updateUnits = 16

/// Why one of `vectors` (`count` values each, named by `names`) contains
/// NaN or infinity, or nil: the check every rule makes of its state.
func nonFiniteProblem<T: Scalar>(
  _ vectors: [UnsafePointer<T>], count: Int, names: [String]
) -> String? {
  for (vector, name) in zip(vectors, names) where !allFinite(vector, count: count) {
    return "\(name) contains NaN or infinity"
  }
  return nil
}

/// Why `values`, a running mean of squared gradients called `name`, has a
/// negative value (which no step produces), or nil.
func negativeSquaresProblem<T: Scalar>(_ values: UnsafePointer<T>, count: Int, name: String)
  -> String?
{
  for i in 0..<count where values[i] < 0 {
    return
      "\(name) has negative values (\(values[i]) at index \(i)); it averages squared gradients, so every value must be >= 0"
  }
  return nil
}
