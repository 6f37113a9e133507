/// Full-batch limited-memory BFGS (Nocedal, 1980; Liu and Nocedal, 1989)
/// on the objective
///
///     F(θ) = scale · L(θ) + (l2 / 2) Σ_layers ‖W‖²
///     ∇F   = scale · ∇L + l2 · W   (biases: scale · ∇L)
///
/// with L the network's data loss over the whole batch (one `backward`
/// pass per evaluation; with sample weights wᵣ, the weighted mean
/// Σᵣ wᵣ Lᵣ / Σᵣ wᵣ) and the l2 term on the weights only, as a training
/// step's `l2`. `scale` (> 0) lets a caller put F on another library's
/// scale (scikit-learn's squared error is half our mean squared error).
///
/// Each iteration k:
///
/// 1. d = −H g by the two-loop recursion over the last m pairs
///    (sᵢ = θᵢ₊₁ − θᵢ, yᵢ = gᵢ₊₁ − gᵢ), from H₀ = (sᵀy / yᵀy) I of the
///    newest pair; d = −g with no pairs.
/// 2. A strong Wolfe line search along d (`StrongWolfeSearch`), trying
///    first α = 1/‖g‖ on the first iteration and α = 1 after, as L-BFGS-B
///    does.
/// 3. The new pair is kept only when sᵀy > ε · (−gᵀs) (ε the element type's
///    machine epsilon), L-BFGS-B's test, so H stays positive definite.
///
/// If the line search fails (or d is not a descent direction), the
/// iterate is restored and, when there were pairs, they are dropped and
/// the iteration retried along −g with α = 1; with no pairs the fit stops
/// (`lineSearchFailed`).
///
/// Stopping follows SciPy's `minimize(method="L-BFGS-B")` as scikit-learn
/// calls it, in SciPy's order: before any iteration, max |gᵢ| ≤ gtol;
/// after iteration k (counted from 1), k ≥ `maxIterations`, then
/// evaluations > `maxEvaluations` (checked only between iterations, so a
/// line search may pass the limit), then max |gᵢ| ≤ gtol, then
/// (F_{k−1} − F_k) / max(|F_{k−1}|, |F_k|, 1) ≤ ftol.
///
/// The network holds the last accepted iterate whenever control leaves
/// this file (trial points are written into its parameters only while
/// they are evaluated). `swiftprop.reference` runs the same algorithm, so
/// the two agree number for number in float64.
public struct LBFGSOptions: Sendable {
  /// Iterations at most (SciPy's `maxiter`).
  public var maxIterations: Int
  /// Objective evaluations at most, checked between iterations (`maxfun`).
  public var maxEvaluations: Int
  /// Correction pairs kept (`maxcor`, m).
  public var memory: Int
  /// Stop when max |∂F/∂θᵢ| ≤ this (`gtol`; scikit-learn passes its `tol`).
  public var gradientTolerance: Double
  /// Stop when the relative reduction of F is ≤ this (`ftol`).
  public var relativeReduction: Double
  /// The l2 factor on the weights and the scale of the data loss in F.
  public var l2: Double
  public var scale: Double
  /// Evaluations allowed per line search (SciPy's `maxls`).
  public var maxLineSearch: Int
  /// Report every N-th iteration (and the first and the `maxIterations`-th)
  /// to the handler; 0: never.
  public var reportEvery: Int
  /// Least time between two `.poll` events, in nanoseconds.
  public var pollInterval: UInt64

  public init(
    maxIterations: Int, maxEvaluations: Int = 15000, memory: Int = 10,
    gradientTolerance: Double = 1e-5, relativeReduction: Double = 2.220446049250313e-09,
    l2: Double = 0, scale: Double = 1, maxLineSearch: Int = 20, reportEvery: Int = 0,
    pollInterval: UInt64 = 20_000_000
  ) {
    self.maxIterations = maxIterations
    self.maxEvaluations = maxEvaluations
    self.memory = memory
    self.gradientTolerance = gradientTolerance
    self.relativeReduction = relativeReduction
    self.l2 = l2
    self.scale = scale
    self.maxLineSearch = maxLineSearch
    self.reportEvery = reportEvery
    self.pollInterval = pollInterval
  }

  /// Why these settings cannot be used, or nil when they can.
  public var problem: String? {
    let counts = [
      ("max_iter", maxIterations), ("max_fun", maxEvaluations), ("memory", memory),
      ("max_ls", maxLineSearch),
    ]
    for (name, value) in counts where value < 1 { return "\(name) must be >= 1, got \(value)" }
    if reportEvery < 0 { return "report_every must be >= 0, got \(reportEvery)" }
    let tolerances = [("gtol", gradientTolerance), ("ftol", relativeReduction), ("l2", l2)]
    for (name, value) in tolerances where !(value >= 0 && value.isFinite) {
      return "\(name) must be a finite number >= 0, got \(value)"
    }
    if !(scale > 0 && scale.isFinite) { return "scale must be a finite number > 0, got \(scale)" }
    return nil
  }
}

/// How an L-BFGS fit ended.
public struct LBFGSOutcome: Sendable, Equatable {
  /// Iterations completed (entries written to the history).
  public var iterations: Int
  /// Objective evaluations (one forward and backward pass each).
  public var evaluations: Int
  /// F at the network's final parameters.
  public var value: Double
  public var reason: StopReason
}

extension Network {
  /// Minimises F (see `LBFGSOptions`) over the samples of `x` with targets
  /// `y` by L-BFGS, the whole loop here; records F after each iteration in
  /// `history` (room for at least `options.maxIterations` values).
  ///
  /// The handler is polled between evaluations (`.stop` or `.abort` end
  /// the fit with the last accepted iterate) and told of reported
  /// iterations as `.epochEnd` (iteration numbers from 0). Throws
  /// `outOfMemory` when the m pairs of parameter-sized vectors cannot be
  /// allocated.
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  public func fitLBFGS(
    _ x: Matrix<T>, _ y: Matrix<T>, weights: Matrix<T>? = nil, options: LBFGSOptions,
    history: MutableMatrix<Double>, handler: (FitEvent) -> FitControl
  ) throws -> LBFGSOutcome {
    try checkSamples(x, y)
    let weightSum = try weights.map { try checkWeights($0, rows: x.rows, name: "sample_weight") }
    if let problem = options.problem { throw EngineError(.invalidArgument, problem) }
    try history.check("loss_history", count: options.maxIterations, atLeast: true)
    defer { releaseLargeWorkspaces() }
    return try fitLBFGS(
      x.base, y.base, rows: x.rows, weights: weights?.base, weightSum: weightSum ?? 0,
      options: options, history: history.base, handler: handler)
  }

  func fitLBFGS(
    _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, rows: Int, weights: UnsafePointer<T>?,
    weightSum: Double, options: LBFGSOptions, history: UnsafeMutablePointer<Double>,
    handler: (FitEvent) -> FitControl
  ) throws -> LBFGSOutcome {
    if let problem = options.problem { throw EngineError(.invalidArgument, problem) }
    try refuseWhileTraining("start fit")
    if dropsUnits {
      throw EngineError(
        .invalidArgument,
        "L-BFGS needs a deterministic objective, but dropout makes it random: set the dropout rates to 0 or use sgd, adam or rmsprop")
    }
    let space = try workspace(rows: rows, forTraining: true)
    let run = try LBFGSRun(
      network: self, x: x, y: y, rows: rows, weights: weights, weightSum: weightSum, space: space,
      options: options)
    isTraining = true
    defer { isTraining = false }
    return run.minimize(history: history, handler: handler)
  }
}

/// The state of one L-BFGS fit: the accepted iterate and its gradient, the
/// search direction, the trial and kept line-search gradients and the
/// correction pairs, all in checked allocations.
private final class LBFGSRun<T: Scalar> {
  let network: Network<T>
  let x: UnsafePointer<T>
  let y: UnsafePointer<T>
  let rows: Int
  /// Per-row weights of the loss (their sum `weightSum`), or nil.
  let weights: UnsafePointer<T>?
  let weightSum: Double
  let space: Workspace<T>
  let options: LBFGSOptions
  let count: Int
  /// Where each parameter array starts in the flat vector.
  let offsets: [Int]

  /// θ: the accepted iterate (the network's parameters hold trial points
  /// while they are evaluated).
  let theta: Buffer<T>
  let direction: Buffer<T>
  /// ∇F at θ, at the last trial point and at the line search's `low`
  /// point; swapped, never copied, as points are accepted.
  var gradient: UnsafeMutablePointer<T>
  var trialGradient: UnsafeMutablePointer<T>
  var lowGradient: UnsafeMutablePointer<T>
  let gradientBuffers: [Buffer<T>]
  let memory: CorrectionPairs<T>

  var evaluations = 0
  var clock: PollClock
  var sameBatch = false
  /// Why the handler interrupted an evaluation.
  var interruption = StopReason.callback

  /// The stop reason a handler's answer asks for (`.abort`: interrupted,
  /// `.stop`: callback), or nil to go on (a new learning rate means
  /// nothing here).
  static func stopReason(_ answer: FitControl) -> StopReason? {
    switch answer {
    case .proceed, .rate: nil
    case .stop: .callback
    case .abort: .interrupted
    }
  }

  init(
    network: Network<T>, x: UnsafePointer<T>, y: UnsafePointer<T>, rows: Int,
    weights: UnsafePointer<T>?, weightSum: Double, space: Workspace<T>, options: LBFGSOptions
  ) throws {
    self.network = network
    self.x = x
    self.y = y
    self.rows = rows
    self.weights = weights
    self.weightSum = weightSum
    self.space = space
    self.options = options
    count = network.parameterCount
    var offsets: [Int] = []
    var offset = 0
    for parameter in network.parameters {
      offsets.append(offset)
      offset += parameter.count
    }
    self.offsets = offsets
    theta = try Buffer(count: count)
    direction = try Buffer(count: count)
    let count = count
    gradientBuffers = try (0..<3).map { _ in try Buffer<T>(count: count) }
    gradient = gradientBuffers[0].pointer
    trialGradient = gradientBuffers[1].pointer
    lowGradient = gradientBuffers[2].pointer
    do {
      memory = try CorrectionPairs(capacity: options.memory, count: count)
    } catch let error as EngineError where error.code == .outOfMemory {
      throw EngineError(
        .outOfMemory,
        "L-BFGS with memory=\(options.memory) keeps 2 x (memory + 1) vectors of \(count) parameters: \(error.message)"
      )
    }
    clock = PollClock(interval: options.pollInterval)
  }

  var parameters: UnsafeMutablePointer<T> { network.parameters[0].pointer }

  /// F at the network's parameters, ∇F into `out`.
  func objective(into out: UnsafeMutablePointer<T>) -> Double {
    let data = network.backward(
      x, y, rows: rows, space: space, keepLayers: false, sameBatch: sameBatch, weights: weights,
      weightSum: weightSum)
    sameBatch = true
    evaluations += 1
    let scale = T(options.scale)
    let l2 = T(options.l2)
    var squares = 0.0
    for (index, parameter) in network.parameters.enumerated() {
      let p = parameter.pointer
      let g = space.gradients[index].pointer
      let o = out + offsets[index]
      if index % 2 == 0 {
        if options.l2 != 0 { squares += sumOfSquares(p, count: parameter.count) }
        for i in 0..<parameter.count { o[i] = scale * g[i] + l2 * p[i] }
      } else {
        for i in 0..<parameter.count { o[i] = scale * g[i] }
      }
    }
    let penalty = options.l2 == 0 ? 0 : 0.5 * options.l2 * squares
    return options.scale * data + penalty
  }

  /// Writes θ + α d into the network's parameters.
  func moveParameters(step: Double) {
    let alpha = T(step)
    let p = parameters
    let t = theta.pointer
    let d = direction.pointer
    for i in 0..<count { p[i] = t[i] + alpha * d[i] }
  }

  /// The line search's φ(α), after a poll that may interrupt it.
  func evaluate(step: Double, handler: (FitEvent) -> FitControl) -> LinePoint? {
    if clock.due() {
      sameBatch = false
      if let reason = Self.stopReason(handler(.poll)) {
        interruption = reason
        return nil
      }
    }
    moveParameters(step: step)
    let value = objective(into: trialGradient)
    let slope = dot(trialGradient, direction.pointer, count: count)
    return LinePoint(step: step, value: value, slope: slope)
  }

  func minimize(
    history: UnsafeMutablePointer<Double>, handler: (FitEvent) -> FitControl
  ) -> LBFGSOutcome {
    theta.pointer.update(from: parameters, count: count)
    var value = objective(into: gradient)
    func outcome(_ iterations: Int, _ reason: StopReason) -> LBFGSOutcome {
      // Trial points never outlive the search that made them.
      parameters.update(from: theta.pointer, count: count)
      return LBFGSOutcome(
        iterations: iterations, evaluations: evaluations, value: value, reason: reason)
    }
    guard value.isFinite, allFinite(gradient, count: count) else { return outcome(0, .diverged) }
    if maxMagnitude(gradient, count: count) <= options.gradientTolerance {
      return outcome(0, .convergedGtol)
    }
    var iterations = 0
    while true {
      // 1. The direction.
      memory.direction(for: gradient, into: direction.pointer)
      let slope = dot(gradient, direction.pointer, count: count)
      var initialStep = 1.0
      if iterations == 0 {
        let norm = dot(direction.pointer, direction.pointer, count: count).squareRoot()
        initialStep = min(1 / norm, StrongWolfeSearch.maximumStep)
      }
      // 2. The line search.
      var result = StrongWolfeSearch.Outcome.failed
      if slope < 0 {
        result = StrongWolfeSearch.run(
          from: LinePoint(step: 0, value: value, slope: slope), initialStep: initialStep,
          maxEvaluations: options.maxLineSearch,
          evaluate: { evaluate(step: $0, handler: handler) },
          keepAsLow: { swap(&trialGradient, &lowGradient) })
      }
      var accepted: LinePoint
      switch result {
      case .trial(let point):
        accepted = point
        swap(&gradient, &trialGradient)
      case .low(let point):
        accepted = point
        moveParameters(step: point.step)
        swap(&gradient, &lowGradient)
      case .stopped:
        return outcome(iterations, interruption)
      case .failed:
        parameters.update(from: theta.pointer, count: count)
        if memory.isEmpty { return outcome(iterations, .lineSearchFailed) }
        memory.clear()
        continue
      }
      // The pair from the old iterate (θ, its gradient now in
      // `trialGradient` or `lowGradient`, whichever was swapped out) to
      // the new one (the parameters, `gradient`).
      let oldGradient = UnsafePointer(result.isTrial ? trialGradient : lowGradient)
      let curvature = memory.stage(
        from: theta.pointer, oldGradient, to: parameters, gradient, count: count)
      theta.pointer.update(from: parameters, count: count)
      let previous = value
      value = accepted.value
      iterations += 1
      history[iterations - 1] = value

      let every = options.reportEvery
      if every > 0
        && (iterations == 1 || iterations % every == 0 || iterations == options.maxIterations)
      {
        clock.restart()
        sameBatch = false
        let answer = handler(
          .epochEnd(epoch: iterations - 1, loss: value, validationLoss: .nan, learningRate: .nan))
        if let reason = Self.stopReason(answer) { return outcome(iterations, reason) }
      }
      // The stopping tests, in SciPy's order.
      if iterations >= options.maxIterations { return outcome(iterations, .maxIterations) }
      if evaluations > options.maxEvaluations { return outcome(iterations, .maxEvaluations) }
      if maxMagnitude(gradient, count: count) <= options.gradientTolerance {
        return outcome(iterations, .convergedGtol)
      }
      let reduction = previous - value
      if reduction <= options.relativeReduction * max(abs(previous), abs(value), 1) {
        return outcome(iterations, .convergedFtol)
      }
      // 3. Keep the pair when sᵀy is safely positive: sᵀy > ε (−gᵀs), with
      // s = α d, so −gᵀs = −α gᵀd.
      if curvature > Double(T.ulpOfOne) * (-accepted.step * slope) {
        memory.commit(curvature: curvature)
      }
    }
  }
}

extension StrongWolfeSearch.Outcome {
  fileprivate var isTrial: Bool {
    if case .trial = self { return true }
    return false
  }
}

/// The last m correction pairs (sᵢ, yᵢ) with ρᵢ = 1/(sᵢᵀyᵢ), in a ring of
/// m + 1 slots: the newest m are the memory and the spare one receives the
/// next pair (`stage`) until it is kept (`commit`) or overwritten.
final class CorrectionPairs<T: Scalar> {
  let capacity: Int
  let count: Int
  /// Slot i's s at s + i · count, its y at y + i · count.
  let pairs: Buffer<T>
  /// ρ of each slot, and the two-loop recursion's αᵢ.
  let rho: Buffer<Double>
  let alpha: Buffer<Double>
  /// The slot of the oldest kept pair, and how many are kept.
  private var oldest = 0
  private(set) var kept = 0

  init(capacity: Int, count: Int) throws {
    self.capacity = capacity
    self.count = count
    let slots = capacity &+ 1
    guard slots > capacity else {
      throw EngineError(.outOfMemory, "memory of \(capacity) pairs is too large")
    }
    pairs = try Buffer(count: product(2, slots, count))
    rho = try Buffer(count: slots)
    alpha = try Buffer(count: slots)
  }

  var isEmpty: Bool { kept == 0 }

  func clear() { kept = 0 }

  private func slot(_ i: Int) -> Int { (oldest + i) % (capacity + 1) }
  private func s(_ slot: Int) -> UnsafeMutablePointer<T> { pairs.pointer + 2 * slot * count }
  private func y(_ slot: Int) -> UnsafeMutablePointer<T> { pairs.pointer + (2 * slot + 1) * count }

  /// Writes s = new − old and y = newGradient − oldGradient into the spare
  /// slot; returns sᵀy.
  func stage(
    from old: UnsafePointer<T>, _ oldGradient: UnsafePointer<T>, to new: UnsafePointer<T>,
    _ newGradient: UnsafePointer<T>, count: Int
  ) -> Double {
    let spare = slot(kept)
    let s = s(spare)
    let y = y(spare)
    for i in 0..<count {
      s[i] = new[i] - old[i]
      y[i] = newGradient[i] - oldGradient[i]
    }
    return dot(s, y, count: count)
  }

  /// Keeps the staged pair, dropping the oldest when m are kept.
  func commit(curvature: Double) {
    rho.pointer[slot(kept)] = 1 / curvature
    if kept == capacity {
      oldest = (oldest + 1) % (capacity + 1)
    } else {
      kept += 1
    }
  }

  /// d = −H g by the two-loop recursion:
  ///
  ///     q = g
  ///     for i newest … oldest:  αᵢ = ρᵢ sᵢᵀq;  q −= αᵢ yᵢ
  ///     r = γ q,  γ = sᵀy / yᵀy of the newest pair (1 with none)
  ///     for i oldest … newest:  β = ρᵢ yᵢᵀr;  r += (αᵢ − β) sᵢ
  ///     d = −r
  func direction(for g: UnsafePointer<T>, into d: UnsafeMutablePointer<T>) {
    d.update(from: g, count: count)
    if kept == 0 {
      for i in 0..<count { d[i] = -d[i] }
      return
    }
    for i in stride(from: kept - 1, through: 0, by: -1) {
      let slot = slot(i)
      let a = rho.pointer[slot] * dot(s(slot), d, count: count)
      alpha.pointer[slot] = a
      let factor = T(a)
      let y = y(slot)
      for j in 0..<count { d[j] -= factor * y[j] }
    }
    let newest = slot(kept - 1)
    let gamma = T(
      dot(s(newest), y(newest), count: count) / dot(y(newest), y(newest), count: count))
    for j in 0..<count { d[j] *= gamma }
    for i in 0..<kept {
      let slot = slot(i)
      let beta = rho.pointer[slot] * dot(y(slot), d, count: count)
      let factor = T(alpha.pointer[slot] - beta)
      let s = s(slot)
      for j in 0..<count { d[j] += factor * s[j] }
    }
    for j in 0..<count { d[j] = -d[j] }
  }
}

/// Σ aᵢ bᵢ in Double, element by element in index order (the order the
/// NumPy twin's float64 `np.dot` need not share: they agree to rounding).
@inline(__always)
func dot<T: Scalar>(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, count: Int) -> Double {
  var sum = 0.0
  for i in 0..<count { sum += Double(a[i]) * Double(b[i]) }
  return sum
}

@inline(__always)
func dot<T: Scalar>(_ a: UnsafeMutablePointer<T>, _ b: UnsafeMutablePointer<T>, count: Int)
  -> Double
{
  dot(UnsafePointer(a), UnsafePointer(b), count: count)
}

/// max |vᵢ| in Double (NaN is never the maximum: callers check finiteness).
func maxMagnitude<T: Scalar>(_ values: UnsafePointer<T>, count: Int) -> Double {
  var largest = 0.0
  for i in 0..<count { largest = max(largest, Double(abs(values[i]))) }
  return largest
}

func maxMagnitude<T: Scalar>(_ values: UnsafeMutablePointer<T>, count: Int) -> Double {
  maxMagnitude(UnsafePointer(values), count: count)
}
