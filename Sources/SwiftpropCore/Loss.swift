import CSwiftprop

/// The loss functions, by the names the Python API uses.
///
/// With n samples and k outputs:
/// - `mse`: L = Σ (a − y)² / (n·k), the mean over all elements (PyTorch's
///   `MSELoss`).
/// - `binaryCrossEntropy` (sigmoid output): L = Σ [max(z, 0) − z·y +
///   log(1 + e^−|z|)] / (n·k), computed from the pre-activation z so that it
///   stays finite when the sigmoid saturates; ∂L/∂z = (a − y) / (n·k).
/// - `crossEntropy` (softmax output): L = −Σ y · log softmax(z) / n, with a
///   log-sum-exp shifted by the row maximum (read off the softmax output);
///   ∂L/∂z = (a·Σⱼyⱼ − y) / n, which is (a − y) / n for one-hot rows.
///
/// Every gradient is the mean over the batch: no further division by n.
public enum Loss: String, Coded {
  case mse, binaryCrossEntropy = "binary_cross_entropy", crossEntropy = "cross_entropy"

  public var code: Int32 {
    switch self {
    case .mse: sp(SP_MSE)
    case .binaryCrossEntropy: sp(SP_BINARY_CROSS_ENTROPY)
    case .crossEntropy: sp(SP_CROSS_ENTROPY)
    }
  }

  /// Whether targets may be given as class labels (one-hot encoded by the
  /// bindings before they reach the engine).
  public var takesLabels: Bool { self == .crossEntropy }

  /// The output activation this loss is fused with, if any.
  public var requiredOutput: Activation? {
    switch self {
    case .mse: nil
    case .binaryCrossEntropy: .sigmoid
    case .crossEntropy: .softmax
    }
  }

  /// L for a batch, accumulated in Double.
  @inlinable
  func value<T: Scalar>(
    z: UnsafePointer<T>, a: UnsafePointer<T>, y: UnsafePointer<T>, rows: Int, cols: Int
  ) -> Double {
    let count = rows * cols
    var total = 0.0
    switch self {
    case .mse:
      for i in 0..<count {
        let d = Double(a[i]) - Double(y[i])
        total += d * d
      }
      return total / Double(count)
    case .binaryCrossEntropy:
      for i in 0..<count {
        let zi = Double(z[i])
        total += max(zi, 0) - zi * Double(y[i]) + Double.log1p(Double.exp(-abs(zi)))
      }
      return total / Double(count)
    case .crossEntropy:
      // log Σⱼ exp(zⱼ − max) is −log a[top]: the softmax output at the row's
      // largest z (the forward pass shifted by it, and e⁰ = 1 exactly) is
      // 1 / Σⱼ exp(zⱼ − max), and never below 1/cols. One log a row, no exp.
      for r in 0..<rows {
        let zRow = z + r * cols
        let yRow = y + r * cols
        var top = 0
        for j in 1..<cols where zRow[j] > zRow[top] { top = j }
        let largest = Double(zRow[top])
        let logSum = -Double.log(Double(a[r * cols + top]))
        for j in 0..<cols {
          total -= Double(yRow[j]) * ((Double(zRow[j]) - largest) - logSum)
        }
      }
      return total / Double(rows)
    }
  }

  /// delta = ∂L/∂z of the output layer.
  @inlinable
  func outputDelta<T: Scalar>(
    z: UnsafePointer<T>, a: UnsafePointer<T>, y: UnsafePointer<T>, rows: Int, cols: Int,
    output: Activation, into delta: UnsafeMutablePointer<T>
  ) {
    let count = rows * cols
    switch self {
    case .mse:
      let scale = T(2) / T(count)
      for i in 0..<count { delta[i] = scale * (a[i] - y[i]) }
      if output == .softmax {
        // Jacobian-vector product of softmax: a ⊙ (g − Σⱼ gⱼ aⱼ), row by row.
        for r in 0..<rows {
          let aRow = a + r * cols
          let dRow = delta + r * cols
          var s: T = 0
          for j in 0..<cols { s += dRow[j] * aRow[j] }
          for j in 0..<cols { dRow[j] = aRow[j] * (dRow[j] - s) }
        }
      } else {
        output.multiplyByDerivative(delta, z: z, a: a, count: count)
      }
    case .binaryCrossEntropy:
      let scale = 1 / T(count)
      for i in 0..<count { delta[i] = (a[i] - y[i]) * scale }
    case .crossEntropy:
      let scale = 1 / T(rows)
      for r in 0..<rows {
        let aRow = a + r * cols
        let yRow = y + r * cols
        let dRow = delta + r * cols
        var ySum: T = 0
        for j in 0..<cols { ySum += yRow[j] }
        for j in 0..<cols { dRow[j] = (aRow[j] * ySum - yRow[j]) * scale }
      }
    }
  }
}
