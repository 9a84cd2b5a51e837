"""``sycl generate``: write a synthetic multi-level training set (BEIR layout) with an LLM."""
from __future__ import annotations

import argparse
import sys

HELP = """Write passages at graded relevance levels (default 3/2/1/0, the TREC DL scale) for each
query, as a BEIR folder: corpus.jsonl, queries.jsonl, qrels/train.tsv and manifest.json.
The run is resumable: rerun the same command after an interruption and finished queries are
skipped (DIR/journal.jsonl). Exit status: 0 done, 1 more failures than --max-failure-rate,
2 bad input or a backend that cannot start."""


def register(subparsers) -> None:
    p = subparsers.add_parser("generate", help="generate a synthetic multi-level training set with an LLM",
                              description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--queries", help="queries.jsonl, a TSV 'id<TAB>text', or a BEIR folder (with --split)")
    p.add_argument("--out", help="output folder")
    p.add_argument("--backend", choices=["openai", "vllm", "transformers", "embedded"],
                   help="who writes the passages (default: embedded, SmolLM2-135M, offline)")
    p.add_argument("--model", help="model name (openai/vllm), directory or .gguf file (transformers)")
    p.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--api-key-env", help="name of the environment variable holding the API key")
    p.add_argument("--concurrency", type=int, help="requests in flight (openai backend; default 16)")
    p.add_argument("--batch-size", type=int, help="prompts per batch (transformers/embedded; default 32)")
    p.add_argument("--limit", type=int, help="only the first N queries")
    p.add_argument("--split", help="with a BEIR folder: only queries judged in this split")
    p.add_argument("--config", help="YAML file (the whole file or its 'generate:' section); flags override it")
    p.add_argument("--mode", choices=["json", "per-level"],
                   help="one JSON answer per query (default) or one request per level (embedded default)")
    p.add_argument("--prompt-template", help="your own template file (see sycl/resources/prompts/)")
    p.add_argument("--passages-per-level", type=int, help="passages per level and query (default 1)")
    p.add_argument("--samples-per-query", type=int, help="ranking contexts per query (default 1)")
    p.add_argument("--passage-words", type=int, help="length guidance in words (default 80)")
    p.add_argument("--max-tokens", type=int, help="completion tokens per request (default from --passage-words)")
    p.add_argument("--temperature", type=float)
    p.add_argument("--timeout", type=float, help="seconds per HTTP request (default 120)")
    p.add_argument("--max-attempts", type=int, help="tries per malformed answer (default: 5 for the embedded model, 3 for the others)")
    p.add_argument("--max-failure-rate", type=float, help="exit 1 when more contexts fail (default 0.1)")
    p.add_argument("--judge", help="sentence-transformers path for the quality judge; 'embedded' "
                                   "(all-MiniLM-L6-v2, default) or 'none'")
    p.add_argument("--filter-inconsistent", action="store_true", default=None,
                   help="drop contexts whose judge ordering disagrees with the labels (tau < --min-tau)")
    p.add_argument("--min-tau", type=float, help="threshold of --filter-inconsistent (default 0.0)")
    p.add_argument("--seed", type=int)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config key, e.g. --set sampling.top_p=0.9 (repeatable)")
    p.set_defaults(func=run)


_FLAGS = {"queries": "queries", "out": "out", "backend": "backend", "model": "model", "base_url": "base_url",
          "api_key_env": "api_key_env", "concurrency": "concurrency", "batch_size": "batch_size", "limit": "limit",
          "split": "split", "mode": "mode", "prompt_template": "prompt_template",
          "passages_per_level": "passages_per_level", "samples_per_query": "samples_per_query",
          "passage_words": "passage_words", "max_tokens": "sampling.max_tokens",
          "temperature": "sampling.temperature", "timeout": "request_timeout", "max_attempts": "max_attempts",
          "max_failure_rate": "max_failure_rate", "judge": "judge", "filter_inconsistent": "filter_inconsistent",
          "min_tau": "min_tau", "seed": "seed"}


def summary_lines(manifest: dict) -> list[str]:
    c, t, r = manifest["counts"], manifest["timings"], manifest["this_run"]
    lines = [f"generated {c['passages']} passages for {c['contexts']} contexts in {manifest['_path']}",
             f"  done {c['done']}, failed {c['failed']}, retried {c['retried']}, transport retries "
             f"{c['transport_retries']}, filtered {c['filtered']} (this run: {r['done']} done, "
             f"{r['skipped_from_journal']} from the journal)",
             f"  per level: " + ", ".join(f"{k}: {v}" for k, v in manifest["counts_per_level"].items()),
             f"  tokens: prompt {manifest['tokens']['prompt']}, completion {manifest['tokens']['completion']}; "
             f"{t['tokens_per_s']} completion tokens/s, {t['requests_per_s']} requests/s over {t['seconds']} s"]
    if r.get("rejections"):
        lines.append("  rejected answers: " + "; ".join(f"{k} x{v}" for k, v in list(r["rejections"].items())[:5]))
    q = manifest.get("quality")
    if q:
        lines.append(f"  judge {q['judge']}: mean cosine per level "
                     + ", ".join(f"{k}: {v:.3f}" for k, v in q["per_level_mean"].items())
                     + f"; Kendall tau {q['kendall_tau_mean']:.3f}; expected order in "
                       f"{q['share_expected_order']:.1%} of contexts"
                     + (f"; dropped {q['dropped']}" if q.get("filter_inconsistent") else ""))
    j = manifest.get("llm_judge")
    if j:
        lines.append(f"  llm judge {j.get('model')}: Cohen's kappa {j['cohen_kappa']}, exact agreement "
                     f"{j['exact_agreement']}, expected order {j['share_expected_order']}; graded {j['judged']} of "
                     f"{j['passages']} passages" + (f", dropped {j['dropped']}" if j["dropped"] else "")
                     + (f", relabelled {j['relabelled']}" if j["relabelled"] else ""))
    if manifest.get("structured_output_rejections"):
        lines.append(f"  structured output: {manifest['structured_output']} (the server rejected: "
                     + ", ".join(r["mode"] for r in manifest.get("structured_output_rejections") or []) + ")")
    return lines


def run(args: argparse.Namespace) -> int:
    from sycl.config import parse_override
    from sycl.generation import BackendUnavailable, load_config, run_generate

    overrides = {key: getattr(args, flag) for flag, key in _FLAGS.items() if getattr(args, flag) is not None}
    for item in args.set:
        try:
            keys, value = parse_override(item)
        except ValueError as err:
            print(f"sycl generate: error: {err}", file=sys.stderr)
            return 2
        overrides[".".join(keys)] = value
    cfg = load_config(args.config, overrides)
    if cfg.queries is None or cfg.out is None:
        print("sycl generate: error: --queries and --out are required (or 'queries'/'out' in --config)",
              file=sys.stderr)
        return 2
    try:
        result = run_generate(cfg)
    except BackendUnavailable as err:
        print(f"sycl generate: error: {err}", file=sys.stderr)
        return 2
    manifest = dict(result.manifest, _path=str(result.path))
    for line in summary_lines(manifest):
        print(line)
    if result.too_many_failures:
        print(f"sycl generate: {result.failure_rate:.1%} of the contexts failed, more than --max-failure-rate "
              f"{cfg.max_failure_rate:.1%}; see {result.path / 'manifest.json'} ('failures')", file=sys.stderr)
        return 1
    return 0
