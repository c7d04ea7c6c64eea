"""What a study leaves: a line per trial, the summary, the best configuration as a file, and plots."""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import RunConfig
from .space import SearchSpace

DATA_OPTIONS = (
    "dataset",
    "data",
    "target",
    "val_size",
    "test_size",
)  # `xpnet train` options that are not run fields


class ProgressPrinter:
    """An Optuna callback printing one line per finished trial: state, value, best so far, params."""

    def __init__(self, stream=None, worker: int = 0, n_workers: int = 1):
        self.stream, self.prefix = stream or sys.stdout, f"[worker {worker}] " if n_workers > 1 else ""

    def __call__(self, study, trial) -> None:
        """Print the finished ``trial``'s line."""
        state = trial.state.name.lower()
        value = "" if trial.value is None else f" val_acc {trial.value:.4f}"
        seconds = trial.duration.total_seconds() if trial.duration else math.nan
        try:
            best = f"  best {study.best_value:.4f} (trial {study.best_trial.number})"
        except ValueError:
            best = ""
        reason = trial.user_attrs.get("reason")
        reason = f"  [{reason}]" if reason and state != "complete" else ""
        params = format_params(trial.params)
        print(
            f"{self.prefix}trial {trial.number:>3} {state:<8}{value} {seconds:6.2f} s{best}{reason}  {params}",
            file=self.stream,
            flush=True,
        )


def format_params(params: dict[str, Any], sep: str = " ") -> str:
    """``name=value`` pairs, floats to three significant digits."""
    return sep.join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def summary(study) -> dict[str, Any]:
    """Best value and parameters and the count of trials by state."""
    from optuna.trial import TrialState

    counts = {state: 0 for state in TrialState}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state] += 1
    result: dict[str, Any] = {
        "study_name": study.study_name,
        "best_value": None,
        "best_params": None,
        "best_trial": None,
        "n_trials": sum(counts.values()),
        "n_complete": counts[TrialState.COMPLETE],
        "n_pruned": counts[TrialState.PRUNED],
        "n_failed": counts[TrialState.FAIL],
        "n_running": counts[TrialState.RUNNING],
    }
    if counts[TrialState.COMPLETE]:
        best = study.best_trial
        result.update(best_value=best.value, best_params=best.params, best_trial=best.number)
        result["best_epoch"] = best.user_attrs.get("best_epoch")
    return result


def best_config(study, space: SearchSpace | None = None, base: RunConfig | None = None) -> RunConfig:
    """The best trial's run: ``base`` with its drawn values, and ``epochs`` = the epoch of its best score."""
    import optuna

    trial = study.best_trial
    drawn = (space or SearchSpace()).suggest(optuna.trial.FixedTrial(trial.params))
    return (base or RunConfig()).replace(**drawn, epochs=int(trial.user_attrs.get("best_epoch") or 1))


def export_record(run: RunConfig, **data: Any) -> dict[str, Any]:
    """``run`` as a JSON-ready dict plus the ``data`` split options (``dataset``, ``val_size``, ``test_size``).

    The split lets ``xpnet train --config`` score the same validation data the search did;
    without ``data`` the record is exactly :meth:`RunConfig.to_json`'s object.
    """
    unknown = sorted(set(data) - set(DATA_OPTIONS))
    if unknown:
        raise ValueError(
            f"export: {', '.join(unknown)} are not data options; allowed: {', '.join(DATA_OPTIONS)}"
        )
    return {**json.loads(run.to_json()), **data}


def export_config(run: RunConfig, path: str | os.PathLike, **data: Any) -> None:
    """Write :func:`export_record` as JSON for ``xpnet train --config PATH`` (atomically)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(export_record(run, **data), indent=2) + "\n")
    os.replace(tmp, path)


def save_plots(study, directory: str | os.PathLike) -> dict[str, str]:
    """Optimization history, parameter importances and parallel coordinates as PNGs in ``directory``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as ovm

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    plots: dict[str, Callable] = {
        "optimization_history": ovm.plot_optimization_history,
        "param_importances": ovm.plot_param_importances,
        "parallel_coordinate": ovm.plot_parallel_coordinate,
    }
    n_complete = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
    written = {}
    for name, plot in plots.items():
        if name == "param_importances" and n_complete < 2:
            continue  # importances need at least two finished trials
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.filterwarnings("ignore", message="Some regimes for parameter")  # few trials per bin
            ax = plot(study)
        fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
        path = directory / f"{name}.png"
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        written[name] = str(path)
    return written
