"""Export to ONNX (``sp.to_onnx``, skl2onnx converters) and PyTorch
(``to_torch``/``from_torch``): ONNX Runtime and torch give ``predict``'s
numbers for every activation in float32 and float64, estimators give
skl2onnx's outputs, and bad inputs raise errors that say what is wrong."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

import swiftprop as sp
from conftest import HIDDEN_ACTIVATIONS

try:
    import onnx
    import onnxruntime as ort
except ImportError:
    onnx = ort = None
try:
    from sklearn.exceptions import ConvergenceWarning

    from swiftprop.sklearn import MLPClassifier, MLPRegressor
except ImportError:
    MLPClassifier = None

# onnx, onnxruntime and scikit-learn are test extras: skipped only where
# they could not be installed, with the reason in pytest's -rs summary.
needs_onnx = pytest.mark.skipif(
    ort is None, reason="onnx or onnxruntime is not installed (pip install "
    "\"swiftprop[onnx]\"); the test extras install them")
needs_sklearn = pytest.mark.skipif(
    MLPClassifier is None, reason="scikit-learn is not installed (pip "
    "install \"swiftprop[sklearn]\"); the test extras install it")

OUTPUT_ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu",
                      "softmax", "exp"]
DTYPES = ["float32", "float64"]
# How close the exported model's outputs must be to predict's.
TOLERANCE = {"float32": 1e-6, "float64": 1e-12}


def close(actual, expected, dtype):
    np.testing.assert_allclose(actual, expected, rtol=TOLERANCE[dtype],
                               atol=TOLERANCE[dtype])


def inputs(n_samples, n_inputs, dtype, seed=1):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n_samples, n_inputs)).astype(dtype)


def random_network(hidden, output, dtype, sizes=(4, 7, 5, 3), seed=0):
    """A network whose weights and biases are all random and non-zero
    (a fresh network's biases are zero, which would hide a lost bias)."""
    net = sp.Network(list(sizes), activation=hidden, output_activation=output,
                     dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed + 100)
    net.set_weights([(rng.normal(0, 0.8, W.shape), rng.normal(0, 0.5, b.shape))
                     for W, b in net.weights])
    return net


# MARK: - Optional dependencies


def test_importing_swiftprop_imports_no_export_package():
    code = ("import sys, swiftprop, swiftprop.export, swiftprop.network\n"
            "swiftprop.Network([2, 3, 1], seed=0).predict([[0.0, 1.0]])\n"
            "heavy = [m for m in ('onnx', 'onnxruntime', 'skl2onnx', 'torch',"
            " 'dask', 'distributed', 'sklearn') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "assert callable(swiftprop.to_onnx)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/")


@pytest.mark.parametrize("module,extra,call", [
    ("onnx", "onnx", lambda net: sp.to_onnx(net)),
    ("onnx", "onnx", lambda net: net.to_onnx()),
    ("torch", "torch", lambda net: net.to_torch()),
    ("torch", "torch", lambda net: sp.Network.from_torch(object())),
    ("skl2onnx", "onnx", lambda net: sp.export.register_skl2onnx()),
])
def test_a_missing_extra_raises_import_error_naming_it(monkeypatch, module,
                                                       extra, call):
    monkeypatch.setitem(sys.modules, module, None)  # makes import fail
    net = sp.Network([2, 3, 1], seed=0)
    message = rf"pip install \"swiftprop\[{extra}\]\""
    with pytest.raises(ImportError, match=message):
        call(net)


# MARK: - ONNX: networks


def run_onnx(model, X):
    """Every output of ``model`` on ``X``, by ONNX Runtime, by name."""
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {"X": X})))


@needs_onnx
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output", OUTPUT_ACTIVATIONS)
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_onnx_runtime_computes_predict(hidden, output, dtype):
    net = random_network(hidden, output, dtype)
    X = inputs(64, 4, dtype)
    result = run_onnx(sp.to_onnx(net), X)
    assert list(result) == ["Y"]
    assert result["Y"].dtype == np.dtype(dtype)
    close(result["Y"], net.predict(X), dtype)


@needs_onnx
@pytest.mark.parametrize("dtype", DTYPES)
def test_onnx_graph_is_matmul_add_and_one_node_per_activation(dtype):
    net = sp.Network([sp.Dense(4, 6, "tanh"), sp.Dense(6, 5, "relu"),
                      sp.Dense(5, 5, "sigmoid"), sp.Dense(5, 4, "identity"),
                      sp.Dense(4, 3, "softmax")], dtype=dtype, seed=0)
    model = sp.to_onnx(net)
    ops = [node.op_type for node in model.graph.node]
    layers = [["MatMul", "Add", op] for op in
              ("Tanh", "Relu", "Sigmoid", "Identity", "Softmax")]
    assert ops == sum(layers, []) + ["Identity"]  # the last names "Y"
    softmax = model.graph.node[-2]
    assert onnx.helper.get_attribute_value(softmax.attribute[0]) == -1
    element = {"float32": onnx.TensorProto.FLOAT,
               "float64": onnx.TensorProto.DOUBLE}[dtype]
    (x,), (y,) = model.graph.input, model.graph.output
    assert x.name == "X" and y.name == "Y"
    assert x.type.tensor_type.elem_type == element
    assert [d.dim_value or d.dim_param for d in x.type.tensor_type.shape.dim] \
        == ["N", 4]
    assert [d.dim_value or d.dim_param for d in y.type.tensor_type.shape.dim] \
        == ["N", 3]
    weights = {tensor.name: onnx.numpy_helper.to_array(tensor)
               for tensor in model.graph.initializer}
    for index, (W, b) in enumerate(net.weights):
        np.testing.assert_array_equal(weights[f"W{index}"], W)
        np.testing.assert_array_equal(weights[f"b{index}"], b)
    assert model.opset_import[0].version == sp.export.DEFAULT_OPSET
    assert model.producer_name == "swiftprop"


@needs_onnx
def test_leaky_relu_is_one_node_in_float32_and_exact_in_float64():
    for dtype, expected in (("float32", ["LeakyRelu"]),
                            ("float64", ["Mul", "Max"])):
        net = sp.Network([sp.Dense(1, 1, "leaky_relu")], dtype=dtype, seed=0)
        model = sp.to_onnx(net)
        ops = [node.op_type for node in model.graph.node]
        assert ops == ["MatMul", "Add"] + expected + ["Identity"]
        if dtype == "float32":
            alpha = model.graph.node[2].attribute[0]
            assert alpha.name == "alpha"
            assert np.float32(alpha.f) == np.float32(0.01)
    # In float64 every negative input gives exactly the engine's 0.01 * z:
    # a LeakyRelu node, whose alpha is a float32, would be 2e-8 off.
    net = sp.Network([sp.Dense(1, 1, "leaky_relu")], dtype="float64", seed=0)
    net.set_weights([(np.ones((1, 1)), np.zeros(1))])
    X = np.array([[-3.0], [-1e-3], [-7.25], [0.0], [2.5], [-1e300]])
    expected = net.predict(X)
    np.testing.assert_array_equal(expected.ravel(),
                                  np.where(X > 0, X, 0.01 * X).ravel())
    np.testing.assert_array_equal(run_onnx(sp.to_onnx(net), X)["Y"],
                                  expected)


@needs_onnx
def test_export_dtype_can_differ_from_the_network():
    net = random_network("tanh", "sigmoid", "float64")
    X = inputs(32, 4, "float64")
    model = sp.to_onnx(net, dtype="float32")
    result = run_onnx(model, X.astype(np.float32))["Y"]
    assert result.dtype == np.float32
    close(result, net.predict(X), "float32")


@needs_onnx
def test_reference_network_exports_the_same_model():
    engine = random_network("relu", "identity", "float64")
    reference = sp.reference.Network([4, 7, 5, 3], activation="relu",
                                     output_activation="identity", seed=0)
    reference.set_weights(engine.weights)
    X = inputs(16, 4, "float64")
    close(run_onnx(sp.to_onnx(reference), X)["Y"], engine.predict(X),
          "float64")


@needs_onnx
def test_trained_network_exports_and_model_survives_a_file(tmp_path):
    X = inputs(40, 4, "float64")
    y = np.sin(X.sum(axis=1, keepdims=True))
    net = sp.Network([4, 8, 1], activation="tanh",
                     output_activation="identity", seed=3)
    net.fit(X, y, epochs=50, optimizer="adam", lr=0.05)
    path = tmp_path / "net.onnx"
    onnx.save(net.to_onnx(), str(path))
    session = ort.InferenceSession(str(path),
                                   providers=["CPUExecutionProvider"])
    close(session.run(["Y"], {"X": X})[0], net.predict(X), "float64")
    close(session.run(["Y"], {"X": X[:1]})[0], net.predict(X[:1]), "float64")


@needs_onnx
def test_onnx_options_are_checked():
    net = sp.Network([2, 3, 1], seed=0)
    model = sp.to_onnx(net, opset=13, name="tiny")
    assert model.opset_import[0].version == 13 and model.graph.name == "tiny"
    with pytest.raises(ValueError, match="opset"):
        sp.to_onnx(net, opset=12)
    with pytest.raises(TypeError, match="opset"):
        sp.to_onnx(net, opset="17")
    with pytest.raises(ValueError, match="dtype"):
        sp.to_onnx(net, dtype="float16")
    with pytest.raises(TypeError, match="name"):
        sp.to_onnx(net, name=3)


@pytest.mark.parametrize("bad", ["network", None, [[0.5]], object()])
def test_onnx_rejects_what_is_not_a_network(bad):
    with pytest.raises(TypeError, match="Network"):
        sp.to_onnx(bad)


# MARK: - ONNX: estimators

RNG = np.random.default_rng(7)
FEATURES = RNG.normal(size=(60, 4))
TARGETS = {
    "binary": (FEATURES[:, 0] > 0).astype(int),
    "multiclass": RNG.integers(0, 3, 60) * 5 - 2,
    "strings": np.array(["cat", "dog", "emu"])[RNG.integers(0, 3, 60)],
    "booleans": FEATURES[:, 1] > 0,
    "integral floats": RNG.integers(0, 3, 60).astype(float) * 2,
    "multilabel": (FEATURES[:, :3] > 0).astype(int),
}


def fitted(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def classifier(target, dtype, activation="relu"):
    return fitted(MLPClassifier((6,), activation=activation, max_iter=30,
                                random_state=0, dtype=dtype),
                  FEATURES.astype(dtype), TARGETS[target])


def check_classifier_outputs(clf, result, X, label="label",
                             probabilities="probabilities"):
    labels = result[label]
    expected = clf.predict(X)
    assert labels.shape == expected.shape
    np.testing.assert_array_equal(labels, expected)
    if expected.dtype.kind in "biuf":
        assert labels.dtype == np.int64
    close(result[probabilities], clf.predict_proba(X), clf.dtype)


@needs_onnx
@needs_sklearn
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("target", list(TARGETS))
def test_classifier_exports_label_and_probabilities(target, dtype):
    clf = classifier(target, dtype)
    X = FEATURES.astype(dtype)
    result = run_onnx(sp.to_onnx(clf), X)
    assert list(result) == ["label", "probabilities"]
    assert result["probabilities"].dtype == np.dtype(dtype)
    check_classifier_outputs(clf, result, X)


@needs_onnx
@needs_sklearn
def test_classifier_exports_in_another_dtype():
    clf = classifier("binary", "float64")
    X = FEATURES.astype(np.float32)
    result = run_onnx(sp.to_onnx(clf, dtype="float32"), X)
    assert result["probabilities"].dtype == np.float32
    np.testing.assert_array_equal(result["label"], clf.predict(X))
    close(result["probabilities"], clf.predict_proba(X), "float32")


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh",
                                        "relu"])
@needs_onnx
@needs_sklearn
def test_classifier_exports_each_hidden_activation(activation):
    clf = classifier("multiclass", "float64", activation)
    check_classifier_outputs(clf, run_onnx(sp.to_onnx(clf), FEATURES),
                             FEATURES)


@needs_onnx
@needs_sklearn
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_regressor_exports_variable(n_outputs, dtype):
    X = FEATURES.astype(dtype)
    y = X[:, :n_outputs] * 2 - X[:, 1:1 + n_outputs] ** 2
    reg = fitted(MLPRegressor(hidden_layer_sizes=(8,), activation="tanh",
                              max_iter=30, random_state=0, dtype=dtype),
                 X, y.ravel() if n_outputs == 1 else y)
    result = run_onnx(sp.to_onnx(reg), X)
    assert list(result) == ["variable"]
    assert result["variable"].shape == (60, n_outputs)  # as skl2onnx's
    close(result["variable"], reg.predict(X).reshape(60, n_outputs), dtype)


@needs_onnx
@needs_sklearn
def test_estimators_must_be_fitted_and_have_onnx_labels():
    with pytest.raises(ValueError, match="not fitted"):
        sp.to_onnx(MLPClassifier())
    with pytest.raises(ValueError, match="not fitted"):
        sp.to_onnx(MLPRegressor())
    clf = classifier("binary", "float64")
    clf.classes_ = np.array([0.5, 1.5])
    with pytest.raises(ValueError, match="integers or strings"):
        sp.to_onnx(clf)


@needs_onnx
@needs_sklearn
def test_scikit_learn_estimators_are_not_ours():
    from sklearn.neural_network import MLPClassifier as SklearnMLP
    with pytest.raises(TypeError, match="MLPClassifier"):
        sp.to_onnx(SklearnMLP())


# MARK: - skl2onnx


@pytest.fixture
def skl2onnx():
    if ort is None or MLPClassifier is None:
        pytest.skip("onnx, onnxruntime or scikit-learn is not installed "
                    "(pip install \"swiftprop[onnx,sklearn]\"); the test "
                    "extras install them")
    module = pytest.importorskip(
        "skl2onnx", reason="skl2onnx is not installed (pip install "
        "\"swiftprop[onnx]\"); the test extras install it")
    sp.export.register_skl2onnx()
    sp.export.register_skl2onnx()  # twice is harmless
    return module


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("target", list(TARGETS))
def test_skl2onnx_converts_the_classifier(skl2onnx, target, dtype):
    clf = classifier(target, dtype)
    X = FEATURES.astype(dtype)
    model = skl2onnx.to_onnx(clf, X[:1], options={"zipmap": False})
    result = run_onnx(model, X)
    assert list(result) == ["label", "probabilities"]
    check_classifier_outputs(clf, result, X)


def test_skl2onnx_names_outputs_as_for_scikit_learns_mlp(skl2onnx):
    from sklearn.neural_network import MLPClassifier as SklearnClassifier
    from sklearn.neural_network import MLPRegressor as SklearnRegressor
    X = FEATURES.astype(np.float32)
    small = {"hidden_layer_sizes": (4,), "max_iter": 5, "random_state": 0}
    pairs = [(SklearnClassifier(**small),
              MLPClassifier((4,), max_iter=5, random_state=0),
              TARGETS["multiclass"]),
             (SklearnRegressor(**small),
              MLPRegressor(hidden_layer_sizes=(4,), max_iter=5,
                           random_state=0), X[:, 0])]
    for theirs, ours, y in pairs:
        fitted(theirs, X, y)
        fitted(ours, X, y)
        for options in ({}, {"zipmap": False}):
            if not hasattr(ours, "classes_") and options:
                continue
            names = [[output.name for output in skl2onnx.to_onnx(
                model, X[:1], options=options).graph.output]
                for model in (theirs, ours)]
            assert names[0] == names[1], options
            if not options:
                default = names[1]
        own = [output.name for output in sp.to_onnx(ours).graph.output]
        if hasattr(ours, "classes_"):
            assert default == ["output_label", "output_probability"]
            assert own == ["label", "probabilities"] == names[1]
        else:
            assert own == ["variable"] == default


def test_skl2onnx_zipmap_by_default(skl2onnx):
    clf = classifier("strings", "float32")
    X = FEATURES.astype(np.float32)
    result = run_onnx(skl2onnx.to_onnx(clf, X[:1]), X)
    assert list(result) == ["output_label", "output_probability"]
    np.testing.assert_array_equal(result["output_label"], clf.predict(X))
    proba = clf.predict_proba(X)
    for row, mapping in zip(proba, result["output_probability"]):
        assert list(mapping) == list(clf.classes_)
        close(np.array(list(mapping.values()), np.float32), row, "float32")


def test_skl2onnx_nocl_gives_class_indices(skl2onnx):
    clf = classifier("strings", "float64")
    model = skl2onnx.to_onnx(clf, FEATURES[:1],
                             options={"zipmap": False, "nocl": True})
    result = run_onnx(model, FEATURES)
    np.testing.assert_array_equal(
        result["label"], np.searchsorted(clf.classes_, clf.predict(FEATURES)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_skl2onnx_converts_the_regressor(skl2onnx, n_outputs, dtype):
    X = FEATURES.astype(dtype)
    y = X[:, :n_outputs] * 2 - X[:, 1:1 + n_outputs] ** 2
    reg = fitted(MLPRegressor(hidden_layer_sizes=(8,), activation="relu",
                              max_iter=30, random_state=0, dtype=dtype),
                 X, y.ravel() if n_outputs == 1 else y)
    result = run_onnx(skl2onnx.to_onnx(reg, X[:1]), X)
    assert list(result) == ["variable"]
    close(result["variable"], reg.predict(X).reshape(60, n_outputs), dtype)


@pytest.mark.parametrize("network_dtype,input_dtype", [
    ("float64", "float32"), ("float32", "float64")])
def test_skl2onnx_casts_between_input_and_network_dtypes(
        skl2onnx, network_dtype, input_dtype):
    clf = classifier("multiclass", network_dtype)
    X = FEATURES.astype(input_dtype)
    result = run_onnx(skl2onnx.to_onnx(clf, X[:1], options={"zipmap": False}),
                      X)
    assert result["probabilities"].dtype == np.dtype(input_dtype)
    np.testing.assert_array_equal(result["label"], clf.predict(X))
    # float32 somewhere on the way: float32's tolerance.
    close(result["probabilities"], clf.predict_proba(X), "float32")


def test_skl2onnx_converts_a_pipeline(skl2onnx):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    pipeline = fitted(make_pipeline(StandardScaler(), MLPClassifier(
        (6,), max_iter=30, random_state=0)), FEATURES, TARGETS["strings"])
    model = skl2onnx.to_onnx(pipeline, FEATURES[:1],
                             options={"zipmap": False})
    result = run_onnx(model, FEATURES)
    np.testing.assert_array_equal(result["label"], pipeline.predict(FEATURES))
    close(result["probabilities"], pipeline.predict_proba(FEATURES),
          "float64")


def test_skl2onnx_rejects_a_wrong_number_of_features(skl2onnx):
    clf = classifier("binary", "float64")
    with pytest.raises(ValueError, match="4 features"):
        skl2onnx.to_onnx(clf, FEATURES[:1, :3], options={"zipmap": False})


# MARK: - PyTorch


@pytest.fixture
def torch():
    return pytest.importorskip(
        "torch", reason="PyTorch is not installed (pip install "
        "\"swiftprop[torch]\"; scripts/test.sh installs a CPU-only build "
        "where pip finds one and PyPI's otherwise, unless "
        "SWIFTPROP_SKIP_TORCH=1)")


def torch_output(torch, module, X):
    with torch.no_grad():
        return module(torch.from_numpy(X)).numpy()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output", OUTPUT_ACTIVATIONS)
@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
def test_to_torch_computes_predict_and_round_trips(torch, hidden, output,
                                                   dtype):
    nn = torch.nn
    net = random_network(hidden, output, dtype)
    module = net.to_torch()
    assert isinstance(module, nn.Sequential)
    kinds = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU,
             "leaky_relu": nn.LeakyReLU, "softmax": nn.Softmax, "elu": nn.ELU,
             "exp": type(sp.Network([1, 1], output_activation="exp")
                         .to_torch()[-1])}
    expected = []
    for activation in (hidden, hidden, output):
        expected.append(nn.Linear)
        if activation != "identity":
            expected.append(kinds[activation])
    assert [type(child) for child in module] == expected
    linears = [child for child in module if isinstance(child, nn.Linear)]
    for linear, (W, b) in zip(linears, net.weights):
        assert linear.weight.dtype == getattr(torch, dtype)
        np.testing.assert_array_equal(linear.weight.detach().numpy(), W.T)
        np.testing.assert_array_equal(linear.bias.detach().numpy(), b)
    X = inputs(64, 4, dtype)
    result = torch_output(torch, module, X)
    assert result.dtype == np.dtype(dtype)
    close(result, net.predict(X), dtype)

    back = sp.Network.from_torch(module)
    assert back.dtype == net.dtype and back.layers == net.layers
    for (W, b), (W2, b2) in zip(net.weights, back.weights):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)
    close(back.predict(X), net.predict(X), dtype)
    close(back.predict(X), result, dtype)


def test_leaky_relu_slope_and_softmax_dim(torch):
    module = random_network("leaky_relu", "softmax", "float64").to_torch()
    assert module[1].negative_slope == 0.01
    assert module[-1].dim == -1


def test_from_torch_builds_a_network_from_a_hand_made_sequential(torch):
    nn = torch.nn
    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Linear(3, 6), nn.Tanh(),
        nn.Sequential(nn.Linear(6, 5, bias=False), nn.LeakyReLU(0.01)),
        nn.Linear(5, 4), nn.Identity(),
        nn.Linear(4, 2), nn.Softmax(dim=1)).double()
    net = sp.Network.from_torch(module, loss="cross_entropy", seed=5)
    assert [layer.activation for layer in net.layers] == [
        "tanh", "leaky_relu", "identity", "softmax"]
    assert net.loss_name == "cross_entropy" and net.seed == 5
    np.testing.assert_array_equal(net.weights[1][1], np.zeros(5))
    X = inputs(50, 3, "float64")
    close(net.predict(X), torch_output(torch, module, X), "float64")
    # and it trains on from there
    before = net.loss(X, np.arange(50) % 2)
    net.fit(X, np.arange(50) % 2, epochs=20, optimizer="adam", lr=0.01)
    assert net.loss(X, np.arange(50) % 2) < before

    single = nn.Linear(3, 2).float()
    net = sp.export.from_torch(single)
    assert net.dtype == np.float32 and net.layers == [sp.Dense(3, 2)]
    close(net.predict(X.astype(np.float32)),
          torch_output(torch, single, X.astype(np.float32)), "float32")


def test_from_torch_returns_the_calling_class(torch):
    class MyNetwork(sp.Network):
        pass

    net = MyNetwork.from_torch(torch.nn.Sequential(torch.nn.Linear(2, 1)))
    assert type(net) is MyNetwork


def test_to_torch_draws_nothing_from_torchs_generator(torch):
    net = random_network("relu", "identity", "float32")
    torch.manual_seed(11)
    first = torch.rand(3)
    torch.manual_seed(11)
    net.to_torch()
    np.testing.assert_array_equal(torch.rand(3).numpy(), first.numpy())


@needs_sklearn
def test_estimator_to_torch_gives_the_network_output(torch):
    clf = classifier("multiclass", "float64")
    module = sp.export.to_torch(clf)
    close(torch_output(torch, module, FEATURES),
          clf.predict_proba(FEATURES), "float64")
    with pytest.raises(ValueError, match="not fitted"):
        sp.export.to_torch(MLPRegressor())
    with pytest.raises(TypeError, match="Network"):
        sp.export.to_torch("network")


def unsupported_modules(nn):
    """``(module, message pattern)``: what from_torch must refuse."""
    return [
        # Dropout is read after a layer's activation only, once.
        (nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5), nn.ReLU(),
                       nn.Linear(3, 1)),
         r"module 2 \(ReLU.*after a Dropout"),
        (nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5), nn.Dropout(0.1),
                       nn.Linear(3, 1)),
         r"module 2 \(Dropout.*once"),
        (nn.Sequential(nn.Linear(2, 3), nn.GELU(), nn.Linear(3, 1)),
         r"module 1 \(GELU.*not supported"),
        (nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.SELU())),
         r"module 1\.0 \(SELU.*not supported"),
        (nn.Sequential(nn.Linear(2, 3), nn.ELU(alpha=0.5)),
         r"module 1 \(ELU.*alpha 0\.5"),
        (nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU(0.2)),
         r"module 1 .*negative_slope 0\.2"),
        (nn.Sequential(nn.Linear(2, 3), nn.Softmax(dim=0)),
         r"module 1 .*dim 0"),
        (nn.Sequential(nn.Linear(2, 3), nn.Softmax(dim=-1), nn.Linear(3, 1)),
         r"module 1 .*last module only"),
        (nn.Sequential(nn.ReLU(), nn.Linear(2, 3)),
         r"module 0 .*before any Linear"),
        (nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Tanh()),
         r"module 2 .*follows another activation"),
        (nn.Sequential(nn.Linear(2, 3), nn.Linear(4, 1)),
         r"module 1 .*takes 4 inputs, but the layer before has 3"),
        (nn.Sequential(nn.Linear(2, 3).half()),
         r"module 0 .*float16"),
        (nn.Sequential(nn.Linear(2, 3).double(), nn.Linear(3, 1).float()),
         r"module 1 .*float32, but earlier layers are float64"),
        (nn.Sequential(), r"no Linear layer"),
        (nn.Sequential(nn.Identity()), r"no Linear layer"),
    ]


def test_from_torch_names_the_module_it_cannot_convert(torch):
    for module, pattern in unsupported_modules(torch.nn):
        with pytest.raises(ValueError, match=pattern):
            sp.Network.from_torch(module)


def test_from_torch_rejects_what_is_not_a_sequential(torch):
    nn = torch.nn

    class Custom(nn.Module):
        def forward(self, x):
            return x

    for bad in (Custom(), [nn.Linear(2, 1)], "model", nn.ReLU()):
        with pytest.raises(TypeError, match="Sequential"):
            sp.Network.from_torch(bad)


def test_from_torch_checks_the_loss_against_the_output(torch):
    nn = torch.nn
    module = nn.Sequential(nn.Linear(2, 3), nn.Softmax(dim=-1)).double()
    with pytest.raises(ValueError, match="sigmoid output"):
        sp.Network.from_torch(module, loss="binary_cross_entropy")
    with pytest.raises(ValueError, match="unknown loss"):
        sp.Network.from_torch(module, loss="hinge")
