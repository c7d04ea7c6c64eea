"""Losses computed from the output layer's logits, reduced as PyTorch reduces them.

- ``mse``: mean over all elements of ``(a - y)**2`` (``torch.nn.MSELoss``).
- ``log_loss``: binary cross-entropy, mean over all elements (``BCEWithLogitsLoss`` for a
  sigmoid output, ``BCELoss`` with its -100 log clamp for a softmax output).
- ``categorical_crossentropy``: mean over samples of ``-sum_k y_k log a_k``
  (``CrossEntropyLoss`` with probability targets for a softmax output).

The math is in :mod:`xpnet.ops` (``loss_value``, ``loss_grad`` and the fused ``output_loss``):
softmax+CCE, sigmoid+BCE and sigmoid+CCE use fused, log-sum-exp-stable forms; every other
pairing goes through the chain rule ``dz = output.backward(dL/da)``. This module names the
losses and checks which output each may follow.
"""

from __future__ import annotations

LOSSES = ("mse", "log_loss", "categorical_crossentropy")

# Losses that take logs of the output need probabilities, not raw identity outputs.
VALID_OUTPUTS = {
    "mse": ("softmax", "sigmoid", "identity"),
    "log_loss": ("sigmoid", "softmax"),
    "categorical_crossentropy": ("softmax", "sigmoid"),
}


def check_pairing(loss: str, output: str) -> None:
    """Raise ``ValueError`` for an unknown loss or an output it cannot be paired with."""
    if loss not in LOSSES:
        raise ValueError(f"loss={loss!r} is unknown; choose one of {', '.join(LOSSES)}")
    if output not in VALID_OUTPUTS[loss]:
        raise ValueError(
            f"loss={loss!r} needs probabilities from the output layer; output={output!r} is "
            f"not allowed with it (use one of {', '.join(VALID_OUTPUTS[loss])})"
        )
