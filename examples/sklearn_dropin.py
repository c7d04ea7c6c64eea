"""MLPClassifier against XPNetClassifier (the drop-in), same parameters: accuracy and fit time.

    python examples/sklearn_dropin.py --repeats 3 [--backend numpy|cupy|torch]

Workloads: digits (1,437 training rows, defaults: adam, 200 epochs max, tol stopping) and a
60,000-row synthetic set (make_classification, 40 features, 10 classes; 10 epochs). Each fit
is timed ``--repeats`` times, alternating the two libraries; the best time is reported.
"""

from __future__ import annotations

import argparse
import time
import warnings
from functools import partial

from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from xpnet.sklearn import XPNetClassifier


def _workloads():
    X, y = load_digits(return_X_y=True)
    yield "digits", X, y, {}
    X, y = make_classification(
        n_samples=75_000, n_features=40, n_informative=30, n_classes=10, random_state=0
    )
    yield "synthetic-60k", X, y, {"max_iter": 10}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads for both (default 1)")
    args = parser.parse_args(argv)
    print(f"{'workload':<14} {'estimator':<28} {'n_iter_':>7} {'accuracy':>8} {'best fit s':>10}")
    for name, X, y, params in _workloads():
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
        scaler = StandardScaler().fit(X_tr)
        X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
        makers = {
            "MLPClassifier": partial(MLPClassifier, random_state=0, **params),
            f"XPNetClassifier({args.backend})": partial(
                XPNetClassifier, random_state=0, backend=args.backend, **params
            ),
        }
        best = dict.fromkeys(makers, float("inf"))
        fitted = {}
        with threadpool_limits(limits=args.threads, user_api="blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for _ in range(args.repeats):
                for label, make in makers.items():
                    est = make()
                    start = time.perf_counter()
                    est.fit(X_tr, y_tr)
                    best[label] = min(best[label], time.perf_counter() - start)
                    fitted[label] = est
        for label, est in fitted.items():
            acc = est.score(X_te, y_te)
            print(f"{name:<14} {label:<28} {est.n_iter_:>7} {acc:>8.4f} {best[label]:>10.3f}")
        ratio = best[f"XPNetClassifier({args.backend})"] / best["MLPClassifier"]
        print(f"{name:<14} {'time ratio xpnet/sklearn':<28} {'':>7} {'':>8} {ratio:>10.2f}")


if __name__ == "__main__":
    main()
