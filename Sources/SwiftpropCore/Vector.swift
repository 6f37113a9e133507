// Helpers for loops written on `Scalar.Vector` SIMD values, for the few
// reductions the compiler cannot vectorise by itself.

/// Runs `body(i, true)` for each full SIMD vector starting at i, then
/// `body(i, false)` for each remaining element.
@inline(__always)
func elementwise<T: Scalar>(_ count: Int, of _: T.Type, _ body: (Int, Bool) -> Void) {
  let lanes = T.Vector.scalarCount
  var i = 0
  while i + lanes <= count {
    body(i, true)
    i += lanes
  }
  while i < count {
    body(i, false)
    i += 1
  }
}

@inlinable @inline(__always)
func load<T: Scalar>(_ pointer: UnsafePointer<T>) -> T.Vector {
  UnsafeRawPointer(pointer).loadUnaligned(as: T.Vector.self)
}

@inlinable @inline(__always)
func load<T: Scalar>(_ pointer: UnsafeMutablePointer<T>) -> T.Vector {
  UnsafeRawPointer(pointer).loadUnaligned(as: T.Vector.self)
}

@inlinable @inline(__always)
func store<T: Scalar>(_ vector: T.Vector, _ pointer: UnsafeMutablePointer<T>) {
  UnsafeMutableRawPointer(pointer).storeBytes(of: vector, as: T.Vector.self)
}
