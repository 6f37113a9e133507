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
/// last, partial vector of a pass).
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


/// Stores the first `n` lanes of `vector` at `pointer` (the last, partial
/// vector of a pass).
@inlinable @inline(__always)
func store<T: Scalar>(_ vector: T.Vector, _ pointer: UnsafeMutablePointer<T>, _ n: Int) {
  if n == T.Vector.scalarCount { return store(vector, pointer) }
  for j in 0..<n { pointer[j] = vector[j] }
}

/// Σ values², in Double, with four independent vector sums.
@inlinable
func sumOfSquares<T: Scalar>(_ values: UnsafePointer<T>, count: Int) -> Double {
  let lanes = T.Vector.scalarCount
  var s0 = T.Vector(), s1 = T.Vector(), s2 = T.Vector(), s3 = T.Vector()
  var i = 0
  while i + 4 * lanes <= count {
    let a = load(values + i), b = load(values + i + lanes)
    let c = load(values + i + 2 * lanes), d = load(values + i + 3 * lanes)
    s0 += a * a
    s1 += b * b
    s2 += c * c
    s3 += d * d
    i += 4 * lanes
  }
  while i < count {
    let tail = load(values + i, min(lanes, count - i))
    s0 += tail * tail
    i += lanes
  }
  return Double(((s0 + s1) + (s2 + s3)).sum())
}
