"""Output of a run: the fixed-width table and the throughput bar chart."""

from __future__ import annotations


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _pct(r: dict) -> str:
    """Percent of peak; ``>100%?`` (see the footnote) when the measurement is unreliable."""
    if r.get("pct_peak_unreliable"):
        return ">100%?"
    return "-" if r.get("pct_peak") is None else f"{r['pct_peak']:.1f}%"


# (title, format spec, cell) per column; the optional ones appear only when a record needs them
_COLUMNS = [
    ("workload", "<12", lambda r: r["workload"]),
    ("backend", "<14", lambda r: r["backend"]),
    ("device", "<7", lambda r: r["device"]),
    ("dtype", "<7", lambda r: r["dtype"]),
    ("batch", ">6", lambda r: str(r["batch_size"])),
    (
        "epoch s (min-max)",
        ">24",
        lambda r: f"{r['epoch_s_median']:.4f} ({r['epoch_s_min']:.4f}-{r['epoch_s_max']:.4f})",
    ),
    ("samples/s", ">11", lambda r: f"{r['samples_per_s']:,.0f}"),
    ("GFLOP/s", ">8", lambda r: f"{r['gflops']:.1f}"),
    ("% peak", ">7", lambda r: _pct(r)),
    ("vs torch", ">9", lambda r: _ratio(r["ratio_to_torch"])),
    ("vs article", ">10", lambda r: _ratio(r.get("ratio_to_article"))),
]


def _columns(records: list[dict]) -> list[tuple]:
    """The table's columns: dtype only when the records mix dtypes, "vs article" only when one ran."""
    hide = set()
    if len({r["dtype"] for r in records}) < 2:
        hide.add("dtype")
    if all(r.get("ratio_to_article") is None for r in records):
        hide.add("vs article")
    return [c for c in _COLUMNS if c[0] not in hide]


def format_table(records: list[dict], meta: dict | None = None) -> str:
    """A fixed-width table of the records (one row per workload, dtype and backend)."""
    columns = _columns(records)
    head = " ".join(f"{title:{spec}}" for title, spec, _ in columns)
    lines = []
    if meta:
        for dev, p in meta["gemm_peak"].items():
            runs = ", ".join(f"{g:.1f}" for g in meta.get("gemm_peak_all", {}).get(dev, []))
            lines.append(
                f"GEMM peak {dev}: {p['gflops']:.1f} GFLOP/s ({p['library']}, {p['n']}^3 {p['dtype']}; "
                f"highest of {runs}: measured once the workers were up, before each workload, after the last)"
            )
        lines.append(f"machine: {meta['cpu']}")
    lines += [head, "-" * len(head)]
    lines += [" ".join(f"{cell(r):{spec}}" for _, spec, cell in columns) for r in records]
    if any(r.get("pct_peak_unreliable") for r in records):
        lines.append(
            ">100%?: unreliable measurement (the epoch beat the measured GEMM peak: the peak or the "
            "epoch was timed under load); no percent is recorded for it"
        )
    lines.append("GFLOP/s and % peak count the matmul work actually done (no input gradient of layer 0)")
    if meta and meta.get("skipped"):
        for name, why in meta["skipped"].items():
            lines.append(f"skipped {name}: {why}")
    return "\n".join(lines)


def plot(records: list[dict], path: str) -> None:
    """Grouped bars of samples/s (log scale) per workload and backend, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = _groups(records)
    workloads = list(dict.fromkeys(groups))
    series = list(dict.fromkeys(f"{r['backend']}@{r['device']}" for r in records))
    width = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(max(6, 2 * len(workloads)), 4))
    for j, s in enumerate(series):
        xs, ys = [], []
        for i, w in enumerate(workloads):
            for r, g in zip(records, groups, strict=True):
                if g == w and f"{r['backend']}@{r['device']}" == s:
                    xs.append(i + j * width)
                    ys.append(r["samples_per_s"])
        ax.bar(xs, ys, width, label=s)
    ax.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(workloads))], workloads)
    ax.set_yscale("log")
    ax.set_ylabel("training samples / s (one epoch, SGD)")
    ax.legend(fontsize=8)
    ax.set_title("xpnet epoch throughput")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _groups(records: list[dict]) -> list[str]:
    """Each record's bar group: its workload, with the dtype where the workload ran in several."""
    dtypes: dict[str, set] = {}
    for r in records:
        dtypes.setdefault(r["workload"], set()).add(r["dtype"])
    return [
        r["workload"] if len(dtypes[r["workload"]]) < 2 else f"{r['workload']} {r['dtype']}" for r in records
    ]
