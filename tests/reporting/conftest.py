"""Fixtures of the reporting tests: a complete fake run directory and headless Chromium."""

from __future__ import annotations

import os

import pytest
from reporting_artefacts import write_run
from reporting_browser import find_or_install_chromium

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def run_dir(tmp_path):
    return write_run(tmp_path / "run")


@pytest.fixture(scope="session")
def chromium():
    """Path of headless Chromium; installed with apt-get (root, bounded to 300 s) when missing, else skip."""
    path, why = find_or_install_chromium(timeout_s=300)
    if path is None:
        pytest.skip(f"headless Chromium unavailable: {why}")
    return path
