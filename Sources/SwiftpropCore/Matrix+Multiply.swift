/// The engine's one matrix product; every product in the core goes through
/// it, so a faster kernel replaces it in one place.
///
/// Computes `C = op(A) · op(B)`, or `C += op(A) · op(B)` when `accumulate`,
/// for row-major, densely packed matrices: `op(A)` is m×k (A is stored m×k,
/// or k×m when `transposeA`), `op(B)` is k×n (B is stored k×n, or n×k when
/// `transposeB`), C is m×n.
///
/// The summation order is fixed for given sizes, so results are
/// reproducible bit for bit.
@inlinable
func multiply<T: Scalar>(
  _ a: UnsafePointer<T>, transposeA: Bool,
  _ b: UnsafePointer<T>, transposeB: Bool,
  into c: UnsafeMutablePointer<T>, m: Int, n: Int, k: Int, accumulate: Bool
) {
  if !accumulate { c.update(repeating: 0, count: m * n) }
  switch (transposeA, transposeB) {
  case (false, false):
    // C[i, :] += A[i, p] · B[p, :]
    for i in 0..<m {
      let cRow = c + i * n
      for p in 0..<k {
        let aip = a[i * k + p]
        let bRow = b + p * n
        for j in 0..<n { cRow[j] += aip * bRow[j] }
      }
    }
  case (true, false):
    // C[i, :] += A[p, i] · B[p, :]
    for p in 0..<k {
      let aRow = a + p * m
      let bRow = b + p * n
      for i in 0..<m {
        let api = aRow[i]
        let cRow = c + i * n
        for j in 0..<n { cRow[j] += api * bRow[j] }
      }
    }
  case (false, true):
    // C[i, j] += dot(A[i, :], B[j, :])
    for i in 0..<m {
      let aRow = a + i * k
      for j in 0..<n {
        c[i * n + j] += dot(aRow, b + j * k, count: k)
      }
    }
  case (true, true):
    // C[i, j] += Σ_p A[p, i] · B[j, p]
    for i in 0..<m {
      for j in 0..<n {
        var sum: T = 0
        for p in 0..<k { sum += a[p * m + i] * b[j * k + p] }
        c[i * n + j] += sum
      }
    }
  }
}

/// Σ x[i]·y[i] with eight independent partial sums.
@inlinable
func dot<T: Scalar>(_ x: UnsafePointer<T>, _ y: UnsafePointer<T>, count: Int) -> T {
  var partial = SIMD8<T>()
  var p = 0
  while p + 8 <= count {
    let xv = UnsafeRawPointer(x + p).loadUnaligned(as: SIMD8<T>.self)
    let yv = UnsafeRawPointer(y + p).loadUnaligned(as: SIMD8<T>.self)
    partial += xv * yv
    p += 8
  }
  var sum = partial.sum()
  while p < count {
    sum += x[p] * y[p]
    p += 1
  }
  return sum
}
