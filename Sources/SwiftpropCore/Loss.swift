import CSwiftprop

/// The loss functions, by the names the Python API uses.
///
/// With n samples and k outputs:
/// - `mse`: L = Σ (a − y)² / (n·k), the mean over all elements (PyTorch's
///   `MSELoss`).
/// - `binaryCrossEntropy` (sigmoid output): L = Σ [max(z, 0) − z·y +
///   log(1 + e^−|z|)] / (n·k), computed from the pre-activation z so that it
///   stays finite when the sigmoid saturates; ∂L/∂z = (a − y) / (n·k).
/// - `huber`: L = Σ h(a − y) / (n·k) with h(d) = d²/2 for |d| ≤ 1 and
///   |d| − 1/2 beyond (PyTorch's `HuberLoss` with δ = 1): the mean squared
///   error near the target, the absolute error far from it, so outliers
///   pull less; ∂L/∂a = clip(a − y, −1, 1) / (n·k).
/// - `crossEntropy` (softmax output): L = −Σ y · log softmax(z) / n, with a
///   log-sum-exp shifted by the row maximum (read off the softmax output);
///   ∂L/∂z = (a·Σⱼyⱼ − y) / n, which is (a − y) / n for one-hot rows.
/// - `poisson` (exp output, the log link): half the Poisson deviance,
///   L = Σ [y·log(y/a) − y + a] / (n·k) with 0·log 0 = 0, written from
///   z = log a as Σ [a − y·z + y·log y − y] / (n·k) (0 for a perfect fit;
///   targets y ≥ 0); ∂L/∂z = (a − y) / (n·k).
///
/// Every gradient is the mean over the batch: no further division by n.
///
/// Each loss's value and output delta are written once (`value`,
/// `outputDeltaRow`) and used by every pass. Adding a loss: a case here
/// with its name and `SP_*` code, its value, delta scale and delta below
/// (and `requiredOutput` if it is fused with an output activation), the
/// code in `swiftprop.h`, and its NumPy twin in `reference.py`.
public enum Loss: String, Coded {
  case mse, binaryCrossEntropy = "binary_cross_entropy", crossEntropy = "cross_entropy", huber
  case poisson

  public var code: Int32 {
    switch self {
    case .mse: headerCode(SP_MSE)
    case .binaryCrossEntropy: headerCode(SP_BINARY_CROSS_ENTROPY)
    case .crossEntropy: headerCode(SP_CROSS_ENTROPY)
    case .huber: headerCode(SP_HUBER)
    case .poisson: headerCode(SP_POISSON)
    }
  }

  /// Whether targets may be given as class labels (one-hot encoded by the
  /// bindings before they reach the engine).
  public var takesLabels: Bool { self == .crossEntropy }

  /// The output activation this loss is fused with, if any.
  public var requiredOutput: Activation? {
    switch self {
    case .mse, .huber: nil
    case .binaryCrossEntropy: .sigmoid
    case .crossEntropy: .softmax
    case .poisson: .exp
    }
  }

  /// The targets this loss is defined for, or nil for any finite
  /// targets: the sigmoid's cross-entropy −[y log a + (1 − y) log(1 − a)]
  /// needs y in [0, 1], the softmax's −Σ y log a needs y ≥ 0 (one-hot or
  /// soft rows); beyond them the loss runs to −∞ as training goes on. The
  /// Poisson deviance needs y ≥ 0 (counts or rates).
  public var targetRange: (low: Double, high: Double?)? {
    switch self {
    case .mse, .huber: nil
    case .binaryCrossEntropy: (0, 1)
    case .crossEntropy, .poisson: (0, nil)
    }
  }

  /// Why `count` targets do not suit this loss (`targetRange`), or nil.
  public func targetProblem<T: Scalar>(
    _ y: UnsafePointer<T>, count: Int, name: String
  ) -> String? {
    guard let (low, high) = targetRange, count > 0 else { return nil }
    var smallest = y[0]
    var largest = y[0]
    for i in 0..<count {
      smallest = min(smallest, y[i])
      largest = max(largest, y[i])
    }
    if Double(smallest) >= low && (high == nil || Double(largest) <= high!) { return nil }
    let allowed = high.map { "in [\(low), \($0)]" } ?? ">= \(low)"
    return "\(name) must hold targets \(allowed) for \(rawValue), got values in "
      + "[\(smallest), \(largest)]"
  }

  // MARK: - The formulas

  /// L for a batch of `rows` rows and `cols` outputs, accumulated in Double
  /// in row-major order; `input` reads the output layer's z and a and the
  /// targets y (row-major buffers, or the lane pass's vectors).
  @inlinable @inline(__always)
  func value<Input: LossInput>(_ input: Input, rows: Int, cols: Int) -> Double {
    var total = 0.0
    switch self {
    case .mse:
      for r in 0..<rows {
        for j in 0..<cols {
          let d = Double(input.a(r, j)) - Double(input.y(r, j))
          total += d * d
        }
      }
      return total / Double(rows * cols)
    case .binaryCrossEntropy:
      for r in 0..<rows {
        for j in 0..<cols {
          let z = Double(input.z(r, j))
          total += max(z, 0) - z * Double(input.y(r, j)) + Double.log1p(Double.exp(-abs(z)))
        }
      }
      return total / Double(rows * cols)
    case .crossEntropy:
      // log Σⱼ exp(zⱼ − max) is −log a[top]: the softmax output at the row's
      // largest z (`Activation.softmaxRow` shifted by it, and e⁰ = 1
      // exactly) is 1 / Σⱼ exp(zⱼ − max), and never below 1/cols. One log
      // a row, no exp.
      for r in 0..<rows {
        var top = 0
        for j in 1..<cols where input.z(r, j) > input.z(r, top) { top = j }
        let largest = Double(input.z(r, top))
        let logSum = -Double.log(Double(input.a(r, top)))
        for j in 0..<cols {
          total -= Double(input.y(r, j)) * ((Double(input.z(r, j)) - largest) - logSum)
        }
      }
      return total / Double(rows)
    case .huber:
      for r in 0..<rows {
        for j in 0..<cols {
          let d = abs(Double(input.a(r, j)) - Double(input.y(r, j)))
          total += d <= 1 ? 0.5 * d * d : d - 0.5
        }
      }
      return total / Double(rows * cols)
    case .poisson:
      for r in 0..<rows {
        for j in 0..<cols {
          let y = Double(input.y(r, j))
          let yLogY = y > 0 ? y * Double.log(y) : 0
          total += Double(input.a(r, j)) - y * Double(input.z(r, j)) + yLogY - y
        }
      }
      return total / Double(rows * cols)
    }
  }

  /// The factor of every output delta of a batch: 2/(n·k) for mse, 1/(n·k)
  /// for binary cross-entropy, huber and poisson, 1/n for cross-entropy.
  @inlinable @inline(__always)
  func deltaScale<T: Scalar>(rows: Int, cols: Int) -> T {
    switch self {
    case .mse: T(2) / T(rows * cols)
    case .binaryCrossEntropy, .huber, .poisson: 1 / T(rows * cols)
    case .crossEntropy: 1 / T(rows)
    }
  }

  /// δ = ∂L/∂z of the `cols` output units of one row (V a scalar) or of
  /// eight rows at once (V = SIMD8, a row per lane), with `scale` from
  /// `deltaScale`. For mse and huber the output activation's derivative
  /// follows (the Jacobian-vector product a ⊙ (g − Σⱼ gⱼaⱼ) for softmax).
  @inlinable @inline(__always)
  func outputDeltaRow<V: Lanes>(
    z: UnsafePointer<V>, a: UnsafePointer<V>, y: UnsafePointer<V>, scale: V.Element,
    cols: Int, output: Activation, into delta: UnsafeMutablePointer<V>
  ) {
    let scale = V(repeating: scale)
    switch self {
    case .mse, .huber:
      if self == .mse {
        for j in 0..<cols { delta[j] = (a[j] - y[j]) * scale }
      } else {
        let one = V(repeating: 1)
        for j in 0..<cols {
          let d = a[j] - y[j]
          delta[j] = V.select(d, above: one, one, else: V.select(-d, above: one, -one, else: d)) * scale
        }
      }
      if output == .softmax {
        var s = V(repeating: 0)
        for j in 0..<cols { s = s + delta[j] * a[j] }
        for j in 0..<cols { delta[j] = a[j] * (delta[j] - s) }
      } else {
        output.withFormula { f in
          for j in 0..<cols { delta[j] = f.derivativeTimes(delta[j], z: z[j], a: a[j]) }
        }
      }
    case .binaryCrossEntropy, .poisson:
      for j in 0..<cols { delta[j] = (a[j] - y[j]) * scale }
    case .crossEntropy:
      var ySum = V(repeating: 0)
      for j in 0..<cols { ySum = ySum + y[j] }
      for j in 0..<cols { delta[j] = (a[j] * ySum - y[j]) * scale }
    }
  }

  // MARK: - Over a batch

  /// L for a batch in row-major buffers.
  func value<T: Scalar>(
    z: UnsafePointer<T>, a: UnsafePointer<T>, y: UnsafePointer<T>, rows: Int, cols: Int
  ) -> Double {
    value(RowMajor(z: z, a: a, y: y, cols: cols), rows: rows, cols: cols)
  }

  /// δ = ∂L/∂z of the output layer, row by row.
  @inlinable
  func outputDelta<T: Scalar>(
    z: UnsafePointer<T>, a: UnsafePointer<T>, y: UnsafePointer<T>, rows: Int, cols: Int,
    output: Activation, into delta: UnsafeMutablePointer<T>
  ) {
    let scale: T = deltaScale(rows: rows, cols: cols)
    for r in 0..<rows {
      let offset = r * cols
      outputDeltaRow(
        z: z + offset, a: a + offset, y: y + offset, scale: scale, cols: cols, output: output,
        into: delta + offset)
    }
  }
}

extension Loss {
  /// The weighted loss Σᵣ wᵣ·Lᵣ / W of a batch (Lᵣ a row's loss, W = Σᵣ wᵣ
  /// > 0), and δ of the output layer with each row's scale wᵣ/W in place
  /// of 1/n: the gradient of the weighted mean. Integer weights give the
  /// loss and gradient of the batch with each row repeated wᵣ times.
  func weightedValueAndDelta<T: Scalar>(
    z: UnsafePointer<T>, a: UnsafePointer<T>, y: UnsafePointer<T>, weights: UnsafePointer<T>,
    weightSum: Double, rows: Int, cols: Int, output: Activation,
    into delta: UnsafeMutablePointer<T>
  ) -> Double {
    let rowScale: Double = deltaScale(rows: 1, cols: cols)
    var total = 0.0
    for r in 0..<rows {
      let offset = r * cols
      let share = Double(weights[r]) / weightSum
      total += share * value(
        RowMajor(z: z + offset, a: a + offset, y: y + offset, cols: cols), rows: 1, cols: cols)
      outputDeltaRow(
        z: z + offset, a: a + offset, y: y + offset, scale: T(rowScale * share), cols: cols,
        output: output, into: delta + offset)
    }
    return total
  }
}

/// Read access to the output layer's z and a and to the targets y, by row
/// and unit, for `Loss.value`.
public protocol LossInput {
  associatedtype T: Scalar
  func z(_ r: Int, _ j: Int) -> T
  func a(_ r: Int, _ j: Int) -> T
  func y(_ r: Int, _ j: Int) -> T
}

/// Row-major buffers of `cols` values a row.
struct RowMajor<T: Scalar>: LossInput {
  let z, a, y: UnsafePointer<T>
  let cols: Int

  init(z: UnsafePointer<T>, a: UnsafePointer<T>, y: UnsafePointer<T>, cols: Int) {
    self.z = z
    self.a = a
    self.y = y
    self.cols = cols
  }

  @inline(__always) func z(_ r: Int, _ j: Int) -> T { z[r * cols + j] }
  @inline(__always) func a(_ r: Int, _ j: Int) -> T { a[r * cols + j] }
  @inline(__always) func y(_ r: Int, _ j: Int) -> T { y[r * cols + j] }
}
