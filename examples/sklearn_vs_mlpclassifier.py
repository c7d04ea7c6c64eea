"""XPNetClassifier() against MLPClassifier(), both with defaults, on digits: accuracy and fit time.

Same stratified 20% test split, a StandardScaler in a Pipeline for both, fits interleaved
(one of each per repeat, alternating which goes first) and medians reported. Run:

    python examples/sklearn_vs_mlpclassifier.py --repeats 7
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info

from xpnet.sklearn import XPNetClassifier


def main() -> None:
    """Print one line per estimator: median fit seconds, accuracies and epochs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--split-seed", type=int, default=0)
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=args.split_seed
    )
    makers = {"MLPClassifier()": MLPClassifier, "XPNetClassifier()": XPNetClassifier}
    runs = {name: [] for name in makers}
    for repeat in range(args.repeats):
        order = list(makers) if repeat % 2 == 0 else list(makers)[::-1]
        for name in order:
            model = make_pipeline(StandardScaler(), makers[name](random_state=repeat))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                model.fit(X_train, y_train)
                seconds = time.perf_counter() - start
            runs[name].append((seconds, model.score(X_test, y_test), model[-1].n_iter_))
    blas = ", ".join(f"{i['internal_api']} {i['num_threads']} threads" for i in threadpool_info())
    print(f"digits, {len(X_train)} train / {len(X_test)} test, {args.repeats} interleaved repeats ({blas})")
    for name, rows in runs.items():
        seconds, accs, iters = zip(*rows, strict=True)
        print(
            f"{name:<18} fit median {statistics.median(seconds):.3f} s (min {min(seconds):.3f}, "
            f"max {max(seconds):.3f})  test accuracy median {statistics.median(accs):.4f} "
            f"(min {min(accs):.4f})  epochs median {statistics.median(iters):g}"
        )


if __name__ == "__main__":
    main()
