"""The activation functions a network may use; their math lives in :mod:`xpnet.ops`.

Each forward sits beside its backward there (``Ops.relu_forward``/``Ops.relu_backward``...),
written once in plain ``xp`` as the reference that backends may override.
"""

from __future__ import annotations

HIDDEN = ("sigmoid", "tanh", "relu", "leaky_relu")  # after each hidden layer
OUTPUT = ("softmax", "sigmoid", "identity")  # on the output layer's logits
