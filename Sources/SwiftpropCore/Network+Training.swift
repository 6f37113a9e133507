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
  /// Stop when the monitored loss has not improved by more than `tolerance`
  /// for `patience` epochs; a negative tolerance turns this off.
  public var tolerance: Double
  public var patience: Int
  /// Least time between two `.poll` events, in nanoseconds.
  public var pollInterval: UInt64

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

/// What `fit` tells its handler.
public enum FitEvent {
  /// A chance to notice an interrupt or a request to stop; sent between
  /// steps at most every `pollInterval`.
  case poll
  /// An epoch ended (0-based); `validationLoss` is NaN without validation data.
  case epochEnd(epoch: Int, loss: Double, validationLoss: Double)
}

/// The handler's answer.
public enum FitControl { case proceed, stop, abort }

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
}

/// Where `fit` records each epoch: the loss, the validation loss (with
/// validation data) and each layer's mean ‖dW‖ (optional), each with room
/// for at least `options.epochs` epochs (× layers for the norms).
public struct FitHistory {
  public var loss: MutableMatrix<Double>
  public var validationLoss: MutableMatrix<Double>?
  public var gradientNorms: MutableMatrix<Double>?

  public init(
    loss: MutableMatrix<Double>, validationLoss: MutableMatrix<Double>? = nil,
    gradientNorms: MutableMatrix<Double>? = nil
  ) {
    self.loss = loss
    self.validationLoss = validationLoss
    self.gradientNorms = gradientNorms
  }
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
  /// norms[layer] (taken in the update's pass where it can be).
  func step(
    _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, rows: Int, space: Workspace<T>,
    state: OptimizerState<T>, config: OptimizerConfig, sameBatch: Bool = false,
    norms: UnsafeMutablePointer<Double>? = nil
  ) -> Double? {
    let value = backward(
      x, y, rows: rows, space: space, keepLayers: false, sameBatch: sameBatch)
    guard value.isFinite else { return nil }
    var finite = true
    // One pass over every parameter (they are consecutive) when there is
    // no decay, unless the update can take the norms per layer in its pass
    // (SGD, and Adam in Float) and the network is large enough for a call
    // per array not to matter.
    let normsInPass =
      norms != nil && parameterCount >= flatUpdateLimit
      && config.kind.rule.sumsSquaresInPass(T.self)
    if config.l2 == 0 && !normsInPass {
      finite = state.update(
        parameters[0].pointer, into: space.nextParameters[0].pointer, count: parameterCount,
        index: 0, gradient: space.gradients[0].pointer, config: config, decay: 0
      ).finite
      if finite, let norms { addGradientNorms(space, to: norms) }
    } else {
      for (index, parameter) in parameters.enumerated() {
        let isWeight = index % 2 == 0
        let result = state.update(
          parameter.pointer, into: space.nextParameters[index].pointer, count: parameter.count,
          index: index, gradient: space.gradients[index].pointer, config: config,
          decay: isWeight ? config.l2 : 0, wantSquares: isWeight && norms != nil)
        finite = result.finite && finite
        if isWeight, let norms { norms[index / 2] += result.squares.squareRoot() }
      }
    }
    guard finite else { return nil }
    // Commit: the new values become the parameters, the old ones the spares.
    swap(&parameters, &space.nextParameters)
    state.commit()
    return value
  }

  /// One optimizer step on the samples of `x` with targets `y`; returns
  /// the loss before it.
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  public func trainStep(_ x: Matrix<T>, _ y: Matrix<T>, config: OptimizerConfig) throws -> Double {
    try checkSamples(x, y)
    defer { releaseLargeWorkspaces() }
    return try trainStep(x.base, y.base, rows: x.rows, config: config)
  }

  func trainStep(
    _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, rows: Int, config: OptimizerConfig
  ) throws -> Double {
    if let problem = config.problem { throw EngineError(.invalidArgument, problem) }
    try refuseWhileTraining("take a training step")
    let space = try workspace(rows: rows, forTraining: true)
    let state = try optimizerState(for: config)
    guard let value = step(x, y, rows: rows, space: space, state: state, config: config) else {
      throw EngineError(
        .diverged, "the loss or its gradient is NaN or infinite; the step was not applied")
    }
    return value
  }

  /// The whole training loop: epochs of (shuffled) mini-batches, one
  /// optimizer step each, on the samples of `x` with targets `y`. Records
  /// in `history` each epoch's loss (the batch losses before their steps,
  /// weighted by batch size), with `validation` data the validation loss,
  /// and with room for them (epochs × layers) the mean over its steps of
  /// each layer's ‖dW‖.
  ///
  /// The network always holds the weights of its last completed step: the
  /// handler can stop (`.stop`) or abort (`.abort`) only between steps, and
  /// a step whose loss or gradient is not finite is not applied.
  @_specialize(where T == Float)
  @_specialize(where T == Double)
  public func fit(
    _ x: Matrix<T>, _ y: Matrix<T>, validation: (x: Matrix<T>, y: Matrix<T>)? = nil,
    config: OptimizerConfig, options: FitOptions, history: FitHistory,
    handler: (FitEvent) -> FitControl
  ) throws -> FitOutcome {
    try checkSamples(x, y)
    try history.loss.check("loss_history", count: options.epochs, atLeast: true)
    if let validation {
      try checkSamples(validation.x, validation.y, names: ("validation X", "validation y"))
      guard let record = history.validationLoss else {
        throw EngineError(.invalidArgument, "val_history must not be NULL with validation data")
      }
      try record.check("val_history", count: options.epochs, atLeast: true)
    }
    if let norms = history.gradientNorms {
      try norms.check(
        "gradient_norms", count: try product(options.epochs, layers.count), atLeast: true)
    }
    defer { releaseLargeWorkspaces() }
    return try fit(
      x.base, y.base, rows: x.rows,
      validation: validation.map { ($0.x.base, $0.y.base, $0.x.rows) }, config: config,
      options: options, lossHistory: history.loss.base,
      validationHistory: history.validationLoss?.base, gradientNorms: history.gradientNorms?.base,
      handler: handler)
  }

  func fit(
    _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, rows: Int,
    validation: (x: UnsafePointer<T>, y: UnsafePointer<T>, rows: Int)?, config: OptimizerConfig,
    options: FitOptions, lossHistory: UnsafeMutablePointer<Double>,
    validationHistory: UnsafeMutablePointer<Double>?, gradientNorms: UnsafeMutablePointer<Double>?,
    handler: (FitEvent) -> FitControl
  ) throws -> FitOutcome {
    if let problem = config.problem { throw EngineError(.invalidArgument, problem) }
    guard options.epochs >= 1, options.batchSize >= 1, options.patience >= 1 else {
      throw EngineError(.invalidArgument, "epochs, batch_size and patience must be >= 1")
    }
    try refuseWhileTraining("start fit")
    let batchSize = min(options.batchSize, rows)
    let shuffling = options.shuffle && batchSize < rows
    let space = try workspace(rows: batchSize, forTraining: true, gathersRows: shuffling)
    let state = try optimizerState(for: config)
    // One row number per row: as large as the data, so a checked buffer.
    let order = try IndexBuffer(count: shuffling ? rows : 0)
    let inputs = inputCount
    let outputs = outputCount

    isTraining = true
    defer { isTraining = false }

    var clock = PollClock(interval: options.pollInterval)
    var sameBatch = false
    var best = Double.infinity
    var wait = 0
    for epoch in 0..<options.epochs {
      if shuffling { generator.fillPermutation(order.indices) }
      var total = 0.0
      var start = 0
      let norms = gradientNorms.map { $0 + epoch * layers.count }
      norms?.update(repeating: 0, count: layers.count)
      while start < rows {
        let count = min(batchSize, rows - start)
        var batchX = x + start * inputs
        var batchY = y + start * outputs
        if shuffling {
          for r in 0..<count {
            let source = order[start + r]
            (space.batchX.pointer + r * inputs).update(from: x + source * inputs, count: inputs)
            (space.batchY.pointer + r * outputs).update(from: y + source * outputs, count: outputs)
          }
          batchX = UnsafePointer(space.batchX.pointer)
          batchY = UnsafePointer(space.batchY.pointer)
        }
        guard
          let value = step(
            batchX, batchY, rows: count, space: space, state: state, config: config,
            sameBatch: sameBatch, norms: norms)
        else { return FitOutcome(epochs: epoch, reason: .diverged) }
        total += value * Double(count)
        start += count
        // One batch of all rows, unshuffled, is the same batch next epoch
        // (unless the handler, which runs Python code, is called between).
        sameBatch = count == rows
        if clock.due() {
          sameBatch = false
          switch handler(.poll) {
          case .proceed: break
          // Mid-epoch: the epoch is not recorded, the weights are those of
          // the last completed step.
          case .stop: return FitOutcome(epochs: epoch, reason: .callback)
          case .abort: return FitOutcome(epochs: epoch, reason: .interrupted)
          }
        }
      }
      if let norms {
        let steps = Double((rows + batchSize - 1) / batchSize)
        for l in layers.indices { norms[l] /= steps }
      }
      let epochLoss = total / Double(rows)
      lossHistory[epoch] = epochLoss
      var validationLoss = Double.nan
      if let validation {
        validationLoss = try lossValue(validation.x, validation.y, rows: validation.rows)
        validationHistory?[epoch] = validationLoss
      }
      let every = options.reportEvery
      if every > 0 && (epoch == 0 || (epoch + 1) % every == 0 || epoch == options.epochs - 1) {
        clock.restart()
        sameBatch = false
        switch handler(.epochEnd(epoch: epoch, loss: epochLoss, validationLoss: validationLoss)) {
        case .proceed: break
        case .stop: return FitOutcome(epochs: epoch + 1, reason: .callback)
        case .abort: return FitOutcome(epochs: epoch + 1, reason: .interrupted)
        }
      }
      if options.tolerance >= 0 {
        let monitored = validation == nil ? epochLoss : validationLoss
        wait = monitored > best - options.tolerance ? wait + 1 : 0
        best = min(best, monitored)
        if wait >= options.patience { return FitOutcome(epochs: epoch + 1, reason: .converged) }
      }
    }
    return FitOutcome(epochs: options.epochs, reason: .completed)
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
