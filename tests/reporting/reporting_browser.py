"""Locate headless Chromium for the report's browser test, installing the Debian package when possible.

Installation is attempted only as root with ``apt-get`` available, bounded by a timeout; any
failure returns a reason string so that the test can skip with a message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """Path of a Chromium executable, or None."""
    for name in CANDIDATES:
        found = name if Path(name).is_file() and os.access(name, os.X_OK) else shutil.which(name)
        if found:
            return found
    return None


def find_or_install_chromium(timeout_s: float = 300.0) -> tuple[str | None, str]:
    """Return ``(path, "")`` when Chromium is available, else ``(None, why_not)``.

    When missing, runs ``apt-get update`` and ``apt-get install -y chromium`` (root only), each
    within ``timeout_s`` seconds in total.
    """
    path = find_chromium()
    if path:
        return path, ""
    apt = shutil.which("apt-get")
    if apt is None:
        return None, "chromium is not installed and apt-get is not available"
    if os.geteuid() != 0:
        return None, "chromium is not installed and installing it needs root (apt-get install chromium)"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    import time

    deadline = time.monotonic() + timeout_s
    for cmd in ([apt, "update"], [apt, "install", "-y", "--no-install-recommends", "chromium"]):
        left = deadline - time.monotonic()
        if left <= 0:
            return None, f"installing chromium took longer than {timeout_s:.0f} s"
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=left)
        except subprocess.TimeoutExpired:
            return None, f"{' '.join(cmd)} did not finish within {timeout_s:.0f} s"
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return None, f"{' '.join(cmd)} failed (exit {proc.returncode}): {' | '.join(tail)}"
    path = find_chromium()
    return (path, "") if path else (None, "apt-get install chromium succeeded but no chromium executable was found")


if __name__ == "__main__":  # pragma: no cover - manual use
    print(find_or_install_chromium())
