import CSwiftprop

/// The activation functions, by the names the Python API uses.
///
/// Each derivative is written from what the forward pass stored: the
/// output `a` where it is a simple function of it (sigmoid, tanh), the
/// pre-activation `z` otherwise (relu, leaky_relu).
public enum Activation: String, Coded {
  case identity, sigmoid, tanh, relu, leakyRelu = "leaky_relu", softmax

  public var code: Int32 {
    switch self {
    case .identity: sp(SP_IDENTITY)
    case .sigmoid: sp(SP_SIGMOID)
    case .tanh: sp(SP_TANH)
    case .relu: sp(SP_RELU)
    case .leakyRelu: sp(SP_LEAKY_RELU)
    case .softmax: sp(SP_SOFTMAX)
    }
  }

  /// Slope of leaky ReLU for z ≤ 0.
  public static let leakySlope = 0.01

  /// a = f(z) for `rows` × `cols` values; softmax works row by row,
  /// shifted by the row maximum so that exp never overflows. With `bias`
  /// (cols values), z += bias row by row first, in the same pass.
  @inlinable
  func apply<T: Scalar>(
    _ z: UnsafeMutablePointer<T>, bias: UnsafePointer<T>? = nil,
    into a: UnsafeMutablePointer<T>, rows: Int, cols: Int
  ) {
    if let bias, self == .relu || self == .leakyRelu || self == .identity {
      // One pass: add the bias, store z, store f(z).
      let slope = T(self == .leakyRelu ? Activation.leakySlope : 1)
      let floor: T = self == .identity ? -.infinity : 0
      for r in 0..<rows {
        let zRow = z + r * cols
        let aRow = a + r * cols
        for j in 0..<cols {
          let value = zRow[j] + bias[j]
          zRow[j] = value
          aRow[j] = value > floor ? value : (self == .relu ? 0 : slope * value)
        }
      }
      return
    }
    if let bias {
      for r in 0..<rows {
        let zRow = z + r * cols
        for j in 0..<cols { zRow[j] += bias[j] }
      }
    }
    let count = rows * cols
    switch self {
    case .identity:
      a.update(from: z, count: count)
    case .sigmoid:
      // exp(-z) may overflow to +inf for z ≪ 0; 1 / (1 + inf) = 0 is right.
      T.exp(z, sign: -1, shift: 0, into: a, count: count)
      for i in 0..<count { a[i] = 1 / (1 + a[i]) }
    case .tanh:
      for i in 0..<count { a[i] = T.tanh(z[i]) }
    case .relu:
      for i in 0..<count { a[i] = z[i] > 0 ? z[i] : 0 }
    case .leakyRelu:
      let slope = T(Activation.leakySlope)
      for i in 0..<count { a[i] = z[i] > 0 ? z[i] : slope * z[i] }
    case .softmax:
      for r in 0..<rows {
        let zRow = z + r * cols
        let aRow = a + r * cols
        var largest = zRow[0]
        for j in 1..<cols where zRow[j] > largest { largest = zRow[j] }
        T.exp(zRow, sign: 1, shift: largest, into: aRow, count: cols)
        var total: T = 0
        for j in 0..<cols { total += aRow[j] }
        for j in 0..<cols { aRow[j] /= total }
      }
    }
  }

  /// delta ⊙= f'(z), for the element-wise activations (not softmax).
  @inlinable
  func multiplyByDerivative<T: Scalar>(
    _ delta: UnsafeMutablePointer<T>, z: UnsafePointer<T>, a: UnsafePointer<T>, count: Int
  ) {
    switch self {
    case .identity:
      break
    case .sigmoid:
      for i in 0..<count { delta[i] *= a[i] * (1 - a[i]) }
    case .tanh:
      for i in 0..<count { delta[i] *= 1 - a[i] * a[i] }
    case .relu:
      for i in 0..<count { delta[i] = z[i] > 0 ? delta[i] : 0 }
    case .leakyRelu:
      let slope = T(Activation.leakySlope)
      for i in 0..<count { delta[i] *= z[i] > 0 ? 1 : slope }
    case .softmax:
      break  // output layer only; its delta comes from Loss.outputDelta
    }
  }
}
