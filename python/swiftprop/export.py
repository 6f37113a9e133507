"""Export to ONNX and PyTorch, and import from PyTorch.

- ``to_onnx(model)``: an ONNX model of a ``Network`` (or
  ``sp.reference.Network``) or of a fitted ``swiftprop.sklearn``
  estimator, which ONNX Runtime runs with ``predict``'s numbers (to about
  1e-7 in float32 and 1e-15 in float64; the tests hold them to 1e-6 and
  1e-12).
- ``register_skl2onnx()``: teaches ``skl2onnx`` our estimators, so that
  ``skl2onnx.to_onnx(estimator, X)`` converts them, alone or inside a
  ``Pipeline``.
- ``to_torch(network)`` and ``from_torch(module)``: a ``torch.nn.Sequential``
  of ``Linear`` layers and activations, and back.

onnx, onnxruntime, skl2onnx and torch are optional
(``pip install "swiftprop[onnx]"``, ``pip install "swiftprop[torch]"``):
this module imports them only when one of its functions runs, and
``import swiftprop`` never imports them.

The ONNX graph
--------------
Each layer is ``MatMul`` (by ``W`` of shape ``(n_in, n_out)``) then ``Add``
(``b``), then one node for the activation: ``Identity``, ``Sigmoid``,
``Tanh``, ``Relu``, ``LeakyRelu(alpha=0.01)`` or ``Softmax(axis=-1)``.
The model's input is ``"X"`` of shape ``(N, n_inputs)``; a network's output
is ``"Y"`` of shape ``(N, n_outputs)``. Estimators have skl2onnx's outputs
for scikit-learn's MLPs (with ``zipmap=False``): the classifier
``"label"`` (``predict``; int64 for integer, boolean and integral float
classes, strings for string classes; an int64 0/1 matrix for multi-label
targets) and ``"probabilities"`` (``predict_proba``), the regressor
``"variable"`` (``predict``, always of shape ``(N, n_outputs)``).

One exception, in float64 only: ONNX stores ``LeakyRelu``'s ``alpha`` as a
32-bit float, so a float64 ``LeakyRelu`` multiplies by
``0.009999999776482582``, not ``0.01``, a relative error of 2e-8 on every
negative input. A float64 export writes leaky ReLU as
``Max(z, Mul(z, 0.01))`` with the slope as a float64 constant instead; as
``0 < 0.01 < 1``, ``max(z, 0.01 z)`` is ``z`` for ``z > 0`` and ``0.01 z``
otherwise, exactly what the engine computes, rounding included.
"""

import importlib
import sys

import numpy as np

from . import network as network_module
from . import reference
from ._validation import check_dtype, check_int
from ._version import __version__
from .layers import Dense
from .reference import LEAKY_RELU_SLOPE

__all__ = ["to_onnx", "register_skl2onnx", "to_torch", "from_torch",
           "DEFAULT_OPSET"]

# ONNX operator set written by default: read by ONNX Runtime 1.12 and
# later. From opset 13 on, Softmax normalises along its axis only.
DEFAULT_OPSET = 17
_MIN_OPSET = 13

_ONNX_ACTIVATIONS = {"identity": "Identity", "sigmoid": "Sigmoid",
                     "tanh": "Tanh", "relu": "Relu", "leaky_relu": "LeakyRelu",
                     "softmax": "Softmax", "elu": "Elu", "exp": "Exp"}


def _require(module, extra, purpose):
    """Import an optional dependency, or raise an ImportError saying which
    extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{purpose} needs the optional package {module!r}, which is not "
            f"installed: pip install \"swiftprop[{extra}]\" (or pip install "
            f"{module.split('.')[0]})") from error


# What is being exported


def _estimator_kind(model):
    """``"classifier"``, ``"regressor"`` or ``None`` for anything that is not
    one of our estimators (never imports scikit-learn itself)."""
    estimators = sys.modules.get("swiftprop.sklearn")
    if estimators is None:
        return None
    if isinstance(model, estimators.MLPClassifier):
        return "classifier"
    if isinstance(model, estimators.MLPRegressor):
        return "regressor"
    return None


def _is_network(model):
    # network.py imports this module too: its names are read only when a
    # call needs them.
    return isinstance(model, (network_module.Network, reference.Network))


def _fitted_network(estimator):
    network = getattr(estimator, "network_", None)
    if network is None:
        raise ValueError(f"This {type(estimator).__name__} instance is not "
                         "fitted yet: call fit before exporting it")
    return network


def _label_table(estimator, nocl=False):
    """How the classifier's labels go into ONNX; with ``nocl`` (skl2onnx's
    option) the labels are the class indices.

    Returns
    -------
    kind : {"multilabel", "int64", "string"}
    classes : ndarray of shape (n_classes,)
        int64, or object (str) for string labels.
    """
    if estimator._label_binarizer.y_type_.startswith("multilabel"):
        return "multilabel", np.asarray(estimator.classes_).astype(np.int64)
    classes = np.asarray(estimator.classes_)
    if nocl:
        return "int64", np.arange(len(classes), dtype=np.int64)
    if classes.dtype.kind in "biu":
        return "int64", classes.astype(np.int64)
    if classes.dtype.kind == "f":
        if np.all(np.isfinite(classes)) and np.all(
                classes == np.round(classes)):
            return "int64", classes.astype(np.int64)
        raise ValueError("ONNX labels must be integers or strings, as in "
                         "skl2onnx; classes_ holds non-integral floats "
                         f"{classes!r}")
    if all(isinstance(label, str) for label in classes.tolist()):
        return "string", np.array([str(label) for label in classes],
                                  dtype=object)
    raise ValueError("ONNX labels must be integers or strings, as in "
                     f"skl2onnx; classes_ has dtype {classes.dtype}")


# Writing the graph


class _HelperGraph:
    """Nodes and initializers of a model built with ``onnx.helper``."""

    def __init__(self, onnx):
        self.onnx = onnx
        self.nodes = []
        self.initializers = []
        self._used = set()

    def name(self, hint):
        name, count = hint, 1
        while name in self._used:
            count += 1
            name = f"{hint}_{count}"
        self._used.add(name)
        return name

    def constant(self, hint, array):
        name = self.name(hint)
        self.initializers.append(
            self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op_type, inputs, hint, output=None, **attributes):
        output = output or self.name(hint)
        self.nodes.append(self.onnx.helper.make_node(
            op_type, list(inputs), [output], name=self.name(op_type),
            **attributes))
        return output


class _Skl2OnnxGraph:
    """The same interface, writing into skl2onnx's scope and container."""

    def __init__(self, scope, container):
        self.scope = scope
        self.container = container

    def name(self, hint):
        return self.scope.get_unique_variable_name(hint)

    def constant(self, hint, array):
        import onnx
        name = self.name(hint)
        array = np.asarray(array)
        if array.dtype == object:  # strings: string_data, not raw_data
            self.container.add_initializer(
                name, onnx.TensorProto.STRING, list(array.shape),
                [label.encode("utf-8") for label in array.tolist()])
        else:
            tensor = onnx.numpy_helper.from_array(array)
            self.container.add_initializer(name, tensor.data_type,
                                           list(array.shape), tensor)
        return name

    def node(self, op_type, inputs, hint, output=None, **attributes):
        output = output or self.name(hint)
        self.container.add_node(
            op_type, list(inputs), [output],
            name=self.scope.get_unique_operator_name(op_type), **attributes)
        return output


def _tensor_type(dtype):
    import onnx
    return {np.dtype(np.float32): onnx.TensorProto.FLOAT,
            np.dtype(np.float64): onnx.TensorProto.DOUBLE}[np.dtype(dtype)]


def _write_network(graph, layers, weights, X, dtype):
    """Append every layer's MatMul, Add and activation; return the name of
    the last activation's output."""
    h = X
    for index, (layer, (W, b)) in enumerate(zip(layers, weights)):
        W = graph.constant(f"W{index}", np.asarray(W, dtype=dtype))
        b = graph.constant(f"b{index}", np.asarray(b, dtype=dtype))
        product = graph.node("MatMul", [h, W], f"matmul{index}")
        z = graph.node("Add", [product, b], f"z{index}")
        h = _write_activation(graph, layer.activation, z, dtype, index)
    return h


def _write_activation(graph, activation, z, dtype, index):
    hint = f"a{index}"
    if activation == "softmax":
        return graph.node("Softmax", [z], hint, axis=-1)
    if activation == "leaky_relu":
        if np.dtype(dtype) == np.float64:
            # LeakyRelu's alpha is a 32-bit float attribute: see the module
            # docstring for why max(z, 0.01 z) is exact.
            slope = graph.constant(f"slope{index}",
                                   np.array(LEAKY_RELU_SLOPE, np.float64))
            scaled = graph.node("Mul", [z, slope], f"scaled{index}")
            return graph.node("Max", [z, scaled], hint)
        return graph.node("LeakyRelu", [z], hint, alpha=LEAKY_RELU_SLOPE)
    if activation == "elu" and np.dtype(dtype) == np.float64:
        # ONNX Runtime has no double Elu: where(z > 0, z, exp(z) - 1).
        zero = graph.constant(f"zero{index}", np.array(0.0, np.float64))
        one = graph.constant(f"one{index}", np.array(1.0, np.float64))
        positive = graph.node("Greater", [z, zero], f"positive{index}")
        exp = graph.node("Exp", [z], f"exp{index}")
        below = graph.node("Sub", [exp, one], f"below{index}")
        return graph.node("Where", [positive, z, below], hint)
    if activation == "elu":
        return graph.node("Elu", [z], hint, alpha=1.0)
    return graph.node(_ONNX_ACTIVATIONS[activation], [z], hint)


def _write_classifier(graph, network, labels, p, dtype, label,
                      probabilities):
    """From the network's output ``p`` to the ``label`` and
    ``probabilities`` outputs (names given), as ``predict`` and
    ``predict_proba`` compute them; ``labels`` is ``_label_table``'s."""
    import onnx
    kind, classes = labels
    if kind == "multilabel":
        # LabelBinarizer: a label is on where its probability is > 0.5.
        half = graph.constant("half", np.array(0.5, dtype=dtype))
        above = graph.node("Greater", [p, half], "above_half")
        graph.node("Cast", [above], "label", output=label,
                   to=onnx.TensorProto.INT64)
        graph.node("Identity", [p], "probabilities", output=probabilities)
        return
    if network.n_outputs == 1:
        # Binary: columns 1 - p and p. ArgMax picks column 1 exactly when
        # p > 0.5 (1 - p is exact for p >= 0.5), LabelBinarizer's rule.
        one = graph.constant("one", np.array(1.0, dtype=dtype))
        other = graph.node("Sub", [one, p], "negative_proba")
        graph.node("Concat", [other, p], "probabilities",
                   output=probabilities, axis=1)
    else:
        graph.node("Identity", [p], "probabilities", output=probabilities)
    index = graph.node("ArgMax", [probabilities], "argmax", axis=1,
                       keepdims=0)
    table = graph.constant("classes", classes)
    graph.node("Gather", [table, index], "label", output=label, axis=0)


# ONNX


def to_onnx(model, *, dtype=None, opset=None, name=None):
    """An ONNX model computing what ``model.predict`` computes.

    An inference graph: dropout rates, which act in training steps only,
    add nothing to it.

    Parameters
    ----------
    model : Network, reference.Network, MLPClassifier or MLPRegressor
        A network, or a fitted ``swiftprop.sklearn`` estimator.
    dtype : {"float32", "float64"}, optional
        Element type of the model's input, weights and outputs; by default
        the network's.
    opset : int, optional
        ONNX operator set version (13 or later); default ``DEFAULT_OPSET``.
    name : str, optional
        The graph's name; by default the class name.

    Returns
    -------
    onnx.ModelProto
        Input ``"X"`` of shape ``(N, n_inputs)``. Outputs: for a network
        ``"Y"`` of shape ``(N, n_outputs)``; for ``MLPClassifier``
        ``"label"`` of shape ``(N,)`` (``(N, n_labels)`` for multi-label)
        and ``"probabilities"`` of shape ``(N, n_classes)``; for
        ``MLPRegressor`` ``"variable"`` of shape ``(N, n_outputs)``: the
        names skl2onnx gives scikit-learn's MLPs (with ``zipmap=False``).

    Raises
    ------
    TypeError
        If ``model`` is neither a network nor one of our estimators.
    ValueError
        If the estimator is not fitted, its labels are neither integers
        nor strings, or ``opset`` is out of range.
    ImportError
        If ``onnx`` is not installed.

    Examples
    --------
    >>> import numpy as np, onnxruntime, swiftprop as sp
    >>> net = sp.Network([3, 8, 2], activation="tanh", seed=0)
    >>> session = onnxruntime.InferenceSession(
    ...     sp.to_onnx(net).SerializeToString())
    >>> X = np.ones((4, 3))
    >>> np.allclose(session.run(None, {"X": X})[0], net.predict(X))
    True
    """
    kind = _estimator_kind(model)
    if kind is not None:
        network = _fitted_network(model)
    elif _is_network(model):
        network = model
    else:
        raise TypeError("to_onnx takes a swiftprop Network or a fitted "
                        "swiftprop.sklearn MLPClassifier or MLPRegressor, "
                        f"got {type(model).__name__}")
    onnx = _require("onnx", "onnx", "to_onnx")
    dtype = network.dtype if dtype is None else check_dtype(dtype)
    latest = onnx.defs.onnx_opset_version()
    opset = DEFAULT_OPSET if opset is None else check_int(
        "opset", opset, low=_MIN_OPSET, high=latest)
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    if kind == "classifier":
        labels = _label_table(model)  # raises before any work is done

    graph = _HelperGraph(onnx)
    element = _tensor_type(dtype)
    X = graph.name("X")
    inputs = [onnx.helper.make_tensor_value_info(
        X, element, ["N", network.n_inputs])]
    p = _write_network(graph, network.layers, network.weights, X, dtype)
    if kind == "classifier":
        label_kind, classes = labels
        label, probabilities = graph.name("label"), graph.name("probabilities")
        _write_classifier(graph, network, labels, p, dtype, label,
                          probabilities)
        label_type = (onnx.TensorProto.STRING if label_kind == "string"
                      else onnx.TensorProto.INT64)
        label_shape = (["N", network.n_outputs] if label_kind == "multilabel"
                       else ["N"])
        outputs = [
            onnx.helper.make_tensor_value_info(label, label_type, label_shape),
            onnx.helper.make_tensor_value_info(probabilities, element,
                                               ["N", len(classes)])]
    else:
        final = graph.name("variable" if kind == "regressor" else "Y")
        graph.node("Identity", [p], final, output=final)
        outputs = [onnx.helper.make_tensor_value_info(
            final, element, ["N", network.n_outputs])]

    graph_proto = onnx.helper.make_graph(
        graph.nodes, name or type(model).__name__, inputs, outputs,
        graph.initializers)
    opsets = [onnx.helper.make_opsetid("", opset)]
    model_proto = onnx.helper.make_model(
        graph_proto, opset_imports=opsets,
        ir_version=_ir_version(onnx, opsets),
        producer_name="swiftprop", producer_version=_version())
    onnx.helper.set_model_props(model_proto, {
        "activations": ",".join(layer.activation
                                for layer in network.layers),
        "loss": network.loss_name})
    onnx.checker.check_model(model_proto)
    return model_proto


def _ir_version(onnx, opsets):
    """The oldest IR version that holds these opsets, so that runtimes older
    than the onnx package can read the model."""
    try:
        return onnx.helper.find_min_ir_version_for(opsets)
    except (AttributeError, ValueError):  # very old or very new onnx
        return onnx.IR_VERSION


def _version():
    return __version__


# skl2onnx


def register_skl2onnx():
    """Register converters for our estimators with skl2onnx.

    After this call, ``skl2onnx.to_onnx(estimator, X)`` (and
    ``convert_sklearn``) converts ``swiftprop.sklearn.MLPClassifier`` and
    ``MLPRegressor``, alone or inside a ``Pipeline``, with skl2onnx's
    outputs for scikit-learn's MLPs: ``"label"`` and ``"probabilities"``
    with ``options={"zipmap": False}``, ``"output_label"`` and
    ``"output_probability"`` (a ZipMap) by default, ``"variable"`` for the
    regressor. ``options={"nocl": True}`` gives class indices for labels.
    The graph computes in the network's dtype and casts from
    and to the input's element type (``X`` of float32 or float64). Calling
    it again is harmless.

    Raises
    ------
    ImportError
        If skl2onnx or scikit-learn is not installed.
    """
    skl2onnx = _require("skl2onnx", "onnx", "register_skl2onnx")
    _require("sklearn", "sklearn", "register_skl2onnx")
    from .sklearn import MLPClassifier, MLPRegressor
    skl2onnx.update_registered_converter(
        MLPClassifier, "SwiftpropMLPClassifier", _classifier_shapes,
        _convert_classifier,
        options={"zipmap": [True, False, "columns"], "nocl": [False, True]})
    skl2onnx.update_registered_converter(
        MLPRegressor, "SwiftpropMLPRegressor", _regressor_shapes,
        _convert_regressor)


def _float_type_of(variable):
    """skl2onnx's tensor type class for outputs computed from ``variable``:
    double for a double input, float otherwise."""
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    if isinstance(variable.type, DoubleTensorType):
        return DoubleTensorType
    return FloatTensorType


def _check_operator(operator, outputs):
    from skl2onnx.common.utils import check_input_and_output_numbers
    check_input_and_output_numbers(operator, input_count_range=1,
                                   output_count_range=outputs)
    estimator = operator.raw_operator
    network = _fitted_network(estimator)
    shape = operator.inputs[0].type.shape
    if len(shape) == 2 and isinstance(shape[1], int) and (
            shape[1] != network.n_inputs):
        raise ValueError(f"{type(estimator).__name__} expects "
                         f"{network.n_inputs} features, the ONNX input has "
                         f"{shape[1]}")
    return estimator, network


def _classifier_shapes(operator):
    from skl2onnx.common.data_types import Int64TensorType, StringTensorType
    estimator, network = _check_operator(operator, 2)
    N = operator.inputs[0].get_first_dimension()
    nocl = operator.scope_inst.get_options(estimator, {"nocl": False})["nocl"]
    kind, classes = _label_table(estimator, nocl)
    if kind == "multilabel":
        operator.outputs[0].type = Int64TensorType([N, network.n_outputs])
    elif kind == "string":
        operator.outputs[0].type = StringTensorType([N])
    else:
        operator.outputs[0].type = Int64TensorType([N])
    operator.outputs[1].type = _float_type_of(operator.inputs[0])(
        [N, len(classes)])


def _regressor_shapes(operator):
    estimator, network = _check_operator(operator, 1)
    N = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = _float_type_of(operator.inputs[0])(
        [N, network.n_outputs])


def _network_input(graph, operator, network):
    """The input in the network's dtype (cast if it is not)."""
    variable = operator.inputs[0]
    element = _tensor_type(network.dtype)
    if variable.type.to_onnx_type().tensor_type.elem_type == element:
        return variable.full_name
    return graph.node("Cast", [variable.full_name], "cast_input", to=element)


def _output(graph, operator, index, network):
    """``(name to write, cast)``: where the network-dtype result goes, and
    whether a Cast to the declared output type must follow."""
    variable = operator.outputs[index]
    declared = variable.type.to_onnx_type().tensor_type.elem_type
    if declared == _tensor_type(network.dtype):
        return variable.full_name, None
    return graph.name(f"{variable.full_name}_{network.dtype.name}"), declared


def _convert_classifier(scope, operator, container):
    estimator = operator.raw_operator
    network = estimator.network_
    graph = _Skl2OnnxGraph(scope, container)
    X = _network_input(graph, operator, network)
    p = _write_network(graph, network.layers, network.weights, X,
                       network.dtype)
    probabilities, cast = _output(graph, operator, 1, network)
    nocl = container.get_options(estimator, {"nocl": False})["nocl"]
    _write_classifier(graph, network, _label_table(estimator, nocl), p,
                      network.dtype, operator.outputs[0].full_name,
                      probabilities)
    if cast is not None:
        graph.node("Cast", [probabilities], "probabilities",
                   output=operator.outputs[1].full_name, to=cast)


def _convert_regressor(scope, operator, container):
    estimator = operator.raw_operator
    network = estimator.network_
    graph = _Skl2OnnxGraph(scope, container)
    X = _network_input(graph, operator, network)
    p = _write_network(graph, network.layers, network.weights, X,
                       network.dtype)
    result, cast = _output(graph, operator, 0, network)
    if cast is None:
        graph.node("Identity", [p], "variable", output=result)
    else:
        graph.node("Cast", [p], "variable",
                   output=operator.outputs[0].full_name, to=cast)


# PyTorch

_TORCH_DTYPES = ("float32", "float64")


def _torch_activation(nn, activation):
    """The module for one of our activations, or ``None`` for identity."""
    if activation == "identity":
        return None
    return {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU,
            "leaky_relu": lambda: nn.LeakyReLU(LEAKY_RELU_SLOPE),
            "softmax": lambda: nn.Softmax(dim=-1),
            "elu": nn.ELU, "exp": lambda: _exp_module(nn)()}[activation]()


_EXP_MODULE = []


def _exp_module(nn):
    """``Exp``: a module computing ``torch.exp`` (PyTorch has no
    ``nn.Exp``), made once, when torch is first used."""
    if not _EXP_MODULE:
        class Exp(nn.Module):
            """a = exp(z): the log link of a Poisson regression."""

            def forward(self, z):
                return z.exp()

        _EXP_MODULE.append(Exp)
    return _EXP_MODULE[0]


def to_torch(model):
    """A ``torch.nn.Sequential`` computing what ``model.predict`` computes.

    Parameters
    ----------
    model : Network, reference.Network, MLPClassifier or MLPRegressor
        A network, or a fitted estimator (its ``network_``: the
        Sequential's output is the network's, ``(N, n_outputs)``, not
        ``predict_proba``'s columns).

    Returns
    -------
    torch.nn.Sequential
        For each layer a ``Linear(n_in, n_out)`` with ``weight = W.T`` (shape
        ``(n_out, n_in)``) and ``bias = b``, followed by its activation:
        ``Sigmoid``, ``Tanh``, ``ReLU``, ``LeakyReLU(0.01)`` or
        ``Softmax(dim=-1)`` (none for identity), then ``Dropout(p)`` for a
        layer with dropout rate p (active in torch's training mode only, as
        here in training steps only). Parameters are copies, in
        the network's dtype, on the CPU; building it draws nothing from
        torch's random generator.

    Raises
    ------
    TypeError
        If ``model`` is neither a network nor one of our estimators.
    ImportError
        If torch is not installed.
    """
    kind = _estimator_kind(model)
    if kind is not None:
        network = _fitted_network(model)
    elif _is_network(model):
        network = model
    else:
        raise TypeError("to_torch takes a swiftprop Network or a fitted "
                        "swiftprop.sklearn estimator, got "
                        f"{type(model).__name__}")
    torch = _require("torch", "torch", "to_torch")
    nn = torch.nn
    dtype = getattr(torch, network.dtype.name)
    modules = []
    for layer, (W, b) in zip(network.layers, network.weights):
        # skip_init: no random initial values that are overwritten anyway.
        linear = torch.nn.utils.skip_init(nn.Linear, layer.n_in, layer.n_out,
                                          dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            linear.bias.copy_(torch.from_numpy(np.ascontiguousarray(b)))
        modules.append(linear)
        activation = _torch_activation(nn, layer.activation)
        if activation is not None:
            modules.append(activation)
        if layer.dropout:
            modules.append(nn.Dropout(layer.dropout))
    return nn.Sequential(*modules)


def _flatten(nn, module, path):
    """``[(path, module), ...]`` of a Sequential's leaves, nested
    Sequentials opened."""
    if isinstance(module, nn.Sequential):
        leaves = []
        for key, child in module.named_children():
            leaves.extend(
                _flatten(nn, child, f"{path}.{key}" if path else key))
        return leaves
    return [(path or "module", module)]


def _activation_of(nn, path, module, last):
    """Our name for an activation module, or a ValueError naming it."""
    if isinstance(module, nn.Sigmoid):
        return "sigmoid"
    if isinstance(module, nn.Tanh):
        return "tanh"
    if isinstance(module, nn.ReLU):
        return "relu"
    if isinstance(module, nn.LeakyReLU):
        if module.negative_slope != LEAKY_RELU_SLOPE:
            raise ValueError(
                f"module {path} ({module!r}) has negative_slope "
                f"{module.negative_slope}; the engine's leaky_relu has slope "
                f"{LEAKY_RELU_SLOPE}")
        return "leaky_relu"
    if isinstance(module, nn.ELU):
        if module.alpha != 1.0:
            raise ValueError(f"module {path} ({module!r}) has alpha "
                             f"{module.alpha}; the engine's elu has alpha 1")
        return "elu"
    if _EXP_MODULE and isinstance(module, _EXP_MODULE[0]):
        return "exp"
    if isinstance(module, nn.Softmax):
        if module.dim not in (-1, 1):
            raise ValueError(f"module {path} ({module!r}) takes the softmax "
                             "over dim "
                             f"{module.dim}; only dim=-1 or dim=1 (over the "
                             "features) is supported")
        if not last:
            raise ValueError(f"module {path} ({module!r}): softmax is "
                             "supported as the last module only")
        return "softmax"
    raise ValueError(
        f"module {path} ({module!r}) is not supported: from_torch takes a "
        "Sequential of Linear layers, each followed by at most one of "
        "Identity, Sigmoid, Tanh, ReLU, LeakyReLU(0.01), ELU(1.0) or, last, "
        "Softmax(dim=-1), then at most one Dropout")


def from_torch(module, loss="mse", *, seed=None, network_class=None):
    """A ``Network`` with the layers and parameters of a torch Sequential.

    The inverse of ``to_torch``.

    Parameters
    ----------
    module : torch.nn.Sequential or torch.nn.Linear
        ``Linear`` layers, each followed by at most one activation module
        (``Identity``, ``Sigmoid``, ``Tanh``, ``ReLU``, ``LeakyReLU`` with
        ``negative_slope=0.01``, or ``Softmax(dim=-1)`` after the last
        layer), then at most one ``Dropout(p)`` (the layer's dropout rate;
        not after the last layer); nested Sequentials are opened. ``Linear``
        without bias gets
        a zero bias. All parameters float32 or all float64 (the network's
        dtype); any device.
    loss : str, default="mse"
        The network's loss; ``binary_cross_entropy`` needs a final
        ``Sigmoid``, ``cross_entropy`` a final ``Softmax``.
    seed : int, optional
        Seed of the network's generator (mini-batch order in later
        training).
    network_class : type, optional
        The class to build, ``Network`` by default (``Network.from_torch``
        passes its own class).

    Returns
    -------
    Network
        ``predict`` equals the module's output (to rounding: about 1e-16
        relative in float64).

    Raises
    ------
    TypeError
        If ``module`` is not a torch Sequential or Linear.
    ValueError
        Naming the offending module: an unsupported module or setting,
        an activation before any Linear or two in a row, sizes that do
        not chain, mixed or non-float dtypes.
    ImportError
        If torch is not installed.
    """
    torch = _require("torch", "torch", "from_torch")
    nn = torch.nn
    if not isinstance(module, (nn.Sequential, nn.Linear)):
        raise TypeError("from_torch takes a torch.nn.Sequential of Linear "
                        "layers and activations (or one Linear), got "
                        f"{type(module).__name__}")
    leaves = [(path, child) for path, child in _flatten(nn, module, "")
              if not isinstance(child, nn.Identity)]
    if not leaves:
        raise ValueError("the Sequential has no Linear layer")
    specs, dtype = [], None  # specs: [n_in, n_out, activation, W, b, p]
    dropped = False  # whether the last layer's Dropout has been read
    for position, (path, child) in enumerate(leaves):
        last = position == len(leaves) - 1
        if isinstance(child, nn.Dropout):
            if not specs or dropped:
                raise ValueError(f"module {path} ({child!r}) must follow a "
                                 "Linear layer or its activation, once")
            specs[-1][5] = float(child.p)
            dropped = True
            continue
        if dropped and not isinstance(child, nn.Linear):
            raise ValueError(f"module {path} ({child!r}) comes after a "
                             "Dropout; dropout is supported after the "
                             "layer's activation only")
        dropped = False
        if isinstance(child, nn.Linear):
            weight = child.weight.detach().cpu()
            kind = str(weight.dtype).replace("torch.", "")
            if kind not in _TORCH_DTYPES:
                raise ValueError(f"module {path} ({child!r}) has dtype "
                                 f"{kind}; only float32 and float64 are "
                                 "supported")
            if dtype is not None and kind != dtype:
                raise ValueError(f"module {path} ({child!r}) is {kind}, but "
                                 f"earlier layers are {dtype}")
            dtype = kind
            if specs and specs[-1][1] != child.in_features:
                raise ValueError(f"module {path} ({child!r}) takes "
                                 f"{child.in_features} inputs, but the layer "
                                 f"before has {specs[-1][1]} outputs")
            W = weight.numpy().T.copy()
            b = (np.zeros(child.out_features, dtype=dtype)
                 if child.bias is None
                 else child.bias.detach().cpu().numpy().copy())
            specs.append([child.in_features, child.out_features, "identity",
                          W, b, 0.0])
            continue
        activation = _activation_of(nn, path, child, last)
        if not specs:
            raise ValueError(f"module {path} ({child!r}) comes before any "
                             "Linear layer")
        if specs[-1][2] != "identity" or (
                position > 0 and not isinstance(leaves[position - 1][1],
                                                nn.Linear)):
            raise ValueError(f"module {path} ({child!r}) follows another "
                             "activation; each Linear takes at most one")
        specs[-1][2] = activation
    if network_class is None:
        network_class = network_module.Network
    if specs[-1][5]:
        raise ValueError("dropout on the output layer is not supported: the "
                         "Sequential ends with Dropout")
    layers = [Dense(n_in, n_out, activation, rate)
              for n_in, n_out, activation, _, _, rate in specs]
    built = network_class(layers, loss=loss, dtype=dtype, seed=seed)
    built.set_weights([(W, b) for _, _, _, W, b, _ in specs])
    return built
