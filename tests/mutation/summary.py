"""Count a cosmic-ray session's outcomes the way tests/mutation/README.md reports them; requeue survivors.

    python tests/mutation/summary.py SESSION.sqlite                       # counts + surviving mutants
    python tests/mutation/summary.py SESSION.sqlite --requeue-survivors   # before the next tier's exec

``--requeue-survivors`` deletes the survivors' results, so ``cosmic-ray exec`` with a wider test
command (the next tier) runs exactly those mutants again. Skipped mutants are split by the reason
``prepare.py`` gave (``annotation``: equivalent, in an annotation; ``not_sampled``). Survivors listed in
``EQUIVALENT`` below (as ``module:line:column operator``) are counted as equivalent, each with its reason.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys

# "module:line:column operator" (as printed for survivors) -> why no test can tell it from the original
_MIN_MAX = "mode is validated to be 'min' or 'max', and 'max' >= 'min' is False: >= equals == on them"
_NAMES = "name is validated against the names left at this branch; none of them compares so but this one"
_OPT = "xpnet/optim.py:"
_SCH = "xpnet/schedules.py:"
EQUIVALENT: dict[str, str] = {
    _OPT + "114:44 ReplaceComparisonOperator_Eq_LtE": "momentum is validated >= 0: <= 0 equals == 0",
    _OPT + "114:69 ReplaceComparisonOperator_NotEq_Gt": "dampening is validated >= 0: > 0 equals != 0",
    _OPT + "226:33 ReplaceComparisonOperator_Eq_GtE": _NAMES + " (momentum, nesterov < sgd)",
    _OPT + "230:12 ReplaceComparisonOperator_Eq_GtE": _NAMES + " (adam, adamw < rmsprop)",
    _OPT + "232:23 ReplaceComparisonOperator_Eq_LtE": _NAMES + " ('adamw' > 'adam')",
    _OPT + "233:24 ReplaceComparisonOperator_Eq_GtE": _NAMES + " ('adam' < 'adamw')",
    _OPT + "233:24 ReplaceComparisonOperator_Eq_LtE": (
        "name <= 'adamw' adds 'adam', where weight_decay == 0 then gives Adam() its default 0.0 (the same);"
        " the weight_decay <= 0 twin (col 52) is killed: a negative decay must be refused"
    ),
    _SCH + "128:74 NumberReplacer": (
        "CosineAnnealingLR's own warmup_epochs check with minimum=-1: Schedule.__init__ refuses -1 with the"
        " same ValueError before any optimizer state changes"
    ),
    _SCH + "174:37 ReplaceComparisonOperator_Eq_GtE": _MIN_MAX,
    _SCH + "184:21 ReplaceComparisonOperator_Eq_GtE": _MIN_MAX,
    _SCH + "198:33 ReplaceComparisonOperator_Gt_NotEq": "cooldown_counter is never negative",
    _SCH + "258:12 ReplaceComparisonOperator_Eq_LtE": _NAMES + " ('constant' < 'cosine')",
    _SCH + "260:12 ReplaceComparisonOperator_Eq_GtE": _NAMES + " (exponential, cosine, plateau < step)",
    _SCH + "267:12 ReplaceComparisonOperator_Eq_LtE": _NAMES + " ('plateau' > 'cosine')",
}


def _rows(con):
    return con.execute(
        "SELECT s.job_id, s.module_path, s.operator_name, s.start_pos_row, s.start_pos_col, "
        "r.worker_outcome, r.test_outcome, r.output FROM mutation_specs s "
        "LEFT JOIN work_results r ON r.job_id = s.job_id ORDER BY s.start_pos_row, s.operator_name"
    ).fetchall()


def summarize(session: str) -> tuple[dict, list, list]:
    con = sqlite3.connect(session)
    keys = ["mutants", "not_sampled", "annotation", "run", "killed", "survived", "equivalent", "pending"]
    counts = dict.fromkeys(keys, 0)
    survivors, equivalents = [], []
    for job, module, op, row, col, worker, test, output in _rows(con):
        worker, test = (worker or "").lower() or None, (test or "").lower()
        counts["mutants"] += 1
        name = f"{module}:{row}:{col} {op.rsplit('/', 1)[-1]}"
        if worker is None:
            counts["pending"] += 1
        elif worker == "skipped":
            counts["not_sampled" if output == "not sampled" else "annotation"] += 1
        elif test == "survived":
            counts["run"] += 1
            if name in EQUIVALENT:
                counts["equivalent"] += 1
                equivalents.append(f"EQUIVALENT {name}: {EQUIVALENT[name]}")
            else:
                counts["survived"] += 1
                survivors.append(f"SURVIVED {name} {job}")
        else:  # killed by a failing test, an error or a timeout
            counts["run"] += 1
            counts["killed"] += 1
    live = counts["killed"] + counts["survived"]
    counts["score"] = f"{counts['killed']}/{live} = {100.0 * counts['killed'] / live:.1f} %" if live else "-"
    return counts, survivors, equivalents


def requeue(session: str) -> int:
    con = sqlite3.connect(session)
    jobs = [
        r[0] for r in con.execute("SELECT job_id FROM work_results WHERE lower(test_outcome) = 'survived'")
    ]
    con.executemany("DELETE FROM work_results WHERE job_id = ?", [(j,) for j in jobs])
    con.commit()
    return len(jobs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("session")
    parser.add_argument("--requeue-survivors", action="store_true")
    args = parser.parse_args(argv)
    if args.requeue_survivors:
        print(f"requeued {requeue(args.session)} survivors")
        return 0
    counts, survivors, equivalents = summarize(args.session)
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    print("\n".join(survivors + equivalents))
    return 0


if __name__ == "__main__":
    sys.exit(main())
