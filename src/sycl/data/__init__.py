"""Training data: source specs (filter -> select -> relabel), multi-level and binary sets, the collator."""
from sycl.data.collator import Collator, batch_order
from sycl.data.pool import Groups, PassagePool
from sycl.data.sets import BinarySet, MultiLevelSet, TextBatch, build_training_set
from sycl.data.specs import DataConfig, SourceSpec

__all__ = ["SourceSpec", "DataConfig", "PassagePool", "Groups", "MultiLevelSet", "BinarySet", "TextBatch",
           "build_training_set", "Collator", "batch_order"]
