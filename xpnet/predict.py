"""``xpnet predict MODEL DATA``: a saved model's predictions on a data file, as CSV or JSON.

The model file holds the scaling, class labels and feature names of its training run, so DATA
is raw features: a CSV with the training columns (by name, any order; a target column or
other extra columns are ignored), or an ``.npz``/``.npy`` of the features. Rows are predicted
and written batch by batch, on any backend.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

PREDICT_EXAMPLES = """examples:
  xpnet predict model.npz new.csv                       # CSV of predictions on stdout
  xpnet predict model.npz new.csv --proba --out p.json  # class probabilities as JSON
"""


def add_predict_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "predict",
        help="predict with a saved model on a data file (CSV or JSON out)",
        description="Predict with a model saved by `xpnet train --save` on raw features from a file.",
        epilog=PREDICT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", help="a model (or ensemble) file written by xpnet train --save (or MLP.save)")
    p.add_argument("data", help="features: .csv (header row), .npz (array X), .npy or .parquet")
    p.add_argument("--proba", action="store_true", help="write class probabilities, not labels")
    p.add_argument("--out", metavar="FILE", help="write here (.json: JSON; else CSV); default stdout")
    p.add_argument("--format", choices=("csv", "json"), help="default: from --out's suffix, else csv")
    p.add_argument("--batch-size", type=int, default=4096, help="rows per batch (default 4096)")
    p.add_argument("--backend", default="numpy", help="array backend to predict on (default numpy)")
    p.add_argument("--device", help="e.g. cuda:0")
    p.set_defaults(func=cmd_predict)
    return p


def read_features(path, net) -> np.ndarray:
    """The raw feature matrix of ``path`` in the order the model was trained on.

    Columns are taken by the model's feature names where the file has them all (CSV, Parquet);
    otherwise the file must hold exactly the model's number of feature columns.
    """
    from .tabular import load_file

    pre = net.preprocessor
    names = None if pre is None else pre.feature_names
    if names is not None and Path(path).suffix.lower() in (".csv", ".parquet"):
        return load_file(path, features=names).X
    X = load_file(path, require_target=False).X
    if X.shape[1] != net.n_features:
        raise ValueError(
            f"{str(path)!r} has {X.shape[1]} feature columns; the model expects {net.n_features}"
        )
    return X


def predict_batches(net, X: np.ndarray, proba: bool, batch_size: int):
    """Yield ``(rows, header)`` of predictions, ``batch_size`` rows at a time."""
    pre = net.preprocessor
    if proba:
        if net.output == "identity":
            raise ValueError("--proba needs a classifier; this model is a regression model")
        classes = pre.classes if pre is not None and pre.classes is not None else None
        if net.n_outputs == 1:
            header = [f"p_{classes[1] if classes else 1}"]
        else:
            header = [f"p_{c}" for c in (classes or range(net.n_outputs))]
    else:
        header = ["prediction"]
    for start in range(0, X.shape[0], batch_size):
        xb = X[start : start + batch_size]
        out = net.predict_proba(xb) if proba else net.predict(xb)
        out = np.asarray(out)
        yield (
            (out.reshape(len(xb), -1).tolist() if out.ndim > 1 or proba else [[v] for v in out.tolist()]),
            header,
        )


@contextmanager
def _open_out(path):
    if path is None:
        yield sys.stdout
    else:
        with open(path, "w", newline="") as f:
            yield f


def write_predictions(batches, out, fmt: str) -> int:
    """Write the batches to ``out`` as CSV or a JSON list; returns the number of rows."""
    n = 0
    writer = None
    for rows, header in batches:
        if fmt == "csv":
            if writer is None:
                writer = csv.writer(out)
                writer.writerow(header)
            writer.writerows(rows)
        else:
            for row in rows:
                record: Any = row[0] if header == ["prediction"] else dict(zip(header, row, strict=True))
                out.write(("[\n" if n == 0 else ",\n") + json.dumps(record))
                n += 1
            continue
        n += len(rows)
    if fmt == "json":
        out.write("[]\n" if n == 0 else "\n]\n")
    return n


def load_noting(path, command: str, loader=None, **kwargs):
    """``xpnet.load(path)`` (or ``loader(path)``), its warnings (an old file without preprocessing) as notes."""
    import warnings

    from .network import load

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = (loader or load)(path, **kwargs)
    for w in caught:
        print(f"xpnet {command}: note: {w.message}", file=sys.stderr)
    return net


def cmd_predict(args: argparse.Namespace) -> int:
    from .io import check_output_path

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1; got {args.batch_size}")
    if args.out:
        check_output_path(args.out, "--out")
    from .ensemble import load_model  # a model file or an ensemble file (xpnet train --ensemble K --save)

    net = load_noting(args.model, "predict", load_model, backend=args.backend, device=args.device)
    X = read_features(args.data, net)
    fmt = args.format or ("json" if args.out and Path(args.out).suffix.lower() == ".json" else "csv")
    with _open_out(args.out) as out:
        n = write_predictions(predict_batches(net, X, args.proba, args.batch_size), out, fmt)
    if args.out:
        print(f"{n} predictions written to {args.out}", file=sys.stderr)
    return 0
