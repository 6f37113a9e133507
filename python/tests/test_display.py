"""The progress bar of ``fit``, ``Network._repr_html_`` and
``History.plot``."""

import io
import re
import sys

import numpy as np
import pytest

import swiftprop as sp
from swiftprop.display import ProgressReporter, TextBar, network_html
from swiftprop._training import EpochReporter, plan_fit

from conftest import XOR_X, XOR_Y


def xor_net():
    return sp.Network([2, 4, 1], activation="tanh",
                      output_activation="sigmoid", seed=0)


@pytest.fixture
def without_tqdm(monkeypatch):
    """Make ``from tqdm.auto import tqdm`` fail, as without tqdm."""
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)


# MARK: - Progress bar


def test_progress_does_not_change_training():
    plain, shown = xor_net(), xor_net()
    a = plain.fit(XOR_X, XOR_Y, epochs=300, lr=0.5, batch_size=2)
    b = shown.fit(XOR_X, XOR_Y, epochs=300, lr=0.5, batch_size=2,
                  progress=True)
    assert a.loss == b.loss
    np.testing.assert_array_equal(plain.predict(XOR_X), shown.predict(XOR_X))


def test_tqdm_bar_on_stderr(capsys):
    pytest.importorskip("tqdm")
    xor_net().fit(XOR_X, XOR_Y, epochs=250, lr=0.5, progress=True)
    err = capsys.readouterr().err
    assert "250/250" in err and "epoch" in err and "loss" in err


def test_text_bar_without_tqdm(capsys, without_tqdm):
    xor_net().fit(XOR_X, XOR_Y, epochs=250, lr=0.5, progress=True)
    err = capsys.readouterr().err
    last = err.rstrip("\n").split("\r")[-1]
    assert re.match(r"250/250 \[#{30}\] 100% \d+\.\ds loss \d", last), last
    assert err.endswith("\n")


def test_bar_stops_where_training_stops(capsys, without_tqdm):
    history = xor_net().fit(XOR_X, XOR_Y, epochs=5000, lr=0.5, tol=1.0,
                            patience=3, progress=True)
    assert history.stop_reason == "converged"
    last = capsys.readouterr().err.rstrip("\n").split("\r")[-1]
    assert last.startswith(f"{history.epochs}/5000 ")


def test_bar_is_closed_when_fit_raises(capsys, without_tqdm):
    def callback(epoch, loss):
        if epoch == 3:
            raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        xor_net().fit(XOR_X, XOR_Y, epochs=100, callback=callback,
                      progress=True)
    err = capsys.readouterr().err
    assert err.endswith("\n") and "4/100" in err


def test_verbose_and_callback_see_the_same_epochs(capsys, without_tqdm):
    def run(progress):
        seen = []
        xor_net().fit(XOR_X, XOR_Y, epochs=230, lr=0.5, verbose=7,
                      callback=lambda epoch, loss: seen.append(epoch),
                      progress=progress)
        return seen, capsys.readouterr().out

    assert run(None) == run(True)
    printed = run(True)[1].splitlines()
    assert printed[0].startswith("epoch 1/230") and len(printed) == 1 + 32


def test_report_interval():
    def every(epochs, verbose=0, callback=None):
        plan = plan_fit(4, epochs, None, True, verbose, callback, None, 10)
        return ProgressReporter(EpochReporter(plan, False),
                                np.full(epochs, np.nan)).every

    assert every(10_000) == 100
    assert every(50) == 1
    assert every(10_000, verbose=30) == 10  # gcd: verbose still sees its own
    assert every(10_000, callback=print) == 1


@pytest.mark.parametrize("progress", ["yes", 1])
def test_progress_must_be_a_bool(progress):
    with pytest.raises(TypeError, match="progress must be a bool"):
        xor_net().fit(XOR_X, XOR_Y, progress=progress)


def test_progress_false_is_off(capsys):
    xor_net().fit(XOR_X, XOR_Y, epochs=10, progress=False)
    assert capsys.readouterr().err == ""


def test_text_bar_throttles_and_draws_the_end():
    stream = io.StringIO()
    bar = TextBar(1000, file=stream, width=10, min_interval=3600)
    for _ in range(1000):
        bar.update(1)
    assert stream.getvalue().count("\r") == 1  # only the first draw
    bar.set_postfix_str("loss 0.5", refresh=False)
    bar.close()
    bar.close()  # idempotent
    assert stream.getvalue().endswith("] 100% 0.0s loss 0.5\n")
    assert stream.getvalue().split("\r")[-1].startswith("1000/1000 [#######")


# MARK: - Network as HTML


def test_repr_html_tables_the_layers():
    net = sp.Network([sp.Dense(3, 16, "relu"), sp.Dense(16, 8, "tanh"),
                      sp.Dense(8, 4, "softmax")], loss="cross_entropy",
                     dtype="float32", seed=0)
    page = net._repr_html_()
    assert page.startswith("<table>") and page.endswith("</table>")
    rows = re.findall(r"<tr><td>(\d)</td><td>Dense</td><td>(\d+) &rarr; "
                      r"(\d+)</td><td>(\w+)</td><td>\((\d+), (\d+)\)</td>"
                      r"<td>\((\d+),\)</td><td[^>]*>(\d+)</td></tr>", page)
    assert rows == [("0", "3", "16", "relu", "3", "16", "16", "64"),
                    ("1", "16", "8", "tanh", "16", "8", "8", "136"),
                    ("2", "8", "4", "softmax", "8", "4", "4", "36")]
    assert "Network 3-16-8-4: loss cross_entropy, dtype float32, 236 " \
           "parameters" in page
    assert repr(net).startswith("Network(3-16-8-4")  # the text is unchanged


def test_repr_html_works_for_the_reference_network():
    net = sp.reference.Network([2, 3, 1], seed=0)
    assert "Network 2-3-1" in network_html(net)


# MARK: - History.plot


@pytest.fixture
def pyplot():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    yield plt
    plt.close("all")


def test_plot_draws_loss_and_val_loss(pyplot):
    net = xor_net()
    history = net.fit(XOR_X, XOR_Y, epochs=50, lr=0.5,
                      validation_data=(XOR_X, XOR_Y))
    ax = history.plot()
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"loss", "val_loss"}
    np.testing.assert_array_equal(lines["loss"].get_xdata(), np.arange(1, 51))
    np.testing.assert_array_equal(lines["loss"].get_ydata(), history.loss)
    np.testing.assert_array_equal(lines["val_loss"].get_ydata(),
                                  history.val_loss)
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"


def test_plot_on_given_axes_with_log_scale(pyplot):
    history = xor_net().fit(XOR_X, XOR_Y, epochs=20, lr=0.5)
    _, ax = pyplot.subplots()
    assert history.plot(ax=ax, log=True, color="red") is ax
    assert ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == ["loss"]


def test_plot_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    history = xor_net().fit(XOR_X, XOR_Y, epochs=2)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        history.plot()
