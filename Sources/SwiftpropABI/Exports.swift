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
    guard layerCount >= 1, layerCount <= Dense.maximumLayers else {
      throw ABIError.argument(
        "layer_count must be in [1, \(Dense.maximumLayers)], got \(layerCount)")
    }
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
    switch DType(code: dtype) {
    case .float32:
      network = .float32(try Network(layers: layers, loss: lossKind, initializer: initKind, seed: seed))
    case .float64:
      network = .float64(try Network(layers: layers, loss: lossKind, initializer: initKind, seed: seed))
    case nil:
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
    let facts = network.description
    description.pointee = sp_network_description(
      dtype: facts.dtype.code, layer_count: Int32(facts.layers), inputs: Int64(facts.inputs),
      outputs: Int64(facts.outputs), parameter_count: Int64(facts.parameters))
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
    struct CopyParameters: NetworkOperation {
      let out: UnsafeMutableRawPointer
      func callAsFunction<T: Scalar>(_ n: Network<T>) throws {
        try n.copyParameters(into: out.matrix(1, n.parameterCount))
      }
    }
    try network.run(CopyParameters(out: values))
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
    struct SetParameters: NetworkOperation {
      let values: UnsafeRawPointer
      func callAsFunction<T: Scalar>(_ n: Network<T>) throws {
        try n.setParameters(values.matrix(1, n.parameterCount))
      }
    }
    try network.run(SetParameters(values: values))
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
    struct GetGenerator: NetworkOperation {
      func callAsFunction<T: Scalar>(_ n: Network<T>) -> UInt64 { n.generator.state }
    }
    state.pointee = try network.run(GetGenerator())
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
    struct SetGenerator: NetworkOperation {
      let state: UInt64
      func callAsFunction<T: Scalar>(_ n: Network<T>) { n.generator.state = state }
    }
    try network.run(SetGenerator(state: state))
  }
}

@_cdecl("sp_network_set_dropout")
public func sp_network_set_dropout(
  _ handle: Int64, _ rates: UnsafePointer<Double>?, _ count: Int64,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let network = try HandleTable.shared.network(handle)
    let layers = network.description.layers
    guard count == Int64(layers) else {
      throw ABIError.argument("dropout needs one rate per layer (\(layers)), got \(count)")
    }
    guard let rates else { throw ABIError.argument("rates must not be NULL") }
    struct SetDropout: NetworkOperation {
      let rates: [Double]
      func callAsFunction<T: Scalar>(_ n: Network<T>) throws { try n.setDropout(rates) }
    }
    // One Double per layer, at most Dense.maximumLayers: a small array.
    try network.run(SetDropout(rates: Array(UnsafeBufferPointer(start: rates, count: layers))))
  }
}

@_cdecl("sp_network_get_dropout")
public func sp_network_get_dropout(
  _ handle: Int64, _ rates: UnsafeMutablePointer<Double>?, _ count: Int64,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let network = try HandleTable.shared.network(handle)
    let layers = network.description.layers
    guard count == Int64(layers) else {
      throw ABIError.argument("dropout has one rate per layer (\(layers)), got room for \(count)")
    }
    guard let rates else { throw ABIError.argument("rates must not be NULL") }
    struct GetDropout: NetworkOperation {
      let out: UnsafeMutablePointer<Double>
      func callAsFunction<T: Scalar>(_ n: Network<T>) {
        for (l, p) in n.dropout.enumerated() { out[l] = p }
      }
    }
    try network.run(GetDropout(out: rates))
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
    struct ResetOptimizer: NetworkOperation {
      func callAsFunction<T: Scalar>(_ n: Network<T>) { n.resetOptimizer() }
    }
    try network.run(ResetOptimizer())
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
    struct CopyOptimizer: NetworkOperation {
      let first: UnsafeMutableRawPointer, second: UnsafeMutableRawPointer?
      func callAsFunction<T: Scalar>(_ n: Network<T>) throws -> (kind: OptimizerKind, step: Int)? {
        let vectors: [MutableMatrix<T>] = try [first, second].compactMap {
          try $0?.matrix(1, n.parameterCount)
        }
        // A kind with fewer state vectors than the caller has room for
        // copies only its own.
        let kept = n.optimizerKind.map { min($0.stateVectors, vectors.count) } ?? 0
        return try n.copyOptimizerState(into: Array(vectors.prefix(kept)))
      }
    }
    let saved = try network.run(CopyOptimizer(first: first, second: second))
    kind.pointee = saved?.kind.code ?? -1
    step.pointee = Int64(saved?.step ?? 0)
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
    guard step >= 0, step <= Int64(Int.max) else {
      throw ABIError.argument("step must be >= 0, got \(step)")
    }
    struct RestoreOptimizer: NetworkOperation {
      let kind: OptimizerKind, step: Int, first: UnsafeRawPointer, second: UnsafeRawPointer?
      func callAsFunction<T: Scalar>(_ n: Network<T>) throws {
        let vectors: [Matrix<T>] = try [first, second].compactMap {
          try $0?.matrix(1, n.parameterCount)
        }
        try n.restoreOptimizer(kind: kind, step: step, vectors: vectors)
      }
    }
    try network.run(
      RestoreOptimizer(kind: optimizerKind, step: Int(step), first: first, second: second))
  }
}

// MARK: - Computation

/// The checks shared by every call that reads samples: handle, pointers,
/// sizes, finiteness.
private func samples(
  _ handle: Int64, _ x: UnsafeRawPointer?, _ y: UnsafeRawPointer?, rows: Int64,
  xColumns: Int64, yColumns: Int64, weights: UnsafeRawPointer? = nil,
  names: (String, String) = ("X", "y")
) throws -> (AnyNetwork, Samples) {
  let network = try HandleTable.shared.network(handle)
  let xCount = try checkedCount(names.0, x, rows: rows, columns: xColumns,
                                expectedColumns: network.inputCount)
  let yCount = try checkedCount(names.1, y, rows: rows, columns: yColumns,
                                expectedColumns: network.outputCount)
  guard try network.run(AllFinite(values: x!, count: xCount)) else {
    throw EngineError(.invalidValue, "\(names.0) contains NaN or infinity")
  }
  guard try network.run(AllFinite(values: y!, count: yCount)) else {
    throw EngineError(.invalidValue, "\(names.1) contains NaN or infinity")
  }
  return (network, Samples(x: x!, y: y!, weights: weights, rows: Int(rows)))
}

/// Checked samples, viewed in the network's element type by the operations;
/// the weights (one per row, or nil) are checked by the core.
struct Samples {
  let x, y: UnsafeRawPointer
  let weights: UnsafeRawPointer?
  let rows: Int

  func views<T: Scalar>(for network: Network<T>) throws -> (Matrix<T>, Matrix<T>) {
    (try x.matrix(rows, network.inputCount), try y.matrix(rows, network.outputCount))
  }

  func weightView<T: Scalar>(for network: Network<T>) throws -> Matrix<T>? {
    try weights?.matrix(rows, 1)
  }
}

struct AllFinite: NetworkOperation {
  let values: UnsafeRawPointer
  let count: Int
  func callAsFunction<T: Scalar>(_ n: Network<T>) -> Bool {
    allFinite(values.assumingMemoryBound(to: T.self), count: count)
  }
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
    guard try network.run(AllFinite(values: x!, count: count)) else {
      throw EngineError(.invalidValue, "X contains NaN or infinity")
    }
    struct Predict: NetworkOperation {
      let x: UnsafeRawPointer, rows: Int, out: UnsafeMutableRawPointer
      func callAsFunction<T: Scalar>(_ n: Network<T>) throws {
        try n.predict(x.matrix(rows, n.inputCount), into: out.matrix(rows, n.outputCount))
      }
    }
    try network.run(Predict(x: x!, rows: Int(rows), out: out))
  }
}

@_cdecl("sp_network_loss")
public func sp_network_loss(
  _ handle: Int64, _ x: UnsafeRawPointer?, _ y: UnsafeRawPointer?, _ rows: Int64,
  _ xColumns: Int64, _ yColumns: Int64, _ sampleWeight: UnsafeRawPointer?,
  _ loss: UnsafeMutablePointer<Double>?,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let (network, data) = try samples(
      handle, x, y, rows: rows, xColumns: xColumns, yColumns: yColumns, weights: sampleWeight)
    guard let loss else { throw ABIError.argument("loss must not be NULL") }
    struct Loss: NetworkOperation {
      let data: Samples
      func callAsFunction<T: Scalar>(_ n: Network<T>) throws -> Double {
        let (x, y) = try data.views(for: n)
        return try n.lossValue(x, y, weights: data.weightView(for: n))
      }
    }
    loss.pointee = try network.run(Loss(data: data))
  }
}

@_cdecl("sp_network_gradients")
public func sp_network_gradients(
  _ handle: Int64, _ x: UnsafeRawPointer?, _ y: UnsafeRawPointer?, _ rows: Int64,
  _ xColumns: Int64, _ yColumns: Int64, _ sampleWeight: UnsafeRawPointer?,
  _ out: UnsafeMutableRawPointer?, _ outCount: Int64,
  _ loss: UnsafeMutablePointer<Double>?,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let (network, data) = try samples(
      handle, x, y, rows: rows, xColumns: xColumns, yColumns: yColumns, weights: sampleWeight)
    guard outCount == Int64(network.parameterCount), let out else {
      throw ABIError.argument("out must hold \(network.parameterCount) values, got \(outCount)")
    }
    struct Gradients: NetworkOperation {
      let data: Samples, out: UnsafeMutableRawPointer
      func callAsFunction<T: Scalar>(_ n: Network<T>) throws -> Double {
        let (x, y) = try data.views(for: n)
        return try n.gradients(
          x, y, weights: data.weightView(for: n), into: out.matrix(1, n.parameterCount))
      }
    }
    let value = try network.run(Gradients(data: data, out: out))
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
    let (network, data) = try samples(handle, x, y, rows: rows, xColumns: xColumns, yColumns: yColumns)
    guard epsilon.isFinite, epsilon > 0 else { throw ABIError.argument("eps must be > 0, got \(epsilon)") }
    guard outCount == Int64(network.parameterCount), let out else {
      throw ABIError.argument("out must hold \(network.parameterCount) values, got \(outCount)")
    }
    struct NumericalGradients: NetworkOperation {
      let data: Samples, epsilon: Double, out: UnsafeMutablePointer<Double>
      func callAsFunction<T: Scalar>(_ n: Network<T>) throws {
        let (x, y) = try data.views(for: n)
        try n.numericalGradients(x, y, epsilon: epsilon, into: out.matrix(1, n.parameterCount))
      }
    }
    try network.run(NumericalGradients(data: data, epsilon: epsilon, out: out))
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
    let width = network.description.traceWidth
    guard try count == Int64(product(Int(rows), width)), let z, let a else {
      throw ABIError.argument("z and a must each hold \(rows) x \(width) values, got \(count)")
    }
    guard try network.run(AllFinite(values: x!, count: xCount)) else {
      throw EngineError(.invalidValue, "X contains NaN or infinity")
    }
    struct Forward: NetworkOperation {
      let x: UnsafeRawPointer, rows: Int, z: UnsafeMutableRawPointer, a: UnsafeMutableRawPointer
      func callAsFunction<T: Scalar>(_ n: Network<T>) throws {
        try n.forwardTrace(
          x.matrix(rows, n.inputCount), z: z.matrix(1, rows * n.traceWidth),
          a: a.matrix(1, rows * n.traceWidth))
      }
    }
    try network.run(Forward(x: x!, rows: Int(rows), z: z, a: a))
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
    let (network, data) = try samples(handle, x, y, rows: rows, xColumns: xColumns, yColumns: yColumns)
    let width = network.description.traceWidth
    guard try count == Int64(product(Int(rows), width)), let deltas else {
      throw ABIError.argument("deltas must hold \(rows) x \(width) values, got \(count)")
    }
    guard gradientCount == Int64(network.parameterCount), let gradients else {
      throw ABIError.argument("gradients must hold \(network.parameterCount) values, got \(gradientCount)")
    }
    guard try dxCount == Int64(product(Int(rows), network.inputCount)), let dx else {
      throw ABIError.argument("dx must hold \(rows) x \(network.inputCount) values, got \(dxCount)")
    }
    struct Backward: NetworkOperation {
      let data: Samples
      let deltas, gradients, dx: UnsafeMutableRawPointer
      func callAsFunction<T: Scalar>(_ n: Network<T>) throws -> Double {
        let (x, y) = try data.views(for: n)
        return try n.backwardTrace(
          x, y, deltas: deltas.matrix(1, data.rows * n.traceWidth),
          gradients: gradients.matrix(1, n.parameterCount),
          inputGradient: dx.matrix(data.rows, n.inputCount))
      }
    }
    let value = try network.run(
      Backward(data: data, deltas: deltas, gradients: gradients, dx: dx))
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
  _ xColumns: Int64, _ yColumns: Int64, _ sampleWeight: UnsafeRawPointer?,
  _ optimizer: UnsafePointer<sp_optimizer>?,
  _ loss: UnsafeMutablePointer<Double>?,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let (network, data) = try samples(
      handle, x, y, rows: rows, xColumns: xColumns, yColumns: yColumns, weights: sampleWeight)
    let config = try optimizerConfig(optimizer)
    struct TrainStep: NetworkOperation {
      let data: Samples, config: OptimizerConfig
      func callAsFunction<T: Scalar>(_ n: Network<T>) throws -> Double {
        let (x, y) = try data.views(for: n)
        return try n.trainStep(x, y, weights: data.weightView(for: n), config: config)
      }
    }
    let value = try network.run(TrainStep(data: data, config: config))
    loss?.pointee = value
  }
}

@_cdecl("sp_network_fit")
public func sp_network_fit(
  _ handle: Int64, _ x: UnsafeRawPointer?, _ y: UnsafeRawPointer?, _ rows: Int64,
  _ xColumns: Int64, _ yColumns: Int64,
  _ validationX: UnsafeRawPointer?, _ validationY: UnsafeRawPointer?, _ validationRows: Int64,
  _ optimizer: UnsafePointer<sp_optimizer>?, _ options: UnsafePointer<sp_fit_options>?,
  _ extrasPointer: UnsafeMutablePointer<sp_fit_extras>?,
  _ callback: sp_fit_callback?, _ context: UnsafeMutableRawPointer?,
  _ lossHistory: UnsafeMutablePointer<Double>?, _ validationHistory: UnsafeMutablePointer<Double>?,
  _ gradientNorms: UnsafeMutablePointer<Double>?, _ historyCapacity: Int64,
  _ result: UnsafeMutablePointer<sp_fit_result>?,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let extras = extrasPointer?.pointee
    let (network, data) = try samples(
      handle, x, y, rows: rows, xColumns: xColumns, yColumns: yColumns,
      weights: extras?.sample_weight)
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
    var validation: Samples?
    if validationRows > 0 {
      validation = try samples(
        handle, validationX, validationY, rows: validationRows, xColumns: xColumns,
        yColumns: yColumns, weights: extras?.val_sample_weight,
        names: ("validation X", "validation y")
      ).1
      guard validationHistory != nil else {
        throw ABIError.argument("val_history must not be NULL with validation data")
      }
    } else if validationRows < 0 {
      throw ABIError.argument("val_rows must be >= 0, got \(validationRows)")
    } else if extras?.val_sample_weight != nil {
      throw ABIError.argument("val_sample_weight needs validation data")
    }
    let capacity = Int(historyCapacity)
    var history = try FitHistory(
      loss: lossHistory.matrix(1, capacity),
      validationLoss: validation == nil ? nil : validationHistory?.matrix(1, capacity),
      gradientNorms: gradientNorms?.matrix(capacity, network.description.layers))
    var fitOptions = FitOptions(
      epochs: Int(o.epochs), batchSize: Int(min(o.batch_size, rows)), shuffle: o.shuffle != 0,
      reportEvery: Int(o.report_every), tolerance: o.tolerance, patience: Int(o.patience),
      pollInterval: UInt64(o.poll_interval_ns))
    if let extras {
      fitOptions.schedule = try schedule(extras.schedule)
      if extras.monitor != -1 {
        guard let monitor = Monitor(code: extras.monitor) else {
          throw ABIError.argument("unknown monitor code \(extras.monitor)")
        }
        fitOptions.monitor = monitor
      }
      fitOptions.restoreBest = extras.restore_best != 0
      guard extras.metrics & ~3 == 0 else {
        throw ABIError.argument("unknown metric bits \(extras.metrics)")
      }
      fitOptions.metrics = Metrics(rawValue: extras.metrics)
      fitOptions.l2PerSample = extras.l2_per_sample != 0
      fitOptions.lossScale = extras.loss_scale == 0 ? 1 : extras.loss_scale
      fitOptions.penaltyScale = extras.penalty_scale
      history.learningRate = try extras.lr_history?.matrix(1, capacity)
      history.accuracy = try extras.accuracy_history?.matrix(1, capacity)
      history.validationAccuracy = try extras.val_accuracy_history?.matrix(1, capacity)
      history.r2 = try extras.r2_history?.matrix(1, capacity)
      history.validationR2 = try extras.val_r2_history?.matrix(1, capacity)
      history.penalty = try extras.l2_history?.matrix(1, capacity)
      history.numpyShuffle = extras.numpy_shuffle_state
    }
    let handler: (FitEvent) -> FitControl = { event in
      guard let callback else { return .proceed }
      var answer: Int32
      switch event {
      case .poll:
        var unused = Double.nan
        answer = callback(context, 0, -1, .nan, .nan, &unused)
      case .epochEnd(let epoch, let loss, let validationLoss, let rate):
        var newRate = rate
        answer = callback(context, 1, Int64(epoch), loss, validationLoss, &newRate)
        if answer == 0 && newRate != rate {
          guard newRate.isFinite, newRate > 0 else { return .abort }
          return .rate(newRate)
        }
      }
      return answer == 0 ? .proceed : answer == 1 ? .stop : .abort
    }
    struct Fit: NetworkOperation {
      let data: Samples, validation: Samples?, config: OptimizerConfig, options: FitOptions
      let history: FitHistory, handler: (FitEvent) -> FitControl
      func callAsFunction<T: Scalar>(_ n: Network<T>) throws -> FitOutcome {
        let (x, y) = try data.views(for: n)
        return try n.fit(
          x, y, weights: data.weightView(for: n),
          validation: try validation.map { try $0.views(for: n) },
          validationWeights: try validation?.weightView(for: n), config: config,
          options: options, history: history, handler: handler)
      }
    }
    let outcome = try withoutActuallyEscaping(handler) { handler in
      try network.run(
        Fit(
          data: data, validation: validation, config: config, options: fitOptions,
          history: history, handler: handler))
    }
    result.pointee = sp_fit_result(epochs: Int64(outcome.epochs), stop_reason: outcome.reason.code)
    extrasPointer?.pointee.restored_epoch = Int64(outcome.restoredEpoch)
    if outcome.reason == .interrupted {
      throw ABIError(status: Int32(SP_CALLBACK_ERROR), message: "fit was stopped by its callback")
    }
  }
}

/// A schedule from its C description.
private func schedule(_ s: sp_schedule) throws -> Schedule {
  guard let kind = ScheduleKind(code: s.kind) else {
    throw ABIError.argument("unknown schedule code \(s.kind)")
  }
  guard s.count >= 0, s.count <= 64, s.count == 0 || s.values != nil else {
    throw ABIError.argument("schedule values must hold count (0 to 64) values")
  }
  let values = (0..<Int(s.count)).map { s.values![$0] }
  guard s.warmup_epochs >= 0, s.warmup_epochs <= Int64(Int32.max) else {
    throw ABIError.argument("warmup_epochs must be in [0, 2^31), got \(s.warmup_epochs)")
  }
  let schedule = Schedule(
    kind: kind, values: values, warmupEpochs: Int(s.warmup_epochs), warmupStart: s.warmup_start)
  if let problem = schedule.problem { throw ABIError.argument(problem) }
  return schedule
}

@_cdecl("sp_schedule_info")
public func sp_schedule_info(
  _ kind: Int32, _ settings: UnsafeMutablePointer<Int32>?,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    guard let schedule = ScheduleKind(code: kind) else {
      throw ABIError.argument("unknown schedule code \(kind)")
    }
    guard let settings else { throw ABIError.argument("settings must not be NULL") }
    settings.pointee = Int32(schedule.settingNames.count)
  }
}

@_cdecl("sp_schedule_setting")
public func sp_schedule_setting(
  _ kind: Int32, _ index: Int32, _ name: UnsafeMutablePointer<CChar>?, _ capacity: Int64
) -> Int32 {
  guard let schedule = ScheduleKind(code: kind) else {
    write("unknown schedule code \(kind)", to: name, capacity: capacity)
    return Status.invalidArgument.code
  }
  let names = schedule.settingNames
  guard index >= 0, Int(index) < names.count else {
    write("\(schedule.name) has no setting \(index)", to: name, capacity: capacity)
    return Status.invalidArgument.code
  }
  write(names[Int(index)], to: name, capacity: capacity)
  return Status.ok.code
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

// MARK: - L-BFGS

@_cdecl("sp_network_fit_lbfgs")
public func sp_network_fit_lbfgs(
  _ handle: Int64, _ x: UnsafeRawPointer?, _ y: UnsafeRawPointer?, _ rows: Int64,
  _ xColumns: Int64, _ yColumns: Int64, _ sampleWeight: UnsafeRawPointer?,
  _ options: UnsafePointer<sp_lbfgs_options>?,
  _ callback: sp_fit_callback?, _ context: UnsafeMutableRawPointer?,
  _ lossHistory: UnsafeMutablePointer<Double>?, _ historyCapacity: Int64,
  _ result: UnsafeMutablePointer<sp_lbfgs_result>?,
  _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    let (network, data) = try samples(
      handle, x, y, rows: rows, xColumns: xColumns, yColumns: yColumns, weights: sampleWeight)
    guard let o = options?.pointee else { throw ABIError.argument("options must not be NULL") }
    guard o.poll_interval_ns >= 0 else {
      throw ABIError.argument("poll_interval_ns must be >= 0, got \(o.poll_interval_ns)")
    }
    guard o.max_iter >= 1, o.max_iter <= Int64(Int.max) else {
      throw ABIError.argument("max_iter must be >= 1, got \(o.max_iter)")
    }
    guard let lossHistory, historyCapacity >= o.max_iter, let result else {
      throw ABIError.argument(
        "loss_history must hold max_iter = \(o.max_iter) values (got room for \(historyCapacity)) and result must not be NULL")
    }
    let lbfgsOptions = LBFGSOptions(
      maxIterations: Int(o.max_iter), maxEvaluations: Int(o.max_fun), memory: Int(o.memory),
      gradientTolerance: o.gtol, relativeReduction: o.ftol, l2: o.l2, scale: o.scale,
      maxLineSearch: Int(o.max_ls), reportEvery: Int(o.report_every),
      pollInterval: UInt64(o.poll_interval_ns))
    if let problem = lbfgsOptions.problem { throw ABIError.argument(problem) }
    let history = try lossHistory.matrix(1, Int(historyCapacity))
    let handler: (FitEvent) -> FitControl = { event in
      guard let callback else { return .proceed }
      let answer: Int32
      // L-BFGS has no learning rate: the callback sees NaN, and a rate it
      // writes back is ignored.
      var rate = Double.nan
      switch event {
      case .poll:
        answer = callback(context, 0, -1, .nan, .nan, &rate)
      case .epochEnd(let iteration, let loss, _, _):
        answer = callback(context, 1, Int64(iteration), loss, .nan, &rate)
      }
      return answer == 0 ? .proceed : answer == 1 ? .stop : .abort
    }
    struct FitLBFGS: NetworkOperation {
      let data: Samples, options: LBFGSOptions, history: MutableMatrix<Double>
      let handler: (FitEvent) -> FitControl
      func callAsFunction<T: Scalar>(_ n: Network<T>) throws -> LBFGSOutcome {
        let (x, y) = try data.views(for: n)
        return try n.fitLBFGS(
          x, y, weights: data.weightView(for: n), options: options, history: history,
          handler: handler)
      }
    }
    let outcome = try withoutActuallyEscaping(handler) { handler in
      try network.run(
        FitLBFGS(data: data, options: lbfgsOptions, history: history, handler: handler))
    }
    result.pointee = sp_lbfgs_result(
      iterations: Int64(outcome.iterations), evaluations: Int64(outcome.evaluations),
      loss: outcome.value, stop_reason: outcome.reason.code)
    if outcome.reason == .interrupted {
      throw ABIError(status: Int32(SP_CALLBACK_ERROR), message: "fit was stopped by its callback")
    }
  }
}
