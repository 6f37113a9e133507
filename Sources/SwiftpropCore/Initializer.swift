import CSwiftprop

/// How a layer's weights are drawn; biases always start at zero.
///
/// Weights are drawn in Double from the network's `SeededGenerator`, row by
/// row of W (n_in × n_out), then rounded to the network's element type.
public enum Initializer: String, Coded {
  /// Glorot uniform: U(−√(6/(n_in+n_out)), +√(6/(n_in+n_out))).
  case xavier
  /// He normal: N(0, 2/n_in).
  case he
  /// Standard normal N(0, 1), as `np.random.randn` in the tutorials.
  case normal

  public var code: Int32 {
    switch self {
    case .xavier: headerCode(SP_XAVIER)
    case .he: headerCode(SP_HE)
    case .normal: headerCode(SP_NORMAL)
    }
  }

  /// Draws one weight for a layer of `inputs` × `outputs`.
  @inlinable
  func draw(inputs: Int, outputs: Int, from generator: inout SeededGenerator) -> Double {
    switch self {
    case .xavier:
      let limit = (6.0 / Double(inputs + outputs)).squareRoot()
      return (2.0 * generator.uniform() - 1.0) * limit
    case .he:
      return generator.normal() * (2.0 / Double(inputs)).squareRoot()
    case .normal:
      return generator.normal()
    }
  }
}
