"""The OpenVINO encoder path: export, the model cache (hits, corruption, concurrent exporters), accuracy."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("openvino")

from sycl.kernels.openvino_encoder import CompiledEncoder, ModelCache, compiled_encoder  # noqa: E402
from sycl.modeling.encoder import BiEncoder  # noqa: E402
from sycl.retrieval.cache import model_fingerprint  # noqa: E402

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def minilm():
    model = BiEncoder.from_pretrained("embedded:all-MiniLM-L6-v2")
    return model, model_fingerprint(model), model.tokenize(["an example text"], "passage")


def _entry(root: Path) -> Path:
    (entry,) = [p for p in root.iterdir() if not p.name.startswith(".")]
    return entry


def _row_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = torch.from_numpy(a), torch.from_numpy(b)
    return float(torch.nn.functional.cosine_similarity(a, b, dim=1).min())


def test_export_is_cached_and_the_second_load_is_a_hit(minilm, tmp_path):
    model, fp, example = minilm
    first = ModelCache(tmp_path)
    CompiledEncoder(first.load(model.transformer, fp, example), "fp32", threads=1)
    assert first.exports == 1
    entry = _entry(tmp_path)
    assert sorted(p.name for p in entry.iterdir()) == ["integrity.json", "model.bin", "model.xml"]
    record = json.loads((entry / "integrity.json").read_text())
    assert record["key"] == entry.name and record["files"]["model.bin"]["bytes"] == (entry / "model.bin").stat().st_size
    mtime = (entry / "model.bin").stat().st_mtime_ns
    second = ModelCache(tmp_path)
    encoder = CompiledEncoder(second.load(model.transformer, fp, example), "fp32", threads=1)
    assert second.exports == 0 and (entry / "model.bin").stat().st_mtime_ns == mtime
    feats = model.tokenize(["a short query", "a longer passage about cells and proteins"], "passage")
    with torch.no_grad():
        want = model.transformer(**feats).last_hidden_state
    assert torch.allclose(encoder(feats), want, atol=1e-4)


def test_other_weights_are_another_entry(minilm, tmp_path):
    model, fp, example = minilm
    cache = ModelCache(tmp_path)
    cache.load(model.transformer, fp, example)
    cache.load(model.transformer, "0" * 64, example)
    assert cache.exports == 2 and len([p for p in tmp_path.iterdir() if not p.name.startswith(".")]) == 2


def test_a_corrupted_bin_is_named_and_rebuilt(minilm, tmp_path, logged):
    model, fp, example = minilm
    ModelCache(tmp_path).load(model.transformer, fp, example)
    binary = _entry(tmp_path) / "model.bin"
    data = bytearray(binary.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # same size, flipped weights
    binary.write_bytes(bytes(data))
    again = ModelCache(tmp_path)
    encoder = CompiledEncoder(again.load(model.transformer, fp, example), "fp32", threads=1)
    assert again.exports == 1
    warned = [r.getMessage() for r in logged if r.levelname == "WARNING"]
    assert any(str(_entry(tmp_path)) in m and "model.bin" in m and "corrupted" in m for m in warned), warned
    feats = model.tokenize(["a passage"], "passage")
    with torch.no_grad():
        assert torch.allclose(encoder(feats), model.transformer(**feats).last_hidden_state, atol=1e-4)
    assert ModelCache(tmp_path)._verified(_entry(tmp_path).name)[1] is None


def test_a_symlinked_entry_is_never_followed(minilm, tmp_path):
    model, fp, example = minilm
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the cache's")
    root = tmp_path / "cache"
    cache = ModelCache(root)
    cache.load(model.transformer, fp, example)
    entry = _entry(root)
    import shutil

    shutil.rmtree(entry)
    entry.symlink_to(outside, target_is_directory=True)
    again = ModelCache(root)
    again.load(model.transformer, fp, example)
    assert again.exports == 1 and entry.is_dir() and not entry.is_symlink()
    assert (outside / "keep.txt").read_text() == "not the cache's"


_EXPORTER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from sycl.kernels.openvino_encoder import ModelCache
    from sycl.kernels.probe import _StandInEncoder
    import torch

    root, me, other = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    torch.manual_seed(0)
    model = _StandInEncoder().eval()
    ids = torch.randint(0, 1000, (2, 8))
    example = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    me.touch()
    while not other.exists():  # start exporting together
        time.sleep(0.01)
    cache = ModelCache(root)
    cache.load(model, "f" * 64, example)
    print(cache.exports)
    """
)


def test_two_processes_exporting_at_once_end_with_one_valid_entry(tmp_path):
    root = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "OMP_NUM_THREADS": "1"}
    ready = [tmp_path / "a.ready", tmp_path / "b.ready"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _EXPORTER, str(root), str(ready[i]), str(ready[1 - i])],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    exports = sorted(int(o[0].split()[-1]) for o in outs)
    assert exports == [0, 1]  # one exported; the other waited on the lock and loaded its entry
    names = sorted(p.name for p in root.iterdir())
    assert len(names) == 2 and names[0].startswith(".") and names[0].endswith(".lock")  # no temporary folders left
    assert ModelCache(root)._verified(names[1])[1] is None


def test_row_cosine_to_torch_fp32_on_real_passages(minilm, shared_datasets):
    model, fp, example = minilm
    corpus = shared_datasets / "scifact" / "corpus.jsonl"
    if not corpus.is_file():
        pytest.skip("SciFact not found")
    with corpus.open() as fh:
        texts = [(d["title"] + " " + d["text"]).strip() for d in map(json.loads, [next(fh) for _ in range(48)])]
    want = model.encode(texts, "passage", batch_size=16, precision="fp32")
    for precision, floor in (("auto", 0.999), ("fp32", 0.99999)):
        runner = compiled_encoder(model.transformer, fp, example, precision, threads=1)
        got = model.encode(texts, "passage", batch_size=16, runner=runner)
        assert got.shape == want.shape and _row_cosine(got, want) >= floor, (precision, runner.precision)
    assert compiled_encoder(model.transformer, fp, example, "fp32", threads=1).precision == "fp32"
