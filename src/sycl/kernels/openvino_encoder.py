"""Encoding on OpenVINO: an encoder's transformer exported to OpenVINO IR once per model, cached, compiled.

The exported model is the Hugging Face transformer alone (token ids and masks in, the token
embeddings ``last_hidden_state [B, T, d]`` out, batch and sequence dimensions dynamic); pooling
and normalisation stay the bi-encoder's own (:meth:`sycl.modeling.BiEncoder.head`), so both
paths share one implementation of them. It is compiled for the CPU on the thread count torch
uses, at OpenVINO's default inference precision (bf16 where the CPU has it), or f32 when sycl's
precision setting says ``fp32``; the precision OpenVINO took is read back from the compiled model.
Whether ``encode_backend: auto`` uses this path is decided in :mod:`sycl.kernels.decisions`
from the kernel probe's measurement.

Cache: ``<cache root>/openvino/<key>/`` with ``model.xml``, ``model.bin`` (weights in fp32) and
``integrity.json`` (the key, and each file's size and xxh3-128). The key hashes the model's
weight fingerprint, its config, the input names, the OpenVINO version and :data:`EXPORT_FORMAT`.
An entry is built in a temporary folder and renamed into place (:func:`sycl.io.atomic.atomic_dir`)
under the key's OS file lock (:func:`sycl.io.integrity.exclusive`), so processes exporting the
same model at once end with one entry; every load checks the record first, and an entry that
fails is warned about by name and rebuilt. Only files of that fixed layout are read (IR is XML
and raw weights: nothing is unpickled).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import shutil
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from sycl.io.atomic import atomic_dir, atomic_write_json
from sycl.io.errors import UserError
from sycl.io.integrity import exclusive, file_checksum
from sycl.log import get_logger

_log = get_logger(__name__)
EXPORT_FORMAT = 1  # bump when the exported graph or the entry's layout changes
_FILES = ("model.xml", "model.bin")
_RECORD = "integrity.json"
_PRECISIONS = {"bf16": "bf16", "f16": "fp16", "f32": "fp32"}  # OpenVINO element type -> sycl's name
_COMPILED: OrderedDict[tuple, CompiledEncoder] = OrderedDict()  # this process's compiled encoders, newest last
_KEEP_COMPILED = 4


class OpenVinoUnavailable(UserError, RuntimeError):
    """``encode_backend openvino`` was asked for, but the ``openvino`` package is not installed."""

    def __init__(self):
        super().__init__(
            "encode_backend openvino: the openvino package is not installed; install it with "
            "pip install 'sycl-ir[openvino]', or use encode_backend auto or torch"
        )


def available() -> bool:
    """True when the ``openvino`` package can be imported (checked without importing it)."""
    return importlib.util.find_spec("openvino") is not None


def version() -> str | None:
    """The installed OpenVINO's version (``None`` without it)."""
    try:
        return importlib.metadata.version("openvino")
    except importlib.metadata.PackageNotFoundError:
        return None


def _core():
    import openvino as ov

    return ov.Core()


def _sycl_precision(element_type) -> str:
    """``bf16``, ``fp16`` or ``fp32`` for an OpenVINO element type (``<Type: 'bfloat16'>``)."""
    name = element_type.get_type_name() if hasattr(element_type, "get_type_name") else str(element_type)
    return _PRECISIONS.get(name, name)


def inference_precision(precision: str) -> str:
    """The precision OpenVINO computes in on this CPU for sycl's ``precision`` setting: ``fp32`` when it
    says ``fp32``, else the CPU plugin's default (``bf16`` where the CPU has it)."""
    if precision == "fp32":
        return "fp32"
    return _sycl_precision(_core().get_property("CPU", "INFERENCE_PRECISION_HINT"))


class _TokenEmbeddings(torch.nn.Module):
    """An encoder as ``forward(*inputs) -> token embeddings``, its inputs in a fixed order (a Hugging Face
    model's ``last_hidden_state``, or a module's tensor output)."""

    def __init__(self, transformer: torch.nn.Module, names: list[str]):
        super().__init__()
        self.transformer, self.names = transformer, names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        out = self.transformer(**dict(zip(self.names, inputs)))
        return getattr(out, "last_hidden_state", out)


def export(transformer: torch.nn.Module, example: dict[str, torch.Tensor]):
    """``transformer`` (a Hugging Face encoder) as an ``openvino.Model``: inputs named as ``example``'s keys
    (``[batch, tokens]`` int64, both dimensions dynamic), one output: the token embeddings ``[B, T, d]``."""
    import openvino as ov

    names = list(example)
    was_training = transformer.training
    transformer.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # tracing warns about every shape-dependent Python branch of the model; the graph is checked by the tests
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            model = ov.convert_model(_TokenEmbeddings(transformer, names), example_input=tuple(example.values()))
    finally:
        transformer.train(was_training)
    if len(model.inputs) != len(names) or len(model.outputs) != 1:
        raise RuntimeError(f"OpenVINO exported {len(model.inputs)} inputs for {len(names)} ({', '.join(names)})")
    for port, name in zip(model.inputs, names):
        port.get_tensor().set_names({name})
    model.reshape({port: ov.PartialShape([-1, -1]) for port in model.inputs})
    return model


class CompiledEncoder:
    """A compiled exported transformer: ``encoder(features) -> last_hidden_state float32 [B, T, d]``.

    ``precision``: what OpenVINO computes in (``bf16``/``fp16``/``fp32``, read from the compiled model).
    """

    def __init__(self, model, precision: str, threads: int):
        config = {"INFERENCE_NUM_THREADS": max(1, int(threads))}
        if precision == "fp32":
            config["INFERENCE_PRECISION_HINT"] = "f32"
        compiled = _core().compile_model(model, "CPU", config)
        self.precision = _sycl_precision(compiled.get_property("INFERENCE_PRECISION_HINT"))
        self.inputs = [port.get_any_name() for port in compiled.inputs]
        self._request = compiled.create_infer_request()

    def __call__(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        missing = [n for n in self.inputs if n not in features]
        if missing:
            raise ValueError(f"the exported encoder takes {', '.join(self.inputs)}; missing {', '.join(missing)}")
        self._request.infer({n: features[n].to(torch.int64).cpu().numpy() for n in self.inputs})
        return torch.from_numpy(np.array(self._request.get_output_tensor(0).data, dtype=np.float32))


def model_key(weights_fp: str, config: dict, inputs: list[str]) -> str:
    """The cache key (hex) of an export: weights, config, input names, OpenVINO version, :data:`EXPORT_FORMAT`."""
    blob = json.dumps(
        {"format": EXPORT_FORMAT, "weights": weights_fp, "config": config, "inputs": inputs, "openvino": version()},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _config(transformer: torch.nn.Module) -> dict:
    """A Hugging Face model's full config (a plain module: its class name)."""
    config = getattr(transformer, "config", None)
    if config is None:
        return {"module": type(transformer).__qualname__}
    return json.loads(config.to_json_string(use_diff=False))


class ModelCache:
    """A folder of exported models, one ``<key>/`` each (default ``<cache root>/openvino``).

    ``exports`` counts the exports this instance ran (a load served from the cache runs none).
    """

    def __init__(self, root: str | Path | None = None):
        from sycl.io.corpus import cache_root

        self.root = Path(root) if root else cache_root() / "openvino"
        self.exports = 0

    def path(self, key: str) -> Path:
        if not key or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"not a model key: {key!r}")
        return self.root / key

    def load(self, transformer: torch.nn.Module, weights_fp: str, example: dict[str, torch.Tensor]):
        """The exported ``transformer`` (``openvino.Model``) from the cache, exported and cached on a miss."""
        key = model_key(weights_fp, _config(transformer), list(example))
        model, _ = self._verified(key)
        if model is not None:
            return model
        self.root.mkdir(parents=True, exist_ok=True)
        with exclusive(self.root / f".{key}.lock", f"the OpenVINO model cache entry {self.path(key)}"):
            model, problem = self._verified(key)  # another process may have published it meanwhile
            if model is not None:
                return model
            if problem is not None:
                _log.warning("OpenVINO model cache entry %s is not used: %s; rebuilding it", self.path(key), problem)
                self._remove(key)
            self._publish(key, export(transformer, example))
        model, problem = self._verified(key)
        if model is None:
            raise RuntimeError(
                f"the OpenVINO model cache entry {self.path(key)} failed verification once written: {problem}"
            )
        return model

    def _publish(self, key: str, model) -> None:
        """Under the lock: save ``model`` and its integrity record in a temporary folder, then rename it into place."""
        import openvino as ov

        with atomic_dir(self.path(key)) as tmp:
            ov.save_model(model, tmp / _FILES[0], compress_to_fp16=False)
            files = {
                name: {"bytes": (tmp / name).stat().st_size, "checksum": file_checksum(tmp / name)} for name in _FILES
            }
            atomic_write_json(
                tmp / _RECORD, {"format": EXPORT_FORMAT, "key": key, "openvino": version(), "files": files}
            )
        self.exports += 1
        _log.info("exported the encoder to OpenVINO (%s)", self.path(key))

    def _verified(self, key: str):
        """``(model, None)`` when the entry passes its record, ``(None, why)`` when not, ``(None, None)`` if absent."""
        entry = self.path(key)
        if entry.is_symlink() or (entry.exists() and not entry.is_dir()):
            return None, "it is not a folder"
        if not entry.exists():
            return None, None
        try:
            record = json.loads((entry / _RECORD).read_text(encoding="utf-8"))
            files = record["files"]
            if record["key"] != key:
                return None, f"its record is for key {record['key']}"
        except FileNotFoundError:
            return None, f"it has no {_RECORD}"
        except (OSError, ValueError, KeyError, TypeError) as err:
            return None, f"its {_RECORD} is unreadable ({err})"
        for name in _FILES:
            p = entry / name
            want = files.get(name) if isinstance(files, dict) else None
            if not isinstance(want, dict) or p.is_symlink() or not p.is_file():
                return None, f"{name} is missing"
            if p.stat().st_size != want.get("bytes"):
                return None, f"{name} is {p.stat().st_size} bytes, its record says {want.get('bytes')}"
            digest = file_checksum(p)
            if digest != want.get("checksum"):
                return None, f"{name} has checksum {digest}, its record says {want.get('checksum')} (corrupted)"
        return _core().read_model(entry / _FILES[0]), None

    def _remove(self, key: str) -> None:
        entry = self.path(key)
        if entry.is_symlink() or entry.is_file():
            entry.unlink()
        elif entry.exists():
            shutil.rmtree(entry)


def compiled_encoder(
    transformer: torch.nn.Module,
    weights_fp: str,
    example: dict[str, torch.Tensor],
    precision: str,
    threads: int | None = None,
    cache: ModelCache | None = None,
) -> CompiledEncoder:
    """``transformer`` exported (or loaded from ``cache``) and compiled for ``precision`` on ``threads``
    (default: torch's thread count); compiled encoders are kept for the process's next calls."""
    if not available():
        raise OpenVinoUnavailable()
    threads = threads or torch.get_num_threads()
    ov_precision = "fp32" if precision == "fp32" else "default"
    cache = cache or ModelCache()
    memo = (str(cache.root), weights_fp, tuple(example), ov_precision, threads)
    if memo in _COMPILED:
        _COMPILED.move_to_end(memo)
        return _COMPILED[memo]
    encoder = CompiledEncoder(cache.load(transformer, weights_fp, example), ov_precision, threads)
    _COMPILED[memo] = encoder
    while len(_COMPILED) > _KEEP_COMPILED:
        _COMPILED.popitem(last=False)
    return encoder
