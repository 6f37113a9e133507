import CSwiftprop
import SwiftpropCore

#if canImport(Glibc)
  import Glibc
#endif

/// What the ABI needs of a network, with its element type erased: the data
/// pointers are raw and bound to the network's own scalar type here.
protocol EngineNetwork: AnyObject {
  var dtype: Int32 { get }
  var layerCount: Int { get }
  var inputCount: Int { get }
  var outputCount: Int { get }
  var parameterCount: Int { get }
  var isTraining: Bool { get }
  var generator: SeededGenerator { get set }
  func resetOptimizer()
  func copyParameters(to out: UnsafeMutableRawPointer)
  func setParameters(from values: UnsafeRawPointer, count: Int) throws
  func allFinite(_ values: UnsafeRawPointer, count: Int) -> Bool
  func predictErased(_ x: UnsafeRawPointer, rows: Int, into out: UnsafeMutableRawPointer) throws
  func lossValueErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int) throws -> Double
  func gradientsErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int,
                 into out: UnsafeMutableRawPointer) throws -> Double
  func numericalGradientsErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int,
                          epsilon: Double, into out: UnsafeMutablePointer<Double>) throws
  func trainStepErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int,
                 config: OptimizerConfig) throws -> Double
  func fitErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int,
           validationX: UnsafeRawPointer?, validationY: UnsafeRawPointer?, validationRows: Int,
           config: OptimizerConfig, options: FitOptions,
           lossHistory: UnsafeMutablePointer<Double>, validationHistory: UnsafeMutablePointer<Double>?,
           handler: (FitEvent) -> FitControl) throws -> FitOutcome
}

extension Network: EngineNetwork {
  var dtype: Int32 { T.dtypeCode }
  var layerCount: Int { layers.count }

  func copyParameters(to out: UnsafeMutableRawPointer) {
    let values = parameterValues
    values.withUnsafeBufferPointer { source in
      out.bindMemory(to: T.self, capacity: values.count)
        .update(from: source.baseAddress!, count: values.count)
    }
  }

  func setParameters(from values: UnsafeRawPointer, count: Int) throws {
    try setParameters(UnsafeBufferPointer(start: values.assumingMemoryBound(to: T.self), count: count))
  }

  func allFinite(_ values: UnsafeRawPointer, count: Int) -> Bool {
    SwiftpropCore.allFinite(values.assumingMemoryBound(to: T.self), count: count)
  }

  func predictErased(_ x: UnsafeRawPointer, rows: Int, into out: UnsafeMutableRawPointer) throws {
    try predict(x.assumingMemoryBound(to: T.self), rows: rows,
                into: out.assumingMemoryBound(to: T.self))
  }

  func lossValueErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int) throws -> Double {
    try lossValue(x.assumingMemoryBound(to: T.self), y.assumingMemoryBound(to: T.self), rows: rows)
  }

  func gradientsErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int,
                 into out: UnsafeMutableRawPointer) throws -> Double {
    try gradients(x.assumingMemoryBound(to: T.self), y.assumingMemoryBound(to: T.self),
                  rows: rows, into: out.assumingMemoryBound(to: T.self))
  }

  func numericalGradientsErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int,
                          epsilon: Double, into out: UnsafeMutablePointer<Double>) throws {
    try numericalGradients(x.assumingMemoryBound(to: T.self), y.assumingMemoryBound(to: T.self),
                           rows: rows, epsilon: epsilon, into: out)
  }

  func trainStepErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int,
                 config: OptimizerConfig) throws -> Double {
    try trainStep(x.assumingMemoryBound(to: T.self), y.assumingMemoryBound(to: T.self),
                  rows: rows, config: config)
  }

  func fitErased(_ x: UnsafeRawPointer, _ y: UnsafeRawPointer, rows: Int,
           validationX: UnsafeRawPointer?, validationY: UnsafeRawPointer?, validationRows: Int,
           config: OptimizerConfig, options: FitOptions,
           lossHistory: UnsafeMutablePointer<Double>, validationHistory: UnsafeMutablePointer<Double>?,
           handler: (FitEvent) -> FitControl) throws -> FitOutcome {
    var validation: ValidationData<T>? = nil
    if let validationX, let validationY, validationRows > 0 {
      validation = ValidationData(x: validationX.assumingMemoryBound(to: T.self),
                                  y: validationY.assumingMemoryBound(to: T.self),
                                  rows: validationRows)
    }
    return try fit(x.assumingMemoryBound(to: T.self), y.assumingMemoryBound(to: T.self), rows: rows,
                   validation: validation, config: config, options: options,
                   lossHistory: lossHistory, validationHistory: validationHistory, handler: handler)
  }
}

/// The live networks, by handle. Handles are never reused, so a stale or
/// made-up handle is reported instead of reaching freed memory.
final class HandleTable: @unchecked Sendable {
  static let shared = HandleTable()

  private var networks: [Int64: EngineNetwork] = [:]
  private var nextHandle: Int64 = 1
  private var mutex = pthread_mutex_t()

  private init() { pthread_mutex_init(&mutex, nil) }

  private func locked<R>(_ body: () -> R) -> R {
    pthread_mutex_lock(&mutex)
    defer { pthread_mutex_unlock(&mutex) }
    return body()
  }

  func insert(_ network: EngineNetwork) -> Int64 {
    locked {
      let handle = nextHandle
      nextHandle += 1
      networks[handle] = network
      return handle
    }
  }

  func remove(_ handle: Int64) -> EngineNetwork? {
    locked { networks.removeValue(forKey: handle) }
  }

  func network(_ handle: Int64) throws -> EngineNetwork {
    guard let network = locked({ networks[handle] }) else {
      throw ABIError(status: Int32(SP_INVALID_HANDLE), message: "no network has handle \(handle)")
    }
    return network
  }
}
