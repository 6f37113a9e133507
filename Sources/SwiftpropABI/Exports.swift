import CSwiftprop
import SwiftpropCore

// The exported C functions, declared in CSwiftprop/include/swiftprop.h.
// Each checks handles, pointers and sizes, binds the pointers and calls the
// core; none does mathematics of its own, and none can trap on bad input.

// MARK: - Lifetime

@_cdecl("sp_network_create")
public func sp_network_create(
  _ layerCount: Int32, _ sizes: UnsafePointer<Int64>?, _ activations: UnsafePointer<Int32>?,
  _ loss: Int32, _ dtype: Int32, _ initializer: Int32, _ seed: UInt64,
  _ handle: UnsafeMutablePointer<Int64>?,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    guard layerCount >= 1 else { throw ABIError.argument("layer_count must be >= 1, got \(layerCount)") }
    guard let sizes, let activations, let handle else {
      throw ABIError.argument("sizes, activations and handle must not be NULL")
    }
    var layers: [Dense] = []
    for l in 0..<Int(layerCount) {
      guard let activation = Activation(code: activations[l]) else {
        throw ABIError.argument("unknown activation code \(activations[l]) for layer \(l)")
      }
      guard sizes[l] >= 1, sizes[l + 1] >= 1, sizes[l] <= Int32.max, sizes[l + 1] <= Int32.max else {
        throw ABIError.argument("layer \(l) has sizes \(sizes[l]) x \(sizes[l + 1]); both must be in [1, 2^31)")
      }
      layers.append(Dense(Int(sizes[l]), Int(sizes[l + 1]), activation))
    }
    guard let lossKind = Loss(code: loss) else { throw ABIError.argument("unknown loss code \(loss)") }
    guard let initKind = Initializer(code: initializer) else {
      throw ABIError.argument("unknown initializer code \(initializer)")
    }
    let network: AnyNetwork
    switch dtype {
    case Int32(SP_FLOAT32):
      network = .float32(try Network(layers: layers, loss: lossKind, initializer: initKind, seed: seed))
    case Int32(SP_FLOAT64):
      network = .float64(try Network(layers: layers, loss: lossKind, initializer: initKind, seed: seed))
    default:
      throw ABIError.argument("unknown dtype code \(dtype)")
    }
    handle.pointee = HandleTable.shared.insert(network)
  }
}

@_cdecl("sp_network_destroy")
public func sp_network_destroy(_ handle: Int64) -> Int32 {
  HandleTable.shared.remove(handle) == nil ? Int32(SP_INVALID_HANDLE) : Int32(SP_OK)
}

@_cdecl("sp_network_info")
public func sp_network_info(
  _ handle: Int64, _ description: UnsafeMutablePointer<sp_network_description>?,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let network = try HandleTable.shared.network(handle)
    guard let description else { throw ABIError.argument("description must not be NULL") }
    description.pointee = sp_network_description(
      dtype: network.dtype, layer_count: Int32(network.shape.layers),
      inputs: Int64(network.inputCount), outputs: Int64(network.outputCount),
      parameter_count: Int64(network.parameterCount))
  }
}

// MARK: - Parameters and state

@_cdecl("sp_network_get_parameters")
public func sp_network_get_parameters(
  _ handle: Int64, _ values: UnsafeMutableRawPointer?, _ count: Int64,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let network = try HandleTable.shared.network(handle)
    guard count == Int64(network.parameterCount) else {
      throw ABIError.argument("expected \(network.parameterCount) parameter values, got \(count)")
    }
    guard let values else { throw ABIError.argument("values must not be NULL") }
    network.copyParameters(to: values)
  }
}

@_cdecl("sp_network_set_parameters")
public func sp_network_set_parameters(
  _ handle: Int64, _ values: UnsafeRawPointer?, _ count: Int64,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let network = try HandleTable.shared.network(handle)
    guard count == Int64(network.parameterCount) else {
      throw ABIError.argument("expected \(network.parameterCount) parameter values, got \(count)")
    }
    guard let values else { throw ABIError.argument("values must not be NULL") }
    try network.setParameters(from: values, count: Int(count))
  }
}

@_cdecl("sp_network_get_generator")
public func sp_network_get_generator(
  _ handle: Int64, _ state: UnsafeMutablePointer<UInt64>?,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let network = try HandleTable.shared.network(handle)
    guard let state else { throw ABIError.argument("state must not be NULL") }
    state.pointee = network.generatorState
  }
}

@_cdecl("sp_network_set_generator")
public func sp_network_set_generator(
  _ handle: Int64, _ state: UInt64,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let network = try HandleTable.shared.network(handle)
    guard !network.isTraining else {
      throw EngineError(.busy, "cannot reseed while fit is running on this network")
    }
    network.generatorState = state
  }
}

@_cdecl("sp_network_reset_optimizer")
public func sp_network_reset_optimizer(
  _ handle: Int64, _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let network = try HandleTable.shared.network(handle)
    guard !network.isTraining else {
      throw EngineError(.busy, "cannot reset the optimizer while fit is running on this network")
    }
    network.resetOptimizer()
  }
}

@_cdecl("sp_network_get_optimizer")
public func sp_network_get_optimizer(
  _ handle: Int64, _ kind: UnsafeMutablePointer<Int32>?, _ step: UnsafeMutablePointer<Int64>?,
  _ first: UnsafeMutableRawPointer?, _ second: UnsafeMutableRawPointer?, _ count: Int64,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let network = try HandleTable.shared.network(handle)
    guard count == Int64(network.parameterCount), let kind, let step, let first else {
      throw ABIError.argument(
        "kind, step and first must not be NULL and count must be \(network.parameterCount), got \(count)")
    }
    let (code, steps) = network.getOptimizer(first: first, second: second)
    kind.pointee = code
    step.pointee = Int64(steps)
  }
}

@_cdecl("sp_network_set_optimizer")
public func sp_network_set_optimizer(
  _ handle: Int64, _ kind: Int32, _ step: Int64, _ first: UnsafeRawPointer?,
  _ second: UnsafeRawPointer?, _ count: Int64,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let network = try HandleTable.shared.network(handle)
    guard let optimizerKind = OptimizerKind(code: kind) else {
      throw ABIError.argument("unknown optimizer code \(kind)")
    }
    guard count == Int64(network.parameterCount), let first else {
      throw ABIError.argument("first must hold \(network.parameterCount) values, got \(count)")
    }
    try network.setOptimizer(kind: optimizerKind, step: Int(step), first: first, second: second)
  }
}

// MARK: - Computation

/// The checks shared by every call that reads samples: handle, pointers,
/// sizes, finiteness.
private func samples(
  _ handle: Int64, _ x: UnsafeRawPointer?, _ y: UnsafeRawPointer?, rows: Int64,
  xColumns: Int64, yColumns: Int64, names: (String, String) = ("X", "y")
) throws -> (AnyNetwork, UnsafeRawPointer, UnsafeRawPointer) {
  let network = try HandleTable.shared.network(handle)
  let xCount = try checkedCount(names.0, x, rows: rows, columns: xColumns,
                                expectedColumns: network.inputCount)
  let yCount = try checkedCount(names.1, y, rows: rows, columns: yColumns,
                                expectedColumns: network.outputCount)
  guard network.allFinite(x!, count: xCount) else {
    throw EngineError(.invalidValue, "\(names.0) contains NaN or infinity")
  }
  guard network.allFinite(y!, count: yCount) else {
    throw EngineError(.invalidValue, "\(names.1) contains NaN or infinity")
  }
  return (network, x!, y!)
}

@_cdecl("sp_network_predict")
public func sp_network_predict(
  _ handle: Int64, _ x: UnsafeRawPointer?, _ rows: Int64, _ columns: Int64,
  _ out: UnsafeMutableRawPointer?, _ outCount: Int64,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let network = try HandleTable.shared.network(handle)
    let count = try checkedCount("X", x, rows: rows, columns: columns,
                                 expectedColumns: network.inputCount)
    guard try outCount == Int64(product(Int(rows), network.outputCount)), let out else {
      throw ABIError.argument("out must hold \(rows) x \(network.outputCount) values, got \(outCount)")
    }
    guard network.allFinite(x!, count: count) else {
      throw EngineError(.invalidValue, "X contains NaN or infinity")
    }
    try network.predictErased(x!, rows: Int(rows), into: out)
  }
}

@_cdecl("sp_network_loss")
public func sp_network_loss(
  _ handle: Int64, _ x: UnsafeRawPointer?, _ y: UnsafeRawPointer?, _ rows: Int64,
  _ xColumns: Int64, _ yColumns: Int64, _ loss: UnsafeMutablePointer<Double>?,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let (network, x, y) = try samples(handle, x, y, rows: rows, xColumns: xColumns, yColumns: yColumns)
    guard let loss else { throw ABIError.argument("loss must not be NULL") }
    loss.pointee = try network.lossValueErased(x, y, rows: Int(rows))
  }
}

@_cdecl("sp_network_gradients")
public func sp_network_gradients(
  _ handle: Int64, _ x: UnsafeRawPointer?, _ y: UnsafeRawPointer?, _ rows: Int64,
  _ xColumns: Int64, _ yColumns: Int64, _ out: UnsafeMutableRawPointer?, _ outCount: Int64,
  _ loss: UnsafeMutablePointer<Double>?,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let (network, x, y) = try samples(handle, x, y, rows: rows, xColumns: xColumns, yColumns: yColumns)
    guard outCount == Int64(network.parameterCount), let out else {
      throw ABIError.argument("out must hold \(network.parameterCount) values, got \(outCount)")
    }
    let value = try network.gradientsErased(x, y, rows: Int(rows), into: out)
    loss?.pointee = value
  }
}

@_cdecl("sp_network_numerical_gradients")
public func sp_network_numerical_gradients(
  _ handle: Int64, _ x: UnsafeRawPointer?, _ y: UnsafeRawPointer?, _ rows: Int64,
  _ xColumns: Int64, _ yColumns: Int64, _ epsilon: Double,
  _ out: UnsafeMutablePointer<Double>?, _ outCount: Int64,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let (network, x, y) = try samples(handle, x, y, rows: rows, xColumns: xColumns, yColumns: yColumns)
    guard epsilon.isFinite, epsilon > 0 else { throw ABIError.argument("eps must be > 0, got \(epsilon)") }
    guard outCount == Int64(network.parameterCount), let out else {
      throw ABIError.argument("out must hold \(network.parameterCount) values, got \(outCount)")
    }
    try network.numericalGradientsErased(x, y, rows: Int(rows), epsilon: epsilon, into: out)
  }
}

@_cdecl("sp_network_forward")
public func sp_network_forward(
  _ handle: Int64, _ x: UnsafeRawPointer?, _ rows: Int64, _ columns: Int64,
  _ z: UnsafeMutableRawPointer?, _ a: UnsafeMutableRawPointer?, _ count: Int64,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let network = try HandleTable.shared.network(handle)
    let xCount = try checkedCount("X", x, rows: rows, columns: columns,
                                  expectedColumns: network.inputCount)
    let width = network.traceWidth
    guard try count == Int64(product(Int(rows), width)), let z, let a else {
      throw ABIError.argument("z and a must each hold \(rows) x \(width) values, got \(count)")
    }
    guard network.allFinite(x!, count: xCount) else {
      throw EngineError(.invalidValue, "X contains NaN or infinity")
    }
    try network.forwardErased(x!, rows: Int(rows), z: z, a: a)
  }
}

@_cdecl("sp_network_backward")
public func sp_network_backward(
  _ handle: Int64, _ x: UnsafeRawPointer?, _ y: UnsafeRawPointer?, _ rows: Int64,
  _ xColumns: Int64, _ yColumns: Int64, _ deltas: UnsafeMutableRawPointer?, _ count: Int64,
  _ gradients: UnsafeMutableRawPointer?, _ gradientCount: Int64,
  _ dx: UnsafeMutableRawPointer?, _ dxCount: Int64, _ loss: UnsafeMutablePointer<Double>?,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let (network, x, y) = try samples(handle, x, y, rows: rows, xColumns: xColumns, yColumns: yColumns)
    let width = network.traceWidth
    guard try count == Int64(product(Int(rows), width)), let deltas else {
      throw ABIError.argument("deltas must hold \(rows) x \(width) values, got \(count)")
    }
    guard gradientCount == Int64(network.parameterCount), let gradients else {
      throw ABIError.argument("gradients must hold \(network.parameterCount) values, got \(gradientCount)")
    }
    guard try dxCount == Int64(product(Int(rows), network.inputCount)), let dx else {
      throw ABIError.argument("dx must hold \(rows) x \(network.inputCount) values, got \(dxCount)")
    }
    let value = try network.backwardErased(
      x, y, rows: Int(rows), deltas: deltas, gradients: gradients, inputGradient: dx)
    loss?.pointee = value
  }
}

/// The optimizer settings from their C form, checked.
private func optimizerConfig(_ optimizer: UnsafePointer<sp_optimizer>?) throws -> OptimizerConfig {
  guard let o = optimizer?.pointee else { throw ABIError.argument("optimizer must not be NULL") }
  guard let kind = OptimizerKind(code: o.kind) else {
    throw ABIError.argument("unknown optimizer code \(o.kind)")
  }
  let expected = kind.settingNames.count
  guard o.count == expected, let values = o.values else {
    throw ABIError.argument(
      "\(kind.name) takes \(expected) settings (\(kind.settingNames.joined(separator: ", "))), got \(o.count)")
  }
  let config = OptimizerConfig(kind: kind, values: Array(UnsafeBufferPointer(start: values, count: expected)))
  if let problem = config.problem { throw ABIError.argument(problem) }
  return config
}

@_cdecl("sp_network_train_step")
public func sp_network_train_step(
  _ handle: Int64, _ x: UnsafeRawPointer?, _ y: UnsafeRawPointer?, _ rows: Int64,
  _ xColumns: Int64, _ yColumns: Int64, _ optimizer: UnsafePointer<sp_optimizer>?,
  _ loss: UnsafeMutablePointer<Double>?,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let (network, x, y) = try samples(handle, x, y, rows: rows, xColumns: xColumns, yColumns: yColumns)
    let config = try optimizerConfig(optimizer)
    let value = try network.trainStepErased(x, y, rows: Int(rows), config: config)
    loss?.pointee = value
  }
}

@_cdecl("sp_network_fit")
public func sp_network_fit(
  _ handle: Int64, _ x: UnsafeRawPointer?, _ y: UnsafeRawPointer?, _ rows: Int64,
  _ xColumns: Int64, _ yColumns: Int64,
  _ validationX: UnsafeRawPointer?, _ validationY: UnsafeRawPointer?, _ validationRows: Int64,
  _ optimizer: UnsafePointer<sp_optimizer>?, _ options: UnsafePointer<sp_fit_options>?,
  _ callback: sp_fit_callback?, _ context: UnsafeMutableRawPointer?,
  _ lossHistory: UnsafeMutablePointer<Double>?, _ validationHistory: UnsafeMutablePointer<Double>?,
  _ gradientNorms: UnsafeMutablePointer<Double>?, _ historyCapacity: Int64, _ result: UnsafeMutablePointer<sp_fit_result>?,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let (network, x, y) = try samples(handle, x, y, rows: rows, xColumns: xColumns, yColumns: yColumns)
    let config = try optimizerConfig(optimizer)
    guard let o = options?.pointee else { throw ABIError.argument("options must not be NULL") }
    guard o.epochs >= 1, o.batch_size >= 1, o.patience >= 1, o.report_every >= 0,
      o.poll_interval_ns >= 0, !o.tolerance.isNaN
    else {
      throw ABIError.argument(
        "epochs, batch_size and patience must be >= 1, report_every and poll_interval_ns >= 0, tolerance not NaN")
    }
    guard let lossHistory, historyCapacity >= o.epochs, let result else {
      throw ABIError.argument("loss_history must hold \(o.epochs) values and result must not be NULL")
    }
    if validationRows > 0 {
      _ = try samples(handle, validationX, validationY, rows: validationRows, xColumns: xColumns,
                      yColumns: yColumns, names: ("validation X", "validation y"))
      guard validationHistory != nil else {
        throw ABIError.argument("val_history must not be NULL with validation data")
      }
    } else if validationRows < 0 {
      throw ABIError.argument("val_rows must be >= 0, got \(validationRows)")
    }
    let fitOptions = FitOptions(
      epochs: Int(o.epochs), batchSize: Int(min(o.batch_size, rows)), shuffle: o.shuffle != 0,
      reportEvery: Int(o.report_every), tolerance: o.tolerance, patience: Int(o.patience),
      pollInterval: UInt64(o.poll_interval_ns))
    let outcome = try network.fitErased(
      x, y, rows: Int(rows), validationX: validationX, validationY: validationY,
      validationRows: Int(validationRows), config: config, options: fitOptions,
      lossHistory: lossHistory, validationHistory: validationHistory, gradientNorms: gradientNorms
    ) { event in
      guard let callback else { return .proceed }
      let answer: Int32
      switch event {
      case .poll:
        answer = callback(context, 0, -1, .nan, .nan)
      case .epochEnd(let epoch, let loss, let validationLoss):
        answer = callback(context, 1, Int64(epoch), loss, validationLoss)
      }
      return answer == 0 ? .proceed : answer == 1 ? .stop : .abort
    }
    result.pointee = sp_fit_result(epochs: Int64(outcome.epochs), stop_reason: outcome.reason.code)
    if outcome.reason == .interrupted {
      throw ABIError(status: Int32(SP_CALLBACK_ERROR), message: "fit was stopped by its callback")
    }
  }
}

// MARK: - Vocabulary

@_cdecl("sp_name")
public func sp_name(
  _ vocabulary: Int32, _ code: Int32, _ name: UnsafeMutablePointer<CChar>?, _ capacity: Int64
) -> Int32 {
  guard let list = Vocabulary(code: vocabulary) else {
    write("unknown vocabulary \(vocabulary)", to: name, capacity: capacity)
    return Status.invalidArgument.code
  }
  guard let found = list.name(of: code) else {
    write("unknown \(list.name) code \(code)", to: name, capacity: capacity)
    return Status.invalidArgument.code
  }
  write(found, to: name, capacity: capacity)
  return Status.ok.code
}

@_cdecl("sp_loss_info")
public func sp_loss_info(
  _ loss: Int32, _ outputActivation: UnsafeMutablePointer<Int32>?,
  _ takesLabels: UnsafeMutablePointer<Int32>?,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    guard let kind = Loss(code: loss) else { throw ABIError.argument("unknown loss code \(loss)") }
    guard let outputActivation, let takesLabels else {
      throw ABIError.argument("output_activation and takes_labels must not be NULL")
    }
    outputActivation.pointee = kind.requiredOutput?.code ?? -1
    takesLabels.pointee = kind.takesLabels ? 1 : 0
  }
}

@_cdecl("sp_optimizer_info")
public func sp_optimizer_info(
  _ kind: Int32, _ settings: UnsafeMutablePointer<Int32>?,
  _ stateVectors: UnsafeMutablePointer<Int32>?,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    guard let optimizer = OptimizerKind(code: kind) else {
      throw ABIError.argument("unknown optimizer code \(kind)")
    }
    guard let settings, let stateVectors else {
      throw ABIError.argument("settings and state_vectors must not be NULL")
    }
    settings.pointee = Int32(optimizer.settingNames.count)
    stateVectors.pointee = Int32(optimizer.stateVectors)
  }
}

@_cdecl("sp_optimizer_setting")
public func sp_optimizer_setting(
  _ kind: Int32, _ index: Int32, _ name: UnsafeMutablePointer<CChar>?, _ capacity: Int64
) -> Int32 {
  guard let optimizer = OptimizerKind(code: kind) else {
    write("unknown optimizer code \(kind)", to: name, capacity: capacity)
    return Status.invalidArgument.code
  }
  let names = optimizer.settingNames
  guard index >= 0, Int(index) < names.count else {
    write("\(optimizer.name) has no setting \(index)", to: name, capacity: capacity)
    return Status.invalidArgument.code
  }
  write(names[Int(index)], to: name, capacity: capacity)
  return Status.ok.code
}
