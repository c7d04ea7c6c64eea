"""``xpnet tune``: its options, and the command that runs the study and reports, retrains, exports, plots."""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from typing import Any

from ..backend import BACKENDS
from ..config import RunConfig
from ..data import add_split_arguments
from ..validation import check_int
from .objective import retrain
from .report import best_config, export_config, export_record, format_params, save_plots, summary
from .space import SearchSpace
from .study import PRUNERS, TuneSettings
from .workers import WorkerLost, blas_threads, tune

TUNE_HELP = "search hyperparameters with Optuna (validation accuracy, pruning, shared storage)"
TUNE_DESCRIPTION = (
    "Search depth, widths, dropout, learning rate, initializer, clipping, optimizer, batch size, activation, "
    "weight decay and batch norm with Optuna, scoring each trial by its best validation accuracy (never the "
    "test set) and pruning poor trials early."
)
TUNE_EXAMPLES = """examples:
  xpnet tune                                       # 50 trials on digits with NumPy, median pruning
  xpnet tune --trials 100 --timeout 600 --pruner hyperband --plot-dir plots --retrain --export best.json
  xpnet train --config best.json                  # train the best configuration found
  xpnet tune --storage sqlite:///study.db --study-name digits   # resumable; run it again to add trials
  xpnet tune --storage journal:study.log --n-jobs 2             # two worker processes, one study
  xpnet tune --storage postgresql://user@dbhost/optuna --study-name big --device cuda:0  # one of many hosts
  xpnet tune --data mine.csv --target species --export best.json   # your own CSV
  xpnet tune --space space.yaml --json              # override ranges, e.g. {"n_layers": [1, 3]}
  xpnet tune --trials 64 --batch 16                 # 16 trials at a time, trained together
"""


def add_tune_parser(sub) -> argparse.ArgumentParser:
    """Register ``xpnet tune`` on the CLI's subparsers."""
    p = sub.add_parser(
        "tune", help=TUNE_HELP, description=TUNE_DESCRIPTION, epilog=TUNE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    g = p.add_argument_group("search")
    g.add_argument("--trials", type=int, default=50, help="trials this run adds to the study (default 50)")
    g.add_argument(
        "--timeout", type=float, default=None, help="stop starting trials after S seconds (per worker)"
    )
    g.add_argument("--epochs", type=int, default=30, help="epochs per trial (default 30)")
    g.add_argument(
        "--report-every",
        type=int,
        default=None,
        help="report to the pruner every N epochs (default epochs/10)",
    )
    g.add_argument("--pruner", choices=PRUNERS, default="median")
    g.add_argument(
        "--batch", type=int, default=1, metavar="K",
        help="ask for K trials at a time and train them together (default 1: one at a time)",
    )  # fmt: skip
    g.add_argument("--space", metavar="FILE", help="JSON or YAML file overriding search ranges")
    g.add_argument(
        "--seed", type=int, default=RunConfig.seed, help="data split and initial weights (default 0)"
    )
    g.add_argument(
        "--sampler-seed",
        type=int,
        default=None,
        help="TPE sampler seed (default: --seed for in-memory studies, random for stored ones, so that "
        "processes sharing a study explore differently)",
    )
    g = p.add_argument_group("data and backend")
    add_split_arguments(g)
    g.add_argument(
        "--data", metavar="FILE", help="tune on this file instead: .csv (header row), .npz, .npy, .parquet"
    )
    g.add_argument("--target", help="--data: the target column's name (default: the last column)")
    g.add_argument("--backend", default=RunConfig.backend, choices=BACKENDS)
    g.add_argument(
        "--device", default=None, help="e.g. cuda:0; comma-separated devices are dealt to --n-jobs workers"
    )
    g.add_argument("--dtype", default=RunConfig.dtype, choices=("float32", "float64"))
    g = p.add_argument_group("storage and workers")
    g.add_argument(
        "--storage",
        default=None,
        help="Optuna storage: sqlite:///study.db, postgresql://user@host/db, journal:study.log or a .log path "
        "(default: in memory)",
    )
    g.add_argument("--study-name", default=None, help="default xpnet-DATASET; an existing study is resumed")
    g.add_argument(
        "--n-jobs",
        type=int,
        default=1,
        help="worker processes on this machine (default 1); in-memory storage then uses a temporary journal file",
    )
    g.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS threads per worker (default 1: small MLPs train fastest on one; 0 keeps the library default)",
    )
    g = p.add_argument_group("output")
    g.add_argument(
        "--retrain",
        action="store_true",
        help="retrain the best configuration on train+val; report test accuracy",
    )
    g.add_argument("--export", metavar="JSON", help="write the best configuration for `xpnet train --config`")
    g.add_argument(
        "--plot-dir", metavar="DIR", help="write optimization history, importances and parallel coordinates"
    )
    g.add_argument("--json", action="store_true", help="print one JSON object with the results")
    p.set_defaults(func=cmd_tune)
    return p


def cmd_tune(args: argparse.Namespace) -> int:
    """``xpnet tune``: run the study, print the best trial, optionally retrain, export and plot."""
    try:
        import optuna
    except ImportError:
        raise ImportError('xpnet tune needs Optuna: pip install "xpnet[tune]"') from None

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = check_int(args.trials, "--trials")
    n_jobs = check_int(args.n_jobs, "--n-jobs")
    devices = [d.strip() for d in args.device.split(",") if d.strip()] if args.device else []
    check_outputs(args)
    settings = _settings(args, devices)
    if settings.data:
        settings.load_data()  # a bad file, column or target fails here, before any trial or worker
    if n_jobs > 1 and not args.storage and not args.json:
        print(f"in-memory storage with --n-jobs {n_jobs}: the workers share a temporary journal file "
              "(removed afterwards); pass --storage to keep the study")  # fmt: skip
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", WorkerLost)
        study = tune(settings, n_trials=trials, n_jobs=n_jobs, devices=devices)
    lost = [str(w.message) for w in caught if issubclass(w.category, WorkerLost)]
    for w in caught:
        if not issubclass(w.category, WorkerLost):
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    result = summary(study)
    result["seconds"] = time.perf_counter() - start
    result["workers_lost"] = lost
    if result["n_complete"] == 0:
        _print_failure(result, study, args.json)
        return 1
    status = _finish(args, settings, study, result)
    for line in lost:  # the results of the finished trials are reported above; the exit status says
        print(f"xpnet tune: {line}", file=sys.stderr)
    return 1 if lost else status


def _finish(args: argparse.Namespace, settings: TuneSettings, study, result: dict[str, Any]) -> int:
    """Retrain, export, plot and print the result of a study with at least one complete trial."""
    run = best_config(study, settings.space, settings.base_config())
    data = {"dataset": args.dataset, "val_size": args.val_size, "test_size": args.test_size}
    if args.data:  # xpnet train --config reads the same file and column
        data.update(data=args.data, target=args.target)
    result["best_config"] = export_record(run, **data)
    if args.retrain:
        with blas_threads(settings.threads):
            result["retrain"] = retrain(run, args.dataset, args.test_size, settings=settings)
        result["test_accuracy"] = result["retrain"]["test_accuracy"]
    if args.export:
        export_config(run, args.export, **data)
        result["export"] = args.export
    if args.plot_dir:
        result["plots"] = save_plots(study, args.plot_dir)
    if args.json:
        print(json.dumps(result))
    else:
        _print_result(result, args)
    return 0


def check_outputs(args: argparse.Namespace) -> None:
    """Fail before the study runs when ``--export`` or ``--plot-dir`` cannot be written."""
    from ..io import check_output_dir, check_output_path

    if args.export:
        check_output_path(args.export, "--export")
    if args.plot_dir:
        check_output_dir(args.plot_dir, "--plot-dir")


def _settings(args: argparse.Namespace, devices: list[str]) -> TuneSettings:
    """The study's settings from the parsed options (the first of ``devices`` for this process)."""
    return TuneSettings(
        dataset=args.dataset,
        space=SearchSpace.from_file(args.space) if args.space else SearchSpace(),
        epochs=args.epochs,
        backend=args.backend,
        device=devices[0] if devices else None,
        dtype=args.dtype,
        seed=args.seed,
        val_size=args.val_size,
        test_size=args.test_size,
        storage=args.storage,
        study_name=args.study_name,
        pruner=args.pruner,
        report_every=args.report_every,
        timeout=args.timeout,
        sampler_seed=args.sampler_seed,
        threads=args.threads or None,
        progress="stderr" if args.json else "stdout",
        batch=check_int(args.batch, "--batch"),
        data=args.data,
        target=args.target,
    )


def _print_failure(result: dict[str, Any], study, as_json: bool) -> None:
    """Report a study in which no trial completed, with the first few reasons."""
    if as_json:
        print(json.dumps(result))
        return
    reasons = sorted({t.user_attrs.get("reason", "?") for t in study.trials if t.state.is_finished()})
    print(
        f"no trial completed ({result['n_pruned']} pruned, {result['n_failed']} failed): "
        + "; ".join(reasons[:3])
    )


def _print_result(result: dict[str, Any], args: argparse.Namespace) -> None:
    """The human-readable report: counts, the best trial, and what was retrained, exported and plotted."""
    print(
        f"study {result['study_name']!r}: {result['n_trials']} trials ({result['n_complete']} complete, "
        f"{result['n_pruned']} pruned, {result['n_failed']} failed) in {result['seconds']:.1f} s"
    )
    epoch = result["best_config"]["epochs"]
    print(
        f"best validation accuracy {result['best_value']:.4f} (trial {result['best_trial']}, epoch {epoch})"
    )
    print("best params: " + format_params(result["best_params"], ", "))
    if "retrain" in result:
        r = result["retrain"]
        print(
            f"retrained on train+val ({r['n_train']} samples, {r['epochs']} epochs): "
            f"test accuracy {r['test_accuracy']:.4f} on {r['n_test']} samples"
        )
    if args.export:
        print(f"best configuration written to {args.export} (use: xpnet train --config {args.export})")
    for path in result.get("plots", {}).values():
        print(f"plot saved to {path}")
