"""For the hostile generation tests: the generation tests' OpenAI-compatible server process
(``tests/generation/chat_server.py``) and ``sycl generate`` run as a real process."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_SERVER = REPO / "tests" / "generation" / "chat_server.py"


def _chat_server_module():
    if "chat_server" not in sys.modules:  # the generation tests' conftest may have imported it already
        spec = importlib.util.spec_from_file_location("chat_server", _SERVER)
        module = importlib.util.module_from_spec(spec)
        sys.modules["chat_server"] = module
        spec.loader.exec_module(module)
    return sys.modules["chat_server"]


ChatServer = _chat_server_module().ChatServer


def sycl_generate(args: list[str], env: dict[str, str] | None = None, timeout: float = 300):
    """Run ``sycl generate ARGS`` (this checkout's code) in a new process; a ``CompletedProcess``."""
    full_env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "sycl.cli", "--log-level", "DEBUG", "generate", *args],
        env=full_env,
        capture_output=True,
        timeout=timeout,
    )
