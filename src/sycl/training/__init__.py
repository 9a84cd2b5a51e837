"""Training: the experiment config, the trainer (single- and multi-process), checkpoints, collapse guard.

``sycl.training.train(config, out=None, resume=False) -> Path`` trains in-process and returns the
model folder; ``sycl train --config FILE`` is the command-line form.
"""
from sycl.training.config import DEFAULT_RECIPE, ExperimentConfig, GuardConfig, LossConfig, TrainConfig, load_experiment
from sycl.training.trainer import Trainer, TrainingError, train

__all__ = ["train", "Trainer", "TrainingError", "ExperimentConfig", "LossConfig", "TrainConfig", "GuardConfig",
           "DEFAULT_RECIPE", "load_experiment"]
