"""Training data: source specs (filter -> select -> relabel), multi-level and binary sets, the collator."""

from sycl._lazy import lazy_exports

_EXPORTS = {
    "Collator": "sycl.data.collator",
    "batch_order": "sycl.data.collator",
    "Groups": "sycl.data.pool",
    "PassagePool": "sycl.data.pool",
    "BinarySet": "sycl.data.sets",
    "MultiLevelSet": "sycl.data.sets",
    "TextBatch": "sycl.data.sets",
    "build_training_set": "sycl.data.sets",
    "DataConfig": "sycl.data.config",
    "SourceConfig": "sycl.data.config",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
