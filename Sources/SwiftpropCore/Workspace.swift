/// Buffers for one batch size, made once and reused by every step: no
/// allocation in the training loop.
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
  /// Gathered rows of a shuffled mini-batch.
  let batchX: Buffer<T>
  let batchY: Buffer<T>

  /// Per-unit vectors of the lane pass (`Network+LanePass`), for networks
  /// narrow enough for it.
  let laneSpace: LaneSpace<T>?

  /// Whether the backward-pass buffers exist (inference needs only z, a).
  let forTraining: Bool

  init(layers: [Dense], capacity: Int, forTraining: Bool) throws {
    self.capacity = capacity
    self.forTraining = forTraining
    z = try layers.map { try Buffer(count: product(capacity, $0.outputs)) }
    a = try layers.map { try Buffer(count: product(capacity, $0.outputs)) }
    let rows = forTraining ? capacity : 0
    delta = try layers.map { try Buffer(count: product(rows, $0.outputs)) }
    let counts = forTraining ? try parameterCounts(of: layers) : []
    gradients = try Buffer.consecutive(counts: counts)
    nextParameters = try Buffer.consecutive(counts: counts)
    let widest = layers.reduce(layers[0].inputs) { max($0, $1.outputs) }
    scratch = try Buffer(count: multiplyScratchCount(maxColumns: widest, of: T.self))
    batchX = try Buffer(count: product(rows, layers[0].inputs))
    batchY = try Buffer(count: product(rows, layers[layers.count - 1].outputs))
    laneSpace = forTraining && widest <= lanePassWidth
      ? try LaneSpace(widest: widest, layers: layers.count) : nil
  }

  deinit { laneSpace?.deallocate() }
}
