import CSwiftprop

/// A closed list of names the engine understands (activations, losses,
/// optimizers, …), each numbered once, in `swiftprop.h`.
///
/// A case's `name` is its raw value, as the Python API spells it; its
/// `code` is read from the header's `SP_*` constant, never renumbered here
/// (as swift-system reads `EPERM` from the C headers). The ABI tests check,
/// list by list, that every case has a distinct code below the header's
/// `*_COUNT` sentinel and that there are exactly that many cases.
public protocol Coded: CaseIterable, Hashable, Sendable, RawRepresentable
where RawValue == String {
  /// The `SP_*` code of this case.
  var code: Int32 { get }
}

extension Coded {
  /// The name the Python API uses ("leaky_relu").
  public var name: String { rawValue }

  /// The case with this `SP_*` code, or nil.
  public init?(code: Int32) {
    guard let found = Self.allCases.first(where: { $0.code == code }) else { return nil }
    self = found
  }
}

/// An `SP_*` constant of the header (imported from C as `Int`) as the
/// `Int32` code the ABI passes.
@inlinable func headerCode(_ constant: Int) -> Int32 { Int32(constant) }

/// The outcome of an engine call, as the C ABI reports it.
public enum Status: String, Coded {
  case ok, invalidArgument = "invalid_argument", invalidValue = "invalid_value"
  case outOfMemory = "out_of_memory", busy, diverged, invalidHandle = "invalid_handle"
  case callbackError = "callback_error"

  public var code: Int32 {
    switch self {
    case .ok: headerCode(SP_OK)
    case .invalidArgument: headerCode(SP_INVALID_ARGUMENT)  // a size, a name, a setting out of range
    case .invalidValue: headerCode(SP_INVALID_VALUE)  // NaN or infinity in the data
    case .outOfMemory: headerCode(SP_OUT_OF_MEMORY)
    case .busy: headerCode(SP_BUSY)  // the network is training (e.g. fit called from its callback)
    case .diverged: headerCode(SP_DIVERGED)  // the loss or a gradient became NaN or infinite
    case .invalidHandle: headerCode(SP_INVALID_HANDLE)
    case .callbackError: headerCode(SP_CALLBACK_ERROR)
    }
  }
}

/// The element types of a network's parameters and data.
public enum DType: String, Coded {
  case float32, float64

  public var code: Int32 {
    switch self {
    case .float32: headerCode(SP_FLOAT32)
    case .float64: headerCode(SP_FLOAT64)
    }
  }
}

/// The vocabularies of `sp_name`, in the header's order.
public enum Vocabulary: String, Coded {
  case status, dtype, activation, loss, initializer, optimizer, stopReason = "stop_reason"
  case schedule, monitor

  public var code: Int32 {
    switch self {
    case .status: headerCode(SP_VOCABULARY_STATUS)
    case .dtype: headerCode(SP_VOCABULARY_DTYPE)
    case .activation: headerCode(SP_VOCABULARY_ACTIVATION)
    case .loss: headerCode(SP_VOCABULARY_LOSS)
    case .initializer: headerCode(SP_VOCABULARY_INITIALIZER)
    case .optimizer: headerCode(SP_VOCABULARY_OPTIMIZER)
    case .stopReason: headerCode(SP_VOCABULARY_STOP_REASON)
    case .schedule: headerCode(SP_VOCABULARY_SCHEDULE)
    case .monitor: headerCode(SP_VOCABULARY_MONITOR)
    }
  }

  /// The name of `code` in this list, or nil if it has none.
  public func name(of code: Int32) -> String? {
    func find<C: Coded>(_: C.Type) -> String? { C(code: code)?.name }
    switch self {
    case .status: return find(Status.self)
    case .dtype: return find(DType.self)
    case .activation: return find(Activation.self)
    case .loss: return find(Loss.self)
    case .initializer: return find(Initializer.self)
    case .optimizer: return find(OptimizerKind.self)
    case .stopReason: return find(StopReason.self)
    case .schedule: return find(ScheduleKind.self)
    case .monitor: return find(Monitor.self)
    }
  }
}
