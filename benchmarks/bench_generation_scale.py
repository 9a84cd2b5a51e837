"""``sycl generate`` at the paper's size against the zero-latency stub server, killed and resumed (issue 14).

Starts ``tests/generation/chat_server.py`` (as ``bench_generation_client.py`` does), writes
``--queries`` queries (default 500,000; 4 levels x 1 passage each, JSON mode, judge off,
concurrency 64) and runs generation in a child process. When the journal holds ``--kill-at``
(default 90%) of the queries, the child gets SIGKILL. The parent then checks the journal (every
line but a torn last one parses; keys unique), starts a second child on the same output folder
and measures how long until the journal grows again (resume latency), the requests per second
over the whole run (both children), and for the second child the time and peak memory
(``RssAnon`` sampled every 50 ms, and ``VmHWM``) of compiling the journal and writing the BEIR set.

    python benchmarks/bench_generation_scale.py --queries 500000 --workdir /work/bigdata/gen
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def child(args) -> None:
    from bench_pool_scale import Sampler

    import sycl.generation.api as api
    from sycl.generation import GenerationConfig, run_generate

    marks = {}
    real_compile = api.compile_journal

    def timed_compile(*a, **kw):
        marks["compile_start"] = time.perf_counter()
        marks["anon_before_compile"] = sampler.peak_anon
        return real_compile(*a, **kw)

    api.compile_journal = timed_compile
    sampler = Sampler()
    cfg = GenerationConfig(
        queries=args.workdir / "queries.tsv",
        out=args.workdir / "out",
        backend="openai",
        base_url=f"http://127.0.0.1:{args.port}/v1",
        model="m",
        concurrency=args.concurrency,
        judge="none",
    )
    t0 = time.perf_counter()
    res = run_generate(cfg)
    t1 = time.perf_counter()
    mem = sampler.stop()
    print(
        json.dumps(
            {
                "seconds": t1 - t0,
                "compile_and_write_s": t1 - marks["compile_start"],
                "generate_s": marks["compile_start"] - t0,
                "this_run": res.manifest["this_run"],
                "timings": res.manifest["timings"],
                "counts": res.manifest["counts"],
                "peak_anon_before_compile_gb": marks["anon_before_compile"] / 1e9,
                **mem,
            }
        )
    )


class LineCount:
    """Complete lines of a growing file, reading only what was appended since the last call (a
    full recount every half second would cost a core at 500k lines); recounts if the file shrank."""

    def __init__(self, path: Path):
        self.path, self.offset, self.n = path, 0, 0

    def __call__(self) -> int:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return 0
        if size < self.offset:
            self.offset, self.n = 0, 0
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read(size - self.offset)
        self.n += data.count(b"\n")
        self.offset += len(data)
        return self.n


def check_journal(path: Path) -> dict:
    keys, torn, n = set(), 0, 0
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                torn += 1
                continue
            rec = json.loads(raw)
            keys.add(rec["key"])
            n += 1
    return {"lines": n, "unique_keys": len(keys), "torn_last_line": torn}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=500_000)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--kill-at", type=float, default=0.9)
    ap.add_argument("--port", type=int)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    import shutil

    shutil.rmtree(args.workdir / "out", ignore_errors=True)
    args.workdir.mkdir(parents=True, exist_ok=True)
    with open(args.workdir / "queries.tsv", "w") as fh:
        fh.writelines(
            f"{1000000 + i}\tbenchmark query number {i} about honey bees and their flight\n"
            for i in range(args.queries)
        )
    server = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "generation" / "chat_server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    port = int(server.stdout.readline().split()[1])
    journal = args.workdir / "out" / "journal.jsonl"
    journal_lines = LineCount(journal)
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--workdir",
        str(args.workdir),
        "--port",
        str(port),
        "--concurrency",
        str(args.concurrency),
    ]
    out: dict = {"queries": args.queries, "concurrency": args.concurrency}
    try:
        t0 = time.perf_counter()
        first = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        target = int(args.kill_at * args.queries)
        while journal_lines() < target and first.poll() is None:
            time.sleep(0.5)
        first.send_signal(signal.SIGKILL)
        first.wait()
        out["first_run_s"] = time.perf_counter() - t0
        out["at_kill"] = check_journal(journal)
        t1 = time.perf_counter()
        second = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        n0 = journal_lines()
        while journal_lines() <= n0 and second.poll() is None:
            time.sleep(0.05)
        out["resume_latency_s"] = time.perf_counter() - t1
        stdout, _ = second.communicate()
        out["total_s"] = time.perf_counter() - t0
        out["second_run"] = json.loads(stdout.strip().splitlines()[-1])
        out["final"] = check_journal(journal)
        out["requests_per_s_whole_run"] = out["final"]["lines"] / (
            out["total_s"] - out["second_run"]["compile_and_write_s"]
        )
        out["load_avg_1m"] = os.getloadavg()[0]
    finally:
        server.kill()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
