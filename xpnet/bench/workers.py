"""Worker processes: each runner (and the GEMM peak) in its own process, driven over a pipe.

NumPy's OpenBLAS threads and PyTorch's OpenMP threads spin after each call; sharing one
process with spinning threads of another library would slow both down.
"""

from __future__ import annotations

from .base import Spec, limited
from .peak import gemm_peak
from .runners import make_runner
from .timing import timed
from .workloads import WORKLOADS, make_data


def _worker(conn) -> None:
    """A runner's own process: setup/epoch/peak commands over a pipe, so thread pools never mix."""
    runner = None
    while True:
        cmd, *args = conn.recv()
        try:
            if cmd == "stop":
                return
            if cmd == "setup":
                runner = None
                runner, n = _setup(*args)
                conn.send(("ok", (runner.name, runner.kind, runner.device, runner.device_name, n)))
            elif cmd == "epoch":
                conn.send(("ok", limited(timed(runner.epoch, *args), runner.threads)()))
            elif cmd == "ping":
                conn.send(("ok", None))
            elif cmd == "peak":
                conn.send(("ok", gemm_peak(*args)))
        except Exception as exc:  # reported to the parent, which skips this runner
            conn.send(("error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"))


def _setup(spec: Spec, wname: str, size: str, dtype: str, seed: int):
    """The runner for ``spec`` on workload ``wname`` and its number of samples."""
    X, y = make_data(WORKLOADS[wname], size, dtype, seed)
    return make_runner(spec, WORKLOADS[wname], X, y, dtype, seed), X.shape[0]


class Worker:
    """Parent-side handle of a :func:`_worker` process (spawned, so no state leaks in)."""

    def __init__(self, spec: Spec):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self.spec = spec
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child,), daemon=True)
        self.proc.start()
        child.close()

    def call(self, *cmd):
        """Send one command and return its answer; a failure in the worker, or its death, raises RuntimeError."""
        try:
            self.conn.send(cmd)
            status, value = self.conn.recv()
        except (EOFError, OSError) as exc:  # ConnectionResetError, BrokenPipeError: the process died
            code = self.proc.exitcode
            raise RuntimeError(f"worker process died ({type(exc).__name__}; exit code {code})") from exc
        if status == "error":
            raise RuntimeError(value)
        return value

    def close(self) -> None:
        """Ask the process to stop; kill it if it has not within 10 s."""
        try:
            self.conn.send(("stop",))
        except (BrokenPipeError, OSError):
            pass
        self.proc.join(timeout=10)
        if self.proc.is_alive():
            self.proc.kill()
