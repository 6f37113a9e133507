import SwiftpropCore

/// A network of either element type: the ABI sees data only as raw
/// pointers and a dtype code, so the element type is erased here, at the
/// boundary, and nowhere in the core.
///
/// Every operation is a `NetworkOperation`, a value holding its raw
/// arguments with one generic `callAsFunction`; `run` opens the case and
/// calls it on `Network<Float>` or `Network<Double>`, so the core runs
/// specialised for each (through a protocol existential it would run its
/// generic code, several times slower). One switch, instead of a forwarder
/// per operation.
enum AnyNetwork {
  case float32(Network<Float>)
  case float64(Network<Double>)

  @inline(__always)
  func run<Operation: NetworkOperation>(_ operation: Operation) throws -> Operation.Result {
    switch self {
    case .float32(let network): try operation(network)
    case .float64(let network): try operation(network)
    }
  }

  /// What every export may ask without knowing the element type.
  var description: Description {
    switch self {
    case .float32(let network): Describe()(network)
    case .float64(let network): Describe()(network)
    }
  }
  var inputCount: Int { description.inputs }
  var outputCount: Int { description.outputs }
  var parameterCount: Int { description.parameters }
  var isTraining: Bool { description.training }
}

/// An engine operation on a network of either element type.
protocol NetworkOperation {
  associatedtype Result
  func callAsFunction<T: Scalar>(_ network: Network<T>) throws -> Result
}

/// The element-type-independent facts of a network.
struct Description {
  var dtype: DType
  var layers, inputs, outputs, parameters, traceWidth: Int
  var training: Bool
}

struct Describe: NetworkOperation {
  func callAsFunction<T: Scalar>(_ network: Network<T>) -> Description {
    Description(
      dtype: T.dtype, layers: network.layers.count, inputs: network.inputCount,
      outputs: network.outputCount, parameters: network.parameterCount,
      traceWidth: network.traceWidth, training: network.isTraining)
  }
}

/// Raw memory from the C caller, viewed as the network's element type.
/// The exports have checked the pointer and the sizes against the network;
/// the views carry them into the core, which checks them again.
extension UnsafeRawPointer {
  func matrix<T: Scalar>(_ rows: Int, _ columns: Int) throws -> Matrix<T> {
    try Matrix(
      UnsafeBufferPointer(start: assumingMemoryBound(to: T.self), count: rows * columns),
      rows: rows, columns: columns)
  }
}

extension UnsafeMutableRawPointer {
  func matrix<T: Scalar>(_ rows: Int, _ columns: Int) throws -> MutableMatrix<T> {
    try MutableMatrix(
      UnsafeMutableBufferPointer(start: assumingMemoryBound(to: T.self), count: rows * columns),
      rows: rows, columns: columns)
  }
}

extension UnsafeMutablePointer<Double> {
  func matrix(_ rows: Int, _ columns: Int) throws -> MutableMatrix<Double> {
    try MutableMatrix(UnsafeMutableBufferPointer(start: self, count: rows * columns), rows: rows, columns: columns)
  }
}
