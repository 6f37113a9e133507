#if canImport(Glibc)
  import Glibc
#endif

/// Buffers for one batch size, made once and reused by every step: no
/// allocation in the training loop.
///
/// ## What stays allocated between calls
///
/// A network keeps its parameters, its optimizer's state (from the first
/// training step until `resetOptimizer`), and up to two workspaces: one
/// for training calls (`fit`, `trainStep`, `gradients`, `backwardTrace`)
/// and one for inference (`predict`, `lossValue`, a fit's validation loss).
/// A workspace has a part sized by the network (gradients and spare
/// parameters, the product's packing space, the lane pass's vectors) and a
/// part sized by its batch, `rows` × (z, a and δ of every layer, plus a
/// shuffled fit's gathered inputs and targets): its `batchBytes`.
///
/// - A workspace whose batch part is at most `retainedBatchBytes` (64 MiB)
///   is kept for the next call, so repeated calls on batches of the same
///   size or smaller (train_step loops, mini-batch fits, predicts)
///   allocate nothing.
/// - A larger one lives only as long as the call that needed it: a
///   full-batch `fit` keeps its workspace while it runs (every epoch
///   reuses it) and releases it when it returns; `gradients` or
///   `backwardTrace` on many rows, or a `trainStep` on a huge batch,
///   release theirs on return (and the C allocator is asked to give the
///   memory back to the system). A loop of such calls pays one allocation
///   per call, which is small beside the work on that many rows.
/// - Inference works in blocks of at most 1024 rows, so its workspace is
///   kept unless 1024 rows pass the limit (networks of more than 4096
///   units in all in Double, 8192 in Float).
/// - A call that needs a larger workspace than the kept one drops the kept
///   one first, so the two are never held at once.
///
/// So what a network holds between calls is bounded by its parameter
/// count (parameters, optimizer state, gradients, spares: up to 7 values
/// per parameter) plus 64 MiB per workspace, whatever data it has seen.
/// Temporary buffers (a `forwardTrace`'s workspace, `numericalGradients`'
/// Double twin and widened samples, a shuffled fit's row order) are freed
/// when their call returns.
final class Workspace<T: Scalar> {
  /// Rows the buffers hold.
  let capacity: Int
  /// Pre-activations z and activations a of every layer (capacity × outputs).
  let z: [Buffer<T>]
  let a: [Buffer<T>]
  /// ∂L/∂z of every layer.
  let delta: [Buffer<T>]
  /// ∂L/∂p for every parameter, in `Network.parameters` order, end to end
  /// in one allocation as the parameters are.
  let gradients: [Buffer<T>]
  /// Where an optimizer step writes the next parameters (swapped with the
  /// network's when the step is committed).
  var nextParameters: [Buffer<T>]
  /// Packing space of the matrix product.
  let scratch: Buffer<T>
  /// Dropout of a training workspace, for each layer whose rate p > 0
  /// (empty buffers elsewhere): the mask m/(1 − p) of the last training
  /// pass and the dropped activations ã = a ⊙ m/(1 − p) the next layer
  /// read (capacity × outputs each).
  let mask: [Buffer<T>]
  let dropped: [Buffer<T>]
  /// Gathered rows of a shuffled mini-batch (empty unless `gathersRows`).
  let batchX: Buffer<T>
  let batchY: Buffer<T>

  /// Per-unit vectors of the lane pass (`Network+LanePass`), for networks
  /// narrow enough for it.
  let laneSpace: LaneSpace<T>?

  /// Whether the backward-pass buffers exist (inference needs only z, a).
  let forTraining: Bool
  /// Whether `batchX` and `batchY` hold `capacity` rows.
  let gathersRows: Bool
  /// Bytes of the buffers sized by `capacity`.
  let batchBytes: Int

  init(
    layers: [Dense], capacity: Int, forTraining: Bool, gathersRows: Bool = false,
    dropout: [Double] = []
  ) throws {
    self.capacity = capacity
    self.forTraining = forTraining
    self.gathersRows = gathersRows
    z = try layers.map { try Buffer(count: product(capacity, $0.outputs)) }
    a = try layers.map { try Buffer(count: product(capacity, $0.outputs)) }
    let rows = forTraining ? capacity : 0
    delta = try layers.map { try Buffer(count: product(rows, $0.outputs)) }
    // Dropout's buffers: only for the layers that drop (`rows` is 0 unless
    // the workspace is for training).
    let dropRows = layers.indices.map { l in l < dropout.count && dropout[l] > 0 ? rows : 0 }
    mask = try layers.indices.map { try Buffer(count: product(dropRows[$0], layers[$0].outputs)) }
    dropped = try layers.indices.map { try Buffer(count: product(dropRows[$0], layers[$0].outputs)) }
    let counts = forTraining ? try parameterCounts(of: layers) : []
    gradients = try Buffer.consecutive(counts: counts)
    nextParameters = try Buffer.consecutive(counts: counts)
    let widest = layers.reduce(layers[0].inputs) { max($0, $1.outputs) }
    // A product's m and k are the batch's rows and a layer's width, in
    // either order.
    let side = max(capacity, widest)
    scratch = try Buffer(
      count: multiplyScratchCount(maxColumns: widest, maxRows: side, maxDepth: side, of: T.self))
    let gathered = gathersRows ? rows : 0
    batchX = try Buffer(count: product(gathered, layers[0].inputs))
    batchY = try Buffer(count: product(gathered, layers[layers.count - 1].outputs))
    laneSpace = forTraining && widest <= lanePassWidth
      ? try LaneSpace(widest: widest, layers: layers.count) : nil
    batchBytes = (z + a + delta + mask + dropped + [batchX, batchY]).reduce(0) { $0 + $1.count }
      * MemoryLayout<T>.stride
  }

  deinit { laneSpace?.deallocate() }
}

/// The most bytes of batch-sized buffers a workspace may keep between
/// calls (see `Workspace`).
let retainedBatchBytes = 64 << 20

/// Rows per block when predicting or scoring many samples, so the
/// inference workspace stays small whatever the input size.
let inferenceBlockRows = 1024

extension Network {
  /// The workspace for `rows` rows, made or grown as needed. The kept one
  /// is dropped before a larger one is made, so the two are never held at
  /// once. With `gathersRows`, it has room to gather a shuffled batch.
  func workspace(rows: Int, forTraining: Bool, gathersRows: Bool = false) throws -> Workspace<T> {
    if forTraining {
      if let space = trainingSpace, space.capacity >= rows, space.gathersRows || !gathersRows {
        return space
      }
      trainingSpace = nil
      let space = try Workspace<T>(
        layers: layers, capacity: rows, forTraining: true, gathersRows: gathersRows,
        dropout: dropout)
      trainingSpace = space
      return space
    }
    if let space = inferenceSpace, space.capacity >= rows { return space }
    inferenceSpace = nil
    let space = try Workspace<T>(layers: layers, capacity: rows, forTraining: false)
    inferenceSpace = space
    return space
  }

  /// The memory policy (`Workspace`): called as each public call returns,
  /// releases a workspace whose batch part is above `retainedBatchBytes`.
  func releaseLargeWorkspaces() {
    var released = false
    if let space = trainingSpace, space.batchBytes > retainedBatchBytes {
      trainingSpace = nil
      released = true
    }
    if let space = inferenceSpace, space.batchBytes > retainedBatchBytes {
      inferenceSpace = nil
      released = true
    }
    if released { returnFreedMemory() }
  }
}

/// Asks glibc to give the free memory of its heaps back to the system
/// (`malloc_trim(0)`, looked up at run time: the Glibc module does not
/// declare it, and other C libraries lack it). Large buffers are mapped
/// and unmapped on their own, but a workspace's smaller pieces, below the
/// allocator's mapping threshold, would otherwise stay resident.
private func returnFreedMemory() {
  typealias Trim = @convention(c) (Int) -> Int32
  guard let symbol = trimFunction else { return }
  _ = unsafeBitCast(symbol, to: Trim.self)(0)
}

private let trimFunction: UnsafeMutableRawPointer? = dlsym(
  UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim")
