import Dispatch

/// The engine's one matrix product; every product in the core goes through
/// it, so the kernel can be changed in one place.
///
/// Computes `C = op(A) · op(B)`, or `C += op(A) · op(B)` when `accumulate`,
/// for row-major, densely packed matrices: `op(A)` is m×k (A is stored m×k,
/// or k×m when `transposeA`), `op(B)` is k×n (B is stored k×n, or n×k when
/// `transposeB`), C is m×n. `scratch` holds at least
/// `multiplyScratchCount(maxColumns:)` values for n ≤ maxColumns.
///
/// Small products run plain loops; larger ones run a 6 × 2-vector
/// register-blocked SIMD micro-kernel that reads A in place (either
/// layout) and B in place when it is small and untransposed (a layer's
/// weights), else from panels packed into `scratch`; over both cores when
/// the product is large enough to pay for it. The
/// summation order is fixed for given sizes, so results are reproducible
/// bit for bit.
@inlinable
func multiply<T: Scalar>(
  _ a: UnsafePointer<T>, transposeA: Bool,
  _ b: UnsafePointer<T>, transposeB: Bool,
  into c: UnsafeMutablePointer<T>, m: Int, n: Int, k: Int, accumulate: Bool,
  scratch: UnsafeMutablePointer<T>
) {
  // Packing B pays off only when its panels are reused over several
  // tiles of rows; a few rows (predicting one sample) stream B directly.
  if m < tileRows && !transposeA && !transposeB && k > 0 {
    multiplyFewRows(a, b, into: c, m: m, n: n, k: k, accumulate: accumulate)
    return
  }
  if m * n * k < smallProductLimit || m < tileRows || k == 0 {
    multiplySmall(a, transposeA: transposeA, b, transposeB: transposeB, into: c, m: m, n: n, k: k,
                  accumulate: accumulate)
    return
  }
  let width = T.Vector.scalarCount * 2
  let panels = (n + width - 1) / width
  // A's element (i, p) is at a[i·rowStride + p·depthStride]; the kernel
  // reads it in place, in either layout.
  let rowStride = transposeA ? 1 : k
  let depthStride = transposeA ? m : 1
  // A small untransposed B (a layer's weights) is read in place too; a
  // large or transposed one is packed into panels, and so is a last panel
  // narrower than `width`, whose rows the kernel must not read past.
  let directB = !transposeB && k * n * MemoryLayout<T>.stride <= directWeightsBytes
  let threads = m * n * k >= parallelProductLimit && panels >= 2 ? 2 : 1

  func run(part: Int) {
    let firstPanel = panels * part / threads
    let lastPanel = panels * (part + 1) / threads
    // Scratch: one packed panel (depthBlock × width) per thread.
    let packed = scratch + part * depthBlock * width
    var kStart = 0
    while kStart < k {
      let depth = min(depthBlock, k - kStart)
      for panel in firstPanel..<lastPanel {
        let column = panel * width
        let columns = min(width, n - column)
        let panelB: UnsafePointer<T>
        let ldb: Int
        if directB && columns == width {
          panelB = b + kStart * n + column
          ldb = n
        } else {
          packPanel(b, transposeB: transposeB, n: n, k: k, column: column,
                    depthStart: kStart, depth: depth, into: packed)
          panelB = UnsafePointer(packed)
          ldb = width
        }
        var row = 0
        while row < m {
          microKernel(
            a + row * rowStride + kStart * depthStride, rowStride: rowStride,
            depthStride: depthStride, rows: min(tileRows, m - row), b: panelB, ldb: ldb,
            depth: depth, c: c + row * n + column, ldc: n, columns: columns,
            accumulate: accumulate || kStart > 0)
          row += tileRows
        }
      }
      kStart += depth
    }
  }

  if threads == 1 {
    run(part: 0)
  } else {
    DispatchQueue.concurrentPerform(iterations: threads) { run(part: $0) }
  }
}

/// Below this many multiply-adds the plain loops win.
@usableFromInline let smallProductLimit = 4096
/// From this many multiply-adds on, a product is split over two threads.
@usableFromInline let parallelProductLimit = 1 << 22
/// Rows of C computed at once by the micro-kernel.
@usableFromInline let tileRows = 6
/// Depth of one block of B (rows of op(B)) that the kernel runs over.
@usableFromInline let depthBlock = 256
/// Largest untransposed B read in place rather than packed: its panels'
/// rows stay in L1 and L2 however far apart they are.
@usableFromInline let directWeightsBytes = 64 * 1024

/// Scratch values `multiply` needs for products with up to `maxColumns`
/// columns.
func multiplyScratchCount<T: Scalar>(maxColumns: Int, of _: T.Type) -> Int {
  return 2 * depthBlock * T.Vector.scalarCount * 2
}

/// Copies rows depthStart..<depthStart+depth of op(B), columns
/// column..<column+width, into `packed` (depth × width, zero-padded).
@inlinable @inline(__always)
func packPanel<T: Scalar>(
  _ b: UnsafePointer<T>, transposeB: Bool, n: Int, k: Int, column: Int, depthStart: Int,
  depth: Int, into packed: UnsafeMutablePointer<T>
) {
  let width = T.Vector.scalarCount * 2
  let columns = min(width, n - column)
  for p in 0..<depth {
    let row = packed + p * width
    let source = b + (depthStart + p) * n + column
    if transposeB {
      for j in 0..<columns { row[j] = b[(column + j) * k + depthStart + p] }
    } else if columns == width {
      store(load(source), row)
      store(load(source + width / 2), row + width / 2)
    } else {
      row.update(from: source, count: columns)
    }
    if columns < width { (row + columns).update(repeating: 0, count: width - columns) }
  }
}

/// C[0..<rows, 0..<columns] (+)= A tile · B panel, with 6 × 2 vector
/// accumulators held in registers. A's element (r, p) is at
/// a[r·rowStride + p·depthStride]; B's row p is 2 vectors at b + p·ldb.
/// Rows past `rows` compute row 0 again and are not stored, so nothing is
/// read outside A.
@inlinable @inline(__always)
func microKernel<T: Scalar>(
  _ a: UnsafePointer<T>, rowStride: Int, depthStride: Int, rows: Int,
  b: UnsafePointer<T>, ldb: Int, depth: Int,
  c: UnsafeMutablePointer<T>, ldc: Int, columns: Int, accumulate: Bool
) {
  let lanes = T.Vector.scalarCount
  @inline(__always) func offset(_ r: Int) -> Int { r < rows ? r * rowStride : 0 }
  let o1 = offset(1), o2 = offset(2), o3 = offset(3), o4 = offset(4), o5 = offset(5)
  var c00 = T.Vector(), c01 = T.Vector(), c10 = T.Vector(), c11 = T.Vector()
  var c20 = T.Vector(), c21 = T.Vector(), c30 = T.Vector(), c31 = T.Vector()
  var c40 = T.Vector(), c41 = T.Vector(), c50 = T.Vector(), c51 = T.Vector()
  var column = a
  var row = b
  for _ in 0..<depth {
    let b0 = load(row)
    let b1 = load(row + lanes)
    var x = T.Vector(repeating: column[0])
    c00 = c00.addingProduct(x, b0)
    c01 = c01.addingProduct(x, b1)
    x = T.Vector(repeating: column[o1])
    c10 = c10.addingProduct(x, b0)
    c11 = c11.addingProduct(x, b1)
    x = T.Vector(repeating: column[o2])
    c20 = c20.addingProduct(x, b0)
    c21 = c21.addingProduct(x, b1)
    x = T.Vector(repeating: column[o3])
    c30 = c30.addingProduct(x, b0)
    c31 = c31.addingProduct(x, b1)
    x = T.Vector(repeating: column[o4])
    c40 = c40.addingProduct(x, b0)
    c41 = c41.addingProduct(x, b1)
    x = T.Vector(repeating: column[o5])
    c50 = c50.addingProduct(x, b0)
    c51 = c51.addingProduct(x, b1)
    column += depthStride
    row += ldb
  }
  @inline(__always)
  func store(_ row: Int, _ low: T.Vector, _ high: T.Vector) {
    guard row < rows else { return }
    let target = c + row * ldc
    if columns == 2 * lanes {
      let raw = UnsafeMutableRawPointer(target)
      let highRaw = UnsafeMutableRawPointer(target + lanes)
      if accumulate {
        raw.storeBytes(of: raw.loadUnaligned(as: T.Vector.self) + low, as: T.Vector.self)
        highRaw.storeBytes(of: highRaw.loadUnaligned(as: T.Vector.self) + high, as: T.Vector.self)
      } else {
        raw.storeBytes(of: low, as: T.Vector.self)
        highRaw.storeBytes(of: high, as: T.Vector.self)
      }
    } else {
      for j in 0..<columns {
        let value = j < lanes ? low[j] : high[j - lanes]
        target[j] = accumulate ? target[j] + value : value
      }
    }
  }
  store(0, c00, c01)
  store(1, c10, c11)
  store(2, c20, c21)
  store(3, c30, c31)
  store(4, c40, c41)
  store(5, c50, c51)
}

/// C (+)= A · B for a few rows of A: each row's result is built in four
/// vector registers per block of columns while B streams past, so C is
/// written once instead of once per term.
@inlinable
func multiplyFewRows<T: Scalar>(
  _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into c: UnsafeMutablePointer<T>,
  m: Int, n: Int, k: Int, accumulate: Bool
) {
  let lanes = T.Vector.scalarCount
  let block = 4 * lanes
  for i in 0..<m {
    let aRow = a + i * k
    let cRow = c + i * n
    var column = 0
    while column + block <= n {
      var c0 = T.Vector(), c1 = T.Vector(), c2 = T.Vector(), c3 = T.Vector()
      if accumulate {
        c0 = load(cRow + column)
        c1 = load(cRow + column + lanes)
        c2 = load(cRow + column + 2 * lanes)
        c3 = load(cRow + column + 3 * lanes)
      }
      var bRow = b + column
      for p in 0..<k {
        let x = T.Vector(repeating: aRow[p])
        c0 = c0.addingProduct(x, load(bRow))
        c1 = c1.addingProduct(x, load(bRow + lanes))
        c2 = c2.addingProduct(x, load(bRow + 2 * lanes))
        c3 = c3.addingProduct(x, load(bRow + 3 * lanes))
        bRow += n
      }
      store(c0, cRow + column)
      store(c1, cRow + column + lanes)
      store(c2, cRow + column + 2 * lanes)
      store(c3, cRow + column + 3 * lanes)
      column += block
    }
    if column < n {
      let width = n - column
      let tail = cRow + column
      if !accumulate { tail.update(repeating: 0, count: width) }
      for p in 0..<k {
        let x = aRow[p]
        let bRow = b + p * n + column
        for j in 0..<width { tail[j] += x * bRow[j] }
      }
    }
  }
}

/// Plain loops for small products (the tutorials' networks), where
/// packing would cost more than it saves.
@inlinable
func multiplySmall<T: Scalar>(
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
    // C[i, j] += Σ_p A[i, p] · B[j, p]
    for i in 0..<m {
      let aRow = a + i * k
      for j in 0..<n {
        let bRow = b + j * k
        var sum: T = 0
        for p in 0..<k { sum += aRow[p] * bRow[p] }
        c[i * n + j] += sum
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
