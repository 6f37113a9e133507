import CSwiftprop
import SwiftpropCore

// The engine's process-wide settings and what it was built for, declared
// in CSwiftprop/include/swiftprop.h.

// MARK: - Threads

@_cdecl("sp_threads_set")
public func sp_threads_set(
  _ limit: Int64, _ error: UnsafeMutablePointer<CChar>?, _ errorCapacity: Int64
) -> Int32 {
  reportingErrors(error, errorCapacity) {
    guard limit >= 1 else { throw ABIError.argument("the thread limit must be >= 1, got \(limit)") }
    HelperThread.shared.threadLimit = Int(clamping: limit)
  }
}

@_cdecl("sp_threads_info")
public func sp_threads_info(
  _ limit: UnsafeMutablePointer<Int64>?, _ maximum: UnsafeMutablePointer<Int64>?,
  _ splitProducts: UnsafeMutablePointer<Int64>?, _ helperParts: UnsafeMutablePointer<Int64>?
) {
  let counts = HelperThread.shared.counts
  limit?.pointee = Int64(HelperThread.shared.threadLimit)
  maximum?.pointee = Int64(HelperThread.maximumThreads)
  splitProducts?.pointee = Int64(counts.splitProducts)
  helperParts?.pointee = Int64(counts.helperParts)
}

// MARK: - Build

@_cdecl("sp_build_info")
public func sp_build_info(
  _ tileRows: UnsafeMutablePointer<Int32>?, _ fusedMultiplyAdd: UnsafeMutablePointer<Int32>?
) {
  tileRows?.pointee = Int32(kernelTileRows)
  fusedMultiplyAdd?.pointee = kernelFusesMultiplyAdd ? 1 : 0
}
