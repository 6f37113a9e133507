"""swiftprop: fully-connected neural networks trained by backpropagation on
an engine written in Swift.

The public API::

    import swiftprop as sp
    net = sp.Network([2, 4, 1], activation="sigmoid", loss="mse", seed=0)
    history = net.fit(X, y, epochs=10000, lr=0.1)
    net.predict(X)

``swiftprop.reference`` holds a plain NumPy implementation of the same
mathematics, with the same API, for comparison.
"""

# First, before NumPy or the engine: picks the engine build this CPU runs
# (or raises ImportError naming the features it lacks).
from . import _dispatch  # isort: skip
from . import _engine  # isort: skip  (the build _dispatch loaded, as sp._engine)
from . import callbacks, explain, plot, reference, schedules
from ._version import __version__
from .compare import Comparison, compare
from .config import show_config
from .explain import Trace
from .export import to_onnx
from .history import History
from .layers import Dense
from .network import Network
from .threads import get_num_threads, set_num_threads
from .optimizers import (FULL_BATCH_OPTIMIZERS, LBFGS, OPTIMIZERS, SGD,
                         Adam)  # SGD, Adam, LBFGS: for static tools
# Every registered optimizer class by its own name, so that a new one is
# sp.<Name> without an edit here.
_CLASSES = {**OPTIMIZERS, **FULL_BATCH_OPTIMIZERS}.values()
globals().update({cls.__name__: cls for cls in _CLASSES})

__all__ = ["Network", "Dense", "History", "compare", "Comparison", "Trace",
           "explain", "plot", "reference", "schedules", "callbacks",
           "to_onnx", "__version__",
           "show_config", "set_num_threads", "get_num_threads",
           *(cls.__name__ for cls in _CLASSES)]
