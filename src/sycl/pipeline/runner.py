"""Run an experiment file stage by stage, skipping stages whose outputs are current.

Layout of a run directory::

    RUN/manifest.json          provenance: versions, config, seeds, stage fingerprints and timings
    RUN/generated/             the generated BEIR set (its own manifest.json)
    RUN/holdout/train, test/   training queries and the held-out test split (``holdout:``)
    RUN/mined/negatives.jsonl  mined negatives (``mine:``)
    RUN/models/<name>/         trained models (sentence-transformers folders)
    RUN/eval/<name>/           metrics.json, runs, summary.md per evaluated model
    RUN/report/                report.html + report.md
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sycl import __version__
from sycl.data.holdout import split_holdout
from sycl.io.atomic import check_output_folder
from sycl.io.errors import DataError
from sycl.io.records import HostInfo, RunManifest, StageRecord, read_record, write_record
from sycl.log import get_logger
from sycl.pipeline.config import STAGES, RunConfig, resolve
from sycl.pipeline.fingerprint import fingerprint
from sycl.pipeline.inputs import check_inputs

_log = get_logger("pipeline")


def versions() -> dict[str, str]:
    """Versions of the libraries that decide the results."""
    out = {"sycl": __version__, "python": platform.python_version()}
    for mod in ("torch", "transformers", "sentence_transformers", "ir_measures", "bm25s"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:  # pragma: no cover - optional
            pass
    return out


class Runner:
    """Executes a :class:`RunConfig`; ``force_from`` redoes that stage and every later one."""

    def __init__(self, cfg: RunConfig, force_from: str | None = None, source: str | None = None):
        if force_from is not None and force_from not in STAGES:
            raise DataError(None, f"unknown stage {force_from!r}; stages: {', '.join(STAGES)}")
        self.cfg = cfg
        self.dir = cfg.run_dir()
        self.force_from = force_from
        self.source = source
        self.paths = {"run": str(self.dir), "negatives": str(self.dir / "mined" / "negatives.jsonl")}
        self.paths["data"] = str(self.dir / ("holdout/train" if cfg.holdout else "generated"))
        self.paths["heldout"] = str(self.dir / "holdout" / "test")
        self.manifest_path = self.dir / "manifest.json"
        self.manifest: RunManifest | None = (
            None  # read in run(), after the inputs are checked (versions() imports torch)
        )
        self.fps: dict[str, str] = {}
        self.executed: list[str] = []
        self.skipped: list[str] = []

    # ------------------------------------------------------------ bookkeeping
    def _load_manifest(self) -> RunManifest:
        stages = {}
        if self.manifest_path.exists():
            try:
                stages = read_record(self.manifest_path, RunManifest).stages
            except DataError as err:
                _log.warning("%s; every stage runs again", err)
        return RunManifest(
            name=self.cfg.name,
            config_file=self.source,
            config=self.cfg.model_dump(mode="json"),
            seed=self.cfg.seed,
            versions=versions(),
            host=HostInfo(platform=platform.platform(), cpus=os.cpu_count()),
            stages=stages,
            started=dt.datetime.now(dt.timezone.utc).isoformat(),
        )

    def _save_manifest(self) -> None:
        self.manifest.paths = self.paths
        write_record(self.manifest_path, self.manifest)

    def _forced(self, stage: str) -> bool:
        return self.force_from is not None and STAGES.index(stage) >= STAGES.index(self.force_from)

    def _stage(
        self, key: str, stage: str, settings: Any, upstream: list[str], output: Path, action: Callable[[], None]
    ) -> None:
        fp = fingerprint(settings, [self.fps[u] for u in upstream if u in self.fps], self.dir)
        self.fps[key] = fp
        rec = self.manifest.stages.get(key)
        if not self._forced(stage) and rec is not None and rec.fingerprint == fp and output.exists():
            _log.info("stage %s is current, skipped", key)
            self.skipped.append(key)
            return
        _log.info("stage %s: running", key)
        t0 = time.perf_counter()
        self.manifest.stages.pop(key, None)
        self._save_manifest()
        action()
        self.manifest.stages[key] = StageRecord(
            fingerprint=fp,
            seconds=round(time.perf_counter() - t0, 2),
            finished=dt.datetime.now(dt.timezone.utc).isoformat(),
            output=str(output),
        )
        self.executed.append(key)
        self._save_manifest()

    # ----------------------------------------------------------------- stages
    def _generate(self) -> None:
        from sycl.generation import generate

        out = self.dir / "generated"
        cfg = resolve(self.cfg.generate, self.paths, {"seed": self.cfg.seed}, {"out": str(out)})
        self._stage("generate", "generate", _settings(cfg), [], out / "manifest.json", lambda: generate(cfg))

    def _holdout(self) -> None:
        h = self.cfg.holdout
        seed = self.cfg.seed if h.seed is None else h.seed
        settings = {"fraction": h.fraction, "seed": seed}
        out = self.dir / "holdout"
        self._stage(
            "holdout",
            "holdout",
            settings,
            ["generate"],
            out / "test" / "qrels" / "test.tsv",
            lambda: split_holdout(self.dir / "generated", out, h.fraction, seed),
        )

    def _mine(self) -> None:
        from sycl.mining import mine

        cfg = resolve(self.cfg.mine, self.paths)
        out = Path(self.paths["negatives"])
        self._stage(
            "mine", "mine", _settings(cfg), ["holdout", "generate"], out, lambda: mine(cfg, out, show_progress=False)
        )

    def _train(self) -> list[tuple[str, Path]]:
        from sycl.training import train

        models = []
        for name, exp in self.cfg.train.items():
            out = self.dir / "models" / name
            train_section = exp.train.model_dump(mode="json", exclude_unset=True)
            cfg = resolve(exp, self.paths, fixed={"out": str(out), "train": {"seed": self.cfg.seed, **train_section}})
            self._stage(
                f"train/{name}",
                "train",
                _settings(cfg),
                ["generate", "holdout", "mine"],
                out / "training.json",
                lambda c=cfg: train(c),
            )
            models.append((name, out))
        return models

    def base_model(self) -> str:
        """The model the trained ones start from (the first train entry's), for the zero-shot row."""
        from sycl.modeling import EMBEDDED_ENCODER

        for exp in self.cfg.train.values():
            return exp.model.model
        return EMBEDDED_ENCODER

    def _evaluate(self, models: list[tuple[str, Path]]) -> None:
        e = resolve(self.cfg.evaluate, self.paths)
        config = e.evaluation()
        todo = ([("base", self.base_model(), [])] if e.base_model else []) + [
            (name, str(path), [f"train/{name}"]) for name, path in models
        ]
        for name, model, upstream in todo:
            settings = {"model": model, **_settings(e)}
            out = self.dir / "eval" / name
            self._stage(
                f"evaluate/{name}",
                "evaluate",
                settings,
                upstream + ["holdout"],
                out / "metrics.json",
                lambda m=model, o=out, trained=bool(upstream): evaluate_model(m, e.datasets, o, config, trained),
            )
            if upstream:  # a trained model: its card gets the evaluation results
                from sycl.reporting import write_model_card

                write_model_card(Path(model), [out / "metrics.json"])

    def _report(self) -> None:
        from sycl.reporting import build_report

        out = self.dir / "report"
        upstream = [k for k in self.fps]
        self._stage(
            "report",
            "report",
            {"title": self.cfg.name},
            upstream,
            out / "report.html",
            lambda: build_report([self.dir], out, title=f"SyCL run: {self.cfg.name}"),
        )

    def _check_encoders(self) -> None:
        """An ``encode_backend: openvino`` without OpenVINO (the mining stage's, the evaluation's or a suite
        entry's) is a user error before any stage runs; data sets named by run paths are checked when known."""
        from sycl.evaluation.evaluator import require_encode_backends
        from sycl.evaluation.suites import expand
        from sycl.kernels.decisions import require_encode_backend

        if self.cfg.mine is not None:
            require_encode_backend(self.cfg.mine.encode_backend)
        e = self.cfg.evaluate
        if e is not None:
            s = e.evaluation()
            require_encode_backends(s, expand([d for d in e.datasets if "{" not in d], s.split, s.relevance_level))
            require_encode_backend(s.encode_backend or "auto")  # also for the run's own held-out split

    def run(self) -> RunManifest:
        """Run every configured stage in order; returns the provenance manifest.

        Every input of every stage is checked first (:func:`~sycl.pipeline.inputs.check_inputs`), so a
        missing evaluation data set fails now rather than after generating and training, as does an
        ``encode_backend: openvino`` without OpenVINO installed.
        """
        check_output_folder(self.dir)
        check_inputs(self.cfg)
        self._check_encoders()
        self.manifest = self._load_manifest()
        self.dir.mkdir(parents=True, exist_ok=True)
        random.seed(self.cfg.seed)
        self._save_manifest()
        t0 = time.perf_counter()
        if self.cfg.generate is not None:
            self._generate()
        if self.cfg.holdout is not None:
            self._holdout()
        if self.cfg.mine is not None:
            self._mine()
        models = self._train()
        if self.cfg.evaluate is not None:
            self._evaluate(models)
        if self.cfg.report:
            self._report()
        self.manifest.finished = dt.datetime.now(dt.timezone.utc).isoformat()
        self.manifest.seconds = round(time.perf_counter() - t0, 2)
        self.manifest.executed, self.manifest.skipped = self.executed, self.skipped
        self._save_manifest()
        return self.manifest


def evaluate_model(model: str, datasets, out: Path, config, trained: bool) -> None:
    """Evaluate ``model`` into ``out``; a model trained by the run also logs it to its trackers (train.report_to)."""
    from sycl.evaluation import evaluate

    evaluate(model, datasets, out, config)
    if trained:
        from sycl.training.trackers import log_evaluation

        log_evaluation(model, out / "metrics.json")


def _settings(section) -> dict:
    """What a stage's fingerprint covers: the settings the file (or the run) set, not the defaults."""
    return section.model_dump(mode="json", exclude_unset=True)
