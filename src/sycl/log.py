"""Logging and progress bars: one setup for every command, ``--quiet`` silences both."""

from __future__ import annotations

import logging
import os
import sys

from tqdm import tqdm

_QUIET = False


def setup_logging(level: str = "INFO", quiet: bool = False) -> None:
    """Configure the ``sycl`` logger to stderr; ``quiet`` keeps warnings and errors only."""
    global _QUIET
    _QUIET = quiet
    if quiet:
        os.environ["SYCL_QUIET"] = "1"
    logger = logging.getLogger("sycl")
    logger.handlers.clear()
    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    logger.addHandler(h)
    logger.setLevel(logging.WARNING if quiet else getattr(logging, level.upper()))
    logger.propagate = False
    for noisy in ("httpx", "urllib3", "transformers", "sentence_transformers", "datasets"):
        logging.getLogger(noisy).setLevel(logging.WARNING if not quiet else logging.ERROR)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name if name.startswith("sycl") else f"sycl.{name}")


def progress(iterable=None, **kwargs):
    """A tqdm bar on stderr, disabled under ``--quiet`` or ``SYCL_QUIET=1``."""
    kwargs.setdefault("disable", _QUIET or os.environ.get("SYCL_QUIET") == "1")
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("mininterval", 1.0)
    return tqdm(iterable, **kwargs)
