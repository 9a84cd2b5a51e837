"""Training data: source specs (filter -> select -> relabel), multi-level and binary sets, the collator."""
from sycl.data.collator import Collator, batch_order
from sycl.data.pool import Groups, PassagePool
from sycl.data.sets import BinarySet, MultiLevelSet, TextBatch, build_training_set
from sycl.data.config import DataConfig, SourceConfig

__all__ = ["SourceConfig", "DataConfig", "PassagePool", "Groups", "MultiLevelSet", "BinarySet", "TextBatch",
           "build_training_set", "Collator", "batch_order"]
