"""Live training curves in TensorBoard, Weights & Biases and MLflow (``train.report_to``).

``training_log.jsonl`` is always written; each tracker named in ``train.report_to`` receives
the same records as they are written (loss, lr, grad norm, the collapse guard's statistics,
throughput: ``train/<key>`` at the record's step), the experiment config as hyperparameters
when the run starts, and, from ``sycl run``, the final evaluation (``eval/<data set>/<split>/<measure>``).
Only rank 0 logs.

Where each writes: TensorBoard event files in ``OUT/tensorboard/``; W&B in ``OUT/wandb/``
(project ``$WANDB_PROJECT`` or ``sycl``; ``WANDB_MODE=offline`` works without an account);
MLflow wherever its tracking URI points (``MLFLOW_TRACKING_URI``), experiment = the
experiment's name. The W&B and MLflow run ids are kept in ``OUT/trackers.json``, so a resumed
training (and the evaluation after it) continues the same runs; TensorBoard discards its events
after the checkpoint's step and continues from there.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sycl.io.atomic import atomic_write_json
from sycl.io.errors import DataError

PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}
RUN_IDS = "trackers.json"


def check_available(names: Sequence[str]) -> None:
    """Raise :class:`DataError` naming the extra to install when a tracker's package is missing."""
    for name in names:
        if name != "none" and importlib.util.find_spec(PACKAGES[name]) is None:
            raise DataError(
                None,
                f"train.report_to: {name} needs the {PACKAGES[name]} package, which is not installed; "
                f"pip install 'sycl-ir[{name}]' (or drop {name} from train.report_to)",
            )


def flat_params(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train.lr": 2e-05, ...}``: a nested config as dotted keys with scalar values (lists as text)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            out.update(flat_params(value, f"{prefix}{key}."))
        elif isinstance(value, (list, tuple)):
            out[f"{prefix}{key}"] = json.dumps(value)
        else:
            out[f"{prefix}{key}"] = "None" if value is None else value
    return out


def _scalars(record: Mapping[str, Any], prefix: str) -> dict[str, float]:
    return {
        f"{prefix}{k}": float(v)
        for k, v in record.items()
        if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)
    }


class Trackers:
    """The trackers of one training output folder; :meth:`log` a record, :meth:`close` at the end."""

    def __init__(self, names: Sequence[str], out: Path, experiment: str):
        self.names = [n for n in dict.fromkeys(names) if n != "none"]
        self.out = Path(out)
        self.experiment = experiment
        self.ids: dict[str, str] = {}
        self._tb = self._wandb = self._mlflow = None

    # ------------------------------------------------------------------ open
    @classmethod
    def open(
        cls,
        names: Sequence[str],
        out: Path,
        experiment: str,
        params: Mapping[str, Any] | None,
        resume_step: int | None = None,
    ) -> Trackers:
        """Start the runs of ``names``, or continue those recorded in ``OUT/trackers.json``.

        A new run (``resume_step`` None and ``params`` given) logs ``params`` (the experiment
        config) as hyperparameters. ``resume_step``: training continues after a checkpoint of
        that step (TensorBoard drops its events after it, they are logged again). ``params``
        None: continue the runs without new hyperparameters (the evaluation after training).
        """
        check_available(names)
        self = cls(names, out, experiment)
        ids_file = self.out / RUN_IDS
        new_run = resume_step is None and params is not None
        if not new_run and ids_file.is_file():
            self.ids = json.loads(ids_file.read_text(encoding="utf-8"))
        first_step = resume_step + 1 if resume_step is not None else None
        flat = flat_params(params) if new_run else None
        if "tensorboard" in self.names:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.out / "tensorboard"), purge_step=first_step)
            if flat is not None:
                self._tb.add_text("experiment", "```json\n" + json.dumps(params, indent=2) + "\n```", 0)
                _add_hparams(self._tb, flat)
        if "wandb" in self.names:
            import wandb

            run = wandb.init(
                project=os.environ.get("WANDB_PROJECT", "sycl"),
                name=experiment,
                dir=str(self.out),
                id=self.ids.get("wandb"),
                resume="allow" if self.ids.get("wandb") else None,
                config=flat,
                reinit="create_new",
            )
            run.define_metric("train/step")
            run.define_metric("train/*", step_metric="train/step")
            run.define_metric("eval/*", step_metric="train/step")
            self._wandb, self.ids["wandb"] = run, run.id
        if "mlflow" in self.names:
            import mlflow
            from mlflow.entities import Param

            mlflow.set_experiment(experiment)
            client = mlflow.MlflowClient()
            if self.ids.get("mlflow"):
                run_id = self.ids["mlflow"]
                client.update_run(run_id, status="RUNNING")
            else:
                exp = client.get_experiment_by_name(experiment)
                run_id = client.create_run(exp.experiment_id, run_name=experiment).info.run_id
            if flat is not None:
                params_list = [Param(k, str(v)[:6000]) for k, v in flat.items()]
                for i in range(0, len(params_list), 100):
                    client.log_batch(run_id, params=params_list[i : i + 100])
            self._mlflow, self.ids["mlflow"] = client, run_id
        if self.ids:
            self.out.mkdir(parents=True, exist_ok=True)
            atomic_write_json(ids_file, self.ids)
        return self

    # ------------------------------------------------------------------ log
    def log(self, record: Mapping[str, Any], prefix: str = "train/") -> None:
        """Log the numbers of one ``training_log.jsonl`` record (or evaluation) at ``record["step"]``."""
        step = int(record["step"])
        values = _scalars(record, prefix)
        if self._tb is not None:
            for key, value in values.items():
                self._tb.add_scalar(key, value, step)
            self._tb.flush()
        if self._wandb is not None:
            self._wandb.log({"train/step": step, **values})
        if self._mlflow is not None:
            from mlflow.entities import Metric

            metrics = [Metric(_mlflow_key(k), v, _now_ms(), step) for k, v in values.items()]
            for i in range(0, len(metrics), 500):
                self._mlflow.log_batch(self.ids["mlflow"], metrics=metrics[i : i + 500])

    def log_evaluation(self, metrics: Mapping[str, Any], step: int) -> None:
        """Log a ``metrics.json`` of ``sycl evaluate``: ``eval/<data set>/<split>/<measure>`` at ``step``."""
        values: dict[str, Any] = {"step": step}
        for r in metrics.get("results") or []:
            for measure, value in (r.get("measures") or {}).items():
                values[f"{r.get('dataset')}/{r.get('split')}/{measure}"] = value
        self.log(values, prefix="eval/")

    def close(self, finished: bool = True) -> None:
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish(exit_code=0 if finished else 1)
        if self._mlflow is not None:
            self._mlflow.set_terminated(self.ids["mlflow"], status="FINISHED" if finished else "FAILED")
        self._tb = self._wandb = self._mlflow = None


def _mlflow_key(key: str) -> str:
    return key.replace("@", "_at_")  # MLflow keys: alphanumerics, _ - . space : / only


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


def _add_hparams(writer, flat: Mapping[str, Any]) -> None:
    """The config in TensorBoard's hyperparameter plugin, in the run's own event file."""
    from torch.utils.tensorboard.summary import hparams

    values = {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in flat.items()}
    exp, ssi, sei = hparams(values, {})
    for summary in (exp, ssi, sei):
        writer.file_writer.add_summary(summary)


def log_evaluation(model_dir: str | Path, metrics_file: str | Path) -> None:
    """Log an evaluation of a trained model into the runs its training started (``sycl run``).

    The trackers and the experiment's name come from ``model_dir/training.json``; nothing
    happens when its ``train.report_to`` is ``none``.
    """
    model_dir = Path(model_dir)
    training = json.loads((model_dir / "training.json").read_text(encoding="utf-8"))
    config = training.get("config") or {}
    names = [n for n in (config.get("train") or {}).get("report_to") or [] if n != "none"]
    if not names:
        return
    trackers = Trackers.open(names, model_dir, config.get("name") or "sycl", None)
    try:
        trackers.log_evaluation(json.loads(Path(metrics_file).read_text(encoding="utf-8")), int(training["steps"]))
    finally:
        trackers.close()
