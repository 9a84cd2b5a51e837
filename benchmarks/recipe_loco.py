"""Issue 28: choose the recipe by leave-one-collection-out, and report it only where it was not chosen.

Reads a sweep of ``benchmarks/listwise_recipes.py`` (``<out>/results.jsonl`` and each run's
``eval`` folder). For each collection left out:

1. the *selection* collections are every other collection that does not share its test queries
   (``cranfield-synthetic`` is tested on Cranfield's test half, so it never selects for
   ``cranfield`` and the other way round);
2. each candidate recipe is scored by its mean margin over InfoNCE (nDCG@10, mean of the seeds)
   across the selection collections, and the best is *chosen* (a tie goes to the candidate listed
   first, so InfoNCE wins ties when listed first);
3. on the left-out collection the chosen recipe is compared with InfoNCE by ``sycl compare``'s own
   code (paired t-test of the two-way query x seed model, 95% interval), and so is the shipped
   default (``w1d-sharp-lowest``, the ``graded`` recipe) whatever was chosen.

Writes the markdown table to stdout and the rows to ``--json``.

    python benchmarks/recipe_loco.py --out runs/loco
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

BASELINE = "infonce"
DEFAULT = "w1d-sharp-lowest"  # the recipe `graded` (sycl's default) is built from
CANDIDATES = [BASELINE, DEFAULT, "ws2-paper"]
MEASURE = "nDCG@10"


def test_group(dataset: str) -> str:
    """The real collection whose test queries ``dataset`` is scored on (``cisi-synthetic`` -> ``cisi``)."""
    return dataset.split("-", 1)[0]


def means(rows: list[dict], candidates: list[str], seeds: int) -> dict[str, dict[str, float]]:
    """``{dataset: {recipe: mean nDCG@10}}`` over the collections where every candidate has ``seeds`` runs."""
    out: dict[str, dict[str, float]] = {}
    for d in dict.fromkeys(r["dataset"] for r in rows):
        per = {
            rec: [r["measures"][MEASURE] for r in rows if r["dataset"] == d and r["recipe"] == rec]
            for rec in candidates
        }
        if all(len(v) >= seeds for v in per.values()):
            out[d] = {rec: statistics.mean(v[:seeds]) for rec, v in per.items()}
    return out


def choose(table: dict[str, dict[str, float]], left_out: str, candidates: list[str]) -> tuple[str, dict, list]:
    """The candidate with the best mean margin over InfoNCE on the collections that may select for ``left_out``."""
    selectors = [d for d in table if test_group(d) != test_group(left_out)]
    if not selectors:
        raise SystemExit(f"no collection may select for {left_out}: run more collections")
    score = {rec: statistics.mean(table[d][rec] - table[d][BASELINE] for d in selectors) for rec in candidates}
    best = max(candidates, key=lambda rec: (score[rec], -candidates.index(rec)))
    return best, score, selectors


def paired(out: Path, dataset: str, recipe: str, seeds: int) -> dict:
    """``sycl compare``: ``recipe`` against InfoNCE on ``dataset`` over ``seeds`` seeds (one row)."""
    from sycl.evaluation.compare import CompareConfig, compare_systems, load_system

    def spec(rec: str) -> str:
        return f"{rec}=" + ",".join(str(out / dataset / f"{rec}-s{s}" / "eval") for s in range(1, seeds + 1))

    record = compare_systems([load_system(spec(BASELINE)), load_system(spec(recipe))], CompareConfig())
    row = record.comparisons[0]
    return {
        "diff": row.diff,
        "low": row.ci_low,
        "high": row.ci_high,
        "p": row.p,
        "wins": row.wins,
        "ties": row.ties,
        "losses": row.losses,
    }


def loco(out: Path, candidates: list[str], seeds: int) -> list[dict]:
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines() if x.strip()]
    rows = [r for r in rows if r.get("batch_size", 16) == 16 and r.get("seed", 0) <= seeds]
    table = means(rows, candidates, seeds)
    result = []
    for left_out in table:
        chosen, score, selectors = choose(table, left_out, candidates)
        entry = {
            "left_out": left_out,
            "selected_on": selectors,
            "selection_margins": score,
            "chosen": chosen,
            "means": table[left_out],
        }
        if chosen != BASELINE:
            entry["chosen_vs_infonce"] = paired(out, left_out, chosen, seeds)
        entry["default_vs_infonce"] = (
            entry.get("chosen_vs_infonce") if chosen == DEFAULT else paired(out, left_out, DEFAULT, seeds)
        )
        result.append(entry)
    return result


def _cmp(c: dict | None) -> str:
    if c is None:
        return "0 (InfoNCE chosen) | | |"
    p = "<0.0001" if c["p"] < 1e-4 else f"{c['p']:.3g}"
    return (
        f"{c['diff'] * 100:+.2f} | [{c['low'] * 100:+.2f}, {c['high'] * 100:+.2f}] | {p} | "
        f"{c['wins']}/{c['ties']}/{c['losses']}"
    )


def render(result: list[dict]) -> str:
    lines = [
        "| left out | selected on | margins over InfoNCE there (points) | chosen | chosen nDCG@10 | InfoNCE |"
        " chosen - InfoNCE | 95% interval | p | queries +/=/- |",
        "|---|---|---|---|---:|---:|---:|---|---:|---|",
    ]
    for e in result:
        margins = ", ".join(f"{rec} {m * 100:+.2f}" for rec, m in e["selection_margins"].items() if rec != BASELINE)
        lines.append(
            f"| {e['left_out']} | {', '.join(e['selected_on'])} | {margins} | {e['chosen']} | "
            f"{e['means'][e['chosen']]:.4f} | {e['means'][BASELINE]:.4f} | {_cmp(e.get('chosen_vs_infonce'))} |"
        )
    lines += [
        "",
        "The shipped default on each collection, whatever the protocol chose:",
        "",
        "| collection | default nDCG@10 | InfoNCE | default - InfoNCE | 95% interval | p | queries +/=/- |",
        "|---|---:|---:|---:|---|---:|---|",
    ]
    for e in result:
        lines.append(
            f"| {e['left_out']} | {e['means'][DEFAULT]:.4f} | {e['means'][BASELINE]:.4f} | "
            f"{_cmp(e['default_vs_infonce'])} |"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/loco", help="the sweep folder of benchmarks/listwise_recipes.py")
    ap.add_argument("--candidates", nargs="+", default=CANDIDATES, help="recipes, the baseline first")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--json", help="write the rows here too")
    args = ap.parse_args()
    if args.candidates[0] != BASELINE:
        ap.error(f"--candidates must start with the baseline {BASELINE}")
    result = loco(Path(args.out), args.candidates, args.seeds)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
