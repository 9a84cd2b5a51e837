"""``sycl generate``: write a synthetic multi-level training set (BEIR layout) with an LLM."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sycl.io.records import GenerationManifest

HELP = """Write passages at graded relevance levels (default 3/2/1/0, the TREC DL scale) for each
query, as a BEIR folder: corpus.jsonl, queries.jsonl, qrels/train.tsv and manifest.json.
The run is resumable: rerun the same command after an interruption and finished queries are
skipped (DIR/journal.jsonl). Exit status: 0 done, 1 more failures than --max-failure-rate,
2 bad input or a backend that cannot start."""


# The GenerationConfig fields offered as flags; flags named differently from their field are mapped.
FIELDS = [
    "queries",
    "split",
    "out",
    "limit",
    "backend",
    "model",
    "base_url",
    "api_key_env",
    "concurrency",
    "request_timeout",
    "max_retries",
    "max_attempts",
    "batch_size",
    "dtype",
    "mode",
    "prompt_template",
    "passages_per_level",
    "samples_per_query",
    "passage_words",
    "min_words",
    "seed",
    "max_failure_rate",
    "judge",
    "filter_inconsistent",
    "min_tau",
    "structured_output",
]
RENAMED = {
    "temperature": "sampling.temperature",
    "top_p": "sampling.top_p",
    "max_tokens": "sampling.max_tokens",
    "llm_judge": "llm_judge.enabled",
    "llm_judge_backend": "llm_judge.backend",
    "llm_judge_model": "llm_judge.model",
    "llm_judge_base_url": "llm_judge.base_url",
    "llm_judge_action": "llm_judge.action",
}


def register(subparsers) -> None:
    from sycl.config import add_flags, add_set_option
    from sycl.generation.config import GenerationConfig

    p = subparsers.add_parser(
        "generate",
        help="generate a synthetic multi-level training set with an LLM",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--config", help="YAML file (the whole file or its 'generate:' section); --set and flags override it"
    )
    add_set_option(p, "sampling.top_p=0.9")
    add_flags(p, GenerationConfig, FIELDS)
    add_flags(p, GenerationConfig, RENAMED)
    p.set_defaults(func=run)


def summary_lines(manifest: GenerationManifest, path: str) -> list[str]:
    """What ``sycl generate`` prints about the set it wrote to ``path``."""
    c, t, r = manifest.counts, manifest.timings, manifest.this_run
    lines = [
        f"generated {c.passages} passages for {c.contexts} contexts in {path}",
        f"  done {c.done}, failed {c.failed}, retried {c.retried}, transport retries "
        f"{c.transport_retries}, filtered {c.filtered} (this run: {r['done']} done, "
        f"{r['skipped_from_journal']} from the journal)",
        "  per level: " + ", ".join(f"{k}: {v}" for k, v in manifest.counts_per_level.items()),
        f"  tokens: prompt {manifest.tokens['prompt']}, completion {manifest.tokens['completion']}; "
        f"{t.tokens_per_s} completion tokens/s, {t.requests_per_s} requests/s over {t.seconds} s",
    ]
    if r.get("rejections"):
        lines.append("  rejected answers: " + "; ".join(f"{k} x{v}" for k, v in list(r["rejections"].items())[:5]))
    q = manifest.quality
    if q is not None:
        lines.append(
            f"  judge {q.judge}: mean cosine per level "
            + ", ".join(f"{k}: {v:.3f}" for k, v in q.per_level_mean.items())
            + f"; Kendall tau {q.kendall_tau_mean:.3f}; expected order in "
            f"{q.share_expected_order:.1%} of contexts" + (f"; dropped {q.dropped}" if q.filter_inconsistent else "")
        )
    j = manifest.llm_judge
    if j is not None:
        lines.append(
            f"  llm judge {j.model}: Cohen's kappa {j.cohen_kappa}, exact agreement "
            f"{j.exact_agreement}, expected order {j.share_expected_order}; graded {j.judged} of "
            f"{j.passages} passages"
            + (f", dropped {j.dropped}" if j.dropped else "")
            + (f", relabelled {j.relabelled}" if j.relabelled else "")
        )
    rejections = (manifest.model_extra or {}).get("structured_output_rejections")  # the openai backend's
    if rejections:
        lines.append(
            f"  structured output: {manifest.structured_output} (the server rejected: "
            + ", ".join(r["mode"] for r in rejections)
            + ")"
        )
    return lines


def resolve_config(args: argparse.Namespace):
    """The :class:`GenerationConfig` of the command line: the file, then ``--set``, then the flags."""
    from sycl.config import command_overrides
    from sycl.generation import load_config

    return load_config(args.config, command_overrides(args))


def run(args: argparse.Namespace) -> int:
    from sycl.generation import run_generate
    from sycl.io.records import GenerationManifest

    cfg = resolve_config(args)
    if cfg.queries is None or cfg.out is None:
        print(
            "sycl generate: error: --queries and --out are required (or 'queries'/'out' in --config)", file=sys.stderr
        )
        return 2
    result = run_generate(cfg)  # an unavailable backend is a UserError: one line, exit 2 (sycl.cli)
    for line in summary_lines(GenerationManifest.model_validate(result.manifest), str(result.path)):
        print(line)
    if result.too_many_failures:
        print(
            f"sycl generate: {result.failure_rate:.1%} of the contexts failed, more than --max-failure-rate "
            f"{cfg.max_failure_rate:.1%}; see {result.path / 'manifest.json'} ('failures')",
            file=sys.stderr,
        )
        return 1
    return 0
