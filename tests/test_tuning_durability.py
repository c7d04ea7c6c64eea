"""Tuning durability (issue 15 item 8): a killed worker and a torn journal lose no finished trial.

- A ``--n-jobs 2`` worker killed with SIGKILL mid-study, on in-memory storage (a temporary journal)
  and on a journal file: the command ends without a traceback, reports the finished trials
  (exit status 1, the lost worker named on stderr), marks the killed worker's running trial
  failed, and the in-memory study's journal is kept on disk, loadable.
- A journal whose last record was torn by a killed writer: the documented rerun (the same
  command) adds its trials and the study stays readable, every earlier trial intact.

SQLite and PostgreSQL storages are covered by tests/test_tuning.py (heartbeats fail a killed
worker's trial); their atomic transactions cannot tear a record.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from optuna.trial import TrialState  # noqa: E402

from xpnet import tune as tuning  # noqa: E402
from xpnet.tune.storage import repair_journal  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPACE = {"n_layers": [1, 1], "hidden_size": [4, 8], "batch_norm": [False], "optimizer": ["adam"]}


def _children(pid: int) -> list[int]:
    """Worker processes of ``pid`` (multiprocessing's spawned interpreters, not its resource tracker)."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in cmdline:
                out.append(int(child))
    return out


def _complete_in(text: str) -> int:
    return text.count('"state":1,')


def _start(tmp_path: Path, name: str, storage: list[str]):
    workdir = tmp_path / name
    workdir.mkdir()
    (workdir / "space.json").write_text(json.dumps(SPACE))
    cmd = [sys.executable, "-m", "xpnet.cli", "tune", "--dataset", "iris", "--epochs", "2", "--trials", "400",
           "--timeout", "4", "--n-jobs", "2", "--space", "space.json", "--json", *storage]  # fmt: skip
    env = dict(os.environ, TMPDIR=str(workdir))  # the in-memory study's temporary journal goes here
    proc = subprocess.Popen(
        cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    return proc, workdir


def _journal_of(workdir: Path) -> Path | None:
    found = sorted(workdir.glob("xpnet-tune-*/study.log")) + sorted(workdir.glob("study.log"))
    return found[0] if found else None


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds the workers through /proc")
def test_killing_one_worker_keeps_every_finished_trial_in_memory_and_journal(tmp_path):
    runs = {
        "memory": _start(tmp_path, "memory", []),
        "journal": _start(tmp_path, "journal", ["--storage", "journal:study.log", "--study-name", "s"]),
    }
    killed = {}
    deadline = time.monotonic() + 90
    while len(killed) < len(runs) and time.monotonic() < deadline:  # kill one worker once trials finished
        time.sleep(0.2)
        for name, (proc, workdir) in runs.items():
            journal = _journal_of(workdir)
            if name in killed or proc.poll() is not None or journal is None:
                continue
            workers = _children(proc.pid)
            if len(workers) == 2 and _complete_in(journal.read_text(errors="replace")) >= 2:
                os.kill(workers[1], signal.SIGKILL)
                killed[name] = journal
    results = {name: proc.communicate(timeout=120) + (proc.returncode,) for name, (proc, _) in runs.items()}
    assert set(killed) == set(runs), {name: r[1][-2000:] for name, r in results.items()}
    for name, (out, err, code) in results.items():
        assert "Traceback" not in err, err
        assert code == 1 and "was killed by SIGKILL" in err, (code, err[-2000:])
        result = json.loads(out)
        assert result["n_complete"] >= 2 and result["workers_lost"]
        journal = killed[name]
        assert journal.is_file(), f"{name}: the journal with the finished trials was deleted"
        study = optuna.load_study(
            study_name=result["study_name"], storage=tuning.open_storage(f"journal:{journal}")
        )
        states = [t.state for t in study.trials]
        assert TrialState.RUNNING not in states  # the killed worker's trial is failed, not left running
        assert states.count(TrialState.COMPLETE) == result["n_complete"]
        if name == "memory":
            assert str(journal) in err  # the user is told where the study is kept


def _torn(path: Path) -> None:
    """Append half a record, as a writer killed mid-append leaves it."""
    with open(path, "ab") as f:
        f.write(b'{"op_code":6,"worker_id":"dead","trial_id":99,"sta')


def test_a_torn_last_journal_record_and_the_documented_rerun_keep_the_study_readable(tmp_path):
    log = tmp_path / "study.log"
    url = f"journal:{log}"
    options = {"dataset": "iris", "epochs": 1, "storage": url, "study_name": "torn", "space": tuning.SearchSpace(n_layers=(1, 1), hidden_size=(4, 8), batch_norm=False)}  # fmt: skip
    first = tuning.tune(n_trials=2, **options)
    before = {t.number: (t.state, t.value, t.params) for t in first.trials}
    _torn(log)
    again = tuning.tune(n_trials=1, **options)  # the rerun the README documents: the same command
    assert len(again.trials) == 3
    reread = optuna.load_study(study_name="torn", storage=tuning.open_storage(url))
    assert {t.number: (t.state, t.value, t.params) for t in reread.trials[:2]} == before
    assert [t.state for t in reread.trials].count(TrialState.COMPLETE) == 3
    assert log.read_bytes().endswith(b"\n") and b'"sta{' not in log.read_bytes()


def test_repair_cuts_only_a_torn_tail(tmp_path):
    log = tmp_path / "j.log"
    log.write_bytes(b'{"a":1}\n{"b":2}\n')
    assert repair_journal(str(log)) == 0 and log.read_bytes() == b'{"a":1}\n{"b":2}\n'
    log.write_bytes(b'{"a":1}\n{"b":2}\n{"c"')
    assert repair_journal(str(log)) == 4 and log.read_bytes() == b'{"a":1}\n{"b":2}\n'
    log.write_bytes(b'{"only half')
    assert repair_journal(str(log)) == 11 and log.read_bytes() == b""
