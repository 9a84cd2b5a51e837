"""The embedding cache under concurrent writers, SIGKILLs and corrupted entries.

Real processes share one cache folder: this file run as a script is the worker (it encodes a small
corpus through :func:`sycl.retrieval.encoding.encode` and saves what it got). Hooks on the model's
``encode`` let a test hold a worker between two chunks or at its first chunk, so that a kill lands
exactly where the issue's did: while another process is halfway through writing the same entry.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
WORDS = "wing lift drag flow boundary layer shock wave pressure heat transfer nozzle jet plate cone".split()
DIM = 32  # the fake model's


def corpus(n: int) -> list[str]:
    """``n`` passages of 4 to 26 words, ``passage <i> ...`` (the fake model reads ``i``)."""
    return [f"passage {i} " + " ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(2 + i % 23)) for i in range(n)]


class FakeModel:
    """Vectors drawn from the text's number (any batching gives the same ones); counts what it encodes."""

    dim, device, settings = DIM, "cpu", {"pooling": "mean", "normalize": True}

    def __init__(self):
        self.encoded = 0

    def encode(self, texts, kind, batch_size=None, precision=None):
        self.encoded += len(texts)
        rows = [np.random.default_rng(int(t.split()[1])).standard_normal(DIM) for t in texts]
        return np.stack(rows).astype(np.float32)


ENCODE = dict(precision="fp32", backend="torch", batch_size=8, chunk=16, shard_rows=32)  # 96 texts: 3 shards


def worker(cfg: dict) -> None:
    """Encode ``corpus(cfg["n"])`` through the cache ``cfg["cache"]``; save the vectors to ``cfg["out"]``.

    Touches ``marks/ready-<name>`` just before encoding and ``marks/encode-<name>-<call>`` at each call
    of the model; at call ``hang_at`` it sleeps for good, at call ``block_at`` it waits for ``marks/go``.
    """
    import logging

    from sycl.retrieval.cache import EmbeddingCache, model_fingerprint
    from sycl.retrieval.encoding import ListTexts, encode

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if cfg["model"] == "minilm":
        from sycl.modeling import BiEncoder

        model = BiEncoder.from_pretrained()
        fp = model_fingerprint(model)
    else:
        model, fp = FakeModel(), "fake"
    marks, name, real, calls = Path(cfg["marks"]), cfg["name"], model.encode, [0]

    def hooked(texts, kind, **kw):
        calls[0] += 1
        (marks / f"encode-{name}-{calls[0]}").touch()
        if cfg.get("hang_at") == calls[0]:
            time.sleep(3600)
        if cfg.get("block_at") == calls[0]:
            deadline = time.monotonic() + 300
            while not (marks / "go").exists() and time.monotonic() < deadline:
                time.sleep(0.02)
        time.sleep(cfg.get("delay", 0.0))
        return real(texts, kind, **kw)

    model.encode = hooked
    (marks / f"ready-{name}").touch()
    got = encode(
        model, ListTexts(corpus(cfg["n"])), "passage", cache=EmbeddingCache(cfg["cache"]), model_fp=fp, **ENCODE
    )
    np.save(cfg["out"], np.asarray(got.vectors))


class Workers:
    """Worker processes of one test, sharing ``tmp/cache``; all killed at the end."""

    def __init__(self, tmp: Path, model: str, n: int = 96):
        self.tmp, self.model, self.n, self.procs = tmp, model, n, {}
        self.cache, self.marks = tmp / "cache", tmp / "marks"
        self.marks.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, **hooks) -> subprocess.Popen:
        cfg = dict(model=self.model, n=self.n, cache=str(self.cache), marks=str(self.marks), name=name, **hooks)
        cfg["out"] = str(self.tmp / f"{name}.npy")
        env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
        with open(self.tmp / f"{name}.log", "w") as err:
            p = subprocess.Popen([sys.executable, __file__, json.dumps(cfg)], env=env, stdout=err, stderr=err)
        self.procs[name] = p
        return p

    def wait_for(self, what, timeout: float = 180.0):
        """Poll ``what()`` (or the existence of the mark file ``what``) until true."""
        test = what if callable(what) else (lambda: (self.marks / what).exists())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = test()
            if got:
                return got
            time.sleep(0.01)
        raise AssertionError(f"timed out waiting for {what}; logs: {self.logs()}")

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait()

    def finish(self, name: str, timeout: float = 180.0) -> np.ndarray:
        """The vectors worker ``name`` got; asserts it exited 0."""
        rc = self.procs[name].wait(timeout)
        assert rc == 0, f"worker {name} exited {rc}: {self.log(name)}"
        return np.load(self.tmp / f"{name}.npy")

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text()

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n{self.log(n)[-2000:]}" for n in self.procs)

    def encoders(self) -> list[str]:
        """Workers that have called the model, in the order they first did."""
        firsts = sorted(self.marks.glob("encode-*-1"), key=lambda p: p.stat().st_mtime_ns)
        return [p.name[len("encode-") : -len("-1")] for p in firsts]

    def shards_done(self) -> int:
        """Shards the progress record counts (0 if there is none)."""
        for p in self.cache.rglob(".*.partial.json"):
            try:
                return len(json.loads(p.read_text())["done"])
            except (OSError, ValueError, KeyError):
                return 0
        return 0

    def entry(self) -> np.ndarray:
        """The published entry, read straight from its file."""
        (path,) = self.cache.rglob("[!.]*.npy")
        return np.load(path)

    def close(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.fixture
def workers(tmp_path):
    made = []

    def make(model: str) -> Workers:
        made.append(Workers(tmp_path, model))
        return made[-1]

    yield make
    for w in made:
        w.close()


@pytest.fixture(scope="module")
def minilm_reference(tmp_path_factory) -> np.ndarray:
    """MiniLM's vectors of the corpus from one worker alone on its own cache."""
    w = Workers(tmp_path_factory.mktemp("reference"), "minilm")
    try:
        w.start("alone")
        return w.finish("alone")
    finally:
        w.close()


def fake_reference(n: int = 96) -> np.ndarray:
    return FakeModel().encode(corpus(n), "passage")


def test_a_second_process_killed_while_the_first_writes_changes_nothing(workers, minilm_reference):
    """The issue's case: B starts while A is halfway through the entry's first shard, and is killed."""
    w = workers("minilm")
    w.start("a", block_at=2)  # A has written its first chunk and waits before its second
    w.wait_for("encode-a-2")
    w.start("b", hang_at=1)
    w.wait_for("ready-b")
    time.sleep(2.0)  # B is in the cache's writer (the old one emptied A's partial file here)
    w.kill("b")
    (w.marks / "go").touch()
    got = w.finish("a")
    assert np.array_equal(got, minilm_reference)
    assert np.array_equal(w.entry(), minilm_reference)
    assert not list(w.cache.rglob(".*partial*"))


def eight_writers_with_kills(w: Workers, delay: float) -> list[str]:
    """Start 8 workers at once; kill a waiting one, the writer once it recorded a shard, and the writer
    after it at its first chunk. Returns the survivors."""
    names = [f"w{i}" for i in range(8)]
    for name in names:
        w.start(name, delay=delay)
    w.wait_for("ready-w7")
    time.sleep(0.3)
    w.kill("w7")
    first = w.wait_for(lambda: [n for n in w.encoders() if n != "w7"])[0]
    w.wait_for(lambda: w.shards_done() >= 1)
    w.kill(first)
    second = w.wait_for(lambda: [n for n in w.encoders() if n not in (first, "w7")])[0]
    w.wait_for(f"encode-{second}-2", timeout=60)
    w.kill(second)
    return [n for n in names if n not in ("w7", first, second)]


def check_survivors(w: Workers, survivors: list[str], reference: np.ndarray) -> None:
    for name in survivors:
        assert np.array_equal(w.finish(name), reference), f"worker {name} got other vectors"
    assert np.array_equal(w.entry(), reference)
    assert not list(w.cache.rglob(".*partial*"))
    # a killed writer's recorded shards were reused, not encoded again
    assert any("resuming passage encoding" in w.log(n) for n in survivors), w.logs()


def test_eight_processes_with_three_killed_give_the_single_process_vectors(workers):
    w = workers("fake")
    survivors = eight_writers_with_kills(w, delay=0.3)
    check_survivors(w, survivors, fake_reference())


@pytest.mark.slow
def test_eight_minilm_processes_with_three_killed_give_the_single_process_vectors(workers, minilm_reference):
    w = workers("minilm")
    survivors = eight_writers_with_kills(w, delay=0.3)
    check_survivors(w, survivors, minilm_reference)


def _zero_rows(path: Path) -> None:
    arr = np.load(path, mmap_mode="r+")
    arr[3:7] = 0
    arr.flush()


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size - 100)


def _flip_bytes(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.seek(-1001, os.SEEK_END)
        b = fh.read(1)
        fh.seek(-1001, os.SEEK_END)
        fh.write(bytes([b[0] ^ 0x10]))


def _drop_record(path: Path) -> None:
    path.with_suffix(".json").unlink()  # an entry as written before records were kept


def _append(path: Path) -> None:
    with open(path, "ab") as fh:
        fh.write(b"\0" * 128)


@pytest.mark.parametrize("corrupt", [_zero_rows, _truncate, _flip_bytes, _drop_record, _append])
def test_a_corrupted_entry_is_reported_never_used_and_rebuilt(tmp_path, logged, corrupt):
    from sycl.retrieval.cache import EmbeddingCache
    from sycl.retrieval.encoding import ListTexts, encode

    texts, cache, ref = ListTexts(corpus(96)), EmbeddingCache(tmp_path), fake_reference()
    first = encode(FakeModel(), texts, "passage", cache=cache, model_fp="fake", **ENCODE)
    path = cache.path(first.key)
    del first
    corrupt(path)
    logged.clear()
    model = FakeModel()
    again = encode(model, texts, "passage", cache=cache, model_fp="fake", **ENCODE)
    assert model.encoded == 96 and not again.cached  # rebuilt from scratch
    assert np.array_equal(np.asarray(again.vectors), ref) and np.array_equal(np.load(path), ref)
    warned = [r.getMessage() for r in logged if r.levelname == "WARNING"]
    assert warned and all(str(path) in m for m in warned), warned
    logged.clear()
    model = FakeModel()
    third = encode(model, texts, "passage", cache=cache, model_fp="fake", **ENCODE)
    assert third.cached and model.encoded == 0 and np.array_equal(np.asarray(third.vectors), ref)
    assert not [r for r in logged if r.levelname == "WARNING"]


if __name__ == "__main__":
    worker(json.loads(sys.argv[1]))
