"""Encoding throughput and quality: sycl's encoder against every sentence-transformers backend that installs.

Encoders, all all-MiniLM-L6-v2 at max length 256, on the same SciFact passages in the same run:

==================  =================================================================  ===========================
name                what                                                               runs in
==================  =================================================================  ===========================
``st-torch``        ``SentenceTransformer.encode``, torch fp32 (the reference vectors)  this venv (ST 6.x)
``st-onnx``         ``backend="onnx"``, ONNX Runtime fp32                              ``.venv-peers`` (ST 5.7)
``st-onnx-int8``    ``export_dynamic_quantized_onnx_model(..., "avx512_vnni")``        ``.venv-peers``
``st-openvino``     ``backend="openvino"`` (bf16 inference on AVX512-BF16/AMX CPUs)     ``.venv-peers``
``st-openvino-int8`` static int8 (``OVQuantizer``, 300 calibration passages)           ``.venv-peers``
``sycl-auto``       sycl's evaluation encoder, ``precision`` and ``encode_backend``     this venv
                    ``auto`` (the kernel probe: torch or OpenVINO)
``sycl-torch``      the same on torch (``precision: auto``: bf16 autocast where fast)   this venv
``sycl-fp32``       the same on torch in fp32                                          this venv
``sycl-openvino``   ``encode_backend: openvino``, ``precision: auto`` (OpenVINO's       this venv
                    default precision: bf16 on AVX512-BF16/AMX CPUs)
==================  =================================================================  ===========================

The peers need transformers < 4.58 (optimum-onnx, optimum-intel) while sycl runs sentence-transformers 6.x
on transformers 5, so they live in their own venv: ``make bench-peers-env`` creates ``.venv-peers`` from
``benchmarks/peers/requirements.txt`` (the resolution is explained there). This script starts
``benchmarks/peers/encode_peers.py`` in that interpreter once and drives it over a pipe: texts go by file,
vectors come back as ``.npy``; without ``.venv-peers`` only the encoders of this venv run.

Timing: ``--reps`` rounds; each round runs every encoder once, in an order rotated per round (A B C, B C A,
...), so a change in the machine's load hits all of them alike. Reported per encoder: the median passages/s
(wall) and passages per CPU-second (process CPU time of the process that encoded), the load average at each
repetition, the cosine of its vectors to ``st-torch``'s, and the fraction of the CPU's measured matmul peak
it reaches: FLOPs of the passages (from their real token counts: the layers' products plus attention's two
T x T products; 5.65 GFLOP for a 241-token passage) per CPU-second, over the kernel probe's best one-thread
product rate (fp32 or bf16 autocast, thread CPU time). One thread (``--threads 1``, the default) keeps
these comparable on a shared machine.

``--quality`` (a separate, long invocation) encodes the full SciFact test corpus and queries with each encoder
(vectors cached under ``--cache-dir``), scores nDCG@10 by exact cosine search, and stores the figures in
``<cache-dir>/quality.json``, which timing runs read: the *strongest peer* is the fastest peer (CPU time)
whose nDCG@10 is within 0.002 of ``st-torch``'s, and the script prints sycl's ratio to it.

    make bench-peers-env
    python benchmarks/bench_encode.py --n 300 --reps 3            # speed, cosine, fraction of peak
    python benchmarks/bench_encode.py --quality                    # nDCG@10 of each (full SciFact test)
    python benchmarks/bench_encode.py --st-batch-size 8            # the peers at another batch size (ST's: 32)

Whether any int8 recipe (NNCF's static and dynamic quantisation of sycl's OpenVINO export) reaches 1.5x the
bf16 path inside the 0.002 rule is measured apart, by ``benchmarks/peers/int8_recipes.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SCIFACT = ROOT / ".." / "shared" / "datasets" / "scifact"
PEERS_PY = ROOT / ".venv-peers" / "bin" / "python"
PEERS = ("st-onnx", "st-onnx-int8", "st-openvino", "st-openvino-int8")
LOCAL = ("st-torch", "sycl-auto", "sycl-torch", "sycl-fp32", "sycl-openvino")
SYCL = {  # (precision, encode_backend)
    "sycl-auto": ("auto", "auto"),
    "sycl-torch": ("auto", "torch"),
    "sycl-fp32": ("fp32", "torch"),
    "sycl-openvino": ("auto", "openvino"),
}
QUALITY_TOLERANCE = 0.002  # nDCG@10 within this of fp32 counts as "the same quality"


def probe_verdict():
    """The kernel probe's verdict of this CPU (measured once, then cached)."""
    from sycl.kernels.probe import default_state

    return default_state().verdict()


def matmul_peak_gflops(v) -> tuple[float, str]:
    """The best one-thread product rate the probe measured (GFLOP per CPU-second) and which kernel gave it."""
    t = v.timings["autocast_bf16"]
    m, k, n = (int(x) for x in t.shape.split("x"))
    flops = 2 * m * k * n
    rates = {"fp32": flops / t.fp32_seconds / 1e9, "bf16 autocast": flops / t.seconds / 1e9}
    best = max(rates, key=rates.get)
    return rates[best], best


def passage_flops(lengths: np.ndarray, layers: int, hidden: int, ffn: int) -> np.ndarray:
    """Multiply-add FLOPs of a BERT encoder per text of ``lengths`` tokens: the products, and attention's two T x T."""
    t = lengths.astype(np.float64)
    return layers * (t * 2 * (4 * hidden * hidden + 2 * hidden * ffn) + 4 * t * t * hidden)


class PeerProcess:
    """``benchmarks/peers/encode_peers.py`` running in the peers' venv, driven one JSON line at a time."""

    def __init__(self, python: Path, model: Path, cache_dir: Path, threads: int, calibration: Path):
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), HF_HUB_OFFLINE="1")
        env.pop("PYTHONPATH", None)  # sycl's src must not shadow the peers' packages
        cmd = [str(python), str(ROOT / "benchmarks" / "peers" / "encode_peers.py"), "--model", str(model)]
        cmd += ["--cache-dir", str(cache_dir), "--threads", str(threads), "--calibration", str(calibration)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    def ask(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the peers' process ended (exit status {self.proc.wait()}); see its log above")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"peer {cmd.get('name')}: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=60)


class Encoders:
    """Every encoder by name: ``encode(name, texts, kind)`` returns (vectors, wall seconds, CPU seconds)."""

    def __init__(self, names: list[str], args, work: Path, calibration: list[str]):
        from sycl.modeling import BiEncoder, embedded_encoder_path

        self.model_dir = Path(embedded_encoder_path())
        self.work = work
        self.st = self.ours = self.peers = None
        self.details: dict[str, dict] = {}
        self.unavailable: dict[str, str] = {}
        self.batch_size, self.st_batch_size = args.batch_size, args.st_batch_size
        if "st-torch" in names:
            import sentence_transformers
            from sentence_transformers import SentenceTransformer

            self.st = SentenceTransformer(str(self.model_dir), device="cpu")
            self.st.encode(["warm up"] * 32)
            self.details["st-torch"] = {
                "sentence_transformers": sentence_transformers.__version__,
                "batch_size": self.st_batch_size,
            }
        if any(n in SYCL for n in names):
            from sycl.kernels.openvino_encoder import available
            from sycl.retrieval.encoding import ListTexts, encode

            self.ours = BiEncoder.from_pretrained()
            for n in names:
                if n == "sycl-openvino" and not available():
                    self.unavailable[n] = "openvino is not installed (pip install 'sycl-ir[openvino]')"
                elif n in SYCL:
                    precision, backend = SYCL[n]  # the warm-up also exports and compiles OpenVINO's model
                    path = encode(
                        self.ours, ListTexts(["warm up"] * 32), "passage", precision=precision, backend=backend
                    )
                    self.details[n] = {
                        "precision": precision,
                        "encode_backend": backend,
                        "encoder_path": str(path.path),
                        "batch_size": args.batch_size or "default",
                    }
        wanted = [n for n in names if n in PEERS]
        if wanted:
            python = Path(args.peers_python)
            if not python.is_file():
                why = f"no peers' venv at {python} (make bench-peers-env)"
                self.unavailable.update(dict.fromkeys(wanted, why))
                print(f"peers not measured: {why}", flush=True)
            else:
                cal = work / "calibration.json"
                cal.write_text(json.dumps(calibration))
                self.peers = PeerProcess(python, self.model_dir, Path(args.cache_dir) / "models", args.threads, cal)
                answer = self.peers.ask(cmd="load", names=wanted)
                self.details.update({n: {**d, "batch_size": self.st_batch_size} for n, d in answer["loaded"].items()})
                self.unavailable.update(answer["unavailable"])
        self.names = [n for n in names if n not in self.unavailable]

    def encode(self, name: str, texts: list[str], kind: str = "passage") -> tuple[np.ndarray, float, float]:
        if name in PEERS:
            file, out = self.work / "texts.json", self.work / f"{name}.npy"
            file.write_text(json.dumps(texts))
            a = self.peers.ask(cmd="encode", name=name, texts=str(file), save=str(out), batch_size=self.st_batch_size)
            return np.load(out), a["wall"], a["cpu"]
        t, c = time.perf_counter(), time.process_time()
        if name == "st-torch":
            vec = self.st.encode(texts, batch_size=self.st_batch_size)
        else:
            from sycl.retrieval.encoding import ListTexts, encode

            precision, backend = SYCL[name]
            enc = encode(
                self.ours, ListTexts(texts), kind, batch_size=self.batch_size, precision=precision, backend=backend
            )
            vec = np.asarray(enc.vectors)
        return np.asarray(vec, dtype=np.float32), time.perf_counter() - t, time.process_time() - c

    def close(self) -> None:
        if self.peers is not None:
            self.peers.close()


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def sample(corpus, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The timed rows (``n`` random passages, seed 0) and 300 other rows to calibrate static int8 exports."""
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(corpus))
    timed = np.arange(len(corpus)) if n <= 0 else np.sort(perm[: min(n, len(corpus))])
    rest = perm[min(n, len(corpus)) :] if n > 0 else perm
    return timed, np.sort(rest[:300])


def ndcg10(qvec: np.ndarray, dvec: np.ndarray, qids: list[str], doc_ids: list[str], qrels: dict) -> float:
    """nDCG@10 of exact cosine search (the same for every encoder; sycl's metrics)."""
    from sycl.evaluation.metrics import compute_metrics

    q = qvec / np.linalg.norm(qvec, axis=1, keepdims=True)
    d = dvec / np.linalg.norm(dvec, axis=1, keepdims=True)
    scores = q @ d.T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    run = {qid: {doc_ids[j]: float(scores[i, j]) for j in top[i]} for i, qid in enumerate(qids)}
    means, _ = compute_metrics(qrels, run, ["nDCG@10"])
    return means["nDCG@10"]


def run_quality(enc: Encoders, args, corpus) -> dict:
    from sycl.io.atomic import atomic_write_json
    from sycl.io.beir import qrels_path, read_qrels, read_queries

    qrels = read_qrels(qrels_path(args.dataset, "test"))
    queries = read_queries(Path(args.dataset) / "queries.jsonl")
    qids = [q for q in qrels if q in queries]
    qrels = {q: qrels[q] for q in qids}
    texts = corpus.texts(np.arange(len(corpus)))
    doc_ids = corpus.ids.to_pylist()
    qtexts = [queries[q] for q in qids]
    key = hashlib.sha256(json.dumps([texts, qtexts]).encode()).hexdigest()[:16]
    vec_dir = Path(args.cache_dir) / "vectors"
    vec_dir.mkdir(parents=True, exist_ok=True)
    path = Path(args.cache_dir) / "quality.json"
    stored: dict = {}
    for name in enc.names:
        vecs = []
        for kind, tx in (("query", qtexts), ("passage", texts)):
            f = vec_dir / f"{name}-{kind}-{key}.npy"
            if not f.is_file():
                t = time.perf_counter()
                v, _, cpu = enc.encode(name, tx, kind)
                np.save(f.with_suffix(".tmp.npy"), v)
                os.replace(f.with_suffix(".tmp.npy"), f)
                print(f"{name}: {len(tx)} {kind}s in {time.perf_counter() - t:.0f} s ({cpu:.0f} CPU s)", flush=True)
            vecs.append(np.load(f))
        score = ndcg10(vecs[0], vecs[1], qids, doc_ids, qrels)
        print(f"SciFact test nDCG@10 {name}: {score:.4f}", flush=True)
        stored = json.loads(path.read_text()) if path.is_file() else {}  # another --quality run may have written
        stored[name] = {"ndcg10": round(score, 4), "texts_key": key, "queries": len(qids), "documents": len(texts)}
        if "encoder_path" in enc.details.get(name, {}):  # sycl-auto's path depends on the CPU and the install
            stored[name]["encoder_path"] = enc.details[name]["encoder_path"]
            stored[name]["batch_size"] = enc.details[name]["batch_size"]
        atomic_write_json(path, stored)
    return stored


def quality_applies(stored: dict, details: dict) -> bool:
    """Whether a stored nDCG@10 belongs to the encoder as it runs now: a sycl encoder's figure only for the
    encoder path it was measured on (``sycl-auto`` may have moved from torch to OpenVINO since), and for the
    batch size it was measured at when that was stored."""
    if "encoder_path" not in details:
        return True
    same_batch = "batch_size" not in stored or stored["batch_size"] == details["batch_size"]
    return stored.get("encoder_path") == details["encoder_path"] and same_batch


def stored_quality(name: str, details: dict, quality: dict) -> tuple[float | None, str | None]:
    """``(nDCG@10, measured as)`` for ``name`` as it runs now: its own stored figure when it applies, else, for a
    sycl encoder, one measured by another sycl encoder on the same encoder path and batch size (the same
    vectors: ``sycl-auto`` on OpenVINO is ``sycl-openvino``); ``(None, None)`` when none was measured."""
    if name in quality and quality_applies(quality[name], details):
        return quality[name]["ndcg10"], name
    if "encoder_path" not in details:
        return None, None
    for other, stored in quality.items():
        same = (stored.get("encoder_path"), stored.get("batch_size")) == (
            details["encoder_path"],
            details["batch_size"],
        )
        if other.startswith("sycl-") and same:
            return stored["ndcg10"], other
    return None, None


def strongest_peer(rows: dict, quality: dict) -> tuple[str | None, str]:
    """The fastest peer (passages per CPU-second) whose nDCG@10 is within 0.002 of fp32's.

    fp32's nDCG@10 is st-torch's, else sycl-fp32's (the same vectors: cosine 1 to st-torch's)."""
    ref = quality.get("st-torch", quality.get("sycl-fp32", {})).get("ndcg10")
    peers = [n for n in rows if n.startswith("st-")]
    if ref is None:
        return None, "no fp32 nDCG@10 yet (run --quality with st-torch or sycl-fp32)"
    ok = [n for n in peers if n in quality and abs(quality[n]["ndcg10"] - ref) <= QUALITY_TOLERANCE]
    if not ok:
        return None, "no peer with a measured nDCG@10 within 0.002 of fp32"
    return max(ok, key=lambda n: rows[n]["per_cpu_s"]), f"fastest of {', '.join(ok)} (nDCG@10 within 0.002 of fp32)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, default=SCIFACT)
    ap.add_argument("--n", type=int, default=300, help="passages to time (0: the whole corpus)")
    ap.add_argument("--reps", type=int, default=3, help="timed rounds (each runs every encoder once)")
    ap.add_argument("--encoders", nargs="+", default=[*LOCAL, *PEERS], choices=[*LOCAL, *PEERS])
    ap.add_argument("--batch-size", type=int, default=None, help="sycl's batch size (default: sycl's, 16 on CPU)")
    ap.add_argument(
        "--st-batch-size",
        type=int,
        default=32,
        help="sentence-transformers' batch size, for st-torch and every peer (default: ST's own, 32)",
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--peers-python", default=str(PEERS_PY), help="the peers' interpreter (make bench-peers-env)")
    ap.add_argument("--quality", action="store_true", help="SciFact test nDCG@10 of every encoder (long)")
    ap.add_argument("--cache-dir", default="/tmp/sycl-bench-encode")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)

    from sycl.io.atomic import atomic_write_json
    from sycl.io.corpus import Corpus
    from sycl.kernels.probe import cpu_model

    corpus = Corpus.open(args.dataset)
    timed, calib = sample(corpus, args.n)
    work = Path(args.cache_dir) / f"run-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    enc = Encoders(args.encoders, args, work, corpus.texts(calib))
    try:
        if args.quality:
            result = {"quality": run_quality(enc, args, corpus)}
        else:
            result = time_encoders(enc, args, corpus.texts(timed))
    finally:
        enc.close()
    result.update(cpu=cpu_model(), threads=args.threads, unavailable=enc.unavailable, details=enc.details)
    result["date"] = time.strftime("%Y-%m-%d %H:%M %Z")
    print(json.dumps(result))
    if args.json is not None:
        atomic_write_json(args.json, result)


def time_encoders(enc: Encoders, args, texts: list[str]) -> dict:
    from transformers import AutoConfig, AutoTokenizer

    mc = AutoConfig.from_pretrained(enc.model_dir)
    tok = AutoTokenizer.from_pretrained(enc.model_dir)
    lengths = np.array([len(ids) for ids in tok(texts, truncation=True, max_length=256)["input_ids"]])
    flops = float(passage_flops(lengths, mc.num_hidden_layers, mc.hidden_size, mc.intermediate_size).sum())
    peak, peak_kernel = matmul_peak_gflops(probe_verdict())
    print(
        f"{len(texts)} passages, {lengths.mean():.1f} tokens on average (max 256): {flops / len(texts) / 1e9:.2f} "
        f"GFLOP per passage; matmul peak {peak:.0f} GFLOP per CPU-second ({peak_kernel}, kernel probe, one thread)",
        flush=True,
    )
    runs: dict[str, list[dict]] = {n: [] for n in enc.names}
    vectors: dict[str, np.ndarray] = {}
    for rep in range(args.reps):
        order = enc.names[rep % len(enc.names) :] + enc.names[: rep % len(enc.names)]
        for name in order:
            vec, wall, cpu = enc.encode(name, texts)
            load = os.getloadavg()[0]
            vectors.setdefault(name, vec)
            runs[name].append({"wall": round(wall, 3), "cpu": round(cpu, 3), "load": round(load, 2)})
            print(
                f"round {rep + 1} {name:17s} {len(texts) / wall:6.1f} passages/s wall, "
                f"{len(texts) / cpu:6.1f} per CPU-s (load {load:.1f})",
                flush=True,
            )
    ref = vectors.get("st-torch")
    rows = {}
    for name in enc.names:
        wall = float(np.median([r["wall"] for r in runs[name]]))
        cpu = float(np.median([r["cpu"] for r in runs[name]]))
        row = {
            "per_s": round(len(texts) / wall, 2),
            "per_cpu_s": round(len(texts) / cpu, 2),
            "cpu_seconds": round(cpu, 2),
            "peak_fraction": round(flops / cpu / 1e9 / peak, 3),
            "runs": runs[name],
        }
        if ref is not None:
            cos = cosine(vectors[name], ref)
            row.update(cos_min=round(float(cos.min()), 6), cos_mean=round(float(cos.mean()), 6))
        rows[name] = row
    qpath = Path(args.cache_dir) / "quality.json"
    quality = json.loads(qpath.read_text()) if qpath.is_file() else {}
    for name, row in rows.items():
        score, measured_as = stored_quality(name, enc.details.get(name, {}), quality)
        if score is not None:
            row["ndcg10"] = score
            if measured_as != name:
                row["ndcg10_measured_as"] = measured_as
    print(f"\n{'encoder':18s} {'pass/s':>7s} {'/CPU-s':>7s} {'CPU s':>6s} {'peak':>5s} {'cos min':>8s} {'nDCG@10':>8s}")
    for name, r in rows.items():
        print(
            f"{name:18s} {r['per_s']:7.1f} {r['per_cpu_s']:7.1f} {r['cpu_seconds']:6.1f} {r['peak_fraction']:5.0%} "
            f"{r.get('cos_min', float('nan')):8.5f} {r.get('ndcg10', float('nan')):8.4f}"
        )
    for name, r in rows.items():
        if "ndcg10_measured_as" in r:
            print(f"{name}'s nDCG@10 is {r['ndcg10_measured_as']}'s: the same encoder path and batch size")
    best, why = strongest_peer(rows, quality)
    result = {
        "passages": len(texts),
        "mean_tokens": round(float(lengths.mean()), 1),
        "gflop_per_passage": round(flops / len(texts) / 1e9, 3),
        "peak_gflops": round(peak, 1),
        "peak_kernel": peak_kernel,
        "reps": args.reps,
        "encoders": rows,
        "strongest_peer": best,
        "strongest_peer_rule": why,
    }
    if best is not None and "sycl-auto" in rows:
        s, p = rows["sycl-auto"], rows[best]
        result["sycl_vs_strongest"] = {
            "wall": round(s["per_s"] / p["per_s"], 3),
            "cpu_time": round(s["per_cpu_s"] / p["per_cpu_s"], 3),
        }
        print(
            f"strongest peer: {best} ({why}); sycl-auto / {best}: {result['sycl_vs_strongest']['wall']:.2f}x wall, "
            f"{result['sycl_vs_strongest']['cpu_time']:.2f}x CPU time",
            flush=True,
        )
    else:
        print(f"strongest peer: not determined ({why})", flush=True)
    return result


if __name__ == "__main__":
    sys.exit(main())
