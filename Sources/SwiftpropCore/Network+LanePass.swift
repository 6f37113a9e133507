#if canImport(Glibc)
  import Glibc
#endif

/// The forward and backward pass for the tutorials' toy networks (XOR:
/// 2-2-1 on 4 rows; one sample at a time for online gradient descent),
/// with each row of the batch in one lane of a SIMD vector.
///
/// With at most `lanePassRows` rows, every unit's z, a and δ over the
/// batch is one vector, so a layer is a few vector multiply-adds per
/// weight, its activation one vector call, and nothing runs a loop of two
/// or four iterations. Up to 4 rows the vectors have 4 lanes (one AVX2
/// register of Doubles: XOR's batch), up to 8 rows 8 lanes; the code is
/// the same for both (`RowLanes`). Sums run in the order the general path
/// uses (products first, the bias last, rows and units in index order) and
/// no multiply-add is fused, so for these sizes the results are those of
/// the general path, to the bit in the tests.
extension Network {
  /// True when a pass over `rows` rows can run with rows as lanes.
  @inlinable
  func isLanePass(rows: Int) -> Bool {
    rows >= 1 && rows <= lanePassRows && widestLayer <= lanePassWidth
  }

  /// `backward` with rows as lanes; writes every parameter's gradient into
  /// `space.gradients` and returns the data loss. With `keepLayers`, it
  /// also writes z, a and δ of every layer into `space`, as `backward` does.
  /// With `sameBatch`, x and y are those of the previous call on `space`,
  /// already transposed into its lanes.
  func laneBackward(
    _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, rows: Int, space: Workspace<T>,
    keepLayers: Bool, sameBatch: Bool = false
  ) -> Double {
    // Made with every training workspace of a network narrow enough.
    guard let lanes = space.laneSpace else {
      return backward(x, y, rows: rows, space: space, kind: .general)
    }
    if rows <= SIMD4<T>.scalarCount {
      return laneBackward(
        x, y, rows: rows, lanes: lanes.narrow, space: space, keepLayers: keepLayers,
        sameBatch: sameBatch)
    }
    return laneBackward(
      x, y, rows: rows, lanes: lanes.wide, space: space, keepLayers: keepLayers,
      sameBatch: sameBatch)
  }

  /// The lane pass on `Lane` vectors (at least `rows` lanes).
  func laneBackward<Lane: RowLanes>(
    _ x: UnsafePointer<T>, _ y: UnsafePointer<T>, rows: Int, lanes: LaneVectors<Lane>,
    space: Workspace<T>, keepLayers: Bool, sameBatch: Bool
  ) -> Double where Lane.Element == T {
    let inputs = inputCount
    let outputs = outputCount
    let last = layers.count - 1
    // The inputs and targets, transposed: x[r, p] is lane r of vector p.
    let input = lanes.input
    let target = lanes.target
    if !sameBatch {
      for r in 0..<rows {
        for p in 0..<inputs { lanes.set(input, p, r, x[r * inputs + p]) }
        for j in 0..<outputs { lanes.set(target, j, r, y[r * outputs + j]) }
      }
    }

    // Forward: z_j = Σ_p a_p · W[p, j] + b_j, then a = f(z). Every operation
    // is lane by lane, so the padding lanes past `rows` never reach the
    // real ones, and the sums over rows read only the real ones.
    var previous = UnsafePointer(input)
    for l in 0...last {
      let n = layers[l].outputs
      let k = layers[l].inputs
      let W = parameters[2 * l].pointer
      let b = parameters[2 * l + 1].pointer
      let z = lanes.z(l)
      unrollingInputs(LaneForward(previous: previous, W: W, b: b, z: z), k: k, n: n)
      lanes.apply(layers[l].activation, z, into: lanes.a(l), count: n)
      previous = UnsafePointer(lanes.a(l))
    }

    // The loss and the output delta, by the formulas every pass uses: the
    // loss summed in row-major order as the general path sums it, δ on the
    // vectors (one row per lane).
    let zOut = lanes.z(last)
    let aOut = lanes.a(last)
    let total = unrollingUnits(
      LaneLossValue(loss: loss, input: LaneInput(space: lanes, z: zOut, a: aOut, y: target)),
      k: rows, n: outputs)
    loss.outputDeltaRow(
      z: zOut, a: aOut, y: target, scale: loss.deltaScale(rows: rows, cols: outputs),
      cols: outputs, output: layers[last].activation, into: lanes.delta(last))

    // Backward: dW[p, j] = Σ_r a_p[r] · δ_j[r], db_j = Σ_r δ_j[r],
    // δ_{l−1, p} = (Σ_j δ_j · W[p, j]) ⊙ f'.
    // From the last layer down (a counting loop: `stride` was left
    // unspecialised here, an iterator call per layer and step).
    var l = last
    while l >= 0 {
      defer { l -= 1 }
      let n = layers[l].outputs
      let k = layers[l].inputs
      let delta = lanes.delta(l)
      let below = l == 0 ? UnsafePointer(input) : UnsafePointer(lanes.a(l - 1))
      let dW = space.gradients[2 * l].pointer
      let db = space.gradients[2 * l + 1].pointer
      let gradients = LaneGradients(
        below: below, delta: UnsafePointer(delta), rows: rows, dW: dW, db: db)
      unrollingUnits(gradients, k: k, n: n)
      if l > 0 {
        let W = parameters[2 * l].pointer
        let next = lanes.delta(l - 1)
        unrollingUnits(LaneDeltaBelow(delta: UnsafePointer(delta), W: W, next: next), k: k, n: n)
        lanes.multiplyByDerivative(
          layers[l - 1].activation, next, z: lanes.z(l - 1), a: lanes.a(l - 1), count: k)
      }
    }

    if keepLayers {
      for l in 0...last {
        let n = layers[l].outputs
        for (from, to) in [(lanes.z(l), space.z[l]), (lanes.a(l), space.a[l]),
                           (lanes.delta(l), space.delta[l])] {
          for r in 0..<rows { for j in 0..<n { to.pointer[r * n + j] = lanes.get(from, j, r) } }
        }
      }
    }
    return total
  }
}

// MARK: - A layer's loops, unrolled for the tutorials' widths

/// One of the lane pass's loop nests over a layer's k inputs and n units
/// (or the loss's over k rows and n outputs).
protocol LaneLayerLoops {
  associatedtype Result
  func run(k: Int, n: Int) -> Result
}

/// Runs `loops` with k, the count of its inner loop, as a constant when it
/// is at most 4 (the tutorials' layers: XOR's 2-2-1), else with the
/// value: the inner loop is then straight code, with no loop of one or
/// two iterations to set up (the loop nests of an XOR step ran 260 fewer
/// instructions, of 2,370). The values, and so the arithmetic, are the
/// same either way. Only the inner loop: unrolling both (25 copies of
/// each nest) made the library 6% larger and the XOR fit no faster.
@inline(__always)
func unrollingInputs<Loops: LaneLayerLoops>(_ loops: Loops, k: Int, n: Int) -> Loops.Result {
  switch k {
  case 1: loops.run(k: 1, n: n)
  case 2: loops.run(k: 2, n: n)
  case 3: loops.run(k: 3, n: n)
  case 4: loops.run(k: 4, n: n)
  default: loops.run(k: k, n: n)
  }
}

/// As `unrollingInputs`, for loops whose inner loop runs over n.
@inline(__always)
func unrollingUnits<Loops: LaneLayerLoops>(_ loops: Loops, k: Int, n: Int) -> Loops.Result {
  switch n {
  case 1: loops.run(k: k, n: 1)
  case 2: loops.run(k: k, n: 2)
  case 3: loops.run(k: k, n: 3)
  case 4: loops.run(k: k, n: 4)
  default: loops.run(k: k, n: n)
  }
}

/// The loss of the batch over k rows and n outputs (`Loss.value`).
struct LaneLossValue<Lane: RowLanes>: LaneLayerLoops {
  let loss: Loss
  let input: LaneInput<Lane>

  @inline(__always)
  func run(k: Int, n: Int) -> Double { loss.value(input, rows: k, cols: n) }
}

/// z_j = Σ_p a_p · W[p, j] + b_j: the products in order of p, the bias last.
struct LaneForward<Lane: RowLanes>: LaneLayerLoops {
  let previous: UnsafePointer<Lane>
  let W, b: UnsafeMutablePointer<Lane.Element>
  let z: UnsafeMutablePointer<Lane>

  @inline(__always)
  func run(k: Int, n: Int) {
    for j in 0..<n {
      var sum = Lane(repeating: 0)
      for p in 0..<k { sum = sum + previous[p] * Lane(repeating: W[p * n + j]) }
      z[j] = sum + Lane(repeating: b[j])
    }
  }
}

/// db_j = Σ_r δ_j[r], dW[p, j] = Σ_r a_p[r] · δ_j[r] over the real rows.
struct LaneGradients<Lane: RowLanes>: LaneLayerLoops {
  let below, delta: UnsafePointer<Lane>
  let rows: Int
  let dW, db: UnsafeMutablePointer<Lane.Element>

  @inline(__always)
  func run(k: Int, n: Int) {
    for j in 0..<n { db[j] = delta[j].sum(lanesBefore: rows) }
    for p in 0..<k {
      for j in 0..<n { dW[p * n + j] = (below[p] * delta[j]).sum(lanesBefore: rows) }
    }
  }
}

/// δ_{l−1, p} = Σ_j δ_j · W[p, j], in order of j (before the derivative).
struct LaneDeltaBelow<Lane: RowLanes>: LaneLayerLoops {
  let delta: UnsafePointer<Lane>
  let W: UnsafeMutablePointer<Lane.Element>
  let next: UnsafeMutablePointer<Lane>

  @inline(__always)
  func run(k: Int, n: Int) {
    for p in 0..<k {
      var sum = Lane(repeating: 0)
      for j in 0..<n { sum = sum + delta[j] * Lane(repeating: W[p * n + j]) }
      next[p] = sum
    }
  }
}

/// Most rows a pass may have to run with rows as lanes (the lanes of the
/// vector type `laneBackward` uses).
@usableFromInline let lanePassRows = 8
/// Widest layer (inputs or outputs) for the lane pass.
@usableFromInline let lanePassWidth = 32

/// A vector whose lanes are the rows of a batch in the lane pass: SIMD4
/// (up to 4 rows) or SIMD8 (up to 8) of the network's scalar.
protocol RowLanes: Lanes {
  /// The lanes before `rows` added one after the other, from zero (the
  /// order of the general path's sums over rows).
  func sum(lanesBefore rows: Int) -> Element
}

extension SIMD4: RowLanes where Scalar: SwiftpropCore.Scalar {
  /// The others are set to zero first, which adds nothing: whatever they
  /// hold never reaches the sum (and no loop runs over `rows`).
  @inline(__always)
  func sum(lanesBefore rows: Int) -> Scalar {
    let w = Self.select(
      Self(0, 1, 2, 3), above: Self(repeating: Scalar(rows) - 0.5), Self(), else: self)
    return (((0 + w[0]) + w[1]) + w[2]) + w[3]
  }
}

extension SIMD8: RowLanes where Scalar: SwiftpropCore.Scalar {
  /// As SIMD4's, in two halves.
  @inline(__always)
  func sum(lanesBefore rows: Int) -> Scalar {
    let w = Self.select(
      Self(0, 1, 2, 3, 4, 5, 6, 7), above: Self(repeating: Scalar(rows) - 0.5), Self(), else: self)
    let low = (((0 + w[0]) + w[1]) + w[2]) + w[3]
    if rows <= 4 { return low }
    return (((low + w[4]) + w[5]) + w[6]) + w[7]
  }
}

/// Per-unit vectors of the lane pass for either vector width, made with a
/// workspace (which frees them). Each width has vectors of its own: a pass
/// over 8 rows and one over 3 in the same workspace never read each
/// other's layout.
struct LaneSpace<T: Scalar> {
  let narrow: LaneVectors<SIMD4<T>>
  let wide: LaneVectors<SIMD8<T>>

  /// Throws `EngineError(.outOfMemory)` when the vectors cannot be
  /// allocated.
  init(widest: Int, layers: Int) throws {
    narrow = try LaneVectors(widest: widest, layers: layers)
    do {
      wide = try LaneVectors(widest: widest, layers: layers)
    } catch {
      narrow.deallocate()
      throw error
    }
  }

  func deallocate() {
    narrow.deallocate()
    wide.deallocate()
  }
}

/// The transposed inputs and targets, then z, a and δ of every layer, as
/// `Lane` vectors. A struct around a pointer, so that a pass takes it from
/// the workspace without reference counting (a retain and a release per
/// step were a tenth of an XOR step).
struct LaneVectors<Lane: RowLanes> {
  typealias T = Lane.Element
  let widest: Int
  let storage: UnsafeMutablePointer<Lane>

  /// Throws `EngineError(.outOfMemory)` when the vectors cannot be
  /// allocated (widest × 3 per layer: 6 KiB a layer at the widest for
  /// 8 Doubles, so a deep network's are large).
  init(widest: Int, layers: Int) throws {
    self.widest = widest
    let count = try product(widest, 3 * layers + 2)
    // Zeroed memory is a zero vector.
    storage = try allocateZeroed(count, of: Lane.self)
  }

  func deallocate() { free(storage) }

  var input: UnsafeMutablePointer<Lane> { storage }
  var target: UnsafeMutablePointer<Lane> { storage + widest }
  func z(_ l: Int) -> UnsafeMutablePointer<Lane> { storage + widest * (2 + 3 * l) }
  func a(_ l: Int) -> UnsafeMutablePointer<Lane> { storage + widest * (3 + 3 * l) }
  func delta(_ l: Int) -> UnsafeMutablePointer<Lane> { storage + widest * (4 + 3 * l) }

  /// Lane `r` of vector `j`, read and written in memory (a vector's lane
  /// picked by a variable index would go through the stack).
  @inline(__always)
  func get(_ vectors: UnsafeMutablePointer<Lane>, _ j: Int, _ r: Int) -> T {
    UnsafeMutableRawPointer(vectors + j).assumingMemoryBound(to: T.self)[r]
  }

  @inline(__always)
  func set(_ vectors: UnsafeMutablePointer<Lane>, _ j: Int, _ r: Int, _ value: T) {
    UnsafeMutableRawPointer(vectors + j).assumingMemoryBound(to: T.self)[r] = value
  }

  /// a = f(z) for `count` units, lane by lane, by the activation's formula.
  @inline(__always)
  func apply(
    _ activation: Activation, _ z: UnsafeMutablePointer<Lane>, into a: UnsafeMutablePointer<Lane>,
    count: Int
  ) {
    // The activation is looked up for each unit, not once through
    // `withFormula`: its closure was left a function of its own, called
    // once per layer, and a layer here has at most `lanePassWidth` units.
    if activation.isElementWise {
      for j in 0..<count { a[j] = activation.value(z[j]) }
    } else {
      Activation.softmaxRow(z, into: a, count: count)
    }
  }

  /// δ ⊙= f′ for `count` units, lane by lane, by the activation's formula.
  @inline(__always)
  func multiplyByDerivative(
    _ activation: Activation, _ delta: UnsafeMutablePointer<Lane>,
    z: UnsafeMutablePointer<Lane>, a: UnsafeMutablePointer<Lane>, count: Int
  ) {
    if activation == .identity || activation == .softmax { return }
    for j in 0..<count { delta[j] = activation.derivativeTimes(delta[j], z: z[j], a: a[j]) }
  }
}

/// The output layer's z and a and the targets, lane r of unit j's vector
/// being row r, unit j: what `Loss.value` reads in the lane pass.
struct LaneInput<Lane: RowLanes>: LossInput {
  let space: LaneVectors<Lane>
  let z, a, y: UnsafeMutablePointer<Lane>

  @inline(__always) func z(_ r: Int, _ j: Int) -> Lane.Element { space.get(z, j, r) }
  @inline(__always) func a(_ r: Int, _ j: Int) -> Lane.Element { space.get(a, j, r) }
  @inline(__always) func y(_ r: Int, _ j: Int) -> Lane.Element { space.get(y, j, r) }
}
