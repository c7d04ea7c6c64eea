"""Mark a cosmic-ray session's equivalent and unsampled mutants as skipped, before ``cosmic-ray exec``.

Run after ``cosmic-ray init`` (see each module's ``.toml`` for the full command line)::

    python tests/mutation/prepare.py SESSION.sqlite xpnet/ops.py [--binop-per-site K] [--rest-fraction F]

Two kinds of mutant are skipped, each with a reason in its ``output`` (``cr-report`` lists them
as skipped; ``summary.py`` counts them apart):

- ``equivalent: annotation`` -- a mutant wholly inside a type annotation (a parameter's, a return,
  an annotated assignment). Every core module has ``from __future__ import annotations``, so
  annotations are strings nothing evaluates (no ``get_type_hints`` on these modules): rewriting
  ``dict[str, Any] | None`` into ``dict[str, Any] & None`` cannot change behaviour.
- ``not sampled`` -- the deterministic sample, used where a module has more mutants than one
  session can run: ``--binop-per-site K`` keeps K of the ~12 ``ReplaceBinaryOperator_*`` variants
  at each operator site (seeded choice per site; all of them when K is 0), and
  ``--rest-fraction F`` keeps a seeded fraction F of every other operator's mutants (1.0 = all).
"""

from __future__ import annotations

import argparse
import ast
import random
import sys
from collections import defaultdict

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult

EQUIVALENT_ANNOTATION = "equivalent: annotation (module has from __future__ import annotations)"
NOT_SAMPLED = "not sampled"


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) positions (row 1-based, col 0-based) of every annotation in ``source``."""
    if "from __future__ import annotations" not in source:
        return []
    spans = []
    for node in ast.walk(ast.parse(source)):
        annotations = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            annotations.append(node.returns)
            a = node.args
            annotations += [x.annotation for x in a.posonlyargs + a.args + a.kwonlyargs]
            annotations += [x.annotation for x in (a.vararg, a.kwarg) if x is not None]
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        for ann in annotations:
            if ann is not None:
                spans.append(((ann.lineno, ann.col_offset), (ann.end_lineno, ann.end_col_offset)))
    return spans


def _inside(mutation, spans) -> bool:
    start, end = tuple(mutation.start_pos), tuple(mutation.end_pos)
    return any(lo <= start and end <= hi for lo, hi in spans)


def prepare(session: str, module: str, binop_per_site: int, rest_fraction: float, seed: int) -> dict:
    with open(module) as fh:
        spans = annotation_spans(fh.read())
    counts = {"total": 0, "equivalent": 0, "not_sampled": 0}
    with use_db(session, WorkDB.Mode.open) as db:
        binop_sites = defaultdict(list)
        rest = []
        for item in db.pending_work_items:
            counts["total"] += 1
            (mutation,) = item.mutations
            if _inside(mutation, spans):
                counts["equivalent"] += 1
                db.set_result(
                    item.job_id,
                    WorkResult(output=EQUIVALENT_ANNOTATION, worker_outcome=WorkerOutcome.SKIPPED),
                )
            elif mutation.operator_name.startswith("core/ReplaceBinaryOperator_"):
                binop_sites[(tuple(mutation.start_pos), tuple(mutation.end_pos))].append(item)
            else:
                rest.append(item)
        dropped = []
        for site, items in sorted(binop_sites.items()):
            items.sort(key=lambda it: it.mutations[0].operator_name)
            if binop_per_site and len(items) > binop_per_site:
                keep = set(random.Random(f"{seed}:{site}").sample(range(len(items)), binop_per_site))
                dropped += [it for i, it in enumerate(items) if i not in keep]
        rest.sort(key=lambda it: (tuple(it.mutations[0].start_pos), it.mutations[0].operator_name))
        rng = random.Random(seed)
        dropped += [it for it in rest if rng.random() >= rest_fraction]
        for item in dropped:
            counts["not_sampled"] += 1
            db.set_result(item.job_id, WorkResult(output=NOT_SAMPLED, worker_outcome=WorkerOutcome.SKIPPED))
    counts["to_run"] = counts["total"] - counts["equivalent"] - counts["not_sampled"]
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("session")
    parser.add_argument("module")
    parser.add_argument("--binop-per-site", type=int, default=0)
    parser.add_argument("--rest-fraction", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args(argv)
    counts = prepare(args.session, args.module, args.binop_per_site, args.rest_fraction, args.seed)
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
