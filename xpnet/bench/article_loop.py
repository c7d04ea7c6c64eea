"""The article's NumPy training loop, as a reference runner (issue 11, the ``seed`` workload).

Written fresh from the description in the article xpnet grew out of (``shared/seed-article.md``),
not copied: per epoch, a forward pass of ``np.dot`` plus bias and a sigmoid on *every* layer,
keeping the list of activations; a backward pass whose output delta is ``a - y``, whose hidden
deltas go back through ``W.T`` times the sigmoid derivative ``a * (1 - a)``, with gradients
``a.T @ dz / m`` and ``sum(dz) / m``; the update ``W -= lr * grad``; and the training loss,
computed each epoch from the activations of that forward pass (the article's default loss,
the mean squared error). Plain NumPy allocating as the article does: a fresh array for every
intermediate, no ``out=`` and no reuse. Honest, not handicapped: nothing slower than what the
article writes, nothing faster either. The one deliberate departure: a seeded Glorot-uniform
initialization from a ``Generator`` instead of the global ``np.random`` state.
"""

from __future__ import annotations

import numpy as np

from .base import Runner, cpu_name
from .workloads import Workload


class ArticleNet:
    """The article's network: a list of ``{'weights', 'biases'}`` layers, sigmoid on each."""

    def __init__(self, layers: tuple[int, ...], dtype: str = "float64", seed: int = 0):
        rng = np.random.default_rng(seed)
        self.layers = []
        for fan_in, fan_out in zip(layers[:-1], layers[1:], strict=True):
            limit = np.sqrt(6 / (fan_in + fan_out))
            self.layers.append(
                {
                    "weights": rng.uniform(-limit, limit, (fan_in, fan_out)).astype(dtype),
                    "biases": np.zeros((1, fan_out), dtype=dtype),
                }
            )
        self.a: list[np.ndarray] = []

    @staticmethod
    def sigmoid(x: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-x))

    @staticmethod
    def sigmoid_derivative(a: np.ndarray) -> np.ndarray:
        return a * (1 - a)

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Every layer's activation, kept in ``self.a`` (the input first); returns the output."""
        self.a = [X]
        for layer in self.layers:
            self.a.append(self.sigmoid(np.dot(self.a[-1], layer["weights"]) + layer["biases"]))
        return self.a[-1]

    def backward(self, X: np.ndarray, y: np.ndarray, learning_rate: float) -> None:
        """Deltas from the output back, then every layer's plain gradient-descent update."""
        m = X.shape[0]
        dz = [self.a[-1] - y]
        for i in reversed(range(len(self.layers) - 1)):
            back = np.dot(dz[-1], self.layers[i + 1]["weights"].T)
            dz.append(back * self.sigmoid_derivative(self.a[i + 1]))
        dz = dz[::-1]
        for i, layer in enumerate(self.layers):
            grads_w = np.dot(self.a[i].T, dz[i]) / m
            grads_b = np.sum(dz[i], axis=0, keepdims=True) / m
            layer["weights"] -= learning_rate * grads_w
            layer["biases"] -= learning_rate * grads_b


def mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The article's default training loss."""
    return float(np.mean((y_pred - y_true) ** 2))


def article_runner(workload: Workload, X, y, dtype: str = "float64", seed: int = 0) -> Runner:
    """One epoch of the article's loop (full batch, sigmoid everywhere, one-hot targets) per call."""
    if workload.batch_size is not None or workload.activation != "sigmoid":
        raise ValueError(f"the article's loop is full-batch sigmoid only; {workload.name!r} is not")
    net = ArticleNet(workload.layers, dtype, seed)
    Xa = np.ascontiguousarray(X, dtype=dtype)
    Y = np.eye(workload.layers[-1], dtype=dtype)[np.asarray(y)]
    lr = workload.lr

    def epoch() -> float:
        net.forward(Xa)
        net.backward(Xa, Y, lr)
        return mse(Y, net.a[-1])

    weights = [layer["weights"] for layer in net.layers]
    settings = {
        "layers": (weights[0].shape[0], *(w.shape[1] for w in weights)),
        "activation": "sigmoid",
        "dtype": str(weights[0].dtype),
        "optimizer": "sgd",
        "lr": lr,
        "batch_size": Xa.shape[0],
        "shuffle": False,  # full batch only
        "grad_norm": False,
    }
    return Runner("article", "reference", "cpu", cpu_name(), epoch, workload.threads, settings)
