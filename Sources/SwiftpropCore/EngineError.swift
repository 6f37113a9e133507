/// An error the core reports instead of trapping; the ABI turns it into a
/// status code and a message.
public struct EngineError: Error, Sendable, CustomStringConvertible {
  public typealias Code = Status

  public var code: Status
  public var message: String
  public var description: String { message }

  public init(_ code: Status, _ message: String) {
    self.code = code
    self.message = message
  }
}
