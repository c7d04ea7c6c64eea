"""Deep ensembles: K networks of one configuration and K seeds, trained together, predictions averaged.

Member ``i`` is the run config with ``seed = config.seed + i`` (its own initial weights,
batch order and dropout masks), so member 0 is exactly the single model the config trains
alone. :func:`fit_ensemble` trains the K members at once with :func:`xpnet.fit_many`; the
:class:`Ensemble` averages their probabilities (classification) or outputs (regression) and
saves as one self-contained ``.npz`` (every member's arrays, the preprocessing and the run
config; no pickle, written atomically, like :meth:`xpnet.MLP.save`)::

    ens, histories = fit_ensemble(RunConfig(), ds.X_train, ds.y_train, ds.X_val, ds.y_val, n_members=8)
    ens.predict_proba(ds.X_test)          # mean of the 8 members' probabilities
    ens.save("ensemble.npz"); load_ensemble("ensemble.npz").predict(X_raw)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .backend import Backend
from .config import RunConfig
from .io import FORMAT_VERSION, atomic_savez, read_npz
from .network import MLP, load
from .preprocess import Preprocessor
from .validation import check_int, check_sequence_of, to_host

__all__ = ["ENSEMBLE_FORMAT", "Ensemble", "fit_ensemble", "load_ensemble", "load_model", "member_configs"]

ENSEMBLE_FORMAT = "xpnet.Ensemble"
_PREFIX = "member{}/"


def member_configs(config: RunConfig, n_members: int) -> list[RunConfig]:
    """The members' run configs: ``config`` with seeds ``config.seed, config.seed + 1, ...``."""
    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be an xpnet.RunConfig; got {type(config).__name__}")
    n_members = check_int(n_members, "n_members")
    return [config.replace(seed=config.seed + i) for i in range(n_members)]


class Ensemble:
    """Networks with one input width, output width and output activation; predictions are their mean.

    ``predict_proba`` is the mean of the members' output activations (class probabilities for
    softmax/sigmoid outputs, the outputs themselves for identity); ``predict`` is the class of
    the mean probabilities (labels with a :attr:`preprocessor`), or the mean output for
    regression. Like a loaded :class:`~xpnet.MLP`, an ensemble holding a ``preprocessor`` takes
    raw features.
    """

    def __init__(
        self, members: Sequence[MLP], preprocessor: Preprocessor | None = None, run_config: Any = None
    ):
        members = check_sequence_of(members, MLP, "members")
        first = members[0]
        for i, net in enumerate(members):
            if (net.n_features, net.n_outputs, net.output) != (
                first.n_features,
                first.n_outputs,
                first.output,
            ):
                raise ValueError(
                    f"members[{i}] maps {net.n_features} features to {net.n_outputs} {net.output} outputs; "
                    f"members[0] maps {first.n_features} to {first.n_outputs} {first.output}: they must agree"
                )
        if preprocessor is not None and not isinstance(preprocessor, Preprocessor):
            raise TypeError(
                f"preprocessor must be an xpnet Preprocessor or None; got {type(preprocessor).__name__}"
            )
        self.members = members
        self.preprocessor = preprocessor
        self.run_config = run_config.to_dict() if isinstance(run_config, RunConfig) else run_config

    # --- structure (what xpnet predict reads, as from an MLP) ----------------------------
    def __len__(self) -> int:
        return len(self.members)

    @property
    def n_members(self) -> int:
        return len(self.members)

    @property
    def n_features(self) -> int:
        return self.members[0].n_features

    @property
    def n_outputs(self) -> int:
        return self.members[0].n_outputs

    @property
    def output(self) -> str:
        return self.members[0].output

    @property
    def backend(self) -> Backend:
        return self.members[0].backend

    # --- predictions ---------------------------------------------------------------------
    def predict_proba(self, X) -> np.ndarray:
        """The members' mean output activations, NumPy ``(n, n_outputs)`` (float64 sums, member dtype)."""
        X = X if self.preprocessor is None else self.preprocessor.transform(to_host(X, "X"))
        total = None
        for net in self.members:
            out = net.backend.to_numpy(net.forward(X)).astype(np.float64)
            total = out if total is None else total + out
        mean = total / len(self.members)
        return mean.astype(self.members[0].dtype)

    def predict(self, X) -> np.ndarray:
        """Class of the mean probabilities (labels with a preprocessor); the mean output for regression."""
        mean = self.predict_proba(X)
        if self.output == "identity":
            return mean
        idx = (mean[:, 0] >= 0.5).astype(np.int64) if self.n_outputs == 1 else np.argmax(mean, axis=1)
        return idx if self.preprocessor is None else self.preprocessor.labels(idx)

    # --- files -----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, preprocessor: Preprocessor | None = None, run_config: Any = None):
        """Write every member, the preprocessing and the run config to one ``.npz``, atomically (no pickle)."""
        arrays: dict[str, np.ndarray] = {}
        for i, net in enumerate(self.members):
            for key, value in net.state_dict(copy=False).items():
                arrays[_PREFIX.format(i) + key] = net.backend.to_numpy(value)
        pre = preprocessor if preprocessor is not None else self.preprocessor
        run = run_config if run_config is not None else self.run_config
        meta: dict[str, Any] = {
            "format": ENSEMBLE_FORMAT,
            "version": FORMAT_VERSION,
            "members": [net.config() for net in self.members],
            "run_config": run.to_dict() if isinstance(run, RunConfig) else run,
            "preprocess": None,
        }
        if pre is not None:
            meta["preprocess"], pre_arrays = pre.to_meta()
            arrays.update(pre_arrays)
        atomic_savez(path, arrays, meta)

    def __repr__(self) -> str:
        first = self.members[0]
        return (
            f"Ensemble({self.n_members} x MLP(layers={first.layers}, output={first.output!r}), "
            f"backend={first.backend.name!r})"
        )


def fit_ensemble(
    config: RunConfig,
    X,
    y,
    X_val=None,
    y_val=None,
    n_members: int = 5,
    preprocessor: Preprocessor | None = None,
    n_outputs: int | None = None,
):
    """Train ``n_members`` members of ``config`` together; returns ``(Ensemble, histories)``.

    Members are :func:`member_configs` (seeds ``config.seed + i``); each follows the config's
    own early stopping on ``(X_val, y_val)`` when given (else on its training loss).
    ``n_outputs`` defaults to the width the targets imply (see :func:`xpnet.fit_many`).
    """
    from .many import fit_many

    configs = member_configs(config, n_members)
    results = fit_many(configs, X, y, X_val, y_val, n_outputs=n_outputs)
    ensemble = Ensemble([r.model for r in results], preprocessor=preprocessor, run_config=config)
    return ensemble, [r.history for r in results]


def _read(path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    arrays, meta = read_npz(path)
    if meta.get("format") != ENSEMBLE_FORMAT:
        raise ValueError(f"{str(path)!r} holds {meta.get('format')!r}, not an {ENSEMBLE_FORMAT}")
    if meta.get("version", 0) > FORMAT_VERSION:
        raise ValueError(f"{str(path)!r} was written by a newer xpnet (format {meta['version']})")
    members = meta.get("members")
    if not isinstance(members, list) or not members or not all(isinstance(m, dict) for m in members):
        raise ValueError(f"{str(path)!r} is damaged: its header lists no members")
    return arrays, meta


def load_ensemble(path, backend: str | Backend = "numpy", device: Any = None, dtype: Any = None) -> Ensemble:
    """Load an ensemble saved by :meth:`Ensemble.save` onto ``backend`` (any backend, any device)."""
    arrays, meta = _read(path)
    members = []
    for i, config in enumerate(meta["members"]):
        config = dict(config)
        if dtype is not None:
            config["dtype"] = dtype
        try:
            net = MLP(**config, backend=backend, device=device)
        except TypeError as exc:
            raise ValueError(f"{str(path)!r} is damaged: member {i}'s architecture: {exc}") from None
        prefix = _PREFIX.format(i)
        net.load_state_dict({k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)})
        members.append(net)
    pre = meta.get("preprocess")
    preprocessor = None if pre is None else Preprocessor.from_meta(pre, arrays)
    return Ensemble(members, preprocessor=preprocessor, run_config=meta.get("run_config"))


def load_model(path, backend: str | Backend = "numpy", device: Any = None, dtype: Any = None):
    """An :class:`~xpnet.MLP` or an :class:`Ensemble`, whichever ``path`` holds (what ``xpnet predict`` loads)."""
    _, meta = read_npz(path)
    if meta.get("format") == ENSEMBLE_FORMAT:
        return load_ensemble(path, backend=backend, device=device, dtype=dtype)
    return load(path, backend=backend, device=device, dtype=dtype)
