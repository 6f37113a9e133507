/// The engine's one matrix product; every product in the core goes through
/// it, so the kernel can be changed in one place.
///
/// Computes `C = op(A) · op(B)`, or `C += op(A) · op(B)` when `accumulate`,
/// for row-major, densely packed matrices: `op(A)` is m×k (A is stored m×k,
/// or k×m when `transposeA`), `op(B)` is k×n (B is stored k×n, or n×k when
/// `transposeB`), C is m×n. `scratch` holds at least
/// `multiplyScratchCount(maxColumns:maxRows:maxDepth:)` values for
/// n ≤ maxColumns, m ≤ maxRows, k ≤ maxDepth. With
/// `bSlack`, `bufferSlack` values past the end of B may be read (B is in a
/// `Buffer`), so a last panel narrower than the tile is read in place too.
///
/// Small products run plain loops; larger ones run a `tileRows` × 2-vector
/// (6 or 8 × 2) register-blocked SIMD micro-kernel that reads A in place
/// (either layout) and B in place when it is small and untransposed (a layer's
/// weights), else from panels packed into `scratch` (a group of panels at a
/// time, used at once, when the rows are one block); over both cores when
/// the product is large enough to pay for it and the thread limit allows
/// (`runSharedByWorker`: units of a few column panels that each thread
/// claims as it becomes free, all on the calling thread when the helper
/// cannot be had). Every element of C
/// is summed in the same order (depth blocks of `depthBlock`, each one
/// multiply-add chain in the kernel) whichever thread computes it and
/// whatever its unit, so results are reproducible bit for bit.
@inlinable
func multiply<T: Scalar>(
  _ a: UnsafePointer<T>, transposeA: Bool,
  _ b: UnsafePointer<T>, transposeB: Bool,
  into c: UnsafeMutablePointer<T>, m: Int, n: Int, k: Int, accumulate: Bool,
  scratch: UnsafeMutablePointer<T>, bSlack: Bool = false
) {
  // Packing B pays off only when its panels are reused over several
  // tiles of rows; a few rows (predicting one sample, a small batch's
  // forward pass) stream B directly.
  if m <= streamedRows && !transposeA && !transposeB && k > 0 {
    multiplyFewRows(a, b, into: c, m: m, n: n, k: k, accumulate: accumulate)
    return
  }
  // The same for op(B) = Bᵀ (δ·Wᵀ of a batch of up to 8 rows): rows of A
  // against rows of B, both along memory, in independent vector sums
  // (packing would gather Bᵀ across its rows for each product).
  if m <= thinDepth && !transposeA && transposeB && k >= T.Vector.scalarCount {
    multiplyFewRowsTransposed(a, b, into: c, m: m, n: n, k: k, accumulate: accumulate)
    return
  }
  // Aᵀ·B over a few rows (dW = aᵀ·δ of a small batch): each element is a
  // chain of k multiply-adds, computed in place as the kernel computes it;
  // packing and tiles would cost more than the few terms.
  if transposeA && !transposeB && k > 0 && k <= thinDepth && m >= fewRows
    && m * n * k >= smallProductLimit
  {
    multiplyThinDepth(a, b, into: c, m: m, n: n, k: k, accumulate: accumulate)
    return
  }
  if m * n * k < smallProductLimit || m < fewRows || k == 0 {
    multiplySmall(a, transposeA: transposeA, b, transposeB: transposeB, into: c, m: m, n: n, k: k,
                  accumulate: accumulate)
    return
  }
  let width = KernelVector<T>.scalarCount * 2
  let panels = (n + width - 1) / width
  // A's element (i, p) is at a[i·rowStride + p·depthStride]; the kernel
  // reads it in place, in either layout.
  let rowStride = transposeA ? 1 : k
  let depthStride = transposeA ? m : 1
  // A small untransposed B (a layer's weights) is read in place too; a
  // large or transposed one is packed into panels, and so is a last panel
  // narrower than `width` unless the kernel may read past B's end (the
  // values it reads past the panel's columns are never stored).
  let directB = !transposeB && k * n * MemoryLayout<T>.stride <= directWeightsBytes
  let narrowInPlace = directB && bSlack
  // A large A is packed into tiles the kernel reads in order: in place,
  // its rows (or, transposed, its depth steps) would be too far apart for
  // the caches.
  let packA = m * k * MemoryLayout<T>.stride > directInputBytes
  // (Split only when a second thread may run: on one thread, units of
  // panels in depth phases ran 7% slower than the plain loop below.)
  let shared = m * n * k >= parallelProductLimit && panels >= 2
    && HelperThread.shared.threadLimit >= 2
  // Scratch: the packed panels of B for one depth block (depthBlock ×
  // width each, all panels), then the packed A.
  let packedA = scratch + panels * panelStride(of: T.self)

  // A shared product is cut into units that the calling thread and the
  // helper claim one by one (`runShared`): bands of rows (all of A when
  // it fits in `packedBandBytes`), each band's A packed once, by both
  // threads, in units of `packUnitRows` rows (every depth block), then
  // the band's products in units of a few panels each (every depth
  // block, every row of the band). A product on one thread packs A a
  // block of `rowBlock` rows at a time, just before the kernel reads it.
  let packAhead = shared && packA
  let bandRows = packAhead ? min(m, packedBandRows(k: k, of: T.self)) : m
  let bandStride = (bandRows + tileRows - 1) / tileRows * tileRows
  let bands = (m + bandRows - 1) / bandRows
  let packUnits = packAhead ? (bandRows + packUnitRows - 1) / packUnitRows : 0
  // Bands of one block of rows pack B a group of panels at a time
  // (`multiplyPanels`), each worker's group in slots of its own at the
  // start of the panels' scratch. Their units of panels are one depth
  // block each, a phase per depth block: a depth block's slice of packed
  // A then serves every unit of the phase from L2, where units that ran
  // through every depth block would each read all of A again.
  let groupPanels = max(1, packedGroupBytes / (panelStride(of: T.self) * MemoryLayout<T>.stride))
  let groupB = !transposeB && !directB && (!shared || panels >= 2 * groupPanels)
  let depthBlocks = (k + depthBlock - 1) / depthBlock
  let depthPhases = shared && groupB && (!packA || bandRows <= rowBlock)
  let panelsPerUnit = !shared ? panels
    : depthPhases ? min(groupPanels, max(1, panels / productUnits)) : max(1, panels / productUnits)
  let panelUnits = (panels + panelsPerUnit - 1) / panelsPerUnit
  let phases = depthPhases ? depthBlocks : 1
  let phaseUnits = packUnits + panelUnits
  let unitsPerBand = phases * phaseUnits
  /// The depth blocks of phase p.
  func phaseDepths(_ phase: Int) -> Range<Int> { depthPhases ? phase..<phase + 1 : 0..<depthBlocks }

  /// Packs rows first..<first+count of the band starting at row `band`,
  /// the depth blocks `depths`: depth block kStart's tiles start at
  /// packedA + kStart·bandStride, row r's tile at r·depth after that.
  func packBand(_ band: Int, first: Int, count: Int, depths: Range<Int>) {
    var kStart = depths.lowerBound * depthBlock
    let kEnd = min(k, depths.upperBound * depthBlock)
    while kStart < kEnd {
      let depth = min(depthBlock, k - kStart)
      packRows(
        a + (band + first) * rowStride + kStart * depthStride, rowStride: rowStride,
        depthStride: depthStride, rows: count, depth: depth,
        into: packedA + kStart * bandStride + first * depth)
      kStart += depth
    }
  }

  /// C's columns of panels firstPanel..<lastPanel, rows band..<band+count,
  /// the depth blocks `depths` (C holds the sums of the blocks before),
  /// run by `worker` (0 or 1: two units that run at once have different
  /// workers).
  func multiplyPanels(
    _ firstPanel: Int, _ lastPanel: Int, band: Int, count: Int, worker: Int, depths: Range<Int>
  ) {
    // Rows that are one block (a predict of a few dozen rows) use each
    // packed panel of B once per depth block: B is packed a group of
    // panels at a time into the worker's own `groupPanels` slots and the
    // kernel runs over each group while it is in L2. Packed whole, a depth
    // block of a wide B would be written out past the caches and read
    // back from memory (4 MiB for 4096 Doubles a row): the stores' line
    // fills and the reloads made the packing a quarter of the product.
    let grouped = groupB && (!packA || count <= rowBlock)
    let groupSlots = scratch + worker * groupPanels * panelStride(of: T.self)
    var kStart = depths.lowerBound * depthBlock
    let kEnd = min(k, depths.upperBound * depthBlock)
    while kStart < kEnd {
      let depth = min(depthBlock, k - kStart)
      // Each panel of this depth block is packed once (unless read in
      // place) and then serves every block of rows.
      if transposeB {
        for panel in firstPanel..<lastPanel {
          packPanel(b, transposeB: true, n: n, k: k, column: panel * width,
                    depthStart: kStart, depth: depth, into: scratch + panel * panelStride(of: T.self))
        }
      } else if !directB && !grouped {
        packPanels(b, n: n, firstPanel: firstPanel, lastPanel: lastPanel, depthStart: kStart,
                   depth: depth, into: scratch + firstPanel * panelStride(of: T.self))
      } else if directB && lastPanel == panels && n % width != 0 && !narrowInPlace {
        // Read in place but for the last, narrower panel.
        packPanel(b, transposeB: false, n: n, k: k, column: (panels - 1) * width,
                  depthStart: kStart, depth: depth, into: scratch + (panels - 1) * panelStride(of: T.self))
      }
      var rowStart = 0
      while rowStart < count {
        let rows = packA ? min(rowBlock, count - rowStart) : count
        let block = a + (band + rowStart) * rowStride + kStart * depthStride
        var tiles = packedA
        if packAhead {
          tiles = packedA + kStart * bandStride + rowStart * depth
        } else if packA {
          packRows(block, rowStride: rowStride, depthStride: depthStride, rows: rows,
                   depth: depth, into: packedA)
        }
        var group = firstPanel
        while group < lastPanel {
          let groupEnd = grouped ? min(lastPanel, group + groupPanels) : lastPanel
          if grouped {
            packPanels(b, n: n, firstPanel: group, lastPanel: groupEnd, depthStart: kStart,
                       depth: depth, into: groupSlots)
          }
          for panel in group..<groupEnd {
            let column = panel * width
            let columns = min(width, n - column)
            let inPlace = directB && (columns == width || narrowInPlace)
            let slot = grouped
              ? groupSlots + (panel - group) * panelStride(of: T.self)
              : scratch + panel * panelStride(of: T.self)
            let panelB = inPlace ? b + kStart * n + column : UnsafePointer(slot)
            let ldb = inPlace ? n : width
            var tile = 0
            while tile < rows {
              let tileA = packA
                ? UnsafePointer(tiles + tile * depth) : block + tile * rowStride
              microKernel(
                tileA, rowStride: packA ? 1 : rowStride, depthStride: packA ? tileRows : depthStride,
                rows: min(tileRows, rows - tile), b: panelB, ldb: ldb, depth: depth,
                c: c + (band + rowStart + tile) * n + column, ldc: n, columns: columns,
                accumulate: accumulate || kStart > 0)
              tile += tileRows
            }
          }
          group = groupEnd
        }
        rowStart += rows
      }
      kStart += depth
    }
  }

  if !shared {
    multiplyPanels(0, panels, band: 0, count: m, worker: 0, depths: 0..<depthBlocks)
    return
  }
  // Unit u: band u / unitsPerBand; in it, packing units first, then the
  // units of panels, which start once the band's A is packed. With
  // `depthPhases` that is a phase per depth block: its packing units (of
  // that block's A), then its units of panels, which start once every
  // unit of the phases before is done. A band's packing waits for every
  // unit of the band before (it overwrites their packed A).
  runSharedByWorker(
    units: bands * unitsPerBand,
    phaseStart: { unit in
      let first = unit / unitsPerBand * unitsPerBand
      let phaseFirst = unit - (unit - first) % phaseUnits
      return unit - phaseFirst < packUnits ? first : phaseFirst + packUnits
    }
  ) { unit, worker in
    let band = unit / unitsPerBand * bandRows
    let count = min(bandRows, m - band)
    let phase = unit % unitsPerBand / phaseUnits
    let index = unit % unitsPerBand % phaseUnits
    if index < packUnits {
      let first = index * packUnitRows
      if first < count {
        packBand(band, first: first, count: min(packUnitRows, count - first), depths: phaseDepths(phase))
      }
    } else {
      let firstPanel = (index - packUnits) * panelsPerUnit
      multiplyPanels(firstPanel, min(panels, firstPanel + panelsPerUnit), band: band, count: count,
                     worker: worker, depths: phaseDepths(phase))
    }
  }
}

/// Rows of A packed at once in a shared product: as many as fit in
/// `packedBandBytes` at depth k (a multiple of `tileRows`, at least one
/// tile).
@inlinable @inline(__always)
func packedBandRows<T: Scalar>(k: Int, of _: T.Type) -> Int {
  let values = packedBandBytes / MemoryLayout<T>.stride
  return max(tileRows, values / max(k, 1) / tileRows * tileRows)
}
/// Bytes of packed A shared by the threads of one product.
@usableFromInline let packedBandBytes = 2 << 20
/// Rows of A one packing unit packs (a multiple of `tileRows`).
@usableFromInline let packUnitRows = 48
/// Units of panels a shared product is cut into (at most): enough that a
/// thread slowed by another process takes fewer, few enough that each
/// unit's share of packing and claiming stays small.
@usableFromInline let productUnits = 16

/// The SIMD vector of the matrix kernel: 512 bits where the build targets
/// AVX-512 (`SWIFTPROP_WIDE_TILE`: 16 Floats, 8 Doubles; a core with a
/// full 512-bit datapath then does twice the multiply-adds per cycle, and
/// the 8 × 2-vector tile's 16 accumulators fit in its 32 registers), 256
/// bits otherwise. Every lane runs the same chain of multiply-adds, so the
/// width changes only how many columns share an instruction, never a
/// result's bits.
#if SWIFTPROP_WIDE_TILE
  @usableFromInline typealias KernelVector<T: Scalar> = T.Chunk
#else
  @usableFromInline typealias KernelVector<T: Scalar> = T.Vector
#endif

@inlinable @inline(__always)
func loadKernel<T: Scalar>(_ pointer: UnsafePointer<T>) -> KernelVector<T> {
  UnsafeRawPointer(pointer).loadUnaligned(as: KernelVector<T>.self)
}

@inlinable @inline(__always)
func storeKernel<T: Scalar>(_ vector: KernelVector<T>, _ pointer: UnsafeMutablePointer<T>) {
  UnsafeMutableRawPointer(pointer).storeBytes(of: vector, as: KernelVector<T>.self)
}

/// Below this many multiply-adds the plain loops win.
@usableFromInline let smallProductLimit = 4096
/// Products of fewer rows than this take the plain loops rather than the
/// kernel, in every build. Not `tileRows`, which is 8 in the AVX-512 build
/// and 6 otherwise: a product of 6 or 7 rows would then take a different
/// path, with a different order of additions, in the two builds, and the
/// FMA levels promise the same bits (the other row limits here are
/// constants for the same reason).
@usableFromInline let fewRows = 6
/// A · B of at most this many rows streams B (`multiplyFewRows`) instead
/// of packing it. Predicting 6 to 16 rows through 784-512-512-10 took
/// 10-35% less time than through the kernel, 24 rows about the same
/// (Zen 1, one thread, 2026-12-03).
@usableFromInline let streamedRows = 16
/// Deepest Aᵀ·B computed in place by `multiplyThinDepth` (a batch of up
/// to this many rows in dW = aᵀ·δ).
@usableFromInline let thinDepth = 8
/// From this many multiply-adds on, a product is split over two threads.
@usableFromInline let parallelProductLimit = 1 << 22
/// Rows of C computed at once by the micro-kernel: 8 when the build
/// targets a CPU with 32 vector registers (AVX-512: `setup.py` defines
/// SWIFTPROP_WIDE_TILE), whose 16 accumulators then fit beside the
/// operands; 6 with AVX2's 16 registers. Batches and layer widths are
/// often multiples of 8 (32 rows fill 4 tiles of 8, not 6 of 6).
#if SWIFTPROP_WIDE_TILE
  @usableFromInline let tileRows = 8
#else
  @usableFromInline let tileRows = 6
#endif
/// The kernel's tile height and whether products fuse multiply-adds, for
/// `sp_build_info` (what the loaded build was compiled for).
public let kernelTileRows = tileRows
#if SWIFTPROP_NO_FMA
  public let kernelFusesMultiplyAdd = false
#else
  public let kernelFusesMultiplyAdd = true
#endif

/// c + x·y, lane by lane: one fused multiply-add (x·y + c rounded once)
/// where the build targets a CPU with FMA (x86-64-v3 and v4); a multiply
/// then an add (two roundings) in the x86-64-v2 baseline build
/// (`SWIFTPROP_NO_FMA`, set by `setup.py`), where a fused operation would be
/// a C library call per lane. The products and sums of squares that use it
/// are therefore the same to the bit on the FMA levels and may differ in
/// the last bits on the baseline.
@inlinable @inline(__always)
func multiplyAdd<V: SIMD>(_ c: V, _ x: V, _ y: V) -> V where V.Scalar: FloatingPoint {
  #if SWIFTPROP_NO_FMA
    return c + x * y
  #else
    return c.addingProduct(x, y)
  #endif
}
/// Depth of one block of B (rows of op(B)) that the kernel runs over.
@usableFromInline let depthBlock = 256
/// Largest untransposed B read in place rather than packed: its panels'
/// rows stay in L1 and L2 however far apart they are.
@usableFromInline let directWeightsBytes = 64 * 1024
/// Largest A read in place rather than packed.
@usableFromInline let directInputBytes = 128 * 1024
/// Rows of A packed at once (a multiple of `tileRows`), sized for L2.
@usableFromInline let rowBlock = 96
/// Bytes of B's panels packed at once in a product of one block of rows.
@usableFromInline let packedGroupBytes = 256 * 1024

/// Scratch values `multiply` needs for products with n ≤ `maxColumns`,
/// m ≤ `maxRows` and k ≤ `maxDepth`: packed panels of B for one depth
/// block, then packed A: a block of `rowBlock` rows on one thread, or a
/// band of rows at every depth in a shared product (all of A, padded to
/// whole tiles, or `packedBandRows` rows of it).
func multiplyScratchCount<T: Scalar>(
  maxColumns: Int, maxRows: Int, maxDepth: Int, of _: T.Type
) -> Int {
  let width = KernelVector<T>.scalarCount * 2
  func saturating(_ x: Int, _ y: Int) -> Int {
    let (value, overflow) = x.multipliedReportingOverflow(by: y)
    return overflow ? Int.max : value
  }
  let wholeA = saturating((maxRows + tileRows - 1) / tileRows * tileRows, maxDepth)
  let band = packedBandBytes / MemoryLayout<T>.stride + saturating(tileRows, maxDepth)
  return (maxColumns + width - 1) / width * panelStride(of: T.self)
    + max(rowBlock * depthBlock, min(wholeA, band))
}

/// Values from one packed panel of B to the next: its depthBlock rows and
/// one row more, so that the panels do not start a multiple of 4 KiB apart
/// (the same row of every panel would fall in one set of the L1 cache).
@inlinable @inline(__always)
func panelStride<T: Scalar>(of _: T.Type) -> Int {
  (depthBlock + 1) * KernelVector<T>.scalarCount * 2
}

/// Copies `rows` rows of A (depth values each, from the strided layout)
/// into tiles of `tileRows` rows: tile t holds depth × tileRows values,
/// row-interleaved, zero-padded past `rows`.
@inlinable @inline(__always)
func packRows<T: Scalar>(
  _ a: UnsafePointer<T>, rowStride: Int, depthStride: Int, rows: Int, depth: Int,
  into packed: UnsafeMutablePointer<T>
) {
  var tile = 0
  while tile < rows {
    let target = packed + tile * depth
    let valid = min(tileRows, rows - tile)
    if valid == tileRows {
      // The tile's rows side by side at each depth, written out one after
      // the other (a loop over the rows here would become scatter stores).
      let r0 = a + tile * rowStride
      let r1 = r0 + rowStride, r2 = r1 + rowStride, r3 = r2 + rowStride
      let r4 = r3 + rowStride, r5 = r4 + rowStride
      let r6 = r5 + rowStride, r7 = r6 + rowStride
      var offset = 0
      for p in 0..<depth {
        let t = target + p * tileRows
        t[0] = r0[offset]
        t[1] = r1[offset]
        t[2] = r2[offset]
        t[3] = r3[offset]
        t[4] = r4[offset]
        t[5] = r5[offset]
        if tileRows > 6 {
          t[6] = r6[offset]
          t[7] = r7[offset]
        }
        offset += depthStride
      }
    } else {
      // A last, partial tile of rows.
      for p in 0..<depth {
        let column = a + tile * rowStride + p * depthStride
        for r in 0..<valid { target[p * tileRows + r] = column[r * rowStride] }
      }
    }
    for r in valid..<tileRows {
      for p in 0..<depth { target[p * tileRows + r] = 0 }
    }
    tile += tileRows
  }
}

/// Packs panels firstPanel..<lastPanel of an untransposed B for one depth
/// block, as `packPanel` does each, into `packed` one `panelStride` apart
/// (panel firstPanel first), reading B row by row (along memory) rather
/// than panel by panel.
@inlinable @inline(__always)
func packPanels<T: Scalar>(
  _ b: UnsafePointer<T>, n: Int, firstPanel: Int, lastPanel: Int, depthStart: Int, depth: Int,
  into packed: UnsafeMutablePointer<T>
) {
  let width = KernelVector<T>.scalarCount * 2
  let half = width / 2
  let fullPanels = min(lastPanel, n / width)
  for p in 0..<depth {
    let source = b + (depthStart + p) * n
    var panel = firstPanel
    while panel < fullPanels {
      let row = packed + (panel - firstPanel) * panelStride(of: T.self) + p * width
      storeKernel(loadKernel(source + panel * width), row)
      storeKernel(loadKernel(source + panel * width + half), row + half)
      panel += 1
    }
  }
  if fullPanels < lastPanel {
    packPanel(b, transposeB: false, n: n, k: 0, column: fullPanels * width, depthStart: depthStart,
              depth: depth, into: packed + (fullPanels - firstPanel) * panelStride(of: T.self))
  }
}

/// Copies rows depthStart..<depthStart+depth of op(B), columns
/// column..<column+width, into `packed` (depth × width, zero-padded).
@inlinable @inline(__always)
func packPanel<T: Scalar>(
  _ b: UnsafePointer<T>, transposeB: Bool, n: Int, k: Int, column: Int, depthStart: Int,
  depth: Int, into packed: UnsafeMutablePointer<T>
) {
  let width = KernelVector<T>.scalarCount * 2
  let columns = min(width, n - column)
  if transposeB {
    // op(B)'s row p is column p of B: panel column j is B's row
    // column + j, read along memory a vector (`lanes` depth steps) at a
    // time and written down the panel (which stays in L1). Gathering each
    // panel row across B's rows instead reads `width` rows k apart for
    // every depth step, and rows a multiple of 4 KiB apart share one set
    // of the L1 cache.
    let source = b + column * k + depthStart
    let lanes = KernelVector<T>.scalarCount
    for j in 0..<columns {
      let row = source + j * k
      var p = 0
      while p + lanes <= depth {
        let values = loadKernel(row + p)
        let target = packed + p * width + j
        for q in 0..<lanes { target[q * width] = values[q] }
        p += lanes
      }
      while p < depth {
        packed[p * width + j] = row[p]
        p += 1
      }
    }
    if columns < width {
      for p in 0..<depth {
        for j in columns..<width { packed[p * width + j] = 0 }
      }
    }
    return
  }
  for p in 0..<depth {
    let row = packed + p * width
    let source = b + (depthStart + p) * n + column
    if columns == width {
      storeKernel(loadKernel(source), row)
      storeKernel(loadKernel(source + width / 2), row + width / 2)
    } else {
      // A last, narrow panel: a few values a row, too few for memcpy.
      for j in 0..<columns { row[j] = source[j] }
      for j in columns..<width { row[j] = 0 }
    }
  }
}

/// C[0..<rows, 0..<columns] (+)= A tile · B panel, with `tileRows` × 2
/// vector accumulators held in registers (the code for rows 6 and 7
/// folds away when `tileRows` is 6). A's element (r, p) is at
/// a[r·rowStride + p·depthStride]; B's row p is 2 vectors at b + p·ldb.
/// Rows past `rows` compute row 0 again and are not stored, so nothing is
/// read outside A.
// Transparent: `@inline(__always)` left it a call per tile, with its 12
// arguments, and the wide products ran a few percent slower.
@inlinable @_transparent
func microKernel<T: Scalar>(
  _ a: UnsafePointer<T>, rowStride: Int, depthStride: Int, rows: Int,
  b: UnsafePointer<T>, ldb: Int, depth: Int,
  c: UnsafeMutablePointer<T>, ldc: Int, columns: Int, accumulate: Bool
) {
  let lanes = KernelVector<T>.scalarCount
  @inline(__always) func offset(_ r: Int) -> Int { r < rows ? r * rowStride : 0 }
  let o1 = offset(1), o2 = offset(2), o3 = offset(3), o4 = offset(4), o5 = offset(5)
  let o6 = offset(6), o7 = offset(7)
  var c00 = KernelVector<T>(), c01 = KernelVector<T>(), c10 = KernelVector<T>(), c11 = KernelVector<T>()
  var c20 = KernelVector<T>(), c21 = KernelVector<T>(), c30 = KernelVector<T>(), c31 = KernelVector<T>()
  var c40 = KernelVector<T>(), c41 = KernelVector<T>(), c50 = KernelVector<T>(), c51 = KernelVector<T>()
  var c60 = KernelVector<T>(), c61 = KernelVector<T>(), c70 = KernelVector<T>(), c71 = KernelVector<T>()
  var column = a
  var row = b
  // Written out row by row on purpose: accumulators in an array, or a
  // loop over the rows, would live in memory instead of registers.
  for _ in 0..<depth {
    let b0 = loadKernel(row)
    let b1 = loadKernel(row + lanes)
    var x = KernelVector<T>(repeating: column[0])
    c00 = multiplyAdd(c00, x, b0)
    c01 = multiplyAdd(c01, x, b1)
    x = KernelVector<T>(repeating: column[o1])
    c10 = multiplyAdd(c10, x, b0)
    c11 = multiplyAdd(c11, x, b1)
    x = KernelVector<T>(repeating: column[o2])
    c20 = multiplyAdd(c20, x, b0)
    c21 = multiplyAdd(c21, x, b1)
    x = KernelVector<T>(repeating: column[o3])
    c30 = multiplyAdd(c30, x, b0)
    c31 = multiplyAdd(c31, x, b1)
    x = KernelVector<T>(repeating: column[o4])
    c40 = multiplyAdd(c40, x, b0)
    c41 = multiplyAdd(c41, x, b1)
    x = KernelVector<T>(repeating: column[o5])
    c50 = multiplyAdd(c50, x, b0)
    c51 = multiplyAdd(c51, x, b1)
    if tileRows > 6 {
      x = KernelVector<T>(repeating: column[o6])
      c60 = multiplyAdd(c60, x, b0)
      c61 = multiplyAdd(c61, x, b1)
      x = KernelVector<T>(repeating: column[o7])
      c70 = multiplyAdd(c70, x, b0)
      c71 = multiplyAdd(c71, x, b1)
    }
    column += depthStride
    row += ldb
  }
  @inline(__always)
  func store(_ row: Int, _ low: KernelVector<T>, _ high: KernelVector<T>) {
    guard row < rows else { return }
    let target = c + row * ldc
    if columns == 2 * lanes {
      let raw = UnsafeMutableRawPointer(target)
      let highRaw = UnsafeMutableRawPointer(target + lanes)
      if accumulate {
        raw.storeBytes(of: raw.loadUnaligned(as: KernelVector<T>.self) + low, as: KernelVector<T>.self)
        highRaw.storeBytes(of: highRaw.loadUnaligned(as: KernelVector<T>.self) + high, as: KernelVector<T>.self)
      } else {
        raw.storeBytes(of: low, as: KernelVector<T>.self)
        highRaw.storeBytes(of: high, as: KernelVector<T>.self)
      }
    } else {
      // A last, narrow panel: a whole vector where it fits, then lanes.
      var j = 0
      if columns >= lanes {
        let raw = UnsafeMutableRawPointer(target)
        raw.storeBytes(
          of: accumulate ? raw.loadUnaligned(as: KernelVector<T>.self) + low : low, as: KernelVector<T>.self)
        while j + lanes < columns {
          target[lanes + j] = accumulate ? target[lanes + j] + high[j] : high[j]
          j += 1
        }
      } else {
        while j < columns {
          target[j] = accumulate ? target[j] + low[j] : low[j]
          j += 1
        }
      }
    }
  }
  store(0, c00, c01)
  store(1, c10, c11)
  store(2, c20, c21)
  store(3, c30, c31)
  store(4, c40, c41)
  store(5, c50, c51)
  if tileRows > 6 {
    store(6, c60, c61)
    store(7, c70, c71)
  }
}

/// C (+)= A · B for a few rows of A: each row's result is built in four
/// vector registers per block of columns while B streams past, two rows
/// at a time (B read once per pair; a last odd row alone), over B a chunk
/// of `fewRowsChunk(n:)` rows at a time: the chunk is read along its rows
/// (a few streams the prefetcher follows, where a column block read down
/// all of B's k rows would touch a new page at every row) and stays in
/// L2 for the next pair. Between chunks the sums wait in C, so every
/// element is still one chain of multiply-adds over p in order, the same
/// bits whatever the chunk.
@inlinable
func multiplyFewRows<T: Scalar>(
  _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into c: UnsafeMutablePointer<T>,
  m: Int, n: Int, k: Int, accumulate: Bool
) {
  let block = 4 * T.Vector.scalarCount
  let blocked = n / block * block
  // A large product is shared by up to `fewRowsUnits` column ranges of
  // whole blocks (at least `fewRowsUnitBlocks` each, so that a range's
  // rows stay long runs for the prefetcher); on one thread it is not cut
  // at all, for the same reason. Every element is computed alone, so any
  // split gives the same bits.
  let units = m * n * k >= parallelProductLimit && HelperThread.shared.threadLimit >= 2
    ? min(fewRowsUnits, blocked / block / fewRowsUnitBlocks) : 1
  if units >= 2 {
    let blocksPerUnit = (blocked / block + units - 1) / units
    runShared(units: units) { unit in
      let from = unit * blocksPerUnit * block
      let to = min(blocked, from + blocksPerUnit * block)
      if from < to {
        fewRowsBlocks(a, b, into: c, m: m, n: n, k: k, columns: from..<to, accumulate: accumulate)
      }
    }
  } else if blocked > 0 {
    fewRowsBlocks(a, b, into: c, m: m, n: n, k: k, columns: 0..<blocked, accumulate: accumulate)
  }
  // The columns past the last whole block, row by row.
  if blocked < n {
    let width = n - blocked
    for i in 0..<m {
      let aRow = a + i * k
      let tail = c + i * n + blocked
      if !accumulate { tail.update(repeating: 0, count: width) }
      for p in 0..<k {
        let x = aRow[p]
        let bRow = b + p * n + blocked
        for j in 0..<width { tail[j] += x * bRow[j] }
      }
    }
  }
}

/// Columns `columns` (whole blocks of 4 vectors) of `multiplyFewRows`.
@inlinable
func fewRowsBlocks<T: Scalar>(
  _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into c: UnsafeMutablePointer<T>,
  m: Int, n: Int, k: Int, columns: Range<Int>, accumulate: Bool
) {
  let lanes = T.Vector.scalarCount
  let block = 4 * lanes
  let chunk = fewRowsChunk(n: columns.count, of: T.self)
  var first = 0
  while first < k {
    let last = min(k, first + chunk)
    let carry = accumulate || first > 0
    var i = 0
    while i + 1 < m {
      let a0 = a + i * k, a1 = a0 + k
      let c0 = c + i * n, c1 = c0 + n
      var column = columns.lowerBound
      while column < columns.upperBound {
        var s00 = T.Vector(), s01 = T.Vector(), s02 = T.Vector(), s03 = T.Vector()
        var s10 = T.Vector(), s11 = T.Vector(), s12 = T.Vector(), s13 = T.Vector()
        if carry {
          s00 = load(c0 + column)
          s01 = load(c0 + column + lanes)
          s02 = load(c0 + column + 2 * lanes)
          s03 = load(c0 + column + 3 * lanes)
          s10 = load(c1 + column)
          s11 = load(c1 + column + lanes)
          s12 = load(c1 + column + 2 * lanes)
          s13 = load(c1 + column + 3 * lanes)
        }
        var bRow = b + first * n + column
        for p in first..<last {
          let y0: T.Vector = load(bRow), y1: T.Vector = load(bRow + lanes)
          let y2: T.Vector = load(bRow + 2 * lanes), y3: T.Vector = load(bRow + 3 * lanes)
          let x0 = T.Vector(repeating: a0[p])
          s00 = multiplyAdd(s00, x0, y0)
          s01 = multiplyAdd(s01, x0, y1)
          s02 = multiplyAdd(s02, x0, y2)
          s03 = multiplyAdd(s03, x0, y3)
          let x1 = T.Vector(repeating: a1[p])
          s10 = multiplyAdd(s10, x1, y0)
          s11 = multiplyAdd(s11, x1, y1)
          s12 = multiplyAdd(s12, x1, y2)
          s13 = multiplyAdd(s13, x1, y3)
          bRow += n
        }
        store(s00, c0 + column)
        store(s01, c0 + column + lanes)
        store(s02, c0 + column + 2 * lanes)
        store(s03, c0 + column + 3 * lanes)
        store(s10, c1 + column)
        store(s11, c1 + column + lanes)
        store(s12, c1 + column + 2 * lanes)
        store(s13, c1 + column + 3 * lanes)
        column += block
      }
      i += 2
    }
    if i < m {
      let aRow = a + i * k
      let cRow = c + i * n
      var column = columns.lowerBound
      while column < columns.upperBound {
        var c0 = T.Vector(), c1 = T.Vector(), c2 = T.Vector(), c3 = T.Vector()
        if carry {
          c0 = load(cRow + column)
          c1 = load(cRow + column + lanes)
          c2 = load(cRow + column + 2 * lanes)
          c3 = load(cRow + column + 3 * lanes)
        }
        var bRow = b + first * n + column
        for p in first..<last {
          let x = T.Vector(repeating: aRow[p])
          c0 = multiplyAdd(c0, x, load(bRow))
          c1 = multiplyAdd(c1, x, load(bRow + lanes))
          c2 = multiplyAdd(c2, x, load(bRow + 2 * lanes))
          c3 = multiplyAdd(c3, x, load(bRow + 3 * lanes))
          bRow += n
        }
        store(c0, cRow + column)
        store(c1, cRow + column + lanes)
        store(c2, cRow + column + 2 * lanes)
        store(c3, cRow + column + 3 * lanes)
        column += block
      }
    }
    first = last
  }
}

/// Rows of B in one chunk of `multiplyFewRows`: about
/// `fewRowsChunkBytes` of B, and at least 4.
@inlinable @inline(__always)
func fewRowsChunk<T: Scalar>(n: Int, of _: T.Type) -> Int {
  max(4, fewRowsChunkBytes / max(1, n * MemoryLayout<T>.stride))
}
/// Bytes of B per chunk of `multiplyFewRows`: L1's size. Predicting one
/// sample through 784-2048-2048-10 took 2.4× less time than with one
/// chunk of all of B (a column block read down every row), and 15% less
/// than with chunks of 128 KiB (Zen 1, 2026-12-03).
@usableFromInline let fewRowsChunkBytes = 32 * 1024
/// Most units, and fewest blocks of 4 vectors in a unit, of a shared
/// few-row product.
@usableFromInline let fewRowsUnits = 4
@usableFromInline let fewRowsUnitBlocks = 8

/// C (+)= A · Bᵀ for a few rows of A, B stored n × k: every element is
/// the dot product of a row of A and a row of B, both read along memory,
/// four rows of A against two rows of B at a time in eight vector sums
/// (independent chains, so the additions do not wait on each other); a
/// row past the last (of A or of B) repeats the first and is not stored.
/// Each element: its lane sums over p ≡ lane (mod lanes), added up across
/// the lanes, then the last k mod lanes terms one by one. `T.Vector` (256
/// bits in every build) keeps the AVX2 and AVX-512 results the same.
@inlinable
func multiplyFewRowsTransposed<T: Scalar>(
  _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into c: UnsafeMutablePointer<T>,
  m: Int, n: Int, k: Int, accumulate: Bool
) {
  let lanes = T.Vector.scalarCount
  let whole = k / lanes * lanes
  @inline(__always)
  func finish(_ sum: T.Vector, _ aRow: UnsafePointer<T>, _ bRow: UnsafePointer<T>,
              _ target: UnsafeMutablePointer<T>) {
    var total = sum.sum()
    var p = whole
    while p < k {
      total += aRow[p] * bRow[p]
      p += 1
    }
    target.pointee = accumulate ? target.pointee + total : total
  }
  if m == 1 {
    // One row of A (δ·Wᵀ for one sample): four rows of B at a time, each
    // element the same chain as below. (Four rows of A, all the same one,
    // against two of B did four times the multiply-adds needed.)
    var j = 0
    while j < n {
      let b0 = b + j * k
      let b1 = j + 1 < n ? b0 + k : b0
      let b2 = j + 2 < n ? b0 + 2 * k : b0
      let b3 = j + 3 < n ? b0 + 3 * k : b0
      var s0 = T.Vector(), s1 = T.Vector(), s2 = T.Vector(), s3 = T.Vector()
      var p = 0
      while p < whole {
        let y: T.Vector = load(a + p)
        s0 = multiplyAdd(s0, y, load(b0 + p))
        s1 = multiplyAdd(s1, y, load(b1 + p))
        s2 = multiplyAdd(s2, y, load(b2 + p))
        s3 = multiplyAdd(s3, y, load(b3 + p))
        p += lanes
      }
      finish(s0, a, b0, c + j)
      if j + 1 < n { finish(s1, a, b1, c + j + 1) }
      if j + 2 < n { finish(s2, a, b2, c + j + 2) }
      if j + 3 < n { finish(s3, a, b3, c + j + 3) }
      j += 4
    }
    return
  }
  var i = 0
  while i < m {
    let rows = min(4, m - i)
    let a0 = a + i * k
    let a1 = rows > 1 ? a0 + k : a0
    let a2 = rows > 2 ? a0 + 2 * k : a0
    let a3 = rows > 3 ? a0 + 3 * k : a0
    let cRow = c + i * n
    var j = 0
    while j < n {
      let pair = j + 1 < n
      let b0 = b + j * k
      let b1 = pair ? b0 + k : b0
      var s00 = T.Vector(), s01 = T.Vector(), s10 = T.Vector(), s11 = T.Vector()
      var s20 = T.Vector(), s21 = T.Vector(), s30 = T.Vector(), s31 = T.Vector()
      var p = 0
      while p < whole {
        let x0: T.Vector = load(b0 + p)
        let x1: T.Vector = load(b1 + p)
        var y: T.Vector = load(a0 + p)
        s00 = multiplyAdd(s00, y, x0)
        s01 = multiplyAdd(s01, y, x1)
        y = load(a1 + p)
        s10 = multiplyAdd(s10, y, x0)
        s11 = multiplyAdd(s11, y, x1)
        y = load(a2 + p)
        s20 = multiplyAdd(s20, y, x0)
        s21 = multiplyAdd(s21, y, x1)
        y = load(a3 + p)
        s30 = multiplyAdd(s30, y, x0)
        s31 = multiplyAdd(s31, y, x1)
        p += lanes
      }
      finish(s00, a0, b0, cRow + j)
      if pair { finish(s01, a0, b1, cRow + j + 1) }
      if rows > 1 {
        finish(s10, a1, b0, cRow + n + j)
        if pair { finish(s11, a1, b1, cRow + n + j + 1) }
      }
      if rows > 2 {
        finish(s20, a2, b0, cRow + 2 * n + j)
        if pair { finish(s21, a2, b1, cRow + 2 * n + j + 1) }
      }
      if rows > 3 {
        finish(s30, a3, b0, cRow + 3 * n + j)
        if pair { finish(s31, a3, b1, cRow + 3 * n + j + 1) }
      }
      j += 2
    }
    i += 4
  }
}

/// C (+)= Aᵀ · B with A stored k × m (rows `lda` apart, m by default) and
/// B stored k × n, for a small depth
/// k (the rows of a small batch): C[i, :] = Σ_r A[r, i] · B[r, :], two rows
/// of C at a time in four vectors each, the k rows of B read from L1.
/// Every element is the micro-kernel's: multiply-adds in the order of r
/// from zero, then added to C when accumulating; a last partial vector of
/// columns runs the same operations on padded lanes. The order does not
/// depend on the vector width, so every build gives the same bits.
@inlinable
func multiplyThinDepth<T: Scalar>(
  _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, into c: UnsafeMutablePointer<T>,
  m: Int, n: Int, k: Int, lda: Int? = nil, accumulate: Bool
) {
  let lda = lda ?? m
  let lanes = T.Vector.scalarCount
  let block = 4 * lanes
  @inline(__always)
  func put(_ sum: T.Vector, _ target: UnsafeMutablePointer<T>, _ count: Int) {
    store(accumulate ? load(target, count) + sum : sum, target, count)
  }
  var i = 0
  while i < m {
    // A second row past the last repeats the first and is not stored.
    let pair = i + 1 < m
    let c0 = c + i * n
    let c1 = pair ? c0 + n : c0
    var column = 0
    while column + block <= n {
      var s00 = T.Vector(), s01 = T.Vector(), s02 = T.Vector(), s03 = T.Vector()
      var s10 = T.Vector(), s11 = T.Vector(), s12 = T.Vector(), s13 = T.Vector()
      var bRow = b + column
      var aRow = a + i
      for _ in 0..<k {
        let x0 = T.Vector(repeating: aRow[0])
        let x1 = T.Vector(repeating: pair ? aRow[1] : aRow[0])
        let y0: T.Vector = load(bRow), y1: T.Vector = load(bRow + lanes)
        let y2: T.Vector = load(bRow + 2 * lanes), y3: T.Vector = load(bRow + 3 * lanes)
        s00 = multiplyAdd(s00, x0, y0)
        s01 = multiplyAdd(s01, x0, y1)
        s02 = multiplyAdd(s02, x0, y2)
        s03 = multiplyAdd(s03, x0, y3)
        s10 = multiplyAdd(s10, x1, y0)
        s11 = multiplyAdd(s11, x1, y1)
        s12 = multiplyAdd(s12, x1, y2)
        s13 = multiplyAdd(s13, x1, y3)
        bRow += n
        aRow += lda
      }
      put(s00, c0 + column, lanes)
      put(s01, c0 + column + lanes, lanes)
      put(s02, c0 + column + 2 * lanes, lanes)
      put(s03, c0 + column + 3 * lanes, lanes)
      if pair {
        put(s10, c1 + column, lanes)
        put(s11, c1 + column + lanes, lanes)
        put(s12, c1 + column + 2 * lanes, lanes)
        put(s13, c1 + column + 3 * lanes, lanes)
      }
      column += block
    }
    // The last columns, a vector (or part of one) at a time.
    while column < n {
      let count = min(lanes, n - column)
      var s0 = T.Vector(), s1 = T.Vector()
      for r in 0..<k {
        let y: T.Vector = load(b + r * n + column, count)
        s0 = multiplyAdd(s0, T.Vector(repeating: a[r * lda + i]), y)
        if pair { s1 = multiplyAdd(s1, T.Vector(repeating: a[r * lda + i + 1]), y) }
      }
      put(s0, c0 + column, count)
      if pair { put(s1, c1 + column, count) }
      column += lanes
    }
    i += 2
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
