#if canImport(Glibc)
  import Glibc
#endif

/// Checked products of sizes: an overflow is reported, never wrapped.
@inlinable
package func product(_ sizes: Int...) throws -> Int {
  var result = 1
  for size in sizes {
    let (value, overflow) = result.multipliedReportingOverflow(by: size)
    if overflow || size < 0 {
      throw EngineError(.outOfMemory, "a buffer of \(sizes.map(String.init).joined(separator: " x ")) elements is too large")
    }
    result = value
  }
  return result
}

/// Physical memory of this machine in bytes (an upper bound on any buffer).
let physicalMemory: Int = {
  let pages = sysconf(Int32(_SC_PHYS_PAGES))
  let size = sysconf(Int32(_SC_PAGESIZE))
  return pages > 0 && size > 0 ? pages &* size : Int.max
}()

/// `count` zeroed values of `Element` from the C allocator, or an
/// `EngineError(.outOfMemory)`: the one way the engine allocates memory
/// sized by a caller's data. A Swift `Array` (and `map`, string building,
/// `UnsafeMutablePointer.allocate`) ends the host process when its
/// allocation fails; this reports it. Released with `free`.
///
/// The C allocator aligns to 16 bytes, as much as any element here needs
/// (`SIMD8<Double>` included); a size past the machine's physical memory
/// is refused without asking it.
func allocateZeroed<Element>(_ count: Int, of _: Element.Type) throws
  -> UnsafeMutablePointer<Element>
{
  let bytes = try product(max(count, 0), MemoryLayout<Element>.stride)
  guard MemoryLayout<Element>.alignment <= 16, bytes <= physicalMemory,
    let raw = calloc(max(count, 1), MemoryLayout<Element>.stride)
  else {
    throw EngineError(.outOfMemory, "cannot allocate \(bytes) bytes for \(count) values")
  }
  adviseHugePages(raw, bytes: bytes)
  return raw.bindMemory(to: Element.self, capacity: max(count, 1))
}

/// Allocations from this size on are backed by 2 MiB pages where the
/// kernel offers them on request (Linux's transparent huge pages in their
/// default `madvise` mode), as NumPy's are: a product streaming a wide
/// layer's weights (128 MiB for 4096 × 4096 Doubles, read 256 rows at a
/// time, 32 KiB apart) otherwise takes a TLB miss on most rows it reads.
let hugePageBytes = 4 << 20

/// Asks for 2 MiB pages over the whole pages inside a large allocation,
/// before they are first touched. A hint: where it is refused (no such
/// kernel feature, `never` mode) nothing changes.
func adviseHugePages(_ start: UnsafeMutableRawPointer, bytes: Int) {
  #if os(Linux)
    guard bytes >= hugePageBytes else { return }
    let page = max(sysconf(Int32(_SC_PAGESIZE)), 1)
    let first = (Int(bitPattern: start) + page - 1) / page * page
    let end = (Int(bitPattern: start) + bytes) / page * page
    guard end > first, let aligned = UnsafeMutableRawPointer(bitPattern: first) else { return }
    _ = madvise(aligned, end - first, MADV_HUGEPAGE)
  #endif
}

/// A fixed-size, zero-initialised array of scalars owned by a class, so the
/// kernels work on stable pointers; allocation failure is an `EngineError`,
/// not a trap. A buffer is either an allocation of its own or a part of one
/// made by `Buffer.consecutive(counts:)`, which it keeps alive.
///
/// Every allocation ends in `bufferSlack` values more, which the matrix
/// kernel may read (and ignore) when it reads a matrix's last, narrow
/// panel of columns in place, and starts on a 64-byte cache line (the C
/// allocator gives 16 bytes): the pieces that two threads write (a shared
/// product's column panels, a shared pass's `cacheLinePieceLength`
/// pieces) then never share a line, which the other core would have to
/// hand back at every write.
final class Buffer<T: Scalar> {
  let pointer: UnsafeMutablePointer<T>
  let count: Int
  /// The allocation this buffer is a part of, or nil when it owns its own.
  private let whole: Buffer<T>?
  /// What `calloc` returned (freed with the buffer), when it owns one.
  private let allocation: UnsafeMutablePointer<T>?

  init(count: Int) throws {
    let line = 64 / MemoryLayout<T>.stride
    // A sum that wraps is negative, and `product` reports it.
    let allocated = max(count, 0) &+ bufferSlack(of: T.self) &+ line
    guard allocated >= 0 else {
      throw EngineError(.outOfMemory, "a buffer of \(count) values is too large")
    }
    let raw = try allocateZeroed(allocated, of: T.self)
    // 16-byte aligned, so the distance to the next line is whole values.
    let past = Int(bitPattern: raw) % 64 / MemoryLayout<T>.stride
    pointer = raw + (past == 0 ? 0 : line - past)
    allocation = raw
    self.count = count
    whole = nil
  }

  private init(part pointer: UnsafeMutablePointer<T>, count: Int, of whole: Buffer<T>) {
    self.pointer = pointer
    self.count = count
    self.whole = whole
    allocation = nil
  }

  /// Buffers of the given sizes laid end to end in one allocation, so that
  /// an element-wise pass can run over all of them at once from the first
  /// one's pointer (the optimizer updates every parameter in one loop).
  static func consecutive(counts: [Int]) throws -> [Buffer<T>] {
    var total = 0
    for count in counts {
      let (sum, overflow) = total.addingReportingOverflow(count)
      guard !overflow, count >= 0 else {
        throw EngineError(.outOfMemory, "buffers of \(counts) elements are too large")
      }
      total = sum
    }
    let whole = try Buffer<T>(count: total)
    var offset = 0
    return counts.map { count in
      defer { offset += count }
      return Buffer(part: whole.pointer + offset, count: count, of: whole)
    }
  }

  convenience init(copying values: UnsafeBufferPointer<T>) throws {
    try self.init(count: values.count)
    if let base = values.baseAddress { pointer.update(from: base, count: count) }
  }

  deinit { if let allocation { free(allocation) } }

  func zero() { pointer.update(repeating: 0, count: count) }

  /// The values as an `Array`: for tests only, since the copy is an
  /// unchecked allocation.
  var values: [T] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}

/// A fixed-size, zero-initialised array of row numbers, checked as a
/// `Buffer` is: the order in which `fit` visits the rows of a shuffled
/// epoch (one `Int` per row, as large as the data).
final class IndexBuffer {
  let pointer: UnsafeMutablePointer<Int>
  let count: Int

  init(count: Int) throws {
    pointer = try allocateZeroed(count, of: Int.self)
    self.count = count
  }

  deinit { free(pointer) }

  subscript(index: Int) -> Int { pointer[index] }

  var indices: UnsafeMutableBufferPointer<Int> {
    UnsafeMutableBufferPointer(start: pointer, count: count)
  }
}

/// Values past the end of every buffer: the most the matrix kernel reads
/// past a matrix read in place (a panel is 2 vectors wide).
@inlinable
func bufferSlack<T: Scalar>(of _: T.Type) -> Int { 2 * KernelVector<T>.scalarCount }

/// True when every value is finite (no NaN, no ±inf). x − x is 0 for
/// finite x and NaN otherwise, so SIMD sums answer without a branch per
/// value.
@inlinable
package func allFinite<T: Scalar>(_ values: UnsafePointer<T>, count: Int) -> Bool {
  sumOfVectors(values, count: count) { $0 - $0 }.sum().isFinite
}

@inlinable
package func allFinite<T: Scalar>(_ values: UnsafeMutablePointer<T>, count: Int) -> Bool {
  allFinite(UnsafePointer(values), count: count)
}
