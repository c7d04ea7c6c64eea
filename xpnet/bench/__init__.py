"""Benchmarks: workloads, reference loops (PyTorch, scikit-learn, the article's), interleaving, GEMM peak.

Shared by the pytest-benchmark suite (``bench/``) and ``xpnet bench``. Every workload trains one
epoch of plain SGD (the workload's learning rate, same batch size, same dtype, shuffled) on
generated data; see :mod:`.workloads` for the FLOP conventions.

Modules: ``workloads`` (settings and data), ``base`` (Runner, Spec, thread caps), one module per
runner family (``xpnet_loop``, ``torch_loop``, ``sklearn_loop``, ``article_loop``), ``runners``
(plan and dispatch), ``peak`` (GEMM peak), ``timing`` (interleaving), ``workers`` (processes),
``harness`` (the run), ``report`` (table and plot), ``command`` (``xpnet bench``).
"""

from .article_loop import ArticleNet, article_runner
from .base import Runner, Spec, cpu_name, thread_limit
from .command import add_bench_parser, cmd_bench
from .harness import run
from .peak import gemm_peak
from .report import format_table, plot
from .runners import REFERENCES, make_runner, plan, runs_on
from .sklearn_loop import sklearn_runner
from .timing import measure, timed
from .torch_loop import torch_runner
from .workers import Worker
from .workloads import LR, SIZES, WORKLOADS, Workload, make_data, workload_dict
from .xpnet_loop import xpnet_runner

__all__ = [
    "LR",
    "REFERENCES",
    "SIZES",
    "WORKLOADS",
    "ArticleNet",
    "Runner",
    "Spec",
    "Worker",
    "Workload",
    "add_bench_parser",
    "article_runner",
    "cmd_bench",
    "cpu_name",
    "format_table",
    "gemm_peak",
    "make_data",
    "make_runner",
    "measure",
    "plan",
    "plot",
    "run",
    "runs_on",
    "sklearn_runner",
    "thread_limit",
    "timed",
    "torch_runner",
    "workload_dict",
    "xpnet_runner",
]
