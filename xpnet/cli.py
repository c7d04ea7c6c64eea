"""The ``xpnet`` command line: ``train`` and ``info`` (``predict``, ``export``, ``bench`` and ``tune`` register here too)."""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from typing import Any

import numpy as np

from .activations import HIDDEN, OUTPUT
from .backend import BACKENDS
from .clipping import CLIP_KINDS
from .config import RUN_FIELDS, RunConfig, parse_hidden
from .data import add_split_arguments
from .ensemble_cli import ENSEMBLE_HELP, check_ensemble_args, train_ensemble
from .initializers import INITIALIZERS
from .io import check_output_path
from .losses import LOSSES
from .optim import OPTIMIZERS
from .schedules import SCHEDULES
from .train_cli import (
    check_network_memory,
    check_resume,
    fit_quietly,
    report,
    train_threads,
    training_data,
)

D = RunConfig()  # the one set of run defaults; the options below show them

TRAIN_EXAMPLES = """examples:
  xpnet train                                   # digits, numpy, the defaults below
  xpnet train --hidden 256,128 --dropout 0.3 --optimizer sgd --lr 0.05 --plot loss.png
  xpnet train --activation sigmoid --output sigmoid --loss mse --init random  # the article's setup
  xpnet train --backend cupy --batch-size 128 --json
  xpnet train --optimizer adam --batch-norm --schedule cosine --warmup-epochs 5
  xpnet train --epochs 300 --checkpoint run.npz --checkpoint-every 25   # later: add --resume run.npz
  xpnet train --data mine.csv --target species --save model.npz   # your own CSV (header row)
  xpnet train --ensemble 8 --save ens.npz      # 8 seeds together, averaged; vs the single model
"""


def _hidden(text: str) -> list[int]:
    try:
        return list(parse_hidden(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--{exc}") from None


def add_train_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "train",
        help="train an MLP on a bundled dataset and report test accuracy",
        description="Train an MLP on a bundled dataset (stratified train/val/test split, "
        "features standardized on the training part) and report the test accuracy.",
        epilog=TRAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--config",
        help="JSON file of option values (keys as the options' names, e.g. batch_size), such as "
        "RunConfig.to_json() writes; flags on the command line win",
    )
    g = p.add_argument_group("data")
    add_split_arguments(g)
    g.add_argument(
        "--data", metavar="FILE", help="train on this file instead: .csv (header row), .npz, .npy, .parquet"
    )
    g.add_argument("--target", help="--data: the target column's name (default: the last column)")
    g.add_argument(
        "--task",
        choices=("classification", "regression"),
        help="--data: what to learn (default: inferred from the target column)",
    )
    g = p.add_argument_group("network")
    g.add_argument(
        "--hidden", type=_hidden, default=list(D.hidden), help="hidden sizes, e.g. 256,128 (default 128)"
    )
    g.add_argument("--activation", default=D.activation, choices=tuple(HIDDEN))
    g.add_argument("--output", default=D.output, choices=tuple(OUTPUT))
    g.add_argument("--init", default=D.init, choices=INITIALIZERS)
    g.add_argument("--dropout", type=float, default=D.dropout)
    g.add_argument(
        "--batch-norm", action="store_true", help="batch normalization after each hidden dense layer"
    )
    g = p.add_argument_group("training")
    g.add_argument("--loss", default=D.loss, choices=LOSSES)
    g.add_argument("--optimizer", default=D.optimizer, choices=OPTIMIZERS)
    g.add_argument(
        "--lr",
        type=float,
        default=D.lr,
        help="learning rate (default: 1e-3 for adam/adamw, 1e-2 for them under --schedule cosine, "
        "0.01 otherwise)",
    )
    g.add_argument("--momentum", type=float, default=D.momentum, help="for momentum/nesterov (default 0.9)")
    g.add_argument("--weight-decay", type=float, default=D.weight_decay)
    g.add_argument(
        "--schedule", default=D.schedule, choices=SCHEDULES, help="learning-rate schedule (default constant)"
    )
    g.add_argument(
        "--warmup-epochs",
        type=int,
        default=D.warmup_epochs,
        help="linear warm-up epochs before the schedule (default: epochs // 10 for cosine, else 0)",
    )
    g.add_argument(
        "--step-size", type=int, default=D.step_size, help="step: epochs between decays (default epochs // 3)"
    )
    g.add_argument(
        "--gamma",
        type=float,
        default=D.gamma,
        help="step/plateau: decay factor (default 0.1); exponential: per-epoch factor (default: to 1%% "
        "over the run)",
    )
    g.add_argument("--eta-min", type=float, default=D.eta_min, help="cosine: final learning rate (default 0)")
    g.add_argument(
        "--schedule-patience",
        type=int,
        default=D.schedule_patience,
        help="plateau: epochs without improvement before a cut (default 10)",
    )
    g.add_argument("--batch-size", type=int, default=D.batch_size, help="0 for full batch (default 32)")
    g.add_argument("--epochs", type=int, default=D.epochs)
    g.add_argument(
        "--patience",
        type=int,
        default=D.patience,
        help="early-stopping patience in epochs (the best epoch by validation loss is restored); 0 disables (default 20)",
    )
    g.add_argument("--min-delta", type=float, default=D.min_delta)
    g.add_argument("--clip", choices=CLIP_KINDS, default=D.clip, help="gradient clipping kind")
    g.add_argument("--clip-value", type=float, default=D.clip_value, help="clipping threshold (default 1.0)")
    g.add_argument("--seed", type=int, default=D.seed)
    g.add_argument("--ensemble", type=int, default=1, metavar="K", help=ENSEMBLE_HELP + " (default 1)")
    g = p.add_argument_group("backend")
    g.add_argument("--backend", default=D.backend, choices=BACKENDS)
    g.add_argument("--device", default=D.device, help="e.g. cuda:0 (default: the backend's default)")
    g.add_argument("--dtype", default=D.dtype, choices=("float32", "float64"))
    g.add_argument(
        "--threads",
        type=int,
        help="BLAS threads (default: 1 for a small network on numpy, where one thread is fastest; "
        "0: the library's default)",
    )
    g = p.add_argument_group("output")
    g.add_argument("--log-every", type=int, default=10, help="log a line every N epochs (0: never)")
    g.add_argument("--progress", action="store_true", help="show a tqdm progress bar")
    g.add_argument("--plot", metavar="PNG", help="save raw and smoothed loss curves here")
    g.add_argument("--save", metavar="NPZ", help="save the trained model here")
    g.add_argument("--checkpoint", metavar="NPZ", help="write a training checkpoint here (atomically)")
    g.add_argument("--checkpoint-every", type=int, default=10, help="epochs between checkpoints (default 10)")
    g.add_argument("--resume", metavar="NPZ", help="resume the run saved in this checkpoint (same options)")
    g.add_argument("--json", action="store_true", help="print one JSON object with the results")
    p.set_defaults(func=cmd_train)
    return p


def run_config(args: argparse.Namespace) -> RunConfig:
    """The :class:`RunConfig` of parsed ``train`` arguments (and of run fields a ``--config`` file set)."""
    return RunConfig.from_dict({name: getattr(args, name) for name in RUN_FIELDS if hasattr(args, name)})


def cmd_train(args: argparse.Namespace) -> int:
    from .plotting import loss_curves
    from .threads import blas_threads

    cfg = run_config(args)
    n_members = check_ensemble_args(args)  # --ensemble K and the options it refuses, before any work
    for option in ("save", "plot", "checkpoint"):
        if getattr(args, option):
            check_output_path(getattr(args, option), f"--{option}")
    check_resume(args.resume)
    ds = training_data(args, cfg.seed)
    if ds.task == "regression" and cfg.output != "identity":
        cfg = cfg.replace(output="identity", loss="mse")
    check_network_memory([ds.n_features, *cfg.hidden, cfg.n_outputs(ds.n_classes)], cfg.dtype)
    if n_members > 1:
        return train_ensemble(args, cfg, ds)
    net, trainer, stopping = cfg.build(ds.n_features, cfg.n_outputs(ds.n_classes))
    if not args.json:
        print(net.summary())
        print(f"{ds!r}; optimizer {trainer.optimizer!r}; schedule {trainer.schedule or 'constant'!r}")
    start = time.perf_counter()
    with blas_threads(train_threads(args.threads, net)):
        history, validation = fit_quietly(trainer, stopping, ds, cfg, args)
    seconds = time.perf_counter() - start
    with np.errstate(all="ignore"):
        test_loss, test_acc = trainer.evaluate(ds.X_test, ds.y_test)
        val_acc = trainer.evaluate(ds.X_val, ds.y_val)[1] if validation else None
    result: dict[str, Any] = {
        "dataset": ds.name,
        "task": ds.task,
        "test_accuracy": test_acc,
        "test_loss": test_loss,
        "val_accuracy": val_acc,
        "epochs": len(history),
        "best_epoch": history.best_epoch,
        "diverged": history.diverged,
        "diverged_epoch": history.diverged_epoch,
        "interrupted_epoch": history.interrupted_epoch,
        "schedule": cfg.schedule,
        "final_lr": trainer.optimizer.lr,
        "train_seconds": seconds,
        "backend": net.backend.name,
        "device": str(net.backend.device),
        "device_name": net.backend.device_name,
        "dtype": net.dtype,
        "layers": net.layers,
        "n_params": net.n_params,
    }
    if args.plot:
        loss_curves(history, path=args.plot)
        result["plot"] = args.plot
    if args.save:
        net.save(args.save, preprocessor=ds.preprocessor, run_config=cfg)
        result["model"] = args.save
    if args.checkpoint:
        result["checkpoint"] = args.checkpoint
    report(args, result, history)
    if history.diverged:
        return 3
    return 130 if history.interrupted_epoch is not None else 0


def cmd_info(args: argparse.Namespace) -> int:
    import numpy

    from . import __version__
    from .backend import available_backends, get_backend

    info: dict[str, Any] = {
        "xpnet": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": numpy.__version__,
        "backends": {},
    }
    for name, status in available_backends().items():
        entry: dict[str, Any] = {"status": status}
        if status == "available":
            be = get_backend(name)
            entry["device"] = str(be.device)
            entry["device_name"] = be.device_name
            module = {"array_api_strict": "array_api_strict"}.get(name, name)
            entry["version"] = getattr(sys.modules.get(module), "__version__", "?")
        info["backends"][name] = entry
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"xpnet {info['xpnet']} on Python {info['python']} ({info['platform']}), numpy {info['numpy']}")
    for name, entry in info["backends"].items():
        if entry["status"] == "available":
            print(f"  {name:<17} {entry['version']:<12} {entry['device']} ({entry['device_name']})")
        else:
            print(f"  {name:<17} unavailable: {entry['status']}")
    return 0


def _read_config(option: str, path: str) -> dict[str, Any]:
    """The JSON object of option values in ``path``; a ValueError naming the file otherwise."""
    try:
        with open(path) as f:
            values = json.load(f)
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{option} {path}: cannot be read ({exc.strerror or exc})") from None
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{option} {path}: not valid JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{option} {path}: expected a JSON object of option values")
    return values


def _apply_config(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    args = parser.parse_args(argv)
    config = getattr(args, "config", None)
    if not config:
        return args
    values = _read_config("--config", config)
    sub = parser._subparsers._group_actions[0].choices[args.command]  # noqa: SLF001
    known = {a.dest for a in sub._actions}  # noqa: SLF001
    if args.command == "train":
        known |= set(RUN_FIELDS)  # a RunConfig JSON also sets the fields no flag has (shuffle, ...)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"--config {config}: unknown option(s) {', '.join(unknown)}")
    if isinstance(values.get("hidden"), str):
        try:
            values["hidden"] = _hidden(values["hidden"])
        except argparse.ArgumentTypeError as exc:
            raise ValueError(f"--config {config}: {exc}") from None
    sub.set_defaults(**values)
    return parser.parse_args(argv)  # command-line flags still win over the file


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2), pointing to ``--help``."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def make_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="xpnet", description="Train, benchmark and tune MLPs on any array backend.")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and results")
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_parser(sub)
    info = sub.add_parser("info", help="versions, available backends and devices")
    info.add_argument("--json", action="store_true")
    info.set_defaults(func=cmd_info)
    from .predict import add_predict_parser

    add_predict_parser(sub)
    from .export_onnx import add_export_parser

    add_export_parser(sub)
    from .bench import add_bench_parser

    add_bench_parser(sub)
    from .tune import add_tune_parser

    add_tune_parser(sub)
    return parser


USER_ERRORS = (ValueError, TypeError, ImportError, OSError, MemoryError, RecursionError)


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = _apply_config(parser, argv)
    except USER_ERRORS as exc:  # --config: unreadable, not JSON, unknown options
        print(f"xpnet: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    from .callbacks import TqdmHandler

    logging.basicConfig(  # through tqdm.write: log lines and a --progress bar share the terminal
        level=logging.WARNING if args.quiet or getattr(args, "json", False) else logging.INFO,
        format="%(message)s",
        handlers=[TqdmHandler(sys.stderr)],
    )
    try:
        return args.func(args)
    except USER_ERRORS as exc:  # a user's mistake (bad value, file, path): one line, no traceback
        print(f"xpnet {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"xpnet {args.command}: interrupted", file=sys.stderr)
        return 130


def _one_line(exc: BaseException) -> str:
    """The error as one line: its message (with the file an OSError names), or its type when it has none."""
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.filename is not None and str(exc.filename) not in text:
        text = f"{exc.filename}: {text}"
    return text or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
