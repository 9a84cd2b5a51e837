"""Settings shared by the retrieval code (importable without torch or numba)."""

from __future__ import annotations

from typing import Literal

# auto: the path measured fastest on this CPU (sycl info); fp32: exact; int8 / bf16: candidates chosen in
# reduced precision, rescored in fp32 (sycl.retrieval.search).
SearchPrecision = Literal["auto", "fp32", "int8", "bf16"]
