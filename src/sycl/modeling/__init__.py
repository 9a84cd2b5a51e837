"""The retriever: a bi-encoder over any Hugging Face encoder, and mixed-precision helpers."""
from sycl.modeling.encoder import EMBEDDED_ENCODER, BiEncoder, EncoderConfig, embedded_encoder_path
from sycl.modeling.precision import autocast, cpu_has_fast_bf16, resolve_dtype

__all__ = ["BiEncoder", "EncoderConfig", "EMBEDDED_ENCODER", "embedded_encoder_path", "autocast",
           "cpu_has_fast_bf16", "resolve_dtype"]
