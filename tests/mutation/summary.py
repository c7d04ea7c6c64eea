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
_HINT = "inplace=True is a hint the ops may ignore (the reference does): False gives the same arrays"
_FALLBACK = (
    "the softmax + cross-entropy fast path skipped: the reference Ops.output_loss computes the same fused"
    " formula (only slower)"
)
_UNFUSED = (
    "softmax + cross-entropy through loss_value and loss_grad instead of the fused path: the same values"
    " (targets' rows are checked to sum to 1)"
)
_OPS = "xpnet/ops.py:"
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
    _OPS + "96:41 ReplaceFalseWithTrue": _HINT,
    _OPS + "102:46 ReplaceFalseWithTrue": _HINT,
    _OPS + "105:38 ReplaceFalseWithTrue": _HINT,
    _OPS + "109:43 ReplaceFalseWithTrue": _HINT,
    _OPS + "112:38 ReplaceFalseWithTrue": _HINT,
    _OPS + "115:43 ReplaceFalseWithTrue": _HINT,
    _OPS + "118:44 ReplaceFalseWithTrue": _HINT,
    _OPS + "121:49 ReplaceFalseWithTrue": _HINT,
    _OPS + "124:41 ReplaceFalseWithTrue": _HINT,
    _OPS + "130:46 ReplaceFalseWithTrue": _HINT,
    _OPS + "133:42 ReplaceFalseWithTrue": _HINT,
    _OPS + "136:51 ReplaceFalseWithTrue": _HINT,
    _OPS + "150:49 ReplaceFalseWithTrue": _HINT,
    _OPS + "169:52 ReplaceComparisonOperator_Gt_NotEq": "a batch has n >= 1 rows: n != 1 is n > 1",
    _OPS + "238:60 ReplaceComparisonOperator_NotEq_Gt": (
        "outputs reaching it are identity, sigmoid, softmax: only 'identity' is not > 'identity'"
    ),
    "xpnet/training.py:93:62 ReplaceComparisonOperator_Lt_NotEq": "bs = min(batch_size, n) <= n: != n is < n",
    "xpnet/training.py:382:40 NumberReplacer": "Y[:, -1] is Y[:, 0] in this branch (one output column)",
    "xpnet/training.py:297:58 ReplaceComparisonOperator_Eq_GtE": "host[2] is a 0/1 flag: >= 1.0 is == 1.0",
    "xpnet/training.py:294:97 ReplaceBinaryOperator_Sub_Mod": (
        "perf_counter() % start is perf_counter() - start while the epoch is shorter than the clock's age"
        " (start <= now < 2 * start): a timing field only"
    ),
    _OPS + "99:23 ReplaceComparisonOperator_GtE_Gt": "at z == 0 both branches give exactly 0.5",
    _OPS + "205:16 ReplaceComparisonOperator_Eq_LtE": _NAMES + " (log_loss > categorical_crossentropy)",
    _OPS + "206:50 ReplaceComparisonOperator_Eq_GtE": _NAMES + " (sigmoid < softmax)",
    _OPS + "208:18 ReplaceComparisonOperator_Eq_LtE": _NAMES + " (softmax > sigmoid)",
    _OPS + "229:22 ReplaceComparisonOperator_Eq_GtE": _NAMES + " (sigmoid < softmax)",
    _OPS + "246:57 ReplaceComparisonOperator_Eq_Gt": _UNFUSED,
    _OPS + "246:57 ReplaceComparisonOperator_Eq_Is": _UNFUSED,
    "xpnet/layers.py:150:52 ReplaceTrueWithFalse": _HINT,
    "xpnet/layers.py:153:61 ReplaceTrueWithFalse": _HINT,
    "xpnet/layers.py:174:58 ReplaceTrueWithFalse": _HINT,
    "xpnet/layers.py:185:63 ReplaceComparisonOperator_Eq_LtE": "i counts from 0: i <= 0 is i == 0",
    "xpnet/layers.py:191:71 ReplaceComparisonOperator_Eq_LtE": "n_hidden >= 0: n_hidden <= 0 is n_hidden == 0",
    "xpnet/layers.py:189:19 ReplaceComparisonOperator_Gt_NotEq": (
        "build_layers' callers pass a dropout checked to be in [0, 1): != 0 is > 0 on it"
    ),
    "xpnet/network.py:256:22 NumberReplacer": "out[:, -1] is out[:, 0] in this branch (n_outputs == 1)",
    "xpnet/numpy_ops.py:17:64 ReplaceComparisonOperator_Eq_Is": (
        "NumPy's built-in dtypes are singletons: buf.dtype is dtype exactly when they are equal"
    ),
    "xpnet/numpy_ops.py:104:62 ReplaceComparisonOperator_Eq_GtE": _FALLBACK,
    "xpnet/numpy_ops.py:104:62 ReplaceComparisonOperator_Eq_Is": _FALLBACK,
    "xpnet/network.py:149:27 ReplaceComparisonOperator_IsNot_NotEq": (
        "type(a) != type(b) is type(a) is not type(b): type's == is identity (no metaclass in play)"
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


def requeue(session: str, keep_equivalent: bool = False) -> int:
    _, survivors, _ = summarize(session)
    live = {line.rsplit(" ", 1)[-1] for line in survivors}  # the job ids of survivors not in EQUIVALENT
    con = sqlite3.connect(session)
    jobs = [
        r[0]
        for r in con.execute("SELECT job_id FROM work_results WHERE lower(test_outcome) = 'survived'")
        if not keep_equivalent or r[0] in live
    ]
    con.executemany("DELETE FROM work_results WHERE job_id = ?", [(j,) for j in jobs])
    con.commit()
    return len(jobs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("session")
    parser.add_argument("--requeue-survivors", action="store_true")
    parser.add_argument(
        "--keep-equivalent", action="store_true", help="with --requeue-survivors: leave those in EQUIVALENT"
    )
    parser.add_argument("--table-row", metavar="MODULE", help="print the README table's row for MODULE")
    args = parser.parse_args(argv)
    if args.requeue_survivors:
        print(f"requeued {requeue(args.session, args.keep_equivalent)} survivors")
        return 0
    counts, survivors, equivalents = summarize(args.session)
    if args.table_row:
        c = counts
        print(
            f"| `{args.table_row}` | {c['mutants']} | {c['annotation']} | {c['not_sampled']} | {c['run']} "
            f"| {c['killed']} | {c['survived']} | {c['equivalent']} | {c['score']} |"
        )
        return 0
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    print("\n".join(survivors + equivalents))
    return 0


if __name__ == "__main__":
    sys.exit(main())
