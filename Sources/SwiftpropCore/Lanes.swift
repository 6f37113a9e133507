/// What the formulas of activations and losses compute on: one value of the
/// network's element type (`Float`, `Double`), or `SIMD8` of it.
///
/// Each formula is written once, generic over `Lanes`, and every pass
/// calls that one definition: the general and small passes on one row's
/// values as scalars (or on 8 consecutive values at a time), the lane pass
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

extension SIMD8: Lanes where Scalar: SwiftpropCore.Scalar {
  public typealias Element = Scalar

  @inlinable @inline(__always)
  public static func select(_ x: Self, above limit: Self, _ yes: Self, else no: Self) -> Self {
    SwiftpropCore.select(x, above: limit, yes, else: no)
  }

  @inlinable @inline(__always)
  public static func exponential(_ x: Self) -> Self { laneExp(x) }

  @inlinable @inline(__always)
  public static func exp(
    _ x: UnsafePointer<Self>, minus shift: Self, into out: UnsafeMutablePointer<Self>, count: Int
  ) {
    for j in 0..<count { out[j] = laneExp(x[j] - shift) }
  }

  @inlinable @inline(__always)
  public static func tanh(_ x: Self) -> Self {
    var result = Self()
    for lane in 0..<8 { result[lane] = Scalar.tanh(x[lane]) }
    return result
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

/// Runs `body` over `count` values in steps of 8: `body(i, n)` handles
/// values i..<i+n, with n = 8 except in the last, partial step.
@inlinable @inline(__always)
func inEights(_ count: Int, _ body: (Int, Int) -> Void) {
  var i = 0
  while i + 8 <= count {
    body(i, 8)
    i += 8
  }
  if i < count { body(i, count - i) }
}

/// The `n` ≤ 8 values at `pointer` as the first lanes of a vector (zero in
/// the others).
@inlinable @inline(__always)
func load8<T: Scalar>(_ pointer: UnsafePointer<T>, _ n: Int) -> SIMD8<T> {
  if n == 8 { return UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<T>.self) }
  var vector = SIMD8<T>()
  for j in 0..<n { vector[j] = pointer[j] }
  return vector
}

@inlinable @inline(__always)
func load8<T: Scalar>(_ pointer: UnsafeMutablePointer<T>, _ n: Int) -> SIMD8<T> {
  load8(UnsafePointer(pointer), n)
}

/// Stores the first `n` ≤ 8 lanes of `vector` at `pointer`.
@inlinable @inline(__always)
func store8<T: Scalar>(_ vector: SIMD8<T>, _ pointer: UnsafeMutablePointer<T>, _ n: Int) {
  if n == 8 {
    UnsafeMutableRawPointer(pointer).storeBytes(of: vector, as: SIMD8<T>.self)
    return
  }
  for j in 0..<n { pointer[j] = vector[j] }
}
