"""The version of swiftprop (read by ``__init__`` and ``persistence``)."""

__version__ = "0.1.0"
