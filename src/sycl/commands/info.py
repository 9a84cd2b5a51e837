"""``sycl info``: this machine's CPU, torch, and the fast paths ``auto`` takes (:mod:`sycl.kernels.decisions`)."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "info",
        help="show the CPU, torch version and the kernels precision/search/encoder 'auto' chose by measuring them",
        description="Print the kernel verdict for this CPU model and torch version: each candidate kernel's "
        "speed against fp32 and its accuracy, and the paths that precision auto (encoding, training), "
        "the embedded generator's dtype auto, search precision auto and encode_backend auto take. Measured "
        "once (about a second; a few more with OpenVINO installed) and cached under the sycl cache root.",
    )
    p.add_argument("--remeasure", action="store_true", help="measure again and replace the cached verdict")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, kernels=None) -> int:
    """Print the verdict of ``kernels`` (the probe's state; default: this process's)."""
    import torch

    from sycl import __version__
    from sycl.kernels.decisions import auto_paths, chosen, encoder_reason, is_fast, summary
    from sycl.kernels.probe import cache_path, default_state

    kernels = kernels or default_state()
    v = kernels.verdict(remeasure=args.remeasure)
    if args.json:
        print(json.dumps({**v.to_dict(), **summary(kernels), "cache_file": str(cache_path())}, indent=2))
        return 0
    paths, used = auto_paths(kernels), chosen(kernels)
    print(f"sycl {__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"CPU: {v.cpu}")
    print(
        f"verdict: measured {v.measured_at} in {v.probe_seconds:.2f} s ({v.probe_cpu_seconds:.2f} s CPU), cached in {cache_path()}"
    )
    print(f"  precision auto (encoding, training) -> {paths['precision']}")
    print(f"  generator dtype auto                -> {paths['generator_dtype']}")
    print(f"  search precision auto               -> {paths['search']}")
    print(f"  train.fast_dropout auto             -> {'on' if paths['dropout'] == 'fast' else 'off'}")
    print(f"  encode_backend auto (retrieval)     -> {paths['encoder']} ({encoder_reason(kernels)})")
    print(f"{'kernel':<20} {'shape':<14} {'vs fp32':>9} {'cosine':>9}  auto")
    for name, t in v.timings.items():
        # chosen: what auto uses; faster: beats fp32 by the margin but another path is used (or auto
        # never takes it: fp16 autocast is only used when asked for); no: slower or inaccurate
        use = "chosen" if name in used else "faster, not used" if is_fast(v, name) else "no"
        print(f"{name:<20} {t.shape:<14} {t.speedup:>8.3g}x {t.cosine:>9.6f}  {use}")
    for name, why in v.unavailable.items():
        print(f"{name:<20} not measured: {why}")
    return 0
