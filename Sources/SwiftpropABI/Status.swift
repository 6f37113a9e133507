import CSwiftprop
import SwiftpropCore

/// Runs `body`, turning any error into a status code and a message copied
/// to the caller's buffer: the one place where errors cross the ABI.
@inline(__always)
func reportingErrors(
  _ error: UnsafeMutablePointer<CChar>?, _ capacity: Int64, _ body: () throws -> Void
) -> Int32 {
  do {
    try body()
    return Int32(SP_OK)
  } catch let failure as EngineError {
    write(failure.message, to: error, capacity: capacity)
    return failure.code.code
  } catch let failure as ABIError {
    write(failure.message, to: error, capacity: capacity)
    return failure.status
  } catch let failure {
    write("\(failure)", to: error, capacity: capacity)
    return Int32(SP_INVALID_ARGUMENT)
  }
}

/// An error found by the ABI layer itself (handles, pointers, sizes).
struct ABIError: Error {
  var status: Int32
  var message: String

  static func argument(_ message: String) -> ABIError {
    ABIError(status: Int32(SP_INVALID_ARGUMENT), message: message)
  }
}

/// Copies `message` as UTF-8, truncated to `capacity − 1` bytes, plus NUL
/// (straight from the string: no copy of it is made).
func write(_ message: String, to buffer: UnsafeMutablePointer<CChar>?, capacity: Int64) {
  guard let buffer, capacity > 0 else { return }
  var count = 0
  for byte in message.utf8 {
    guard Int64(count) < capacity - 1 else { break }
    buffer[count] = CChar(bitPattern: byte)
    count += 1
  }
  buffer[count] = 0
}

/// Checks that a pointer is present and that `rows × columns` matches the
/// network; returns the element count.
func checkedCount(_ name: String, _ pointer: UnsafeRawPointer?, rows: Int64, columns: Int64,
                  expectedColumns: Int) throws -> Int {
  guard rows >= 1 else { throw ABIError.argument("\(name) is empty: it has \(rows) rows") }
  guard columns == Int64(expectedColumns) else {
    throw ABIError.argument("\(name) has \(columns) columns, but the network expects \(expectedColumns)")
  }
  guard pointer != nil else { throw ABIError.argument("\(name) is a NULL pointer") }
  return try product(Int(rows), Int(columns))
}
