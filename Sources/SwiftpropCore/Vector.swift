// Loads and stores of `Scalar.Vector` SIMD values, for the loops written
// on vectors: the few reductions the compiler cannot vectorise by itself.

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

/// The first `n` values at `pointer`, zero in the lanes past them (the
/// last, partial vector of a reduction).
@inlinable @inline(__always)
func load<T: Scalar>(_ pointer: UnsafePointer<T>, _ n: Int) -> T.Vector {
  if n == T.Vector.scalarCount { return load(pointer) }
  var vector = T.Vector()
  for j in 0..<n { vector[j] = pointer[j] }
  return vector
}

@inlinable @inline(__always)
func load<T: Scalar>(_ pointer: UnsafeMutablePointer<T>, _ n: Int) -> T.Vector {
  load(UnsafePointer(pointer), n)
}

