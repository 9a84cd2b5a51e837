"""Training: the experiment config, the trainer (single- and multi-process), checkpoints, collapse guard.

``sycl.training.train(config, out=None, resume=False) -> Path`` trains in-process and returns the
model folder (with its model card, ``README.md``); ``sycl train --config FILE`` is the command-line form.
"""

from sycl._lazy import lazy_exports

_EXPORTS = {
    "DEFAULT_RECIPE": "sycl.losses.recipes",
    "ExperimentConfig": "sycl.training.config",
    "GuardConfig": "sycl.training.config",
    "LossConfig": "sycl.training.config",
    "TrainConfig": "sycl.training.config",
    "load_experiment": "sycl.training.config",
    "Trainer": "sycl.training.trainer",
    "TrainingError": "sycl.training.trainer",
    "train": "sycl.training.trainer",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
