"""The PyTorch reference: the loop a PyTorch user writes for the same network and optimizer."""

from __future__ import annotations

from .base import Runner, cpu_name
from .workloads import Workload


def torch_runner(
    workload: Workload,
    X,
    y,
    device: str = "cpu",
    dtype: str = "float32",
    seed: int = 0,
    compile: bool = False,
):
    """The loop a PyTorch user writes: nn.Linear stack, CrossEntropyLoss, SGD, randperm batches (none at full batch)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    dev = torch.device(device)
    tdtype = getattr(torch, dtype)
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}[workload.activation]
    mods: list[nn.Module] = []
    sizes = workload.layers
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        mods.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            mods.append(act())
    model = nn.Sequential(*mods).to(device=dev, dtype=tdtype)
    forward = torch.compile(model) if compile else model
    opt = torch.optim.SGD(model.parameters(), lr=workload.lr)
    loss_fn = nn.CrossEntropyLoss()
    Xt = torch.as_tensor(X, dtype=tdtype, device=dev)
    yt = torch.as_tensor(y, device=dev)
    n = Xt.shape[0]
    bs = workload.effective_batch(n)
    shuffle = bs < n  # as xpnet's Trainer: no shuffle (and no gather) at full batch

    def epoch():
        perm = torch.randperm(n, device=dev) if shuffle else None
        for start in range(0, n, bs):
            idx = slice(start, start + bs) if perm is None else perm[start : start + bs]
            opt.zero_grad()
            loss = loss_fn(forward(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        return loss.item()

    linears = [m for m in model if isinstance(m, nn.Linear)]
    settings = {
        "layers": (linears[0].in_features, *(m.out_features for m in linears)),
        "activation": workload.activation,
        "dtype": str(tdtype).removeprefix("torch."),
        "optimizer": "sgd",
        "lr": opt.param_groups[0]["lr"],
        "batch_size": bs,
        "shuffle": shuffle,
        "grad_norm": False,  # the loop computes no gradient norm
    }
    name = "torch-compile" if compile else "torch"
    label = torch.cuda.get_device_name(dev) if dev.type == "cuda" else cpu_name()
    return Runner(name, "reference", str(dev), label, epoch, workload.threads, settings)
