/// What the formulas of activations and losses compute on: one value of the
/// network's element type (`Float`, `Double`), or `SIMD4`, `SIMD8` or
/// `SIMD16` of it.
///
/// Each formula is written once, generic over `Lanes`, and every pass
/// calls that one definition: the general and small passes on one row's
/// values as scalars (or on 512 bits of consecutive values at a time,
/// `Scalar.Chunk`), the lane pass
/// on vectors whose lanes are the rows of a batch. Every operation here
/// acts lane by lane with the same rounding as the scalar operation, so a
/// formula gives the same bits whichever way it is called.
public protocol Lanes {
  associatedtype Element: Scalar
  init(repeating value: Element)
  static func + (lhs: Self, rhs: Self) -> Self
  static func - (lhs: Self, rhs: Self) -> Self
  static func * (lhs: Self, rhs: Self) -> Self
  static func / (lhs: Self, rhs: Self) -> Self
  static prefix func - (x: Self) -> Self
  /// `yes` where x > limit and `no` elsewhere (NaN included), lane by lane:
  /// the scalar `x > limit ? yes : no`.
  static func select(_ x: Self, above limit: Self, _ yes: Self, else no: Self) -> Self
  /// eˣ, lane by lane, by `exp8` (Scalar+Exp.swift) for either kind (not
  /// the C library's `exp`, which a scalar also has).
  static func exponential(_ x: Self) -> Self
  /// out[j] = exp(x[j] − shift) for `count` values (the softmax's shifted
  /// exponentials), computed as `exp` computes them, but on whole vectors
  /// for scalars.
  static func exp(
    _ x: UnsafePointer<Self>, minus shift: Self, into out: UnsafeMutablePointer<Self>, count: Int)
  /// The hyperbolic tangent of the C library, lane by lane (a scalar's is
  /// `Scalar.tanh`).
  static func tanh(_ x: Self) -> Self
}

/// The scalar side: `Float` and `Double` (every `Scalar` is `Lanes` of
/// itself; its `tanh` is the C library's).
extension Scalar {
  @inlinable @inline(__always) public init(repeating value: Self) { self = value }

  @inlinable @inline(__always)
  public static func select(_ x: Self, above limit: Self, _ yes: Self, else no: Self) -> Self {
    x > limit ? yes : no
  }

  /// Lane 0 of `exp8`, so a scalar gets exactly the vector's value.
  @inlinable @inline(__always)
  public static func exponential(_ x: Self) -> Self { laneExp(SIMD8<Self>(repeating: x))[0] }

  @inlinable @inline(__always)
  public static func exp(
    _ x: UnsafePointer<Self>, minus shift: Self, into out: UnsafeMutablePointer<Self>, count: Int
  ) {
    Self.exp(x, sign: 1, shift: shift, into: out, count: count)
  }
}

/// The vector side: the shifted exponentials a vector at a time, and the
/// C library's tanh lane by lane (a SIMD type's `exponential` is its own).
extension Lanes where Self: SIMD, Self.Scalar == Element {
  @inlinable @inline(__always)
  public static func exp(
    _ x: UnsafePointer<Self>, minus shift: Self, into out: UnsafeMutablePointer<Self>, count: Int
  ) {
    for j in 0..<count { out[j] = exponential(x[j] - shift) }
  }

  @inlinable @inline(__always)
  public static func tanh(_ x: Self) -> Self {
    var result = Self()
    for lane in 0..<scalarCount { result[lane] = Element.tanh(x[lane]) }
    return result
  }
}

/// Four lanes (the lane pass on up to 4 rows): lanes 0..<4 of the SIMD8
/// operation on the vector twice over, so each formula has one definition;
/// the compiler drops the unused half.
extension SIMD4: Lanes where Scalar: SwiftpropCore.Scalar {
  public typealias Element = Scalar

  @inlinable @inline(__always)
  static func doubled(_ x: Self) -> SIMD8<Scalar> { SIMD8(lowHalf: x, highHalf: x) }

  @inlinable @inline(__always)
  public static func select(_ x: Self, above limit: Self, _ yes: Self, else no: Self) -> Self {
    SwiftpropCore.select(
      doubled(x), above: doubled(limit), doubled(yes), else: doubled(no)
    ).lowHalf
  }

  @inlinable @inline(__always)
  public static func exponential(_ x: Self) -> Self { laneExp(doubled(x)).lowHalf }
}

extension SIMD8: Lanes where Scalar: SwiftpropCore.Scalar {
  public typealias Element = Scalar

  @inlinable @inline(__always)
  public static func select(_ x: Self, above limit: Self, _ yes: Self, else no: Self) -> Self {
    SwiftpropCore.select(x, above: limit, yes, else: no)
  }

  @inlinable @inline(__always)
  public static func exponential(_ x: Self) -> Self { laneExp(x) }
}

extension SIMD16: Lanes where Scalar: SwiftpropCore.Scalar {
  public typealias Element = Scalar

  @inlinable @inline(__always)
  public static func select(_ x: Self, above limit: Self, _ yes: Self, else no: Self) -> Self {
    Self(
      lowHalf: SwiftpropCore.select(x.lowHalf, above: limit.lowHalf, yes.lowHalf, else: no.lowHalf),
      highHalf: SwiftpropCore.select(
        x.highHalf, above: limit.highHalf, yes.highHalf, else: no.highHalf))
  }

  /// Each half by `exp8`: the same value in every lane as SIMD8 and the
  /// scalars get.
  @inlinable @inline(__always)
  public static func exponential(_ x: Self) -> Self {
    Self(lowHalf: laneExp(x.lowHalf), highHalf: laneExp(x.highHalf))
  }
}

/// Lane by lane, `yes` where x > limit and `no` elsewhere (NaN included),
/// as the scalar `x > limit ? yes : no`. Comparisons and masks compile to
/// vector instructions only for the concrete vector types, hence the casts.
@inlinable @inline(__always)
func select<T: Scalar>(
  _ x: SIMD8<T>, above limit: SIMD8<T>, _ yes: SIMD8<T>, else no: SIMD8<T>
) -> SIMD8<T> {
  if T.self == Double.self {
    typealias V = SIMD8<Double>
    let x = unsafeBitCast(x, to: V.self), limit = unsafeBitCast(limit, to: V.self)
    let result = unsafeBitCast(no, to: V.self).replacing(
      with: unsafeBitCast(yes, to: V.self), where: x .> limit)
    return unsafeBitCast(result, to: SIMD8<T>.self)
  }
  typealias V = SIMD8<Float>
  let x = unsafeBitCast(x, to: V.self), limit = unsafeBitCast(limit, to: V.self)
  let result = unsafeBitCast(no, to: V.self).replacing(
    with: unsafeBitCast(yes, to: V.self), where: x .> limit)
  return unsafeBitCast(result, to: SIMD8<T>.self)
}

/// The chunk (512 bits of values) at `pointer`.
@inlinable @inline(__always)
func loadChunk<T: Scalar>(_ pointer: UnsafePointer<T>) -> T.Chunk {
  UnsafeRawPointer(pointer).loadUnaligned(as: T.Chunk.self)
}

@inlinable @inline(__always)
func loadChunk<T: Scalar>(_ pointer: UnsafeMutablePointer<T>) -> T.Chunk {
  loadChunk(UnsafePointer(pointer))
}

@inlinable @inline(__always)
func storeChunk<T: Scalar>(_ chunk: T.Chunk, _ pointer: UnsafeMutablePointer<T>) {
  UnsafeMutableRawPointer(pointer).storeBytes(of: chunk, as: T.Chunk.self)
}
