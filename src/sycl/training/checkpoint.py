"""Training checkpoints: ``OUT/checkpoints/step-NNNNNNNN/`` written atomically, the newest resumable.

A checkpoint holds the encoder weights (``model.pt``), the optimiser, scheduler and loss-scaler
states (``optimizer.pt``), every random generator (``rng.pt``) and ``state.json`` (step, epoch,
settings fingerprint, ``format``). It is written into a temporary folder and renamed into place,
so a process killed while saving leaves the previous checkpoint intact; ``state.json`` is the last
file written, and a folder without it is ignored.

Resuming trusts tensors only: every ``.pt`` file is read with ``torch.load(weights_only=True)``,
which builds tensors and plain containers (dict, list, tuple, numbers, strings) and refuses any
other pickled object, so a crafted file in the output folder cannot run code. The random
generators are therefore stored as tensors (Python's and NumPy's Mersenne Twister states as int64
tensors, torch's CPU and CUDA states as their uint8 tensors). Checkpoints of older sycl versions
pickled NumPy's state as an array object; they are refused with a message (``format`` < 2).
"""

from __future__ import annotations

import json
import pickle
import random
import re
import shutil
from pathlib import Path

import numpy as np
import torch

from sycl.io.atomic import atomic_dir, atomic_write_json, remove_stale
from sycl.io.errors import DataError
from sycl.log import get_logger

_NAME = re.compile(r"^step-(\d+)$")
_log = get_logger(__name__)
FORMAT = 2  # 2: random generator states as tensors (1: NumPy's as a pickled array)


def checkpoint_dir(out: Path) -> Path:
    return Path(out) / "checkpoints"


def resume_fingerprint(config) -> dict:
    """The settings of an :class:`~sycl.training.config.ExperimentConfig` that a resumed run must share
    with its checkpoint: everything but the output folder and logging/saving cadence."""
    d = config.model_dump(mode="json")
    d.pop("out", None)
    cadence = ("log_every", "save_every", "save_total_limit", "keep_checkpoints", "threads", "report_to")
    d["train"] = {k: v for k, v in d["train"].items() if k not in cadence}
    return d


def resume_step(engine, out: Path, config) -> int:
    """Load the newest checkpoint in ``out`` into ``engine``; returns its step (0 when there is none)."""
    ckpt = latest_checkpoint(out)
    if ckpt is None:
        _log.warning("--resume: no checkpoint in %s; starting from the beginning", checkpoint_dir(out))
        return 0
    state = engine.load(ckpt)
    if state.get("fingerprint") != resume_fingerprint(config):
        _log.warning("--resume: the experiment settings differ from those of %s; continuing anyway", ckpt)
    _log.info("resumed from %s (step %d)", ckpt, int(state["step"]))
    return int(state["step"])


def list_checkpoints(out: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under ``out`` as ``(step, path)``, oldest first."""
    root = checkpoint_dir(out)
    found = []
    if root.is_dir():
        for p in root.iterdir():
            m = _NAME.match(p.name)
            if m and (p / "state.json").exists():
                found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(out: Path) -> Path | None:
    ckpts = list_checkpoints(out)
    return ckpts[-1][1] if ckpts else None


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's random generators (the ones :func:`rng_state` saves)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resume_hint(out: Path) -> str:
    """Where a stopped run in ``out`` can continue from: its newest checkpoint, or that there is none."""
    ckpts = list_checkpoints(out)
    if not ckpts:
        return "no checkpoint was written yet (train.save_every)"
    return f"the last good checkpoint is {ckpts[-1][1]} (step {ckpts[-1][0]}); continue from it with --resume"


def rng_state() -> dict:
    """Every random generator's state as tensors and numbers (loadable with ``weights_only=True``)."""
    algorithm, keys, pos, has_gauss, gauss = np.random.get_state()
    version, mt, py_gauss = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "algorithm": str(algorithm),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(gauss),
        },
        "python": {"version": int(version), "state": torch.tensor(mt, dtype=torch.int64), "gauss": py_gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore the generators from :func:`rng_state`'s dictionary."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        (n["algorithm"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    py = state["python"]
    random.setstate((py["version"], tuple(int(x) for x in py["state"].tolist()), py["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    out: Path, step: int, model: torch.nn.Module, optimizer, scheduler, scaler, state: dict, keep: int
) -> Path:
    """Write checkpoint ``step`` atomically and prune all but the newest ``keep``; returns its path."""
    root = checkpoint_dir(out)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    remove_stale(root, "step-*")  # the half-written checkpoint of a killed run
    with atomic_dir(final, replace=True) as tmp:
        torch.save(model.state_dict(), tmp / "model.pt")
        torch.save(
            {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else None,
            },
            tmp / "optimizer.pt",
        )
        torch.save(rng_state(), tmp / "rng.pt")
        atomic_write_json(tmp / "state.json", checkpoint_state(step, state))
    for _, old in list_checkpoints(out)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def checkpoint_state(step: int, state: dict) -> dict:
    """The ``state.json`` of checkpoint ``step``."""
    return {"kind": "sycl-checkpoint", "format": FORMAT, "step": step, **state}


def read_checkpoint_state(path: Path) -> dict:
    """``state.json`` of the checkpoint folder ``path``; a checkpoint of an older format is a :class:`DataError`."""
    state = json.loads((path / "state.json").read_text())
    if state.get("format", 1) != FORMAT:
        raise DataError(
            path / "state.json",
            f"this checkpoint was written by an older sycl (checkpoint format {state.get('format', 1)}, "
            f"this sycl reads {FORMAT}), whose rng.pt holds pickled Python objects that are not loaded; "
            "train again without --resume (or remove the checkpoints folder)",
        )
    return state


def load_tensors(path: Path):
    """``torch.load(path, weights_only=True)``: tensors and plain containers only, else a :class:`DataError`."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(
            path,
            "refused to load: a checkpoint file may hold only tensors and plain containers "
            f"(torch.load weights_only=True), and this one does not ({first}); it was not written by "
            "this sycl or was changed since: remove it, or train again without --resume",
        ) from None


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer, scheduler, scaler) -> dict:
    """Restore a checkpoint into the given objects (and the random generators); returns ``state.json``.

    Every file is read before anything is restored, so a refused file leaves the objects untouched.
    """
    state = read_checkpoint_state(path)
    weights, opt, rng = (load_tensors(path / name) for name in ("model.pt", "optimizer.pt", "rng.pt"))
    model.load_state_dict(weights)
    optimizer.load_state_dict(opt["optimizer"])
    scheduler.load_state_dict(opt["scheduler"])
    if scaler is not None and opt.get("scaler"):
        scaler.load_state_dict(opt["scaler"])
    set_rng_state(rng)
    return state


# what DeepSpeed writes beside its step folders
_DEEPSPEED_FILES = ("latest", "zero_to_fp32.py")


def remove_checkpoints(out: Path) -> None:
    """Remove sycl's checkpoints (and DeepSpeed's files beside them), then the folder if that left it empty.

    Anything else in ``OUT/checkpoints`` is the user's and stays, with the folder.
    """
    root = checkpoint_dir(out)
    if not root.is_dir() or root.is_symlink():
        return
    for entry in root.iterdir():
        if entry.is_symlink():
            continue
        if entry.is_dir() and _NAME.match(entry.name):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name in _DEEPSPEED_FILES and entry.is_file():
            entry.unlink()
    remove_stale(root, "step-*")
    try:
        root.rmdir()
    except OSError:
        _log.warning("kept %s: it holds files that are not sycl's checkpoints", root)
