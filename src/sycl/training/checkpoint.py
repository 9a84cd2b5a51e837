"""Training checkpoints: ``OUT/checkpoints/step-NNNNNNNN/`` written atomically, the newest resumable.

A checkpoint holds the encoder weights (``model.pt``), the optimiser, scheduler and loss-scaler
states (``optimizer.pt``), every random generator (``rng.pt``) and ``state.json`` (step, epoch,
settings fingerprint). It is written into a temporary folder and renamed into place, so a
process killed while saving leaves the previous checkpoint intact; ``state.json`` is the last
file written, and a folder without it is ignored.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from sycl.io.atomic import atomic_write_json

_NAME = re.compile(r"^step-(\d+)$")


def checkpoint_dir(out: Path) -> Path:
    return Path(out) / "checkpoints"


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


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    out: Path, step: int, model: torch.nn.Module, optimizer, scheduler, scaler, state: dict, keep: int
) -> Path:
    """Write checkpoint ``step`` atomically and prune all but the newest ``keep``; returns its path."""
    root = checkpoint_dir(out)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".step-{step:08d}.", dir=root))
    try:
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
        atomic_write_json(tmp / "state.json", {"kind": "sycl-checkpoint", "step": step, **state})
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for _, old in list_checkpoints(out)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer, scheduler, scaler) -> dict:
    """Restore a checkpoint into the given objects (and the random generators); returns ``state.json``."""
    model.load_state_dict(torch.load(path / "model.pt", map_location="cpu", weights_only=True))
    opt = torch.load(path / "optimizer.pt", map_location="cpu", weights_only=False)
    optimizer.load_state_dict(opt["optimizer"])
    scheduler.load_state_dict(opt["scheduler"])
    if scaler is not None and opt.get("scaler"):
        scaler.load_state_dict(opt["scaler"])
    set_rng_state(torch.load(path / "rng.pt", map_location="cpu", weights_only=False))
    return json.loads((path / "state.json").read_text())


def remove_checkpoints(out: Path) -> None:
    shutil.rmtree(checkpoint_dir(out), ignore_errors=True)
