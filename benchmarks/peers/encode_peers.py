"""The peers of ``benchmarks/bench_encode.py``: sentence-transformers' ONNX Runtime and OpenVINO backends.

Runs in the peers' own venv (``make bench-peers-env``: ``.venv-peers``, see ``requirements.txt`` here for
why) as a child of ``bench_encode.py``, which runs sycl in the main venv. The parent sends one JSON
command per line on stdin and reads one JSON answer per line on stdout (logs go to stderr):

- ``{"cmd": "load", "names": [...]}``: load (exporting once into ``--cache-dir`` when needed) and warm up
  each encoder; answers ``{"loaded": {name: details}, "unavailable": {name: why}}``.
- ``{"cmd": "encode", "name": n, "texts": file, "save": npy or null}``: encode the texts of ``file`` (a JSON
  list) with ``n``; answers wall and process CPU seconds (the vectors go to ``save`` as float32 ``.npy``).
- ``{"cmd": "quit"}``.

Encoders (each with sentence-transformers' defaults: batch 32, padding to the batch's longest text):

=====================  ===================================================================================
``st-onnx``            ``backend="onnx"`` (fp32 ONNX export by optimum-onnx, run by ONNX Runtime)
``st-onnx-int8``       ``export_dynamic_quantized_onnx_model(..., "avx512_vnni")`` (int8 weights and
                       activations, quantised per call)
``st-openvino``        ``backend="openvino"`` (OpenVINO picks bf16 inference on CPUs with AVX512-BF16/AMX)
``st-openvino-int8``   static int8 quantisation by optimum-intel's ``OVQuantizer`` (what
                       ``export_static_quantized_openvino_model`` runs), calibrated on 300 SciFact passages
                       that the benchmark does not time (that function's default calibration set is on the
                       Hugging Face hub, which a benchmark machine may not reach)
=====================  ===================================================================================
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

NAMES = ("st-onnx", "st-onnx-int8", "st-openvino", "st-openvino-int8")
ONNX_INT8_FILE = "onnx/model_qint8_avx512_vnni.onnx"
OV_INT8_FILE = "openvino/openvino_model_qint8_quantized.xml"


def log(msg: str) -> None:
    print(f"[peers] {msg}", file=sys.stderr, flush=True)


def model_copy(model_dir: Path, cache_dir: Path) -> Path:
    """A copy of the model folder under ``cache_dir`` keyed by its files' hash; exports are written into it."""
    h = hashlib.sha256()
    for p in sorted(model_dir.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(model_dir)).encode())
            h.update(p.read_bytes())
    dest = cache_dir / f"{model_dir.name}-{h.hexdigest()[:16]}"
    if not dest.is_dir():
        tmp = cache_dir / f".{dest.name}.tmp{os.getpid()}"
        shutil.copytree(model_dir, tmp)
        tmp.rename(dest)
    return dest


class Peers:
    def __init__(self, model_dir: Path, cache_dir: Path, threads: int, calibration: Path | None):
        import torch

        torch.set_num_threads(threads)
        self.threads = threads
        self.dir = model_copy(model_dir, cache_dir)
        self.calibration = calibration
        self.models: dict = {}

    def _ort_kwargs(self, file_name: str | None = None) -> dict:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        kw = {"session_options": so, "provider": "CPUExecutionProvider"}
        if file_name:
            kw["file_name"] = file_name
        return kw

    def _ov_kwargs(self, file_name: str | None = None) -> dict:
        kw = {"ov_config": {"INFERENCE_NUM_THREADS": self.threads}}
        if file_name:
            kw["file_name"] = file_name
        return kw

    def _st(self, backend: str, model_kwargs: dict):
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(self.dir), device="cpu", backend=backend, model_kwargs=model_kwargs)

    def _exported(self, backend: str, kwargs: dict, marker: str):
        """The fp32 export of ``backend``, written once into the model copy (``marker``: its file)."""
        if (self.dir / marker).is_file():  # name it: the int8 exports lie next to it
            kwargs = {**kwargs, "file_name": marker}
        m = self._st(backend, kwargs)
        if not (self.dir / marker).is_file():
            log(f"saving the {backend} export into {self.dir}")
            m.save_pretrained(str(self.dir))
        return m

    def load(self, name: str):
        from sentence_transformers import backend as stb

        if name == "st-onnx":
            return self._exported("onnx", self._ort_kwargs(), "onnx/model.onnx")
        if name == "st-onnx-int8":
            if not (self.dir / ONNX_INT8_FILE).is_file():
                fp32 = self._exported("onnx", self._ort_kwargs(), "onnx/model.onnx")
                log("exporting the dynamic int8 ONNX model (avx512_vnni)")
                stb.export_dynamic_quantized_onnx_model(fp32, "avx512_vnni", str(self.dir))
            return self._st("onnx", self._ort_kwargs(ONNX_INT8_FILE))
        if name == "st-openvino":
            return self._exported("openvino", self._ov_kwargs(), "openvino/openvino_model.xml")
        if name == "st-openvino-int8":
            if not (self.dir / OV_INT8_FILE).is_file():
                self._quantize_openvino()
            return self._st("openvino", self._ov_kwargs(OV_INT8_FILE))
        raise ValueError(f"unknown peer {name!r}; known: {', '.join(NAMES)}")

    def _quantize_openvino(self) -> None:
        """``export_static_quantized_openvino_model``'s steps with a local calibration set (300 passages)."""
        from datasets import Dataset
        from optimum.intel import OVConfig, OVQuantizationConfig, OVQuantizer

        if self.calibration is None:
            raise RuntimeError("static int8 quantisation needs calibration texts (--calibration)")
        fp32 = self._exported("openvino", self._ov_kwargs(), "openvino/openvino_model.xml")
        texts = json.loads(self.calibration.read_text())
        cfg = OVQuantizationConfig(num_samples=len(texts))
        quantizer = OVQuantizer.from_pretrained(fp32.transformers_model)
        tok = fp32.tokenizer
        data = Dataset.from_dict({"text": texts}).map(
            lambda ex: tok(ex["text"], padding="max_length", max_length=fp32.max_seq_length, truncation=True),
            batched=True,
            remove_columns=["text"],
        )
        log(f"static int8 quantisation of the OpenVINO model on {len(texts)} calibration passages")
        tmp = self.dir / f".ov-int8-tmp{os.getpid()}"
        quantizer.quantize(data, save_directory=str(tmp), ov_config=OVConfig(quantization_config=cfg))
        (self.dir / "openvino").mkdir(exist_ok=True)
        out = next(tmp.rglob("openvino_model.xml")).parent  # optimum-intel writes into an openvino/ subfolder
        for suffix in (".bin", ".xml"):  # the .xml last: its presence marks a finished export
            (out / f"openvino_model{suffix}").rename(self.dir / OV_INT8_FILE.replace(".xml", suffix))
        shutil.rmtree(tmp, ignore_errors=True)

    def details(self, name: str, m) -> dict:
        import sentence_transformers
        import transformers

        d = {
            "sentence_transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__,
            "batch_size": 32,
            "max_seq_length": m.max_seq_length,
        }
        if "onnx" in name:
            import onnxruntime

            d["onnxruntime"] = onnxruntime.__version__
        else:
            import openvino

            d["openvino"] = openvino.__version__
            try:
                req = m.transformers_model.request
                compiled = req.get_compiled_model() if hasattr(req, "get_compiled_model") else req
                d["inference_precision"] = str(compiled.get_property("INFERENCE_PRECISION_HINT"))
            except Exception as err:  # the property's API differs between OpenVINO releases
                d["inference_precision"] = f"unknown ({type(err).__name__})"
        return d

    def run(self, cmd: dict) -> dict:
        if cmd["cmd"] == "load":
            loaded, unavailable = {}, {}
            for name in cmd["names"]:
                try:
                    m = self.load(name)
                    m.encode(["warm up the kernels", "a second, somewhat longer text to warm up"] * 16)
                    self.models[name] = m
                    loaded[name] = self.details(name, m)
                except Exception as err:  # a backend that does not install or export here is reported, not fatal
                    log(f"{name}: {type(err).__name__}: {err}")
                    unavailable[name] = f"{type(err).__name__}: {err}"[:300]
            return {"loaded": loaded, "unavailable": unavailable}
        if cmd["cmd"] == "encode":
            texts = json.loads(Path(cmd["texts"]).read_text())
            m = self.models[cmd["name"]]
            t, c = time.perf_counter(), time.process_time()
            vec = m.encode(texts, batch_size=cmd.get("batch_size", 32), convert_to_numpy=True)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            if cmd.get("save"):
                tmp = f"{cmd['save']}.tmp{os.getpid()}.npy"
                np.save(tmp, vec.astype(np.float32))
                os.replace(tmp, cmd["save"])
            return {"wall": wall, "cpu": cpu, "n": len(texts)}
        raise ValueError(f"unknown command {cmd['cmd']!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="the sentence-transformers model folder")
    ap.add_argument("--cache-dir", type=Path, required=True, help="where the exported models are kept")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--calibration", type=Path, default=None, help="JSON list of calibration texts (int8 OpenVINO)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    peers = Peers(args.model, args.cache_dir, args.threads, args.calibration)
    out = sys.stdout
    sys.stdout = sys.stderr  # library prints must not corrupt the protocol
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            break
        try:
            answer = peers.run(cmd)
        except Exception as err:
            answer = {"error": f"{type(err).__name__}: {err}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
