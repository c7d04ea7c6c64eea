"""``xpnet train --ensemble K``: K seeds of the run trained together, the ensemble against its first member.

Member ``i`` is the run with ``--seed`` + ``i`` (the data split stays the one of ``--seed``),
so member 0 is the model ``xpnet train`` without ``--ensemble`` trains. The report sets the
ensemble's test accuracy, negative log-likelihood and expected calibration error (15 bins)
beside member 0's ("single") and the members' mean accuracy; ``--save`` writes the ensemble
as one file that ``xpnet predict`` reads.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from typing import Any

import numpy as np

from .config import RunConfig
from .validation import check_int

ENSEMBLE_HELP = "train K networks (seeds --seed, --seed+1, ...) together and average their predictions"
_REFUSED = ("checkpoint", "resume", "plot")  # per-run outputs an ensemble does not have


def check_ensemble_args(args: argparse.Namespace) -> int:
    """The number of members; ValueError for options an ensemble run does not take."""
    k = check_int(getattr(args, "ensemble", 1), "--ensemble")
    for option in _REFUSED:
        if k > 1 and getattr(args, option, None):
            raise ValueError(f"--{option} is not supported with --ensemble; train a single model for it")
    return k


def _scores(proba: np.ndarray, ds, task: str) -> dict[str, float]:
    from .metrics import probability_metrics

    if task == "regression":
        y = ds.y_test.reshape(proba.shape)
        return {"loss": float(np.mean((proba.astype(np.float64) - y) ** 2))}
    return probability_metrics(proba, ds.y_test)


def train_ensemble(args: argparse.Namespace, cfg: RunConfig, ds) -> int:
    """Train ``args.ensemble`` members of ``cfg`` on ``ds``, report ensemble vs single model, save."""
    from .ensemble import Ensemble, member_configs
    from .many import fit_many
    from .threads import blas_threads
    from .train_cli import train_threads

    k = check_ensemble_args(args)
    configs = member_configs(cfg, k)
    first = configs[0].build_network(ds.n_features, cfg.n_outputs(ds.n_classes))
    if not args.json:
        print(first.summary())
        print(f"{ds!r}; an ensemble of {k} members, seeds {cfg.seed}..{cfg.seed + k - 1}")
    validation = (ds.X_val, ds.y_val) if len(ds.y_val) else (None, None)
    start = time.perf_counter()
    with (
        blas_threads(train_threads(args.threads, first)),
        warnings.catch_warnings(),
        np.errstate(all="ignore"),
    ):
        warnings.simplefilter("ignore", RuntimeWarning)  # divergence is reported below, per member
        results = fit_many(configs, ds.X_train, ds.y_train, *validation, n_outputs=first.n_outputs)
    seconds = time.perf_counter() - start
    ensemble = Ensemble([r.model for r in results], run_config=cfg)
    with np.errstate(all="ignore"):
        member_proba = [r.model.predict_proba(ds.X_test) for r in results]
        ens = _scores(ensemble.predict_proba(ds.X_test), ds, ds.task)
        single = _scores(member_proba[0], ds, ds.task)
        members = [_scores(p, ds, ds.task) for p in member_proba]
    diverged = [i for i, r in enumerate(results) if r.history.diverged]
    result: dict[str, Any] = {
        "dataset": ds.name,
        "task": ds.task,
        "n_members": k,
        "seeds": [c.seed for c in configs],
        **{f"test_{name}": value for name, value in ens.items()},
        "single": {f"test_{name}": value for name, value in single.items()},
        "members": {f"test_{name}": [m[name] for m in members] for name in ens},
        "epochs": [len(r.history) for r in results],
        "diverged_members": diverged,
        "train_seconds": seconds,
        "backend": first.backend.name,
        "dtype": first.dtype,
        "layers": first.layers,
    }
    if args.save:
        ensemble.save(args.save, preprocessor=ds.preprocessor, run_config=cfg)
        result["model"] = args.save
    _report(args, result)
    return 3 if diverged else 0


def _report(args: argparse.Namespace, r: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(r))
    elif r["task"] == "regression":
        print(
            f"ensemble of {r['n_members']}: test loss {r['test_loss']:.5g} (single model "
            f"{r['single']['test_loss']:.5g}) after {r['train_seconds']:.2f} s of training on {r['backend']}"
        )
    else:
        s, mean = r["single"], float(np.mean(r["members"]["test_accuracy"]))
        print(
            f"ensemble of {r['n_members']}: test accuracy {r['test_accuracy']:.4f}, NLL {r['test_nll']:.4f}, "
            f"ECE {r['test_ece']:.4f}; single model (seed {r['seeds'][0]}): accuracy "
            f"{s['test_accuracy']:.4f}, NLL {s['test_nll']:.4f}, ECE {s['test_ece']:.4f}; members' mean "
            f"accuracy {mean:.4f}; {r['train_seconds']:.2f} s of training on {r['backend']}"
        )
    if "model" in r and not args.json:
        print(f"ensemble saved to {r['model']}")
    if r["diverged_members"]:
        print(
            f"xpnet train: member(s) {r['diverged_members']} diverged (their best parameters kept); "
            "try a smaller --lr or --clip norm",
            file=sys.stderr,
        )
