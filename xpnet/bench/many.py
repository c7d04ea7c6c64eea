"""The ``many`` workload (issue 18): K networks trained at once, side by side with the ways to do it one at a time.

Each setting trains K copies of a workload's network (seeds 0..K-1, plain SGD at the workload's
rate, shuffled batches of the workload's size, softmax + cross-entropy, no gradient-norm
tracking, as :func:`~xpnet.bench.xpnet_loop.xpnet_config`) for ``epochs`` epochs, three ways,
alternating within each repeat:

- ``fit_many``: one :func:`xpnet.fit_many` call (stacked, one host sync per epoch for all K);
- ``sequential``: K :class:`~xpnet.Trainer` fits one after another (what ``xpnet train`` does per model);
- ``torch-vmap``: PyTorch's own way, ``torch.func.vmap`` over ``torch.func.stack_module_state``
  (``functional_call`` + ``grad_and_value``), each model its own ``randperm`` batch order, the same
  SGD step applied in place under ``no_grad`` -- the same math, no extra work (no norms, no copies).

The figure is seconds for all K models' epochs (median over repeats) and the ratios to fit_many.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from .base import cpu_name
from .workloads import WORKLOADS, make_data
from .xpnet_loop import xpnet_config

# (workload, K, size mode, epochs per timing)
MANY_SETTINGS = (("digits-b64", 32, "full", 3), ("mnist-like", 8, "quick", 1))


def _configs(name: str, k: int, epochs: int, dtype: str):
    w = WORKLOADS[name]
    return [xpnet_config(w, "numpy", dtype, seed).replace(epochs=epochs, patience=0) for seed in range(k)]


def fit_many_runner(name, k, X, y, epochs, dtype) -> Callable[[], None]:
    from ..many import fit_many

    configs = _configs(name, k, epochs, dtype)
    return lambda: fit_many(configs, X, y)


def sequential_runner(name, k, X, y, epochs, dtype) -> Callable[[], None]:
    configs = _configs(name, k, epochs, dtype)
    n_out = WORKLOADS[name].layers[-1]

    def run():
        for cfg in configs:
            net, trainer, stopping = cfg.build(X.shape[1], n_out)
            trainer.fit(X, y, epochs=epochs, early_stopping=stopping)

    return run


def vmap_runner(name, k, X, y, epochs, dtype) -> Callable[[], None]:
    """K models through ``torch.func.vmap`` over ``stack_module_state`` (the standard PyTorch recipe)."""
    import torch
    from torch import nn
    from torch.func import functional_call, grad_and_value, stack_module_state, vmap

    w = WORKLOADS[name]
    tdtype = getattr(torch, dtype)
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}[w.activation]

    def model(seed):
        torch.manual_seed(seed)
        mods: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(w.layers[:-1], w.layers[1:], strict=True)):
            mods.append(nn.Linear(a, b))
            if i < len(w.layers) - 2:
                mods.append(act())
        return nn.Sequential(*mods).to(dtype=tdtype)

    Xt, yt = torch.as_tensor(X, dtype=tdtype), torch.as_tensor(y)
    n, bs, lr = Xt.shape[0], w.effective_batch(Xt.shape[0]), w.lr

    def run():
        models = [model(seed) for seed in range(k)]
        params, buffers = stack_module_state(models)
        base = model(0).to("meta")

        def loss(p, b, xb, yb):
            return nn.functional.cross_entropy(functional_call(base, (p, b), (xb,)), yb)

        step = vmap(grad_and_value(loss))
        gen = torch.Generator().manual_seed(0)
        for _ in range(epochs):
            perms = torch.stack([torch.randperm(n, generator=gen) for _ in range(k)])
            for start in range(0, n, bs):
                idx = perms[:, start : start + bs]
                grads, _ = step(params, buffers, Xt[idx], yt[idx])
                with torch.no_grad():
                    torch._foreach_add_(list(params.values()), list(grads.values()), alpha=-lr)  # noqa: SLF001
        return params

    return run


RUNNERS = {"fit_many": fit_many_runner, "sequential": sequential_runner, "torch-vmap": vmap_runner}


def run_many(
    repeats: int = 3, dtype: str = "float32", log=print, settings=MANY_SETTINGS, threads: int | None = 1
) -> list[dict]:
    """Time every setting's three runners, alternating, ``repeats`` times; one record per setting.

    Every runner gets the same cap of ``threads`` BLAS/OpenMP (and torch intra-op) threads.
    """
    import importlib.util

    from ..threads import blas_threads

    if importlib.util.find_spec("torch"):
        import torch  # noqa: F401 - imported before the cap, so blas_threads caps its pool too
    with blas_threads(threads, torch_threads=True):
        return _run_many(repeats, dtype, log, settings, threads)


def _run_many(repeats, dtype, log, settings, threads) -> list[dict]:
    import importlib.util

    records = []
    for name, k, size, epochs in settings:
        X, y = make_data(WORKLOADS[name], size, dtype)
        names = [r for r in RUNNERS if r != "torch-vmap" or importlib.util.find_spec("torch")]
        runs = {r: RUNNERS[r](name, k, X, y, epochs, dtype) for r in names}
        times: dict[str, list[float]] = {r: [] for r in names}
        for r in names:  # warm-up (imports, allocations, torch's first vmap trace)
            runs[r]()
        for _ in range(repeats):
            for r in names:
                start = time.perf_counter()
                runs[r]()
                times[r].append(time.perf_counter() - start)
        med = {r: statistics.median(t) for r, t in times.items()}
        record = {
            "workload": "many",
            "setting": f"{name} x{k}",
            "network": name,
            "k": k,
            "samples": int(X.shape[0]),
            "epochs": epochs,
            "dtype": dtype,
            "repeats": repeats,
            "threads": threads,
            "device": cpu_name(),
            "seconds": med,
            "seconds_all": times,
            "speedup_vs": {r: med[r] / med["fit_many"] for r in names if r != "fit_many"},
        }
        log(format_record(record))
        records.append(record)
    return records


def format_record(r: dict) -> str:
    parts = [f"{name}: {s:.3f} s" for name, s in r["seconds"].items()]
    ratios = ", ".join(f"{v:.2f}x vs {name}" for name, v in r["speedup_vs"].items())
    return (
        f"many {r['setting']} ({r['samples']} samples, {r['epochs']} epochs, {r['dtype']}): "
        f"{'; '.join(parts)} -> fit_many {ratios}"
    )
