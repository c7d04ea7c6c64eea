"""Every ```python and ```bash block of README.md runs, so the README cannot go stale.

How blocks run
--------------
Blocks run in README order, each in its own subprocess, all in one temporary directory shared by
the module (a block may use files an earlier block wrote, such as ``model.npz``; selecting a
single block with ``-k`` may therefore miss them). In that directory ``.venv`` links to the
running interpreter's environment and ``xpnet/``, ``tests/``, ``parity/``, ``backends/``,
``bench/``, ``examples/``, ``shared/`` and ``pyproject.toml`` link to the repository's, so
``.venv/bin/xpnet ...`` and ``python examples/x.py`` work as written.

- ``python`` blocks run as a script with this interpreter.
- ``bash`` blocks run with ``bash -euo pipefail``; ``xpnet``, ``python``, ``python3`` and
  ``pytest`` resolve to this environment's (its ``bin`` comes first on ``PATH``).
- Every block gets ``MPLBACKEND=Agg`` and one BLAS/OpenMP thread (unless the environment
  already sets ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``): the figures are not measured here.
- A block fails the test when it exits non-zero (or runs past its timeout).
- ``text``, ``console`` and other fences are never run: sample output goes in ``text``.

Directives
----------
HTML comments on the lines directly above a block's fence (several may be stacked; a blank
line or any other text ends the stack). GitHub does not render them. Arguments are
shell-quoted (``shlex``), so ``'backend="cupy"'`` is one argument.

``<!-- test: skip REASON -->``
    Never run the block; a reason is required (installs packages, needs a GPU, needs
    PostgreSQL, minutes of CPU).
``<!-- test: replace OLD NEW -->``
    Replace every ``OLD`` by ``NEW`` before running (repeatable, applied in order). The test
    fails when ``OLD`` is not in the block, so a stale directive is caught. This is how a block
    runs with small sizes: ``<!-- test: replace "--epochs 100" "--epochs 2" -->``.
``<!-- test: env NAME=VALUE -->``
    An extra environment variable (repeatable).
``<!-- test: setup`` *lines of Python* ``-->``
    Python run before the block: prepended to a ``python`` block's script (define ``X``, ``y``,
    ``net`` ...), or run in its own process before a ``bash`` block (write its input files).
``<!-- test: timeout SECONDS -->``
    The block's time limit (default 60 s; it only guards against a hang).

The whole README must run in well under 90 s on a 2-core machine: cut epochs, trials and
sizes with ``replace``. The convention is also in ``/tmp/xpnet-readme/CONVENTION.md`` for
README drafts.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RUN = ("python", "bash")
LINKED = ("xpnet", "tests", "parity", "backends", "bench", "examples", "shared", "pyproject.toml")
DEFAULT_TIMEOUT = 60.0


@dataclass
class Block:
    """One fenced block: its language, first line in README.md, code and directives."""

    lang: str
    line: int
    code: str
    directives: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"L{self.line}-{self.lang}"


@dataclass
class Plan:
    """What a block's directives ask for."""

    skip: str | None = None
    replace: list[tuple[str, str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    setup: str = ""
    timeout: float = DEFAULT_TIMEOUT


def parse_blocks(text: str) -> list[Block]:
    """Every fenced block of ``text`` with the ``test:`` comments stacked right above it."""
    lines = text.splitlines()
    blocks: list[Block] = []
    pending: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("<!--"):
            start = i
            while "-->" not in lines[i]:
                i += 1
                if i == len(lines):
                    raise ValueError(f"README.md line {start + 1}: unclosed HTML comment")
            body = "\n".join(lines[start : i + 1]).strip()[4:]
            body = body[: body.rindex("-->")].strip()
            if body.startswith("test:"):
                pending.append(body[len("test:") :].strip())
        elif stripped.startswith("```"):
            lang, start = stripped[3:].strip(), i
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                i += 1
            blocks.append(Block(lang, start + 1, "\n".join(lines[start + 1 : i]) + "\n", pending))
            pending = []
        else:
            pending = []  # a blank line or text ends the stack of directives
        i += 1
    return blocks


def plan_of(block: Block) -> Plan:
    """The directives of ``block`` as a :class:`Plan`; a malformed one raises ``ValueError``."""
    plan = Plan()
    where = f"README.md line {block.line}"
    for directive in block.directives:
        name, rest = re.split(r"\s", directive + " ", maxsplit=1)
        if name == "setup":
            plan.setup += rest.strip("\n ") + "\n"
            continue
        args = shlex.split(rest)
        if name == "skip":
            if not rest.strip():
                raise ValueError(f"{where}: 'test: skip' needs a reason")
            plan.skip = rest.strip()
        elif name == "replace" and len(args) == 2:
            plan.replace.append((args[0], args[1]))
        elif name == "env" and args and all("=" in a for a in args):
            plan.env.update(a.split("=", 1) for a in args)
        elif name == "timeout" and len(args) == 1:
            plan.timeout = float(args[0])
        else:
            raise ValueError(f"{where}: malformed directive 'test: {directive}' (see tests/test_readme.py)")
    return plan


def source(block: Block, plan: Plan) -> str:
    """The block's code with the replacements applied (each must match)."""
    code = block.code
    for old, new in plan.replace:
        if old not in code:
            raise AssertionError(f"README.md line {block.line}: 'replace' text {old!r} is not in the block")
        code = code.replace(old, new)
    return code


BLOCKS = [b for b in parse_blocks(README.read_text(encoding="utf-8")) if b.lang in RUN]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """One directory for every block, with the repository's folders and the venv linked in."""
    d = tmp_path_factory.mktemp("readme")
    (d / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    for name in LINKED:
        if (ROOT / name).exists():
            (d / name).symlink_to(ROOT / name)
    return d


def block_env(plan: Plan) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["MPLBACKEND"] = "Agg"
    if "OMP_NUM_THREADS" not in env and "OPENBLAS_NUM_THREADS" not in env:
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.update(plan.env)
    return env


def run(command: list[str], cwd: Path, plan: Plan, what: str) -> None:
    try:
        done = subprocess.run(
            command, cwd=cwd, env=block_env(plan), capture_output=True, text=True, timeout=plan.timeout
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what} ran past {plan.timeout:g} s")
    if done.returncode != 0:
        pytest.fail(
            f"{what} exited {done.returncode}\n--- stdout ---\n{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-3000:]}"
        )


def test_readme_has_runnable_blocks():
    assert len(BLOCKS) >= 10, "README.md lost its code blocks, or the parser its way"
    for block in BLOCKS:
        plan_of(block)  # every directive is well formed


def test_parser_reads_directives():
    text = (
        "<!-- test: replace 'a=1' 'a=2' -->\n<!-- other -->\n<!-- test: setup\nx = 1\n-->\n"
        "<!-- test: env A=1 B=2 -->\n```python\nprint(a=1)\n```\n\n<!-- test: skip -->\nword\n```bash\nls\n```\n"
    )
    first, second = parse_blocks(text)
    plan = plan_of(first)
    assert (first.lang, first.line, plan.replace, plan.setup, plan.env) == (
        "python",
        7,
        [("a=1", "a=2")],
        "x = 1\n",
        {"A": "1", "B": "2"},
    )
    assert second.directives == [] and source(first, plan) == "print(a=2)\n"
    with pytest.raises(ValueError, match="needs a reason"):
        plan_of(Block("bash", 1, "ls\n", ["skip"]))
    with pytest.raises(ValueError, match="malformed"):
        plan_of(Block("bash", 1, "ls\n", ["replace onlyone"]))
    with pytest.raises(AssertionError, match="not in the block"):
        source(Block("bash", 1, "ls\n", []), Plan(replace=[("--epochs 9", "--epochs 1")]))


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_readme_block_runs(block: Block, workdir: Path):
    plan = plan_of(block)
    if plan.skip:
        pytest.skip(f"README.md line {block.line}: {plan.skip}")
    code = source(block, plan)
    what = f"README.md block at line {block.line} ({block.lang})"
    if block.lang == "python":
        script = workdir / f"readme_block_{block.line}.py"
        script.write_text(plan.setup + code, encoding="utf-8")
        run([sys.executable, script.name], workdir, plan, what)
        return
    if plan.setup:
        script = workdir / f"readme_setup_{block.line}.py"
        script.write_text(plan.setup, encoding="utf-8")
        run([sys.executable, script.name], workdir, plan, f"setup of {what}")
    run(["bash", "-euo", "pipefail", "-c", code], workdir, plan, what)


def test_sizes_are_cut_where_runs_are_long():
    """A block that trains or tunes at full size must be cut (or skipped) so CI stays fast."""
    long_runs = re.compile(r"--epochs (\d{3,})|epochs=(\d{3,})|--trials (\d{2,})")
    for block in BLOCKS:
        plan = plan_of(block)
        if plan.skip:
            continue
        for match in long_runs.finditer(source(block, plan)):
            raise AssertionError(
                f"README.md line {block.line}: {match.group(0)!r} runs in CI; cut it with replace"
            )
