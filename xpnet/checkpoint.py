"""Training checkpoints: everything ``Trainer.fit`` needs to continue a run exactly.

One ``.npz`` file, written atomically by :func:`xpnet.io.atomic_savez` (arrays plus JSON
metadata, no pickle), holds the model's parameters and buffers, the optimizer's state,
the schedule's counters, both random generators' ``(key, counter)`` (shuffles and dropout masks), the
history so far, the early-stopping bookkeeping and its best snapshot, and the epoch.
Resuming from it with a fixed seed ends bit-identical to an uninterrupted run, on every backend
(the generators are :class:`xpnet.random.CounterRNG`). Version-1 files hold an older library
generator's state instead; they still load, and their random streams restart from the seed.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .history import History
from .io import atomic_savez, check_finite, read_npz
from .random import is_state

FORMAT = "xpnet.checkpoint"
VERSION = 2  # 2: Philox (key, counter) generator states (issue 17)


def _trainer_settings(trainer) -> dict[str, Any]:
    clip = None if trainer.clip is None else list(trainer.clip)
    return {"loss": trainer.loss, "batch_size": trainer.batch_size, "shuffle": trainer.shuffle, "clip": clip}


def _rng_value(entry: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(entry, dict) and set(entry) == {"array"}:  # version 1: a torch generator's bytes
        return arrays[entry["array"]]
    return entry


def save_checkpoint(path: str | os.PathLike, trainer, history, epoch: int) -> None:
    """Write the state of ``trainer`` after ``epoch`` completed epochs to ``path`` atomically.

    The file assembles the ``state_dict()`` of each part: the network, the optimizer, the
    schedule, the early-stopping tracker (``trainer.stopper``), both generators and the history.
    """
    net, to_host = trainer.net, trainer.net.backend.to_numpy
    best = trainer.stopper.state_dict()
    arrays: dict[str, np.ndarray] = {}
    for key, value in net.state_dict(copy=False).items():
        arrays[f"model/{key}"] = to_host(value)
    for key, value in best["state"].items():
        arrays[f"best/{key}"] = value if isinstance(value, np.ndarray) else to_host(value)
    opt = trainer.optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for key, entries in opt.pop("state").items():
        for name, value in entries.items():
            if hasattr(value, "shape"):
                arrays[f"optim/{key}/{name}"] = to_host(value)
            else:
                scalars.setdefault(key, {})[name] = value
    opt["scalars"] = scalars
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "epoch": int(epoch),
        "config": net.config(),
        "backend": net.backend.name,
        "trainer": _trainer_settings(trainer),
        "optimizer": opt,
        "schedule": None if trainer.schedule is None else trainer.schedule.state_dict(),
        "rng": {
            "trainer": trainer.rng.get_state(),
            "net": net.rng.get_state(),
        },
        "history": history.to_dict(),
        "best": {
            "value": float(best["value"]),
            "since_best": int(best["since_best"]),
            "epoch": best["epoch"],
        },
    }
    atomic_savez(path, arrays, meta)


def load_checkpoint(path: str | os.PathLike, trainer) -> dict[str, Any]:
    """Restore ``trainer`` (network, optimizer, schedule, generators) from ``path``.

    Returns the run's bookkeeping: ``epoch``, ``history`` (a dict) and ``early_stopping`` (an
    :meth:`~xpnet.EarlyStopping.state_dict` whose best state holds host arrays). The network's architecture and the
    optimizer's type must match the checkpoint's (``ValueError`` otherwise); other
    differing settings only warn, since the user may change them on purpose.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"resume_from={str(path)!r}: no checkpoint file there")
    arrays, meta = read_npz(path, lambda meta, shapes: _check_header(path, meta))
    check_finite(path, arrays, ("model/", "best/"))
    try:
        return _restore(path, trainer, arrays, meta)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:  # a tampered file
        if str(path) in str(exc):
            raise
        what = f"{type(exc).__name__} {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ValueError(f"resume_from={str(path)!r} is not a usable xpnet checkpoint: {what}") from None


def _check_header(path, meta: dict[str, Any]) -> None:
    """The format and version, before any array is read."""
    if meta.get("format") != FORMAT:
        raise ValueError(f"resume_from={str(path)!r} holds {meta.get('format')!r}, not an xpnet checkpoint")
    if meta["version"] > VERSION:
        raise ValueError(
            f"resume_from={str(path)!r} was written by a newer xpnet (version {meta['version']})"
        )


def _restore(path, trainer, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> dict[str, Any]:
    """Load the checked file's state into ``trainer``; the bookkeeping ``load_checkpoint`` returns."""
    History(**meta["history"])  # parses (a tampered history fails here, naming the file)
    epoch = meta["epoch"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"its epoch count {epoch!r} is not an integer >= 0")
    net = trainer.net
    arch = ("layers", "activation", "output", "dropout", "batch_norm", "dtype")
    if any(meta["config"].get(k) != net.config()[k] for k in arch):
        raise ValueError(f"resume_from={str(path)!r} is for the network {meta['config']}, not {net.config()}")
    opt_meta = meta["optimizer"]
    if opt_meta["type"] != type(trainer.optimizer).__name__:
        raise ValueError(
            f"resume_from={str(path)!r} holds {opt_meta['type']} state; the trainer's optimizer is "
            f"{type(trainer.optimizer).__name__}"
        )
    if (meta["schedule"] is None) != (trainer.schedule is None):
        raise ValueError(
            f"resume_from={str(path)!r} was written {'with' if meta['schedule'] else 'without'} a schedule; "
            f"give the trainer {'one' if meta['schedule'] else 'none'}"
        )
    _warn_if_changed("trainer settings", meta["trainer"], _trainer_settings(trainer))
    mine = dict(trainer.optimizer.hyperparameters(), lr=None)
    _warn_if_changed("optimizer hyperparameters", dict(opt_meta["hyperparameters"], lr=None), mine)

    net.load_state_dict({k[len("model/") :]: v for k, v in arrays.items() if k.startswith("model/")})
    state: dict[str, dict[str, Any]] = {k: dict(v) for k, v in opt_meta.get("scalars", {}).items()}
    for name, value in arrays.items():
        if name.startswith("optim/"):
            key, _, entry = name[len("optim/") :].rpartition("/")
            state.setdefault(key, {})[entry] = value
    trainer.optimizer.load_state_dict(dict(opt_meta, state=state), like=net.params)
    if trainer.schedule is not None:
        trainer.schedule.load_state_dict(meta["schedule"])
        trainer.optimizer.lr = float(opt_meta["hyperparameters"]["lr"])
    for name, rng in (("trainer", trainer.rng), ("net", net.rng)):
        value = _rng_value(meta["rng"][name], arrays)
        if is_state(value):
            rng.set_state(value)
            continue
        rng.restart()
        warnings.warn(
            f"the checkpoint holds no counter-based {name} random-generator state (written before "
            f"xpnet's Philox generator, on {meta['backend']}); the {name} random stream restarts from "
            "the seed (counter 0), so the resumed run will not match the original one",
            stacklevel=3,
        )
    best = meta["best"]
    return {
        "epoch": int(meta["epoch"]),
        "history": meta["history"],
        "early_stopping": {
            "value": float(best["value"]),
            "since_best": int(best["since_best"]),
            "epoch": best.get("epoch", meta["history"].get("best_epoch")),  # version-1 files keep it there
            "state": {k[len("best/") :]: v for k, v in arrays.items() if k.startswith("best/")},
        },
    }


def _warn_if_changed(what: str, saved: dict[str, Any], now: dict[str, Any]) -> None:
    changed = {k: (saved.get(k), now.get(k)) for k in set(saved) | set(now) if saved.get(k) != now.get(k)}
    if changed:
        detail = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(changed.items()))
        warnings.warn(
            f"resuming with changed {what} ({detail}); the run will not match an uninterrupted one",
            stacklevel=3,
        )
