import CSwiftprop

#if canImport(Glibc)
  import Glibc
#endif

/// Learning-rate schedules: the rate `fit` uses in each epoch, computed in
/// the engine (epochs e = 0, 1, … of one `fit` call, the rate fixed within
/// an epoch). η₀ is the optimizer's `lr`.
///
/// - `constant`: η_e = η₀.
/// - `invScaling` (scikit-learn's "invscaling"): η_e = η₀ / (t₀ + e·n + 1)^p,
///   t₀ + e·n being the samples seen before epoch e (n rows an epoch, t₀
///   those of earlier calls), p = `power_t`.
/// - `adaptive` (scikit-learn's "adaptive"): η₀ until the stopping rule
///   (`tolerance`, `patience`) fires; then, instead of stopping, η ← η·factor
///   and the count restarts, and training stops once η ≤ `min_lr`.
/// - `step` (PyTorch's `StepLR`): η_e = η₀ · γ^⌊e / step_size⌋.
/// - `exponential` (PyTorch's `ExponentialLR`): η_e = η₀ · γ^e.
/// - `cosine` (PyTorch's `CosineAnnealingLR`, closed form):
///   η_e = η_min + (η₀ − η_min)·(1 + cos(π·e / T)) / 2.
/// - `plateau` (PyTorch's `ReduceLROnPlateau`, absolute threshold): after
///   each epoch, the monitored value m improves when m < best − min_delta
///   (for a monitor to maximise, m > best + min_delta); after more than
///   `patience` epochs without improvement, η ← max(η·factor, min_lr).
///
/// Any schedule can start with a linear warm-up over W epochs (PyTorch's
/// `LinearLR` then the schedule, as `SequentialLR` chains them): for e < W,
/// η_e = η₀·(s + (1 − s)·e / W) with s the start factor; from e = W on,
/// the schedule runs on e − W.
public enum ScheduleKind: String, Coded {
  case constant, invScaling = "inv_scaling", adaptive, step, exponential, cosine, plateau

  public var code: Int32 {
    switch self {
    case .constant: headerCode(SP_SCHEDULE_CONSTANT)
    case .invScaling: headerCode(SP_SCHEDULE_INV_SCALING)
    case .adaptive: headerCode(SP_SCHEDULE_ADAPTIVE)
    case .step: headerCode(SP_SCHEDULE_STEP)
    case .exponential: headerCode(SP_SCHEDULE_EXPONENTIAL)
    case .cosine: headerCode(SP_SCHEDULE_COSINE)
    case .plateau: headerCode(SP_SCHEDULE_PLATEAU)
    }
  }

  /// The settings after η₀, in the order the ABI passes them.
  public var settingNames: [String] {
    switch self {
    case .constant: []
    case .invScaling: ["power_t", "samples_seen"]
    case .adaptive: ["factor", "min_lr"]
    case .step: ["step_size", "gamma"]
    case .exponential: ["gamma"]
    case .cosine: ["epochs", "min_lr"]
    case .plateau: ["factor", "patience", "min_delta", "min_lr"]
    }
  }
}

/// A schedule with its settings, checked.
public struct Schedule: Sendable {
  public var kind: ScheduleKind
  /// The settings, named by `kind.settingNames`.
  public var values: [Double]
  /// Epochs of linear warm-up (0: none) and the warm-up's start factor.
  public var warmupEpochs: Int
  public var warmupStart: Double

  public static let constant = Schedule(kind: .constant, values: [], warmupEpochs: 0, warmupStart: 1)

  public init(kind: ScheduleKind, values: [Double], warmupEpochs: Int = 0, warmupStart: Double = 0) {
    self.kind = kind
    self.values = values
    self.warmupEpochs = warmupEpochs
    self.warmupStart = warmupStart
  }

  /// Why these settings are not usable, or nil.
  public var problem: String? {
    let names = kind.settingNames
    guard values.count == names.count else {
      return "the \(kind.name) schedule takes \(names.count) settings (\(names.joined(separator: ", "))), got \(values.count)"
    }
    for (name, value) in zip(names, values) where !value.isFinite {
      return "schedule setting \(name) must be finite, got \(value)"
    }
    func setting(_ name: String) -> Double { values[names.firstIndex(of: name)!] }
    switch kind {
    case .constant: break
    case .invScaling:
      if setting("power_t") < 0 { return "power_t must be >= 0" }
      if setting("samples_seen") < 0 { return "samples_seen must be >= 0" }
    case .adaptive:
      if !(setting("factor") > 0 && setting("factor") < 1) { return "factor must be in (0, 1)" }
      if setting("min_lr") < 0 { return "min_lr must be >= 0" }
    case .step:
      if !(setting("step_size") >= 1) || setting("step_size") > 1e15 || setting("step_size").rounded() != setting("step_size") {
        return "step_size must be a whole number >= 1"
      }
      if !(setting("gamma") > 0) { return "gamma must be > 0" }
    case .exponential:
      if !(setting("gamma") > 0) { return "gamma must be > 0" }
    case .cosine:
      if !(setting("epochs") >= 1) { return "epochs (T_max) must be >= 1" }
      if setting("min_lr") < 0 { return "min_lr must be >= 0" }
    case .plateau:
      if !(setting("factor") > 0 && setting("factor") < 1) { return "factor must be in (0, 1)" }
      if !(setting("patience") >= 0) || setting("patience") > 1e15 || setting("patience").rounded() != setting("patience") {
        return "patience must be a whole number >= 0"
      }
      if setting("min_delta") < 0 { return "min_delta must be >= 0" }
      if setting("min_lr") < 0 { return "min_lr must be >= 0" }
    }
    if warmupEpochs < 0 { return "warmup epochs must be >= 0" }
    if warmupEpochs > 0 && !(warmupStart >= 0 && warmupStart <= 1) {
      return "the warm-up start factor must be in [0, 1]"
    }
    return nil
  }

  /// The rate of epoch `epoch` for the schedules that depend on the epoch
  /// alone; `current` (the rate the adaptive and plateau schedules carry
  /// from epoch to epoch) for the others. `rows` is n of `invScaling`.
  func rate(epoch: Int, base: Double, current: Double, rows: Int) -> Double {
    if epoch < warmupEpochs {
      return base * (warmupStart + (1 - warmupStart) * Double(epoch) / Double(warmupEpochs))
    }
    let e = Double(epoch - warmupEpochs)
    switch kind {
    case .constant: return base
    case .adaptive, .plateau: return current
    case .invScaling:
      return base / pow(values[1] + e * Double(rows) + 1, values[0])
    case .step:
      return base * pow(values[1], (e / values[0]).rounded(.down))
    case .exponential:
      return base * pow(values[0], e)
    case .cosine:
      let minimum = values[1]
      return minimum + (base - minimum) * (1 + cos(Double.pi * e / values[0])) / 2
    }
  }
}
