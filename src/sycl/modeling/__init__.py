"""The retriever: a bi-encoder over any Hugging Face encoder."""

from sycl._lazy import lazy_exports

_EXPORTS = {
    "EMBEDDED_ENCODER": "sycl.modeling.encoder",
    "BiEncoder": "sycl.modeling.encoder",
    "EncoderConfig": "sycl.modeling.encoder",
    "embedded_encoder_path": "sycl.modeling.encoder",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
