/// One point of a line search along a direction d from x: the step α,
/// φ(α) = F(x + α d) and its slope φ'(α) = ∇F(x + α d) · d.
struct LinePoint: Equatable {
  var step: Double
  var value: Double
  var slope: Double

  var isFinite: Bool { value.isFinite && slope.isFinite }
}

/// A line search for the strong Wolfe conditions, in Double whatever the
/// network's element type: a step α > 0 with
///
///     φ(α) ≤ φ(0) + c₁ α φ'(0)        (sufficient decrease)
///     |φ'(α)| ≤ c₂ |φ'(0)|             (curvature)
///
/// with c₁ = 10⁻³ and c₂ = 0.9, the constants of L-BFGS-B's line search
/// (Moré and Thuente's, as SciPy runs it). The search itself is the
/// bracketing and zoom of Nocedal and Wright (Numerical Optimization,
/// algorithms 3.5 and 3.6):
///
/// - Bracketing: try α₀, then steps growing by cubic extrapolation from
///   the last two points, kept in [α + 1.1 Δ, α + 4 Δ] (Δ the last
///   growth), until a step fails sufficient decrease or does not lower φ
///   (a bracket [previous, α]), meets the curvature condition (done), or
///   has φ' ≥ 0 (a bracket [α, previous]).
/// - Zoom: `low` is the best point with sufficient decrease, `high` the
///   other end; the trial is the minimiser of the cubic through both ends'
///   values and slopes when it falls in the middle 80% of the bracket,
///   else the midpoint (always the midpoint when an end is not finite).
///   A trial that fails sufficient decrease or does not improve on `low`
///   becomes `high`; otherwise it meets the curvature condition (done) or
///   becomes `low`, and `high` moves to the old `low` if φ' points that
///   way.
///
/// A trial whose value or slope is NaN or infinite counts as too long a
/// step. When the bracket has shrunk to 10% of its larger end (L-BFGS-B's
/// xtol), or the evaluations allowed run out, the search settles for
/// `low` if it has moved (sufficient decrease holds there, the curvature
/// condition need not); otherwise it fails. `swiftprop.reference` runs the
/// same search, comparison for comparison.
struct StrongWolfeSearch {
  static let sufficientDecrease = 1e-3
  static let curvature = 0.9
  /// Relative width of a bracket at which the search settles for `low`.
  static let bracketTolerance = 0.1
  /// The longest step tried (L-BFGS-B's bound for unconstrained problems).
  static let maximumStep = 1e10

  enum Outcome: Equatable {
    /// The last point evaluated meets the conditions.
    case trial(LinePoint)
    /// The point last passed to `keepAsLow` is the answer.
    case low(LinePoint)
    /// No step lowered φ enough within the evaluations allowed.
    case failed
    /// `evaluate` returned nil (an interrupt or a request to stop).
    case stopped
  }

  /// Searches from `start` (step 0, whose slope must be negative) with
  /// the first trial step `initialStep`, calling `evaluate(α)` at most
  /// `maxEvaluations` times. `keepAsLow` is called right after an
  /// evaluation whose point becomes `low`, so that the caller keeps that
  /// point's gradient (an `.low` outcome refers to it).
  static func run(
    from start: LinePoint, initialStep: Double, maxEvaluations: Int,
    evaluate: (Double) -> LinePoint?, keepAsLow: () -> Void
  ) -> Outcome {
    var search = StrongWolfeSearch(start: start, maxEvaluations: maxEvaluations)
    return search.bracket(initialStep, evaluate: evaluate, keepAsLow: keepAsLow)
  }

  let start: LinePoint
  let maxEvaluations: Int
  var evaluations = 0

  private init(start: LinePoint, maxEvaluations: Int) {
    self.start = start
    self.maxEvaluations = maxEvaluations
  }

  /// φ(α) ≤ φ(0) + c₁ α φ'(0), for a finite point.
  private func decreasesEnough(_ point: LinePoint) -> Bool {
    point.value <= start.value + Self.sufficientDecrease * point.step * start.slope
  }

  /// |φ'(α)| ≤ c₂ |φ'(0)|.
  private func isFlatEnough(_ point: LinePoint) -> Bool {
    abs(point.slope) <= -Self.curvature * start.slope
  }

  private mutating func bracket(
    _ initialStep: Double, evaluate: (Double) -> LinePoint?, keepAsLow: () -> Void
  ) -> Outcome {
    var previous = start
    var step = initialStep
    while true {
      guard evaluations < maxEvaluations else {
        return previous.step > 0 ? .low(previous) : .failed
      }
      guard let current = evaluate(step) else { return .stopped }
      evaluations += 1
      if !current.isFinite || !decreasesEnough(current) || current.value >= previous.value {
        return zoom(low: previous, high: current, evaluate: evaluate, keepAsLow: keepAsLow)
      }
      if isFlatEnough(current) { return .trial(current) }
      keepAsLow()
      if current.slope >= 0 {
        return zoom(low: current, high: previous, evaluate: evaluate, keepAsLow: keepAsLow)
      }
      if current.step >= Self.maximumStep { return .low(current) }
      step = Self.extrapolation(from: previous, to: current)
      previous = current
    }
  }

  private mutating func zoom(
    low: LinePoint, high: LinePoint, evaluate: (Double) -> LinePoint?, keepAsLow: () -> Void
  ) -> Outcome {
    var low = low
    var high = high
    while true {
      let a = min(low.step, high.step)
      let b = max(low.step, high.step)
      let width = b - a
      if width <= Self.bracketTolerance * b || evaluations >= maxEvaluations {
        return low.step > 0 ? .low(low) : .failed
      }
      var step = a + 0.5 * width
      if low.isFinite && high.isFinite, let cubic = Self.cubicMinimizer(low, high),
        cubic >= a + 0.1 * width, cubic <= b - 0.1 * width
      {
        step = cubic
      }
      guard let current = evaluate(step) else { return .stopped }
      evaluations += 1
      if !current.isFinite || !decreasesEnough(current) || current.value >= low.value {
        high = current
      } else {
        if isFlatEnough(current) { return .trial(current) }
        keepAsLow()
        if current.slope * (high.step - low.step) >= 0 { high = low }
        low = current
      }
    }
  }

  /// The next trial while φ still falls at `current`: the cubic's
  /// minimiser beyond `current` when it has one, kept in
  /// [α + 1.1 Δ, α + 4 Δ] with Δ = current − previous, else α + 4 Δ; at
  /// most `maximumStep`.
  static func extrapolation(from previous: LinePoint, to current: LinePoint) -> Double {
    let distance = current.step - previous.step
    let lower = current.step + 1.1 * distance
    let upper = current.step + 4 * distance
    var next = upper
    if let cubic = cubicMinimizer(previous, current), cubic > current.step {
      next = min(max(cubic, lower), upper)
    }
    return min(next, maximumStep)
  }

  /// The minimiser of the cubic through φ and φ' at two points p and q
  /// (Nocedal and Wright, eq. 3.59):
  ///
  ///     d₁ = φ'(p) + φ'(q) − 3 (φ(p) − φ(q)) / (p − q)
  ///     d₂ = sign(q − p) √(d₁² − φ'(p) φ'(q))
  ///     α  = q − (q − p) (φ'(q) + d₂ − d₁) / (φ'(q) − φ'(p) + 2 d₂)
  ///
  /// nil when the cubic has no minimiser (a negative radicand) or the
  /// arithmetic is not finite.
  static func cubicMinimizer(_ p: LinePoint, _ q: LinePoint) -> Double? {
    let d1 = p.slope + q.slope - 3 * (p.value - q.value) / (p.step - q.step)
    let radicand = d1 * d1 - p.slope * q.slope
    guard radicand >= 0 else { return nil }
    let d2 = (q.step > p.step ? 1.0 : -1.0) * radicand.squareRoot()
    let step = q.step - (q.step - p.step) * (q.slope + d2 - d1) / (q.slope - p.slope + 2 * d2)
    return step.isFinite ? step : nil
  }
}
