"""Throughput of the openai backend + pipeline + journal against a zero-latency local server.

    .venv/bin/python benchmarks/bench_generation_client.py [--queries 5000] [--concurrency 64]

Starts ``tests/generation/chat_server.py`` (raw asyncio HTTP/1.1) as a separate process and
measures, in the same run:
  1. the server alone: a minimal raw-socket keep-alive client with ``concurrency``
     connections (the most this server can answer here, client cost near zero);
  2. ``sycl.generation.run_generate`` (httpx client, retries, answer parsing and checks,
     journal with batched fsync, compile + atomic write of the data set), JSON mode, one
     request per query, judge off.
Target: >= 500 requests/s sustained for (2) at concurrency 64.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from sycl.generation import GenerationConfig, run_generate  # noqa: E402
from sycl.generation.levels import default_levels  # noqa: E402
from sycl.generation.prompts import load_template, render_json_prompt  # noqa: E402


def start_server() -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "generation" / "chat_server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc, int(proc.stdout.readline().split()[1])


async def raw_client(port: int, n: int, concurrency: int) -> float:
    """Requests/s of ``n`` chat completions over ``concurrency`` keep-alive connections."""
    levels = default_levels()
    msgs = render_json_prompt(load_template("json"), "how do honey bees fly", levels, 1, 80)
    remaining = [n]

    async def conn(i: int):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while remaining[0] > 0:
            remaining[0] -= 1
            body = json.dumps({"model": "m", "messages": msgs, "seed": remaining[0]}).encode()
            writer.write(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(conn(i) for i in range(concurrency)))
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    proc, port = start_server()
    try:
        server_alone = asyncio.run(raw_client(port, args.queries, args.concurrency))
        with tempfile.TemporaryDirectory() as tmp:
            qfile = Path(tmp) / "queries.tsv"
            qfile.write_text(
                "".join(f"q{i}\tbenchmark query number {i} about honey bees\n" for i in range(args.queries))
            )
            cfg = GenerationConfig(
                queries=qfile,
                out=Path(tmp) / "out",
                backend="openai",
                base_url=f"http://127.0.0.1:{port}/v1",
                model="m",
                concurrency=args.concurrency,
                judge="none",
            )
            t0 = time.perf_counter()
            res = run_generate(cfg)
            total = time.perf_counter() - t0
            m = res.manifest
            journal_lines = (Path(tmp) / "out" / "journal.jsonl").read_text().count("\n")
    finally:
        proc.kill()
    gen_rps = m["timings"]["requests_per_s"]
    print(
        json.dumps(
            {
                "queries": args.queries,
                "concurrency": args.concurrency,
                "cpus": os.cpu_count(),
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "server_alone_requests_per_s": round(server_alone, 1),
                "sycl_requests_per_s": gen_rps,
                "sycl_vs_server_alone": round(gen_rps / server_alone, 3),
                "sycl_total_seconds_incl_compile": round(total, 2),
                "done": m["counts"]["done"],
                "failed": m["counts"]["failed"],
                "journal_lines": journal_lines,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
