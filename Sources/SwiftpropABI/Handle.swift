import CSwiftprop
import SwiftpropCore

#if canImport(Glibc)
  import Glibc
#endif

/// The live networks, by handle. Handles are never reused, so a stale or
/// made-up handle is reported instead of reaching freed memory.
final class HandleTable: @unchecked Sendable {
  static let shared = HandleTable()

  private var networks: [Int64: AnyNetwork] = [:]
  private var nextHandle: Int64 = 1
  private var mutex = pthread_mutex_t()

  private init() { pthread_mutex_init(&mutex, nil) }

  private func locked<R>(_ body: () -> R) -> R {
    pthread_mutex_lock(&mutex)
    defer { pthread_mutex_unlock(&mutex) }
    return body()
  }

  func insert(_ network: AnyNetwork) -> Int64 {
    locked {
      let handle = nextHandle
      nextHandle += 1
      networks[handle] = network
      return handle
    }
  }

  func remove(_ handle: Int64) -> AnyNetwork? {
    locked { networks.removeValue(forKey: handle) }
  }

  func network(_ handle: Int64) throws -> AnyNetwork {
    guard let network = locked({ networks[handle] }) else {
      throw ABIError(status: Int32(SP_INVALID_HANDLE), message: "no network has handle \(handle)")
    }
    return network
  }
}
