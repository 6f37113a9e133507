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

/// Σ term(v) over the SIMD vectors v of `values` (the last one padded
/// with zeros, so term(0) must be 0), in four independent sums so that
/// the additions do not wait on each other.
@inlinable @inline(__always)
func sumOfVectors<T: Scalar>(
  _ values: UnsafePointer<T>, count: Int, _ term: (T.Vector) -> T.Vector
) -> T.Vector {
  let lanes = T.Vector.scalarCount
  var s0 = T.Vector(), s1 = T.Vector(), s2 = T.Vector(), s3 = T.Vector()
  var i = 0
  while i + 4 * lanes <= count {
    s0 += term(load(values + i))
    s1 += term(load(values + i + lanes))
    s2 += term(load(values + i + 2 * lanes))
    s3 += term(load(values + i + 3 * lanes))
    i += 4 * lanes
  }
  while i < count {
    s0 += term(load(values + i, min(lanes, count - i)))
    i += lanes
  }
  return (s0 + s1) + (s2 + s3)
}

/// Σ values², in Double. Written out rather than through `sumOfVectors`,
/// and without an early return for tiny arrays: in either form the
/// compiler took the four sums apart lane by lane.
@inlinable
func sumOfSquares<T: Scalar>(_ values: UnsafePointer<T>, count: Int) -> Double {
  let lanes = T.Vector.scalarCount
  var s0 = T.Vector(), s1 = T.Vector(), s2 = T.Vector(), s3 = T.Vector()
  var i = 0
  while i + 4 * lanes <= count {
    let v0 = load(values + i), v1 = load(values + i + lanes)
    let v2 = load(values + i + 2 * lanes), v3 = load(values + i + 3 * lanes)
    s0 = multiplyAdd(s0, v0, v0)
    s1 = multiplyAdd(s1, v1, v1)
    s2 = multiplyAdd(s2, v2, v2)
    s3 = multiplyAdd(s3, v3, v3)
    i += 4 * lanes
  }
  var sum = Double(((s0 + s1) + (s2 + s3)).sum())
  while i < count {
    sum += Double(values[i]) * Double(values[i])
    i += 1
  }
  return sum
}

/// An upper bound on the largest |value| of `count` values: ‖values‖₂,
/// from `sumOfSquares` raised by what its roundings can have taken off
/// (at most 3·count·u of the sum, u the type's unit roundoff); infinity or
/// NaN when a value is not finite or the squares overflow. One fast pass
/// (a loop of maxima was 5× slower: the compiler did not specialise
/// `pointwiseMax`), and loose by up to √count, which bounds against
/// overflow can afford.
@inlinable
func magnitudeBound<T: Scalar>(_ values: UnsafePointer<T>, count: Int) -> Double {
  let roundings = 3 * Double(count) * Double(T.ulpOfOne) / 2
  guard roundings < 0.5 else { return .infinity }
  return (sumOfSquares(values, count: count) * (1 + 2 * roundings)).squareRoot()
}
