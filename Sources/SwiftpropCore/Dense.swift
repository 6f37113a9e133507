/// One fully-connected layer's shape and activation: it computes
/// a_out = f(a_in · W + b) with W of shape (inputs × outputs), b of
/// shape (outputs), as the NumPy tutorials write it.
public struct Dense: Sendable, Equatable {
  public var inputs: Int
  public var outputs: Int
  public var activation: Activation

  public init(_ inputs: Int, _ outputs: Int, _ activation: Activation) {
    self.inputs = inputs
    self.outputs = outputs
    self.activation = activation
  }

  /// Most layers a network may have (as many as the Python package
  /// allows). The engine keeps a few small Swift arrays with one entry per
  /// layer (the layers, their parameter and workspace buffers); this bound
  /// keeps them a few megabytes at most, whatever a caller asks for.
  public static let maximumLayers = 100_000

  /// Checks a stack of layers with its loss; returns why it cannot be
  /// built, or nil.
  public static func problem(in layers: [Dense], loss: Loss) -> String? {
    guard let last = layers.last else { return "a network needs at least one layer" }
    if layers.count > maximumLayers {
      return "a network has at most \(maximumLayers) layers, got \(layers.count)"
    }
    for (index, layer) in layers.enumerated() {
      if layer.inputs < 1 || layer.outputs < 1 {
        return "layer \(index) has \(layer.inputs) inputs and \(layer.outputs) outputs; both must be >= 1"
      }
      if index > 0 && layer.inputs != layers[index - 1].outputs {
        return "layer \(index) has \(layer.inputs) inputs, but layer \(index - 1) has \(layers[index - 1].outputs) outputs"
      }
      if index < layers.count - 1 && layer.activation.isOutputOnly {
        return "\(layer.activation.name) is for the output layer only, but hidden layer \(index) uses it"
      }
    }
    if let needed = loss.requiredOutput, last.activation != needed {
      return "loss '\(loss.name)' needs a \(needed.name) output layer, got '\(last.activation.name)'"
    }
    return nil
  }
}
