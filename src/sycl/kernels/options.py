"""The values of the settings whose ``auto`` this package decides (importable without torch or numba).

The configuration models of every stage take their fields' types from here, so the command line
and :mod:`sycl.kernels` agree on what each setting may say.
"""

from __future__ import annotations

from typing import Literal

# Mixed precision of encoding and training: auto decides per device (sycl.kernels.precision).
Precision = Literal["auto", "fp32", "bf16", "fp16"]

# auto: the path measured fastest on this CPU (sycl info); fp32: exact; int8 / bf16: candidates chosen in
# reduced precision, rescored in fp32 (sycl.retrieval.search).
SearchPrecision = Literal["auto", "fp32", "int8", "bf16"]

# The implementation that encodes texts for retrieval (evaluation, dense mining; training stays on torch):
# auto: OpenVINO where the kernel probe measured it faster than torch's path (sycl info), else torch.
EncodeBackend = Literal["auto", "torch", "openvino"]
DEFAULT_ENCODE_BACKEND: EncodeBackend = "auto"
ENCODE_BACKEND_HELP = (
    "what encodes texts for retrieval: auto (OpenVINO where installed and measured faster than torch "
    "on this CPU, see sycl info; else torch), torch, or openvino (pip install 'sycl-ir[openvino]')"
)
