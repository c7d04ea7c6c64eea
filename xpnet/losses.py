"""Losses computed from the output layer's logits, reduced as PyTorch reduces them.

- ``mse``: mean over all elements of ``(a - y)**2`` (``torch.nn.MSELoss``).
- ``log_loss``: binary cross-entropy, mean over all elements (``BCEWithLogitsLoss`` for a
  sigmoid output, ``BCELoss`` with its -100 log clamp for a softmax output).
- ``categorical_crossentropy``: mean over samples of ``-sum_k y_k log a_k``
  (``CrossEntropyLoss`` with probability targets for a softmax output).

``loss_and_grad`` returns the loss as a 0-d device array and ``dL/dz`` for the logits ``z``.
softmax+CCE, sigmoid+BCE and sigmoid+CCE use fused, log-sum-exp-stable forms; every other
pairing goes through the generic chain rule ``dz = output.backward(dL/da)``.
"""

from __future__ import annotations

from .activations import OUTPUT

LOSSES = ("mse", "log_loss", "categorical_crossentropy")
LOG_CLAMP = -100.0  # torch.nn.BCELoss clamps log terms at -100
BCE_EPS = 1e-12  # torch's BCELoss backward guards p(1-p) with this epsilon

# Losses that take logs of the output need probabilities, not raw identity outputs.
_VALID_OUTPUTS = {
    "mse": ("softmax", "sigmoid", "identity"),
    "log_loss": ("sigmoid", "softmax"),
    "categorical_crossentropy": ("softmax", "sigmoid"),
}


def check_pairing(loss: str, output: str) -> None:
    """Raise ``ValueError`` for an unknown loss or an output it cannot be paired with."""
    if loss not in LOSSES:
        raise ValueError(f"loss={loss!r} is unknown; choose one of {', '.join(LOSSES)}")
    if output not in _VALID_OUTPUTS[loss]:
        raise ValueError(
            f"loss={loss!r} needs probabilities from the output layer; output={output!r} is "
            f"not allowed with it (use one of {', '.join(_VALID_OUTPUTS[loss])})"
        )


def _log_softmax(xp, z):
    s = z - xp.max(z, axis=1, keepdims=True)
    return s - xp.log(xp.sum(xp.exp(s), axis=1, keepdims=True))


def _log_sigmoid(xp, z):
    return xp.minimum(z, xp.zeros_like(z)) - xp.log1p(xp.exp(-xp.abs(z)))


def _count(x) -> int:
    n = 1
    for s in x.shape:
        n *= s
    return n


def loss_value(xp, loss: str, output: str, z, a, y):
    """The loss as a 0-d array, from logits ``z`` (n, k), outputs ``a`` and targets ``y``."""
    n = z.shape[0]
    if loss == "mse":
        d = a - y
        return xp.sum(d * d) / _count(a)
    if loss == "categorical_crossentropy":
        logp = _log_softmax(xp, z) if output == "softmax" else _log_sigmoid(xp, z)
        return -xp.sum(y * logp) / n
    # log_loss
    if output == "sigmoid":  # softplus(z) - y*z, as BCEWithLogitsLoss
        zero = xp.zeros_like(z)
        per = xp.maximum(z, zero) - y * z + xp.log1p(xp.exp(-xp.abs(z)))
        return xp.sum(per) / _count(z)
    logp = _log_softmax(xp, z)
    log1mp = xp.log(xp.clip(-xp.expm1(logp), min=xp.finfo(z.dtype).smallest_normal))  # no log(0) warning
    per = y * xp.clip(logp, min=LOG_CLAMP) + (1.0 - y) * xp.clip(log1mp, min=LOG_CLAMP)
    return -xp.sum(per) / _count(z)


def output_grad(xp, loss: str, output: str, z, a, y):
    """``dL/dz`` for the logits: fused where the pairing allows, chain rule otherwise."""
    n = z.shape[0]
    if loss == "categorical_crossentropy":
        if output == "softmax":  # rows of y sum to 1 (checked at the boundary)
            return (a - y) / n
        return -y * (1.0 - a) / n  # sigmoid: d/dz of -y log sigmoid(z)
    if loss == "log_loss" and output == "sigmoid":
        return (a - y) / _count(z)
    if loss == "mse":
        da = (2.0 / _count(a)) * (a - y)
    else:  # log_loss on a softmax output, through dL/da as torch's BCELoss computes it
        denom = xp.clip((1.0 - a) * a, min=BCE_EPS)
        da = (a - y) / denom / _count(a)
    return OUTPUT[output].backward(xp, z, a, da)


def loss_and_grad(xp, loss: str, output: str, z, a, y):
    """``(loss, dL/dz)`` for logits ``z``, outputs ``a = output(z)`` and targets ``y``."""
    return loss_value(xp, loss, output, z, a, y), output_grad(xp, loss, output, z, a, y)


def output_loss_and_grad(xp, loss: str, output: str, z, y):
    """``(a, loss, dL/dz)`` from the logits: the output activation and the loss together.

    softmax + CCE shares the shifted logits and the row sums of ``exp`` between the
    probabilities and the log-sum-exp (one ``exp`` per step instead of two).
    """
    if loss == "categorical_crossentropy" and output == "softmax":
        n = z.shape[0]
        t = z - xp.max(z, axis=1, keepdims=True)
        e = xp.exp(t)
        s = xp.sum(e, axis=1, keepdims=True)
        a = e / s
        # per row, -sum_k y_k log p_k = log(s) - sum_k y_k t_k (rows of y sum to 1); both
        # terms are small for a confident row, so nothing cancels
        value = xp.sum(xp.log(s) - xp.sum(y * t, axis=1, keepdims=True)) / n
        return a, value, (a - y) / n
    a = OUTPUT[output].forward(xp, z)
    value, dz = loss_and_grad(xp, loss, output, z, a, y)
    return a, value, dz
