"""Class labels from a network's outputs."""

import numpy as np

__all__ = ["predict_classes", "is_classifier", "classes_from_outputs",
           "check_has_classes"]


def is_classifier(net):
    """Whether ``net``'s outputs read as classes: a softmax output, or
    one sigmoid output (with ``mse`` or ``binary_cross_entropy``), or a
    classification loss."""
    activation = net.layers[-1].activation
    return (net.loss_name in ("binary_cross_entropy", "cross_entropy")
            or activation == "softmax"
            or (activation == "sigmoid" and net.n_outputs == 1))


def check_has_classes(net):
    """Raise ValueError unless ``net`` has several outputs or one sigmoid
    output (a one-output regression has no classes)."""
    if net.n_outputs == 1 and net.layers[-1].activation != "sigmoid":
        raise ValueError(
            "predict_classes needs several outputs (argmax) or one sigmoid "
            "output (threshold 0.5), but the network has one "
            f"{net.layers[-1].activation!r} output: use predict for "
            "regression")


def classes_from_outputs(net, outputs):
    """Class labels from ``net``'s outputs of shape ``(n_samples,
    n_outputs)``."""
    check_has_classes(net)
    if outputs.shape[1] > 1:
        return np.argmax(outputs, axis=1)
    return (outputs[:, 0] >= 0.5).astype(np.intp)


def predict_classes(net, X):
    """Predicted class labels of ``net`` for ``X``.

    With several outputs, the index of the largest (the most probable class
    of a softmax); with one sigmoid output, 1 where it is at least 0.5,
    else 0.

    Parameters
    ----------
    net : Network or reference.Network
    X : array-like of shape (n_samples, n_inputs)

    Returns
    -------
    ndarray of int of shape (n_samples,)

    Raises
    ------
    ValueError
        For a network with one output that is not a sigmoid (a regression
        has no classes), or for bad ``X``.
    """
    check_has_classes(net)
    return classes_from_outputs(net, net.predict(X))
