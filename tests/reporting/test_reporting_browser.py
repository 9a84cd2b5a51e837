"""The report rendered by headless Chromium: every chart decodes and the page paints."""

from __future__ import annotations

import re
import subprocess

import numpy as np
from PIL import Image

from sycl.reporting import build_report

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
]


def _chromium(binary: str, profile, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120
    )


def test_charts_load_in_chromium(run_dir, tmp_path, chromium):
    html_path, _ = build_report([run_dir])
    url = html_path.resolve().as_uri()
    proc = _chromium(chromium, tmp_path / "profile", "--virtual-time-budget=5000", "--dump-dom", url)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    body = re.search(r"<body([^>]*)>", dom).group(1)
    total = re.search(r'data-charts-total="(\d+)"', body).group(1)
    loaded = re.search(r'data-charts-loaded="(\d*)"', body).group(1)
    assert total == "5" and loaded == "5", body  # set by the page's script once every naturalWidth > 0
    # The escaped sample text stays text in the live DOM (no element was injected).
    assert "<b>bold</b>" not in dom and "&lt;b&gt;bold&lt;/b&gt;" in dom


def test_screenshot_paints_charts(run_dir, tmp_path, chromium):
    html_path, _ = build_report([run_dir])
    shot = tmp_path / "report.png"
    proc = _chromium(
        chromium,
        tmp_path / "profile",
        "--window-size=1280,2400",
        "--virtual-time-budget=5000",
        f"--screenshot={shot}",
        html_path.resolve().as_uri(),
    )
    assert shot.exists(), proc.stderr[-2000:]
    img = Image.open(shot).convert("RGB")
    assert img.size == (1280, 2400)
    # Charts draw coloured bars and lines: the page holds many non-grey pixels, not just text.
    px = np.asarray(img.resize((320, 600)), dtype=np.int16)
    coloured = int(((px.max(axis=2) - px.min(axis=2)) > 60).sum())
    assert coloured > 2000, coloured
