"""The xpnet runner: the library's own Trainer epoch, built through the run config as ``xpnet train`` does."""

from __future__ import annotations

from .base import Runner, cpu_name, torch_cuda
from .workloads import Workload


def xpnet_config(workload: Workload, backend: str = "numpy", dtype: str = "float32", seed: int = 0):
    """The :class:`~xpnet.config.RunConfig` of ``workload``: plain SGD, shuffled, no grad-norm tracking.

    The Trainer shuffles mini-batches only (never at full batch); every reference does the same.

    Softmax output with categorical cross-entropy on every workload (on ``seed`` the article's
    output is a sigmoid with the ``(a - y) / m`` delta instead; the work per step is the same).
    Grad-norm tracking, which ``xpnet train`` (and the Trainer by default) has on, is off here:
    no reference computes the norm, so timing it would add work only xpnet does.
    """
    from ..config import RunConfig

    return RunConfig(
        hidden=workload.layers[1:-1],
        activation=workload.activation,
        output="softmax",
        init="he_normal" if workload.activation == "relu" else "glorot_uniform",
        dropout=0.0,
        batch_norm=False,
        loss="categorical_crossentropy",
        optimizer="sgd",
        lr=workload.lr,
        momentum=0.0,
        weight_decay=0.0,
        batch_size=workload.batch_size or 0,  # 0: full batch
        shuffle=True,
        track_grad_norm=False,
        backend=backend,
        device="cuda" if backend == "torch" and torch_cuda() else None,
        dtype=dtype,
        seed=seed,
    )


def xpnet_runner(workload: Workload, X, y, backend: str = "numpy", dtype: str = "float32", seed: int = 0):
    """xpnet's Trainer epoch (:func:`xpnet_config`) on ``backend``, one host sync per epoch."""
    from ..backend import get_backend

    cfg = xpnet_config(workload, backend, dtype, seed)
    be = get_backend(cfg.backend, cfg.device)
    net, trainer, _ = cfg.build(workload.layers[0], workload.layers[-1])
    Xd = net.as_input(X)
    Yd = net.as_targets(y, Xd.shape[0], cfg.loss)

    def epoch():
        loss, _ = trainer.train_epoch(Xd, Yd)
        return be.item(loss)  # the one sync per epoch, as fit() does

    built = net.config()
    bs = Xd.shape[0] if trainer.batch_size is None else min(trainer.batch_size, Xd.shape[0])
    settings = {
        "layers": tuple(built["layers"]),
        "activation": built["activation"],
        "dtype": built["dtype"],
        "optimizer": type(trainer.optimizer).__name__.lower(),
        "lr": trainer.optimizer.lr,
        "batch_size": bs,
        "shuffle": trainer.shuffle and bs < Xd.shape[0],  # the Trainer's own rule (train_epoch)
        "grad_norm": trainer.track_grad_norm,
    }
    label = cpu_name() if str(be.device) == "cpu" else be.device_name
    return Runner(f"xpnet-{be.name}", "xpnet", str(be.device), label, epoch, workload.threads, settings)
