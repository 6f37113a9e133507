#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The element types the engine computes in: `Float` and `Double`.
///
/// The elementary functions come from the C library, so the engine and
/// NumPy's float64 paths agree to a unit or two in the last place.
public protocol Scalar: BinaryFloatingPoint, SIMDScalar, Sendable, Codable, Lanes
where Element == Self {
  /// The SIMD vector the matrix kernel computes with: 256 bits (AVX2),
  /// so a 6 × 2-vector tile of accumulators stays in the 16 registers.
  associatedtype Vector: SIMD where Vector.Scalar == Self
  /// The 512 bits the element-wise passes (activations and their
  /// derivatives) work on: 16 Floats, 8 Doubles.
  associatedtype Chunk: SIMD & Lanes where Chunk.Scalar == Self, Chunk.Element == Self
  /// eˣ
  static func exp(_ x: Self) -> Self
  /// Natural logarithm.
  static func log(_ x: Self) -> Self
  /// log(1 + x), accurate for small x.
  static func log1p(_ x: Self) -> Self
  /// Hyperbolic tangent.
  static func tanh(_ x: Self) -> Self
  /// This type as the ABI names it.
  static var dtype: DType { get }
}

extension Float: Scalar {
  public typealias Vector = SIMD8<Float>
  public typealias Chunk = SIMD16<Float>
  @inlinable public static func exp(_ x: Float) -> Float { expf(x) }
  @inlinable public static func log(_ x: Float) -> Float { logf(x) }
  @inlinable public static func log1p(_ x: Float) -> Float { log1pf(x) }
  @inlinable public static func tanh(_ x: Float) -> Float { tanhf(x) }
  public static var dtype: DType { .float32 }
}

extension Double: Scalar {
  public typealias Vector = SIMD4<Double>
  public typealias Chunk = SIMD8<Double>
  @inlinable public static func exp(_ x: Double) -> Double { Glibc.exp(x) }
  @inlinable public static func log(_ x: Double) -> Double { Glibc.log(x) }
  @inlinable public static func log1p(_ x: Double) -> Double { Glibc.log1p(x) }
  @inlinable public static func tanh(_ x: Double) -> Double { Glibc.tanh(x) }
  public static var dtype: DType { .float64 }
}

/// Monotonic time in nanoseconds, for the interrupt-poll interval.
@inlinable func monotonicNanoseconds() -> UInt64 {
  var now = timespec()
  clock_gettime(CLOCK_MONOTONIC, &now)
  return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}
