import CSwiftprop

/// The activation functions, by the names the Python API uses.
///
/// Each one's value and derivative are written once, in `value` and
/// `derivativeTimes` (softmax's in `softmaxRow`), generic over `Lanes`, and
/// every pass calls them: the general and small passes through `apply` and
/// `multiplyByDerivative`, the lane pass on its vectors. Each derivative is
/// written from what the forward pass stored: the output `a` where it is a
/// simple function of it (sigmoid, tanh), the pre-activation `z` otherwise
/// (relu, leaky_relu).
///
/// Adding an activation: a case here with its name and `SP_*` code, its
/// value and derivative below, the code in `swiftprop.h`, and its NumPy
/// twin in the Python package's `reference.py`.
public enum Activation: String, Coded {
  case identity, sigmoid, tanh, relu, leakyRelu = "leaky_relu", softmax, elu, exp

  public var code: Int32 {
    switch self {
    case .identity: headerCode(SP_IDENTITY)
    case .sigmoid: headerCode(SP_SIGMOID)
    case .tanh: headerCode(SP_TANH)
    case .relu: headerCode(SP_RELU)
    case .leakyRelu: headerCode(SP_LEAKY_RELU)
    case .softmax: headerCode(SP_SOFTMAX)
    case .elu: headerCode(SP_ELU)
    case .exp: headerCode(SP_EXP)
    }
  }

  /// Slope of leaky ReLU for z ≤ 0.
  public static let leakySlope = 0.01

  /// Whether the activation acts on each value alone (all but softmax,
  /// which acts on a row).
  public var isElementWise: Bool { self != .softmax }

  /// Whether the activation is for the output layer only: softmax (a
  /// distribution over the outputs) and exp (the log link of a Poisson
  /// regression; in hidden layers it compounds into overflow).
  public var isOutputOnly: Bool { self == .softmax || self == .exp }

  /// `body(self)` with `self` a constant in each branch, so that a loop in
  /// `body` runs with its activation's formula alone, not a `switch` per
  /// value (which cost a digits fit a fifth of its time in register
  /// spills). The one list of cases the loops need.
  @inlinable @inline(__always)
  func withFormula<R>(_ body: (Activation) -> R) -> R {
    switch self {
    case .identity: body(.identity)
    case .sigmoid: body(.sigmoid)
    case .tanh: body(.tanh)
    case .relu: body(.relu)
    case .leakyRelu: body(.leakyRelu)
    case .softmax: body(.softmax)
    case .elu: body(.elu)
    case .exp: body(.exp)
    }
  }

  // MARK: - The formulas

  /// a = f(z), element by element (softmax: see `softmaxRow`).
  /// Sigmoid is 1 / (1 + e^−z): e^−z may overflow to +inf for z ≪ 0, and
  /// 1 / (1 + inf) = 0 is right. ELU (α = 1, Clevert et al. 2016) is z for
  /// z > 0 and eᶻ − 1 otherwise. exp (the log link of Poisson regression)
  /// is eᶻ.
  @inlinable @inline(__always)
  func value<V: Lanes>(_ z: V) -> V {
    switch self {
    case .identity, .softmax: z
    case .sigmoid: V(repeating: 1) / (V(repeating: 1) + V.exponential(-z))
    case .tanh: V.tanh(z)
    case .relu: V.select(z, above: V(repeating: 0), z, else: V(repeating: 0))
    case .leakyRelu:
      V.select(z, above: V(repeating: 0), z, else: V(repeating: V.Element(Self.leakySlope)) * z)
    case .elu: V.select(z, above: V(repeating: 0), z, else: V.exponential(z) - V(repeating: 1))
    case .exp: V.exponential(z)
    }
  }

  /// δ ⊙ f′, element by element, from the stored z and a = f(z):
  /// sigmoid a(1 − a), tanh 1 − a², relu [z > 0], leaky relu 1 or the
  /// slope, ELU 1 or eᶻ = a + 1, exp eᶻ = a. Softmax's Jacobian is not diagonal: its δ comes from the loss
  /// (`Loss.outputDelta`), so here it passes δ through, as identity does.
  @inlinable @inline(__always)
  func derivativeTimes<V: Lanes>(_ delta: V, z: V, a: V) -> V {
    switch self {
    case .identity, .softmax: delta
    case .sigmoid: delta * (a * (V(repeating: 1) - a))
    case .tanh: delta * (V(repeating: 1) - a * a)
    case .relu: V.select(z, above: V(repeating: 0), delta, else: V(repeating: 0))
    case .leakyRelu:
      delta
        * V.select(
          z, above: V(repeating: 0), V(repeating: 1), else: V(repeating: V.Element(Self.leakySlope)))
    case .elu: delta * V.select(z, above: V(repeating: 0), V(repeating: 1), else: a + V(repeating: 1))
    case .exp: delta * a
    }
  }

  /// a = softmax(z) across the `count` units of one row (V a scalar) or of
  /// eight rows at once (V = SIMD8, a row per lane): exp(z − max) / Σ, the
  /// exponentials shifted by the row maximum so that they never overflow.
  /// The unit holding the maximum gets e⁰ = 1 exactly, so its output is
  /// 1 / Σ; the cross-entropy loss reads its log-sum-exp from there.
  @inlinable @inline(__always)
  static func softmaxRow<V: Lanes>(
    _ z: UnsafePointer<V>, into a: UnsafeMutablePointer<V>, count: Int
  ) {
    var largest = z[0]
    for j in 1..<count { largest = V.select(z[j], above: largest, z[j], else: largest) }
    V.exp(z, minus: largest, into: a, count: count)
    var total = V(repeating: 0)
    for j in 0..<count { total = total + a[j] }
    for j in 0..<count { a[j] = a[j] / total }
  }

  // MARK: - Over a batch

  /// a = f(z) for `rows` × `cols` values, row-major; softmax works row by
  /// row. With `bias` (cols values), z += bias row by row first, in the
  /// same pass (one pass over z: add the bias, store z, store f(z)).
  /// From `sharedPassCount` values on, blocks of rows are shared between
  /// the calling thread and the helper (`runShared`); every value is
  /// computed alone, so the split never changes a bit.
  @inlinable
  func apply<T: Scalar>(
    _ z: UnsafeMutablePointer<T>, bias: UnsafePointer<T>? = nil,
    into a: UnsafeMutablePointer<T>, rows: Int, cols: Int
  ) {
    guard rows * cols >= sharedPassCount, rows >= sharedPassPieces else {
      applyRows(z, bias: bias, into: a, rows: rows, cols: cols)
      return
    }
    let length = (rows + sharedPassPieces - 1) / sharedPassPieces
    runShared(units: (rows + length - 1) / length) { piece in
      let first = piece * length
      applyRows(
        z + first * cols, bias: bias, into: a + first * cols, rows: min(length, rows - first),
        cols: cols)
    }
  }

  @inlinable
  func applyRows<T: Scalar>(
    _ z: UnsafeMutablePointer<T>, bias: UnsafePointer<T>?,
    into a: UnsafeMutablePointer<T>, rows: Int, cols: Int
  ) {
    if !isElementWise {
      if let bias {
        for r in 0..<rows {
          let zRow = z + r * cols
          for j in 0..<cols { zRow[j] = zRow[j] + bias[j] }
        }
      }
      for r in 0..<rows { Self.softmaxRow(z + r * cols, into: a + r * cols, count: cols) }
      return
    }
    // Whole 512-bit chunks, then the last values one by one: the same
    // formula on either, so the same bits.
    let width = T.Chunk.scalarCount
    withFormula { f in
      guard let bias else {
        let count = rows * cols
        var i = 0
        while i + width <= count {
          storeChunk(f.value(loadChunk(z + i)), a + i)
          i += width
        }
        while i < count {
          a[i] = f.value(z[i])
          i += 1
        }
        return
      }
      for r in 0..<rows {
        let zRow = z + r * cols
        let aRow = a + r * cols
        var j = 0
        while j + width <= cols {
          let sum = loadChunk(zRow + j) + loadChunk(bias + j)
          storeChunk(sum, zRow + j)
          storeChunk(f.value(sum), aRow + j)
          j += width
        }
        while j < cols {
          let sum = zRow[j] + bias[j]
          zRow[j] = sum
          aRow[j] = f.value(sum)
          j += 1
        }
      }
    }
  }

  /// δ ⊙= f′ for `count` values of δ, z and a (shared between the calling
  /// thread and the helper from `sharedPassCount` values on, as `apply`).
  @inlinable
  func multiplyByDerivative<T: Scalar>(
    _ delta: UnsafeMutablePointer<T>, z: UnsafePointer<T>, a: UnsafePointer<T>, count: Int
  ) {
    if self == .identity || self == .softmax { return }
    guard count >= sharedPassCount else {
      multiplyByDerivativeInPlace(delta, z: z, a: a, count: count)
      return
    }
    let length = cacheLinePieceLength(count: count, pieces: sharedPassPieces, of: T.self)
    runShared(units: (count + length - 1) / length) { piece in
      let first = piece * length
      multiplyByDerivativeInPlace(
        delta + first, z: z + first, a: a + first, count: min(length, count - first))
    }
  }

  @inlinable
  func multiplyByDerivativeInPlace<T: Scalar>(
    _ delta: UnsafeMutablePointer<T>, z: UnsafePointer<T>, a: UnsafePointer<T>, count: Int
  ) {
    let width = T.Chunk.scalarCount
    withFormula { f in
      var i = 0
      while i + width <= count {
        storeChunk(
          f.derivativeTimes(loadChunk(delta + i), z: loadChunk(z + i), a: loadChunk(a + i)),
          delta + i)
        i += width
      }
      while i < count {
        delta[i] = f.derivativeTimes(delta[i], z: z[i], a: a[i])
        i += 1
      }
    }
  }
}

/// Element-wise passes over at least this many values are shared between
/// the calling thread and the helper.
@usableFromInline let sharedPassCount = 1 << 17
/// Pieces a shared element-wise pass is cut into.
@usableFromInline let sharedPassPieces = 8
