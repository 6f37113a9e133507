import CSwiftprop

/// Settings of one `fit` call.
public struct FitOptions: Sendable {
  public var epochs: Int
  /// Rows per mini-batch; ≥ the sample count means full batch.
  public var batchSize: Int
  /// Reshuffle the rows every epoch (mini-batches only).
  public var shuffle: Bool
  /// Report every N-th epoch (and the first and last) to the handler; 0: never.
  public var reportEvery: Int
  /// Stop when the monitored value has not improved by more than
  /// `tolerance` for `patience` epochs; a negative tolerance turns this off.
  public var tolerance: Double
  public var patience: Int
  /// Least time between two `.poll` events, in nanoseconds.
  public var pollInterval: UInt64
  /// The learning rate of each epoch (the optimizer's `lr` is η₀).
  public var schedule: Schedule = .constant
  /// What the stopping rule, the plateau schedule and `restoreBest` watch;
  /// nil: the validation loss with validation data, else the loss.
  public var monitor: Monitor? = nil
  /// At the end (unless interrupted or diverged), put back the parameters
  /// of the epoch with the best monitored value, if they are not the last.
  public var restoreBest = false
  /// Metrics recorded per epoch (on the training batches as they are
  /// trained on, and on the validation data after each epoch).
  public var metrics: Metrics = []
  /// The recorded (and monitored) loss of an epoch is
  /// Σ_b W_b·(lossScale·L_b + penaltyScale·(λ_b/2)·Σ‖W‖²) / Σ_b W_b over its
  /// batches b (W_b the batch's rows or weight sum, L_b its data loss before
  /// its step, λ_b the step's l2 and Σ‖W‖² over the weight matrices before
  /// the step). The validation loss is scaled by lossScale.
  public var lossScale = 1.0
  public var penaltyScale = 0.0
  /// Divide l2 by each batch's rows (or weight sum), as scikit-learn divides
  /// its alpha by the batch size.
  public var l2PerSample = false

  public init(
    epochs: Int, batchSize: Int, shuffle: Bool = true, reportEvery: Int = 0,
    tolerance: Double = -1, patience: Int = 10, pollInterval: UInt64 = 20_000_000
  ) {
    self.epochs = epochs
    self.batchSize = batchSize
    self.shuffle = shuffle
    self.reportEvery = reportEvery
    self.tolerance = tolerance
    self.patience = patience
    self.pollInterval = pollInterval
  }
}

/// Metrics `fit` can record per epoch.
///
/// - accuracy: the (weighted) share of rows whose class is right. With
///   several outputs and a loss other than binary cross-entropy, the class
///   is the index of the largest output (and of the largest target);
///   otherwise each output is read as a label, output ≥ 0.5 against target
///   ≥ 0.5, and a row is right when all its labels are (scikit-learn's
///   subset accuracy for multi-label outputs).
/// - r2: the coefficient of determination 1 − Σw(y − a)² / Σw(y − ȳ)² of
///   each output, averaged over the outputs (scikit-learn's `r2_score`,
///   uniform average; an output whose targets are constant counts 1 when
///   predicted exactly, else 0). ȳ is the (weighted) mean of the targets.
public struct Metrics: OptionSet, Sendable {
  public let rawValue: Int32
  public init(rawValue: Int32) { self.rawValue = rawValue }
  public static let accuracy = Metrics(rawValue: 1)
  public static let r2 = Metrics(rawValue: 2)
}

/// What `fit` watches to stop early, to reduce the rate on a plateau and
/// to keep the best parameters.
public enum Monitor: String, Coded {
  case loss, validationLoss = "val_loss", accuracy, validationAccuracy = "val_accuracy"
  case r2, validationR2 = "val_r2"

  public var code: Int32 {
    switch self {
    case .loss: headerCode(SP_MONITOR_LOSS)
    case .validationLoss: headerCode(SP_MONITOR_VAL_LOSS)
    case .accuracy: headerCode(SP_MONITOR_ACCURACY)
    case .validationAccuracy: headerCode(SP_MONITOR_VAL_ACCURACY)
    case .r2: headerCode(SP_MONITOR_R2)
    case .validationR2: headerCode(SP_MONITOR_VAL_R2)
    }
  }

  /// Larger is better (accuracy, R²), else smaller (losses).
  public var maximizes: Bool { self != .loss && self != .validationLoss }
  public var needsValidation: Bool {
    self == .validationLoss || self == .validationAccuracy || self == .validationR2
  }
  public var metric: Metrics {
    switch self {
    case .accuracy, .validationAccuracy: .accuracy
    case .r2, .validationR2: .r2
    case .loss, .validationLoss: []
    }
  }
}

/// What `fit` tells its handler.
public enum FitEvent {
  /// A chance to notice an interrupt or a request to stop; sent between
  /// steps at most every `pollInterval`.
  case poll
  /// An epoch ended (0-based); `validationLoss` is NaN without validation
  /// data; `learningRate` is the rate the epoch used.
  case epochEnd(epoch: Int, loss: Double, validationLoss: Double, learningRate: Double)
}

/// The handler's answer; `.rate(η)` goes on with learning rate η from the
/// next epoch on (in place of the schedule's).
public enum FitControl { case proceed, stop, abort, rate(Double) }

/// Why `fit` or `fitLBFGS` ended.
public enum StopReason: String, Coded {
  case completed, converged, callback, interrupted, diverged
  // L-BFGS (`LBFGSOptions` says when each applies).
  case convergedGtol = "converged_gtol", convergedFtol = "converged_ftol"
  case maxIterations = "max_iter", maxEvaluations = "max_fun"
  case lineSearchFailed = "line_search_failed"

  public var code: Int32 {
    switch self {
    case .completed: headerCode(SP_COMPLETED)
    case .converged: headerCode(SP_CONVERGED)
    case .callback: headerCode(SP_STOPPED_BY_CALLBACK)
    case .interrupted: headerCode(SP_INTERRUPTED)
    case .diverged: headerCode(SP_STOPPED_DIVERGED)
    case .convergedGtol: headerCode(SP_CONVERGED_GTOL)
    case .convergedFtol: headerCode(SP_CONVERGED_FTOL)
    case .maxIterations: headerCode(SP_MAX_ITER)
    case .maxEvaluations: headerCode(SP_MAX_FUN)
    case .lineSearchFailed: headerCode(SP_LINE_SEARCH_FAILED)
    }
  }
}

public struct FitOutcome: Sendable {
  /// Epochs completed and recorded in the history buffers.
  public var epochs: Int
  public var reason: StopReason
  /// The epoch whose parameters the network holds after `restoreBest`
  /// (-1: the last step's).
  public var restoredEpoch: Int = -1

  public init(epochs: Int, reason: StopReason, restoredEpoch: Int = -1) {
    self.epochs = epochs
    self.reason = reason
    self.restoredEpoch = restoredEpoch
  }
}

/// Where `fit` records each epoch: the loss, the validation loss (with
/// validation data), each layer's mean ‖dW‖ (optional), the learning rate
/// and the metrics (optional), each with room for at least
/// `options.epochs` epochs (× layers for the norms).
public struct FitHistory {
  public var loss: MutableMatrix<Double>
  public var validationLoss: MutableMatrix<Double>?
  public var gradientNorms: MutableMatrix<Double>?
  public var learningRate: MutableMatrix<Double>? = nil
  public var accuracy: MutableMatrix<Double>? = nil
  public var validationAccuracy: MutableMatrix<Double>? = nil
  public var r2: MutableMatrix<Double>? = nil
  public var validationR2: MutableMatrix<Double>? = nil
  /// The l2 term of each epoch: the batch-weighted mean of (λ_b/2)·Σ‖W‖²
  /// before each step (unscaled).
  public var penalty: MutableMatrix<Double>? = nil
  /// With a NumPy `RandomState`'s MT19937 state (624 key words, then the
  /// position), the rows are shuffled as scikit-learn's MLP shuffles them:
  /// every epoch (even with one batch), in place, with `RandomState.shuffle`
  /// from this stream, which the fit advances (`NumpyShuffle`). Without it,
  /// the network's own generator draws a fresh order per epoch.
  public var numpyShuffle: UnsafeMutablePointer<UInt32>? = nil

  public init(
    loss: MutableMatrix<Double>, validationLoss: MutableMatrix<Double>? = nil,
    gradientNorms: MutableMatrix<Double>? = nil
  ) {
    self.loss = loss
    self.validationLoss = validationLoss
    self.gradientNorms = gradientNorms
  }
}

/// Upper bounds on each weight matrix's largest |value|, carried by a
/// training loop from one in-place step to the next (`Network.step`); nil
/// where unknown. Valid only while nothing but those steps changes the
/// weights: a step out of place forgets them, and so must the loop
/// whenever other code may have run (its handler).
final class WeightBounds {
  var values: [Double?] = []
  func forget() { values = [] }
}

extension Network {
  /// The optimizer state for `config`, kept across calls while the kind
  /// of optimizer stays the same.
  func optimizerState(for config: OptimizerConfig) throws -> OptimizerState<T> {
    if let state = optimizer, state.kind == config.kind { return state }
    let state = try OptimizerState<T>(kind: config.kind, counts: parameters.map(\.count))
    optimizer = state
    return state
  }

  /// One optimizer step on a batch; returns the loss before it. When the
  /// loss, a gradient or an updated value is not finite, nothing changes
  /// and nil is returned. `sameBatch` says that x and y are the previous
  /// step's, unchanged (full-batch training), so a fused pass may reuse
  /// what it made of them. With `norms`, each layer's ‖dW‖ is added to
  /// norms[layer] (taken in the update's pass where it can be). With
  /// `weights`, the loss is the weighted mean (see `backward`). A step
  /// drops units of the layers with a dropout rate (`Network+Dropout`).
  ///
  /// A small batch's large weight matrices are updated a block of rows at
  /// a time straight from a_{l−1} and δ_l (`fusedWeightUpdate`): the same
  /// values, without dW's trip through memory. With `bounds` (kept by the
  /// caller from step to step) they are updated in place when the rule
  /// keeps no state and every new value is proven finite beforehand
  /// (`inPlaceBounds`), after every other parameter's new value is known
  /// to be finite: W is then read and written where it is, with no W′
  /// beside it (half the memory a step streams through), and the step is
  /// still all or nothing.
  func step(
    _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, rows: Int, space: Workspace<T>,
    state: OptimizerState<T>, config: OptimizerConfig, sameBatch: Bool = false,
    norms: UnsafeMutablePointer<Double>? = nil, weights: UnsafePointer<T>? = nil,
    weightSum: Double = 0, keepLayers: Bool = false, bounds: WeightBounds? = nil
  ) -> Double? {
    // Fusing leaves dW unwritten (`keepLayers` callers read it). The
    // largest layer is checked first: the toy networks' steps take a
    // fraction of a microsecond.
    var fusing = largestLayerProduct >= fusedUpdateMinimum && !keepLayers && rows <= thinDepth
    if fusing { fusing = layers.indices.contains { fusesUpdate($0, rows: rows, space: space) } }
    let value = backward(
      x, y, rows: rows, space: space, keepLayers: keepLayers, sameBatch: sameBatch,
      weights: weights, weightSum: weightSum, dropping: true, fusedWeights: fusing)
    guard value.isFinite else { return nil }
    let proven =
      fusing
      ? bounds.flatMap { inPlaceBounds(x, rows: rows, space: space, config: config, known: $0) }
      : nil
    var finite = true
    // One pass over every parameter (they are consecutive) when there is
    // no decay, unless the update can take the norms per layer in its pass
    // (SGD, and Adam in Float) and the network is large enough for a call
    // per array not to matter.
    let normsInPass =
      norms != nil && parameterCount >= flatUpdateLimit
      && config.kind.rule.sumsSquaresInPass(T.self)
    if config.l2 == 0 && !normsInPass && !fusing {
      finite = state.update(
        parameters[0].pointer, into: space.nextParameters[0].pointer, count: parameterCount,
        index: 0, gradient: space.gradients[0].pointer, config: config, decay: 0
      ).finite
      if finite, let norms { addGradientNorms(space, to: norms) }
    } else {
      for (index, parameter) in parameters.enumerated() {
        let isWeight = index % 2 == 0
        let fused = isWeight && fusing && fusesUpdate(index / 2, rows: rows, space: space)
        if fused && proven != nil { continue }  // in place, below
        let result =
          fused
          ? fusedWeightUpdate(
            index / 2, input: weightGradientInput(index / 2, x, space: space, dropping: dropsUnits),
            rows: rows, space: space, state: state, config: config, wantSquares: norms != nil,
            into: space.nextParameters[index].pointer)
          : state.update(
            parameter.pointer, into: space.nextParameters[index].pointer, count: parameter.count,
            index: index, gradient: space.gradients[index].pointer, config: config,
            decay: isWeight ? config.l2 : 0, wantSquares: isWeight && norms != nil)
        finite = result.finite && finite
        if isWeight, let norms { norms[index / 2] += result.squares.squareRoot() }
      }
    }
    guard finite else { return nil }
    if let proven, let bounds {
      // Every other new value is finite: the proven layers are updated in
      // place, the rest copied in from the spares (biases and small
      // layers), so the parameters stay where they are.
      // (`proven` has a bound exactly for the fused layers.)
      for (l, bound) in proven.enumerated() where bound != nil {
        let result = fusedWeightUpdate(
          l, input: weightGradientInput(l, x, space: space, dropping: dropsUnits), rows: rows,
          space: space, state: state, config: config, wantSquares: norms != nil,
          into: parameters[2 * l].pointer, finiteKnown: true)
        if let norms { norms[l] += result.squares.squareRoot() }
      }
      for (index, parameter) in parameters.enumerated()
      where index % 2 == 1 || proven[index / 2] == nil {
        parameter.pointer.update(from: space.nextParameters[index].pointer, count: parameter.count)
      }
      bounds.values = proven
      state.commit()
      return value
    }
    // Commit: the new values become the parameters, the old ones the spares.
    swap(&parameters, &space.nextParameters)
    bounds?.forget()
    state.commit()
    return value
  }

  /// Upper bounds on each weight matrix's largest |value| after an in-place
  /// step (nil for the layers not fused), or nil when one fused layer's
  /// cannot be proven finite (or its rule keeps state). From |W| ≤ w
  /// (`known`, or ‖W‖₂), |dW_ij| = |Σ_r input_ri δ_rj| ≤ ‖input‖₂·‖δ_l‖₂
  /// (Cauchy–Schwarz; the chain's roundings, two per row without FMA,
  /// add at most (2·rows + 1)·u),
  /// the rule's bound on |W′| raised by 8u for its roundings (u the type's
  /// unit roundoff; lr and l2 rounded to the type, four operations), and
  /// proven only when that is below the type's largest finite value. With
  /// every input finite and no value that large, no step can overflow or
  /// make a NaN.
  func inPlaceBounds(
    _ x: UnsafePointer<T>, rows: Int, space: Workspace<T>, config: OptimizerConfig,
    known: WeightBounds
  ) -> [Double?]? {
    let u = Double(T.ulpOfOne) / 2
    let largest = Double(T.greatestFiniteMagnitude)
    var result = [Double?](repeating: nil, count: layers.count)
    for l in layers.indices where fusesUpdate(l, rows: rows, space: space) {
      let k = layers[l].inputs, n = layers[l].outputs
      let input = magnitudeBound(
        weightGradientInput(l, x, space: space, dropping: dropsUnits), count: rows * k)
      let delta = magnitudeBound(UnsafePointer(space.delta[l].pointer), count: rows * n)
      let gradient = input * delta * (1 + Double(2 * rows + 1) * u)
      func bound(_ w: Double) -> Double? {
        guard
          let b = config.kind.rule.inPlaceBound(
            parameter: w, gradient: gradient, decay: config.l2, config: config)
        else { return nil }
        let raised = b * (1 + 8 * u)
        return raised < largest ? raised : nil  // false for NaN
      }
      // A bound carried from earlier steps grows a little each step; when
      // it no longer proves the step, W's own norm may.
      if let carried = known.values.indices.contains(l) ? known.values[l] : nil,
        let b = bound(carried)
      {
        result[l] = b
      } else if let b = bound(
        magnitudeBound(UnsafePointer(parameters[2 * l].pointer), count: k * n))
      {
        result[l] = b
      } else {
        return nil
      }
    }
    return result
  }

  /// Whether a step on `rows` rows updates layer l's weights by
  /// `fusedWeightUpdate`: a batch of at most `thinDepth` rows (dW is then
  /// `multiplyThinDepth`'s product, in `multiply` as here), weights of at
  /// least `fusedUpdateMinimum` values (smaller ones stay in cache anyway),
  /// and room in the scratch for a block of dW per thread.
  @inline(__always)
  func fusesUpdate(_ l: Int, rows: Int, space: Workspace<T>) -> Bool {
    let k = layers[l].inputs, n = layers[l].outputs
    return rows >= 1 && rows <= thinDepth && k >= fewRows && k * n >= fusedUpdateMinimum
      && 2 * fusedBlockRows(n) * n <= space.scratch.count
  }

  /// Rows of dW made at once by `fusedWeightUpdate` for n columns: about
  /// `fusedBlockBytes`, at least one row.
  @inline(__always)
  func fusedBlockRows(_ n: Int) -> Int {
    max(1, fusedBlockBytes / (n * MemoryLayout<T>.stride))
  }

  /// Layer l's weight update, W′ = rule(W, dW) written into `next` (the
  /// spare, or W itself in place), with dW = inputᵀ · δ_l made a vector at
  /// a time inside the rule's pass for one sample when the rule can
  /// (`updateProduct`: SGD), else a block of rows at a time in the
  /// thread's part of the scratch and updated from there while it is in
  /// L1: dW is never written to memory and read back. Every value of dW
  /// is `multiply`'s (the same chain of multiply-adds), every updated
  /// value the rule's, so the parameters are those of the unfused step to
  /// the bit. Returns whether every new value is finite and, with
  /// `wantSquares`, Σ dW², summed per group of blocks and then over the
  /// groups in order (fixed by the shape alone, as the update's pieces
  /// are). Large layers' groups are shared with the helper thread. With
  /// `finiteKnown` (an in-place step, proven finite beforehand) a rule may
  /// skip its finiteness probe.
  func fusedWeightUpdate(
    _ l: Int, input: UnsafePointer<T>, rows: Int, space: Workspace<T>,
    state: OptimizerState<T>, config: OptimizerConfig, wantSquares: Bool,
    into next: UnsafeMutablePointer<T>, finiteKnown: Bool = false
  ) -> (finite: Bool, squares: Double) {
    let k = layers[l].inputs, n = layers[l].outputs
    let blockRows = fusedBlockRows(n)
    let blocks = (k + blockRows - 1) / blockRows
    let perGroup = (blocks + updateUnits - 1) / updateUnits
    let groups = (blocks + perGroup - 1) / perGroup
    let weights = UnsafePointer(parameters[2 * l].pointer)
    let delta = UnsafePointer(space.delta[l].pointer)
    let scratch = space.scratch.pointer
    let squaresInPass = wantSquares && config.kind.rule.sumsSquaresInPass(T.self)
    return withUnsafeTemporaryAllocation(of: (Bool, Double).self, capacity: groups) { results in
      func group(_ g: Int, _ worker: Int) {
        let dW = scratch + worker * blockRows * n
        var finite = true
        var squares = 0.0
        for block in g * perGroup..<min(blocks, (g + 1) * perGroup) {
          let first = block * blockRows
          let count = min(blockRows, k - first)
          // One sample, and a rule that makes each gradient vector where
          // it reads it. (For 2 to 8 rows the stored block is faster: the
          // kernel's tile shares each broadcast and load over 8 vectors.)
          if rows == 1,
            let result = state.updateProduct(
              weights + first * n, into: next + first * n,
              product: OuterProduct(x: input + first, delta: delta, n: n), rows: count,
              index: 2 * l, config: config, decay: config.l2, wantSquares: wantSquares,
              finiteKnown: finiteKnown, from: first * n)
          {
            finite = finite && result.finite
            squares += result.squares
            continue
          }
          multiplyThinDepth(
            input + first, delta, into: dW, m: count, n: n, k: rows, lda: k, accumulate: false)
          let result = state.update(
            weights + first * n, into: next + first * n, count: count * n, index: 2 * l,
            gradient: dW, config: config, decay: config.l2, wantSquares: squaresInPass,
            from: first * n)
          finite = finite && result.finite
          // A rule that does not sum the squares in its pass: from L1 here.
          squares +=
            wantSquares && !squaresInPass
            ? sumOfSquares(UnsafePointer(dW), count: count * n) : result.squares
        }
        (results.baseAddress! + g).initialize(to: (finite, squares))
      }
      if k * n >= sharedUpdateCount {
        runSharedByWorker(units: groups, group)
      } else {
        for g in 0..<groups { group(g, 0) }
      }
      var finite = true
      var squares = 0.0
      for g in 0..<groups {
        finite = finite && results[g].0
        squares += results[g].1
      }
      return (finite, squares)
    }
  }

  /// Σ‖W‖² over the weight matrices (not the biases), in Double.
  func weightSquares() -> Double {
    var total = 0.0
    for index in stride(from: 0, to: parameters.count, by: 2) {
      let p = parameters[index].pointer
      for i in 0..<parameters[index].count { total += Double(p[i]) * Double(p[i]) }
    }
    return total
  }

  /// Throws unless `weights` is a vector of `rows` finite values ≥ 0 with a
  /// positive sum; returns the sum.
  func checkWeights(_ weights: Matrix<T>, rows: Int, name: String) throws -> Double {
    try weights.check(name, rows: rows, columns: 1)
    var sum = 0.0
    for r in 0..<rows {
      let w = weights.base[r]
      guard w.isFinite, w >= 0 else {
        throw EngineError(
          .invalidValue, "\(name) must be finite and >= 0, got \(w) at row \(r)")
      }
      sum += Double(w)
    }
    guard sum > 0, sum.isFinite else {
      throw EngineError(.invalidValue, "\(name) must have a positive, finite sum, got \(sum)")
    }
    return sum
  }

  /// One optimizer step on the samples of `x` with targets `y` (and
  /// optional per-row `weights`); returns the loss before it.
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  public func trainStep(
    _ x: Matrix<T>, _ y: Matrix<T>, weights: Matrix<T>? = nil, config: OptimizerConfig
  ) throws -> Double {
    try checkSamples(x, y)
    let weightSum = try weights.map { try checkWeights($0, rows: x.rows, name: "sample_weight") }
    defer { releaseLargeWorkspaces() }
    return try trainStep(
      x.base, y.base, rows: x.rows, config: config, weights: weights?.base,
      weightSum: weightSum ?? 0)
  }

  func trainStep(
    _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, rows: Int, config: OptimizerConfig,
    weights: UnsafePointer<T>? = nil, weightSum: Double = 0
  ) throws -> Double {
    if let problem = config.problem { throw EngineError(.invalidArgument, problem) }
    try refuseWhileTraining("take a training step")
    let space = try workspace(rows: rows, forTraining: true)
    let state = try optimizerState(for: config)
    guard
      let value = step(
        x, y, rows: rows, space: space, state: state, config: config, weights: weights,
        weightSum: weightSum)
    else {
      throw EngineError(
        .diverged, "the loss or its gradient is NaN or infinite; the step was not applied")
    }
    return value
  }

  /// The whole training loop: epochs of (shuffled) mini-batches, one
  /// optimizer step each, on the samples of `x` with targets `y` (and
  /// optional per-row `weights`). Records in `history` each epoch's loss
  /// (the batch losses before their steps, weighted by batch size or
  /// weight sum, scaled as `options` says), with `validation` data the
  /// validation loss, the learning rate, the metrics asked for, and with
  /// room for them (epochs × layers) the mean over its steps of each
  /// layer's ‖dW‖.
  ///
  /// The network always holds the weights of its last completed step
  /// (or, with `restoreBest`, of its best epoch): the handler can stop
  /// (`.stop`) or abort (`.abort`) only between steps, and a step whose
  /// loss or gradient is not finite is not applied. A mini-batch whose
  /// weights are all zero is skipped (no step).
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  public func fit(
    _ x: Matrix<T>, _ y: Matrix<T>, weights: Matrix<T>? = nil,
    validation: (x: Matrix<T>, y: Matrix<T>)? = nil, validationWeights: Matrix<T>? = nil,
    config: OptimizerConfig, options: FitOptions, history: FitHistory,
    handler: (FitEvent) -> FitControl
  ) throws -> FitOutcome {
    try checkSamples(x, y)
    let weightSum = try weights.map { try checkWeights($0, rows: x.rows, name: "sample_weight") }
    try history.loss.check("loss_history", count: options.epochs, atLeast: true)
    var validationWeightSum: Double?
    if let validation {
      try checkSamples(validation.x, validation.y, names: ("validation X", "validation y"))
      guard let record = history.validationLoss else {
        throw EngineError(.invalidArgument, "val_history must not be NULL with validation data")
      }
      try record.check("val_history", count: options.epochs, atLeast: true)
      validationWeightSum = try validationWeights.map {
        try checkWeights($0, rows: validation.x.rows, name: "validation sample_weight")
      }
    } else if validationWeights != nil {
      throw EngineError(.invalidArgument, "validation weights need validation data")
    }
    if let norms = history.gradientNorms {
      try norms.check(
        "gradient_norms", count: try product(options.epochs, layers.count), atLeast: true)
    }
    let records: [(String, MutableMatrix<Double>?, Bool)] = [
      ("lr_history", history.learningRate, false),
      ("accuracy_history", history.accuracy, options.metrics.contains(.accuracy)),
      ("val_accuracy_history", history.validationAccuracy,
       options.metrics.contains(.accuracy) && validation != nil),
      ("r2_history", history.r2, options.metrics.contains(.r2)),
      ("val_r2_history", history.validationR2, options.metrics.contains(.r2) && validation != nil),
      ("l2_history", history.penalty, false),
    ]
    for (name, record, needed) in records {
      if let record {
        try record.check(name, count: options.epochs, atLeast: true)
      } else if needed && name != "lr_history" {
        throw EngineError(.invalidArgument, "\(name) must not be NULL for the metrics asked for")
      }
    }
    if let problem = options.schedule.problem { throw EngineError(.invalidArgument, problem) }
    if let monitor = options.monitor {
      if monitor.needsValidation && validation == nil {
        throw EngineError(.invalidArgument, "monitor \(monitor.name) needs validation data")
      }
      if !options.metrics.isSuperset(of: monitor.metric) {
        throw EngineError(.invalidArgument, "monitor \(monitor.name) needs that metric recorded")
      }
    }
    guard options.lossScale.isFinite, options.lossScale > 0, options.penaltyScale.isFinite,
      options.penaltyScale >= 0
    else {
      throw EngineError(.invalidArgument, "loss_scale must be > 0 and penalty_scale >= 0, both finite")
    }
    defer { releaseLargeWorkspaces() }
    return try fit(
      TrainingSet(x: x.base, y: y.base, weights: weights?.base, weightSum: weightSum ?? 0, rows: x.rows),
      validation: validation.map {
        TrainingSet(
          x: $0.x.base, y: $0.y.base, weights: validationWeights?.base,
          weightSum: validationWeightSum ?? 0, rows: $0.x.rows)
      }, config: config, options: options, history: history, handler: handler)
  }

  func fit(
    _ data: TrainingSet<T>, validation: TrainingSet<T>?, config startConfig: OptimizerConfig,
    options: FitOptions, history: FitHistory, handler: (FitEvent) -> FitControl
  ) throws -> FitOutcome {
    if let problem = startConfig.problem { throw EngineError(.invalidArgument, problem) }
    guard options.epochs >= 1, options.batchSize >= 1, options.patience >= 1 else {
      throw EngineError(.invalidArgument, "epochs, batch_size and patience must be >= 1")
    }
    try refuseWhileTraining("start fit")
    // What in-place steps know of the weights (`step`).
    let bounds = WeightBounds()
    let rows = data.rows
    let batchSize = min(options.batchSize, rows)
    var numpyShuffle: NumpyShuffle?
    if let state = history.numpyShuffle {
      guard let stream = NumpyShuffle(state: state) else {
        throw EngineError(.invalidArgument, "the shuffle state's position must be in 0...624")
      }
      numpyShuffle = stream
    }
    let shuffling = options.shuffle && (batchSize < rows || numpyShuffle != nil)
    let space = try workspace(rows: batchSize, forTraining: true, gathersRows: shuffling)
    let state = try optimizerState(for: startConfig)
    // One row number per row: as large as the data, so a checked buffer.
    let order = try IndexBuffer(count: shuffling ? rows : 0)
    // NumPy's order is shuffled from the previous epoch's, starting from
    // the identity; the engine's is drawn afresh each epoch.
    if numpyShuffle != nil {
      for i in order.indices.indices { order.pointer[i] = i }
    }
    defer { numpyShuffle?.store() }
    let batchWeights = try Buffer<T>(count: shuffling && data.weights != nil ? batchSize : 0)
    let inputs = inputCount
    let outputs = outputCount
    let monitor = options.monitor ?? (validation == nil ? .loss : .validationLoss)
    let metricsOnBatches = options.metrics
    var training = try MetricSums<T>(
      metrics: metricsOnBatches, outputs: outputs, loss: loss,
      targetMean: metricsOnBatches.contains(.r2) ? data.targetMeans(outputs: outputs) : nil)
    let best = options.restoreBest ? try Buffer<T>(count: parameterCount) : nil
    var bestEpoch = -1
    var bestIsLast = false

    isTraining = true
    defer { isTraining = false }

    var config = startConfig
    let baseRate = startConfig.learningRate
    let baseL2 = startConfig.l2
    var rate = baseRate  // carried by the adaptive and plateau schedules
    var rateOverride: Double?
    var clock = PollClock(interval: options.pollInterval)
    var sameBatch = false
    var bestValue = Double.infinity  // of the stopping rule (negated when maximising)
    var wait = 0
    var plateauBest = Double.infinity
    var plateauWait = 0
    var bestMonitored = Double.infinity  // for restoreBest
    let schedule = options.schedule
    let penaltyWanted = options.penaltyScale != 0 || history.penalty != nil
    let fixedRate = schedule.kind == .constant && schedule.warmupEpochs == 0
    var configuredRate = startConfig.learningRate
    let recordsMetrics = !metricsOnBatches.isEmpty
    let watches = options.tolerance >= 0 || options.restoreBest || schedule.kind == .plateau
    let epochWeight = data.weights == nil ? Double(rows) : data.weightSum
    var outcome: FitOutcome?
    epochs: for epoch in 0..<options.epochs {
      // A fixed rate (the common case) costs one comparison an epoch.
      let epochRate =
        rateOverride
        ?? (fixedRate
          ? baseRate : schedule.rate(epoch: epoch, base: baseRate, current: rate, rows: rows))
      if epochRate != configuredRate {
        config.values[0] = epochRate
        configuredRate = epochRate
      }
      history.learningRate?.base[epoch] = epochRate
      if shuffling {
        if var stream = numpyShuffle {
          stream.shuffle(order.indices)
          numpyShuffle = stream
        } else {
          generator.fillPermutation(order.indices)
        }
      }
      if recordsMetrics { training.reset() }
      var total = 0.0
      var totalWeight = 0.0
      var penaltyTotal = 0.0
      var start = 0
      let norms = history.gradientNorms.map { $0.base + epoch * layers.count }
      norms?.update(repeating: 0, count: layers.count)
      var steps = 0
      while start < rows {
        let count = min(batchSize, rows - start)
        var batchX = data.x + start * inputs
        var batchY = data.y + start * outputs
        var weights = data.weights.map { $0 + start }
        if shuffling {
          for r in 0..<count {
            let source = order[start + r]
            (space.batchX.pointer + r * inputs).update(from: data.x + source * inputs, count: inputs)
            (space.batchY.pointer + r * outputs).update(from: data.y + source * outputs, count: outputs)
            if let w = data.weights { batchWeights.pointer[r] = w[source] }
          }
          batchX = UnsafePointer(space.batchX.pointer)
          batchY = UnsafePointer(space.batchY.pointer)
          if data.weights != nil { weights = UnsafePointer(batchWeights.pointer) }
        }
        start += count
        var batchWeight = Double(count)
        if let weights {
          batchWeight = 0
          for r in 0..<count { batchWeight += Double(weights[r]) }
          // A batch of zero weight has no loss and no gradient: no step.
          if batchWeight == 0 { continue }
        }
        if options.l2PerSample { config.values[1] = baseL2 / batchWeight }
        let penalty = penaltyWanted ? 0.5 * config.l2 * weightSquares() : 0
        guard
          let value = step(
            batchX, batchY, rows: count, space: space, state: state, config: config,
            sameBatch: sameBatch, norms: norms, weights: weights, weightSum: batchWeight,
            keepLayers: recordsMetrics, bounds: bounds)
        else { outcome = FitOutcome(epochs: epoch, reason: .diverged); break epochs }
        steps += 1
        if recordsMetrics {
          training.add(
            outputs: space.a[layers.count - 1].pointer, targets: batchY, weights: weights,
            rows: count)
        }
        // A running weighted mean: each batch's share of the epoch's weight,
        // so that huge finite losses do not overflow a sum.
        // (A full batch's share is exactly 1.)
        let share = count == rows ? 1 : batchWeight / epochWeight
        if penaltyWanted {
          total += (options.lossScale * value + options.penaltyScale * penalty) * share
          penaltyTotal += penalty * share
        } else {
          total += options.lossScale * value * share
        }
        totalWeight += batchWeight
        // One batch of all rows, unshuffled, is the same batch next epoch
        // (unless the handler, which runs Python code, is called between).
        sameBatch = count == rows && !shuffling
        if clock.due() {
          sameBatch = false
          bounds.forget()
          switch handler(.poll) {
          case .proceed, .rate: break
          // Mid-epoch: the epoch is not recorded, the weights are those of
          // the last completed step.
          case .stop: outcome = FitOutcome(epochs: epoch, reason: .callback); break epochs
          case .abort: outcome = FitOutcome(epochs: epoch, reason: .interrupted); break epochs
          }
        }
      }
      if let norms, steps > 0 {
        for l in layers.indices { norms[l] /= Double(steps) }
      }
      let epochLoss = totalWeight > 0 ? total : .nan
      history.loss.base[epoch] = epochLoss
      history.penalty?.base[epoch] = penaltyTotal
      if metricsOnBatches.contains(.accuracy) { history.accuracy?.base[epoch] = training.accuracy }
      if metricsOnBatches.contains(.r2) { history.r2?.base[epoch] = training.r2 }
      var validationLoss = Double.nan
      var validationScores = (accuracy: Double.nan, r2: Double.nan)
      if let validation {
        let result = try evaluate(validation, metrics: options.metrics)
        validationLoss = options.lossScale * result.loss
        validationScores = (result.accuracy, result.r2)
        history.validationLoss?.base[epoch] = validationLoss
        history.validationAccuracy?.base[epoch] = result.accuracy
        history.validationR2?.base[epoch] = result.r2
      }
      // The monitored value, negated when larger is better (only read by
      // the stopping rule, the best weights and the plateau schedule).
      var monitored = Double.infinity
      if watches {
        switch monitor {
        case .loss: monitored = epochLoss
        case .validationLoss: monitored = validationLoss
        case .accuracy: monitored = -training.accuracy
        case .validationAccuracy: monitored = -validationScores.accuracy
        case .r2: monitored = -training.r2
        case .validationR2: monitored = -validationScores.r2
        }
        if monitored.isNaN { monitored = .infinity }
      }
      if let best {
        bestIsLast = monitored < bestMonitored
        if bestIsLast {
          bestMonitored = monitored
          bestEpoch = epoch
          best.pointer.update(from: parameters[0].pointer, count: parameterCount)
        }
      }
      if schedule.kind == .plateau && epoch >= schedule.warmupEpochs && rateOverride == nil {
        let (factor, patience, minDelta, minimum) =
          (schedule.values[0], schedule.values[1], schedule.values[2], schedule.values[3])
        if monitored < plateauBest - minDelta {
          plateauBest = monitored
          plateauWait = 0
        } else {
          plateauWait += 1
          if Double(plateauWait) > patience {
            rate = max(epochRate * factor, minimum)
            plateauWait = 0
          }
        }
      }
      let every = options.reportEvery
      if every > 0 && (epoch == 0 || (epoch + 1) % every == 0 || epoch == options.epochs - 1) {
        clock.restart()
        sameBatch = false
        bounds.forget()
        switch handler(
          .epochEnd(
            epoch: epoch, loss: epochLoss, validationLoss: validationLoss, learningRate: epochRate))
        {
        case .proceed: break
        case .rate(let newRate): rateOverride = newRate
        case .stop: outcome = FitOutcome(epochs: epoch + 1, reason: .callback); break epochs
        case .abort: outcome = FitOutcome(epochs: epoch + 1, reason: .interrupted); break epochs
        }
      }
      if options.tolerance >= 0 {
        wait = monitored > bestValue - options.tolerance ? wait + 1 : 0
        bestValue = min(bestValue, monitored)
        if wait >= options.patience {
          if schedule.kind == .adaptive && rateOverride == nil {
            // scikit-learn's "adaptive": a smaller rate instead of a stop,
            // until the rate is at its floor.
            if epochRate <= schedule.values[1] {
              outcome = FitOutcome(epochs: epoch + 1, reason: .converged)
              break epochs
            }
            rate = epochRate * schedule.values[0]
            wait = 0
          } else {
            outcome = FitOutcome(epochs: epoch + 1, reason: .converged)
            break epochs
          }
        }
      }
    }
    var result = outcome ?? FitOutcome(epochs: options.epochs, reason: .completed)
    if let best, bestEpoch >= 0, result.reason != .interrupted, result.reason != .diverged {
      if !bestIsLast || result.epochs != bestEpoch + 1 {
        parameters[0].pointer.update(from: best.pointer, count: parameterCount)
      }
      result.restoredEpoch = bestEpoch
    }
    return result
  }

  /// The loss (and the metrics asked for) over a whole data set, in
  /// inference blocks.
  func evaluate(_ data: TrainingSet<T>, metrics: Metrics) throws -> (
    loss: Double, accuracy: Double, r2: Double
  ) {
    var sums = try MetricSums<T>(
      metrics: metrics, outputs: outputCount, loss: loss,
      targetMean: metrics.contains(.r2) ? data.targetMeans(outputs: outputCount) : nil)
    let last = layers.count - 1
    var total = 0.0
    // Hears Ctrl-C in loss() (fit installs no poll).
    try forEachInferenceBlock(data.x, rows: data.rows) { start, count, space in
      let y = data.y + start * outputCount
      let weights = data.weights.map { $0 + start }
      if let weights {
        for r in 0..<count {
          let offset = r * outputCount
          total += Double(weights[r]) * loss.value(
            z: space.z[last].pointer + offset, a: space.a[last].pointer + offset, y: y + offset,
            rows: 1, cols: outputCount)
        }
      } else {
        total += loss.value(
          z: space.z[last].pointer, a: space.a[last].pointer, y: y, rows: count,
          cols: outputCount) * Double(count)
      }
      if !sums.isEmpty {
        sums.add(outputs: space.a[last].pointer, targets: y, weights: weights, rows: count)
      }
    }
    let weight = data.weights == nil ? Double(data.rows) : data.weightSum
    return (total / weight, sums.accuracy, sums.r2)
  }
}

/// Training or validation data: x, y and optional per-row weights (with
/// their sum).
struct TrainingSet<T: Scalar> {
  let x: UnsafePointer<T>
  let y: UnsafePointer<T>
  let weights: UnsafePointer<T>?
  let weightSum: Double
  let rows: Int

  /// The (weighted) mean of each target column.
  func targetMeans(outputs: Int) throws -> Buffer<Double> {
    let means = try Buffer<Double>(count: outputs)
    for r in 0..<rows {
      let w = weights.map { Double($0[r]) } ?? 1
      for j in 0..<outputs { means.pointer[j] += w * Double(y[r * outputs + j]) }
    }
    let total = weights == nil ? Double(rows) : weightSum
    for j in 0..<outputs { means.pointer[j] /= total }
    return means
  }
}

/// Running sums of the metrics over batches (see `Metrics`).
struct MetricSums<T: Scalar> {
  let metrics: Metrics
  let outputs: Int
  let byArgmax: Bool
  let targetMean: Buffer<Double>?
  /// Per output: Σw(y − a)² and Σw(y − ȳ)².
  let squares: Buffer<Double>?
  var weight = 0.0
  var correct = 0.0

  init(metrics: Metrics, outputs: Int, loss: Loss, targetMean: Buffer<Double>?) throws {
    self.metrics = metrics
    self.outputs = outputs
    byArgmax = outputs > 1 && loss != .binaryCrossEntropy
    self.targetMean = targetMean
    squares = metrics.contains(.r2) ? try Buffer<Double>(count: 2 * outputs) : nil
  }

  var isEmpty: Bool { metrics.isEmpty }

  mutating func reset() {
    weight = 0
    correct = 0
    squares?.zero()
  }

  mutating func add(
    outputs a: UnsafePointer<T>, targets y: UnsafePointer<T>, weights: UnsafePointer<T>?,
    rows: Int
  ) {
    let k = outputs
    for r in 0..<rows {
      let w = weights.map { Double($0[r]) } ?? 1
      let aRow = a + r * k
      let yRow = y + r * k
      weight += w
      if metrics.contains(.accuracy) {
        var right = true
        if byArgmax {
          var top = 0
          var topY = 0
          for j in 1..<k {
            if aRow[j] > aRow[top] { top = j }
            if yRow[j] > yRow[topY] { topY = j }
          }
          right = top == topY
        } else {
          for j in 0..<k where (aRow[j] >= 0.5) != (yRow[j] >= 0.5) { right = false }
        }
        if right { correct += w }
      }
      if let squares, let targetMean {
        for j in 0..<k {
          let residual = Double(yRow[j]) - Double(aRow[j])
          let spread = Double(yRow[j]) - targetMean.pointer[j]
          squares.pointer[2 * j] += w * residual * residual
          squares.pointer[2 * j + 1] += w * spread * spread
        }
      }
    }
  }

  mutating func add(
    outputs a: UnsafeMutablePointer<T>, targets y: UnsafePointer<T>, weights: UnsafePointer<T>?,
    rows: Int
  ) {
    add(outputs: UnsafePointer(a), targets: y, weights: weights, rows: rows)
  }

  var accuracy: Double { metrics.contains(.accuracy) && weight > 0 ? correct / weight : .nan }

  var r2: Double {
    guard let squares, weight > 0 else { return .nan }
    var total = 0.0
    for j in 0..<outputs {
      let residual = squares.pointer[2 * j]
      let spread = squares.pointer[2 * j + 1]
      if spread > 0 {
        total += 1 - residual / spread
      } else {
        total += residual == 0 ? 1 : 0
      }
    }
    return total / Double(outputs)
  }
}

/// Decides when `fit` should poll for interrupts: reads the clock only
/// every `stride` steps, doubling the stride while steps are fast, so tiny
/// networks do not pay for the clock on every step.
struct PollClock {
  let interval: UInt64
  var lastPoll: UInt64
  var lastRead: UInt64
  var stride = 1
  var stepsLeft = 1

  init(interval: UInt64) {
    self.interval = interval
    lastPoll = monotonicNanoseconds()
    lastRead = lastPoll
  }

  mutating func restart() {
    lastPoll = monotonicNanoseconds()
  }

  /// Call once per step; true when a poll is due.
  mutating func due() -> Bool {
    stepsLeft -= 1
    if stepsLeft > 0 { return false }
    let now = monotonicNanoseconds()
    let sinceRead = now &- lastRead
    lastRead = now
    if sinceRead < 1_000_000 && stride < 1 << 20 {
      stride *= 2
    } else if sinceRead > 4_000_000 && stride > 1 {
      stride /= 2
    }
    stepsLeft = stride
    if now &- lastPoll >= interval {
      lastPoll = now
      return true
    }
    return false
  }
}

/// Below this many parameters a step updates them all in one pass and
/// takes the gradient norms in a second one.
let flatUpdateLimit = 4096
/// Fewest weights of a layer whose update a small batch's step fuses with
/// its gradient (`Network.fusesUpdate`).
let fusedUpdateMinimum = 1 << 16
/// Bytes of dW made at once by `fusedWeightUpdate`: half of a 32 KiB L1.
let fusedBlockBytes = 16 << 10
