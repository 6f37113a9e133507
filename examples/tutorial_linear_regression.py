"""The tutorial's single gradient-descent step of y = w x + b, on the engine.

A one-input, one-output identity layer is the linear model; from w = 0.5,
b = 0.2 one step on the sample x = 2, y = 0.8 gives w = 0.42, b = 0.16.
It runs in an instant, so SWIFTPROP_FAST changes nothing here.
"""

import swiftprop as sp

# The tutorial's loss is (y_hat - y)^2 / 2; our mse on one sample is
# (y_hat - y)^2, whose gradient is twice as large, so its lr 0.1 is 0.1 / 2.
LEARNING_RATE = 0.1 / 2


def regression_step(w=0.5, b=0.2, x=2.0, y_true=0.8):
    """One step from ``(w, b)`` on the sample ``(x, y_true)``; returns the
    updated ``(w, b)``."""
    model = sp.Network([1, 1], activation="identity", loss="mse")
    model.set_weights([([[w]], [b])])
    model.train_step([[x]], [[y_true]], lr=LEARNING_RATE)
    (W, bias), = model.weights
    return float(W[0, 0]), float(bias[0])


if __name__ == "__main__":
    w, b = regression_step()
    print("Updated w:", round(w, 12))  # 0.42
    print("Updated b:", round(b, 12))  # 0.16
