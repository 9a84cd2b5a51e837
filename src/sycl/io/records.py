"""The files passed between stages, as pydantic models: one model per file, each with ``kind`` and ``version``.

Writers build a record and call :func:`write_record` (atomic JSON of ``model_dump(mode="json")``);
readers call :func:`read_record` (or :func:`parse_record` for an object already in memory),
which turns every problem into a :class:`~sycl.io.errors.DataError` reading
``FILE: field X: problem``.

Versions. Every record carries ``version`` (:data:`VERSION`). A file without ``version`` was
written by sycl before the records were typed; it had the same shape, so it is read as version 1
when it parses (fields added since are optional). When it does not parse, the error names the
field ``version`` and the stage to re-run. A file from a newer sycl (a higher ``version``) is
refused with the version this sycl reads. A foreign file is refused by its ``kind``.

Unknown keys. Top-level records refuse unknown keys (a misspelt or foreign key is an error
naming it), except the generation manifest, whose backend adds its own settings. Entries that
other stages grow (an evaluation's per-data-set result, the generation counts, a training log
row, the quality and judge summaries) keep unknown keys as they are.

``python -m sycl.io.record_docs --markdown`` prints the field tables of ``docs/CONTRACTS.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, StringConstraints, ValidationError

from sycl.io.atomic import atomic_write_json
from sycl.io.errors import DataError
from sycl.strict import StrictModel

VERSION = 1  # the record shape this sycl writes and reads

Label = Annotated[str, StringConstraints(pattern=r"^-?[0-9]+(\.[0-9]+)?$")]  # a relevance label as a JSON key


class Record(StrictModel):
    """A hand-off file: refuses unknown keys, carries its ``kind`` and ``version``."""

    kind: str = Field(description="what the file is (each record fixes it)")
    version: int = Field(default=VERSION, ge=1, description="record shape; files without it are read as 1")


class Entry(BaseModel):
    """A part of a record that refuses unknown keys."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class OpenEntry(BaseModel):
    """A part of a record that other stages grow: unknown keys are kept as they are."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())


# ------------------------------------------------------------------------------------ training


class TrainingRecord(Record):
    """``training.json`` in a trained model directory (``sycl train``)."""

    kind: Literal["training"] = "training"
    config: dict[str, Any] = Field(description="the resolved experiment (ExperimentConfig), as experiment.yaml")
    base_model: str = Field(description="the encoder training started from (path or hub name)")
    loss: str = Field(description="the loss (recipe) name trained with")
    loss_function: str | None = Field(default=None, description="the bare loss the recipe is built on")
    loss_options: dict[str, Any] = Field(default_factory=dict, description="the loss's resolved options")
    n_queries: int = Field(ge=0, description="training queries (groups) in the data set")
    label_counts: dict[Label, int] = Field(
        default_factory=dict, description='judged passages per relevance label ("3"; "0.5" for a fractional label)'
    )
    seconds: float = Field(ge=0, description="training time")
    steps: int = Field(ge=0, description="optimiser steps taken")
    world_size: int = Field(default=1, ge=1, description="training processes")
    precision: str = Field(default="fp32", description="autocast dtype actually used (fp32, bfloat16, float16)")
    kernels: dict[str, Any] | None = Field(default=None, description="the CPU kernel probe's verdict (None off CPU)")
    fast_dropout: bool = Field(default=False, description="whether the fused dropout kernel ran")
    collapse_warnings: int = Field(default=0, ge=0, description="warnings of the collapse guard")


class TrainingLogRow(OpenEntry):
    """One line of ``training_log.jsonl``: the window of steps ending at ``step``."""

    step: int = Field(ge=0, description="optimiser step")
    epoch: float | None = Field(default=None, description="fractional epoch")
    loss: float | None = Field(default=None, description="mean loss over the window")
    lr: float | None = Field(default=None, description="learning rate")
    grad_norm: float | None = Field(default=None, description="gradient norm before clipping")
    own_group_prob: float | None = Field(default=None, description="collapse diagnostic: softmax mass on own group")
    passage_mean_cos: float | None = Field(default=None, description="collapse diagnostic: mean passage cosine")
    top1_own: float | None = Field(default=None, description="share of queries whose top passage is their own")
    positive_prob: float | None = Field(default=None, description="softmax mass on the positives")
    prediction_entropy: float | None = Field(default=None, description="entropy of the predicted distribution")
    score_std: float | None = Field(default=None, description="standard deviation of the batch's scores")
    batch_queries: int | None = Field(default=None, description="queries per batch")
    group_size: int | None = Field(default=None, description="passages per query group")
    groups_per_s: float | None = Field(default=None, description="throughput over the window")
    seconds: float | None = Field(default=None, description="time since training started")


# ---------------------------------------------------------------------------------- evaluation


class EvaluationResult(OpenEntry):
    """One data set and split of ``metrics.json``."""

    dataset: str = Field(min_length=1, description="data set name")
    split: str = Field(default="test", description="qrels split")
    source: str | None = Field(default=None, description="where the data set came from")
    origin: dict[str, str] | None = Field(
        default=None, description="where the corpus, queries and qrels were read from (hub revision or local path)"
    )
    qrels_sha256: str | None = Field(
        default=None, description="sha256 of the evaluated judgements; compare refuses to pair differing ones"
    )
    content: dict[str, str] | None = Field(
        default=None,
        description="xxh3-128 of the corpus and queries files; compare pairs equal content wherever it was read",
    )
    n_queries: int | None = Field(default=None, ge=0, description="judged queries evaluated")
    n_documents: int | None = Field(default=None, ge=0, description="corpus size")
    relevance_level: int | None = Field(default=None, description="lowest label counted relevant by binary measures")
    primary: str | None = Field(default=None, description="the headline measure")
    measures: dict[str, FiniteFloat] = Field(min_length=1, description="mean of each measure over the queries")
    per_query: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="measure -> query id -> value (what sycl compare pairs)"
    )
    run_file: str | None = Field(default=None, description="the TREC run, relative to metrics.json")
    unknown_queries: int = Field(default=0, ge=0, description="judged queries missing from queries.jsonl")
    judgements: int | None = Field(default=None, ge=0, description="judgements of the evaluated queries")
    missing_documents: int = Field(default=0, ge=0, description="judgements whose document is not in the corpus")
    missing_examples: list[str] = Field(default_factory=list, description="a few of those, as query:doc")
    ignore_identical_ids: bool | None = Field(default=None, description="whether the identical-id rule was on")
    identical_ids_excluded: int = Field(default=0, ge=0, description="queries whose same-id document was skipped")
    relevant_identical_dropped: int = Field(
        default=0, ge=0, description="judged-relevant same-id documents the identical-id rule made unreachable"
    )
    precision: str | None = Field(default=None, description="encoding precision requested (auto, fp32, bf16, fp16)")
    search_precision: str | None = Field(
        default=None, description="search precision requested (auto, fp32, bf16, int8)"
    )
    precision_used: str | None = Field(
        default=None, description="encoding precision that ran (auto resolved; OpenVINO: the precision it computed in)"
    )
    encode_backend: str | None = Field(default=None, description="encoder requested (auto, torch, openvino)")
    encoder_path: str | None = Field(
        default=None, description='the encoder that ran, and its precision: "torch bf16", "openvino bf16", ...'
    )
    search_precision_used: str | None = Field(
        default=None, description="search precision that ran (auto resolved; None for faiss)"
    )
    search_path: str | None = Field(
        default=None, description='the search that ran: "fp32 exact", "bf16+rescore", "int8+rescore" or "faiss:..."'
    )
    cache: dict[str, bool] = Field(default_factory=dict, description="whether queries/corpus vectors came from cache")
    seconds: dict[str, float] = Field(default_factory=dict, description="encode_queries, encode_corpus, search, total")


class MetricsRecord(Record):
    """``metrics.json`` of ``sycl evaluate``."""

    kind: Literal["evaluation"] = "evaluation"
    model: str = Field(description="the model evaluated (path or hub name)")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="the evaluation settings as requested, plus the encoder's"
    )
    kernels: dict[str, Any] | None = Field(default=None, description="the CPU kernel probe's verdict (None off CPU)")
    results: list[EvaluationResult] = Field(min_length=1, description="one entry per data set and split")


# ---------------------------------------------------------------------------------- generation


class PromptInfo(Entry):
    source: str | None = Field(default=None, description="where the template came from")
    template: str = Field(description="the prompt template's text")
    sha256: str = Field(description="sha256 of the template")


class GenerationCounts(OpenEntry):
    queries: int = Field(ge=0, description="queries given")
    contexts: int | None = Field(default=None, ge=0, description="ranking contexts written")
    done: int = Field(ge=0, description="contexts generated")
    failed: int = Field(ge=0, description="contexts that failed every attempt")
    retried: int = Field(default=0, ge=0, description="extra attempts after a bad answer")
    transport_retries: int = Field(default=0, ge=0, description="requests repeated after a transport error")
    passages: int = Field(ge=0, description="passages written")
    filtered: int = Field(default=0, ge=0, description="contexts dropped by a judge's filter")


class GenerationTimings(OpenEntry):
    seconds: float | None = Field(default=None, ge=0, description="generation time")
    tokens_per_s: float | None = Field(default=None, ge=0, description="completion tokens per second")
    requests_per_s: float | None = Field(default=None, ge=0)
    total_seconds: float | None = Field(default=None, ge=0, description="including judging and writing")


class GenerationFailure(OpenEntry):
    query_id: str
    sample: int = Field(default=0, ge=0, description="which sample of the query")
    error: str = Field(default="", description="why the last attempt failed")
    raw: str = Field(default="", description="the start of the last answer")


class QualitySummary(OpenEntry):
    """The embedding judge's check of the level order (``quality.jsonl`` has one row per context)."""

    judge: str = Field(description="the judge model")
    contexts: int | None = Field(default=None, ge=0, description="contexts scored")
    per_level_mean: dict[int, float] = Field(default_factory=dict, description="mean query-passage score per level")
    kendall_tau_mean: float | None = Field(default=None, description="mean Kendall tau of scores against levels")
    share_expected_order: float | None = Field(default=None, description="share of contexts in the expected order")
    filter_inconsistent: bool = False
    min_tau: float | None = None
    dropped: int = Field(default=0, ge=0, description="contexts the filter dropped")
    seconds: float | None = None


class ConfusionMatrix(Entry):
    labels: list[int]
    rows: str = "intended level"
    columns: str = "judged grade"
    counts: list[list[int]]


class LLMJudgeSummary(OpenEntry):
    """The LLM judge's grades against the intended levels."""

    backend: str | None = Field(default=None, description="the judging backend")
    model: str | None = Field(default=None, description="the judging model")
    prompt: dict[str, Any] = Field(default_factory=dict, description="the judge prompt's source and sha256")
    action: str | None = Field(default=None, description="what disagreeing passages got: keep, drop or relabel")
    passages: int = Field(ge=0, description="passages sent to the judge")
    judged: int = Field(ge=0, description="passages graded")
    unjudged: int = Field(default=0, ge=0)
    exact_agreement: float | None = None
    cohen_kappa: float | None = None
    cohen_kappa_linear: float | None = None
    confusion_matrix: ConfusionMatrix | None = None
    per_level_mean_grade: dict[int, float | None] = Field(default_factory=dict)
    contexts: int | None = None
    share_expected_order: float | None = None
    problems: list[str] = Field(default_factory=list, description="kinds of unusable judge answers")
    dropped: int = Field(default=0, ge=0, description="passages the action dropped")
    relabelled: int = Field(default=0, ge=0, description="passages the action relabelled")
    seconds: float | None = None


class GenerationManifest(Record):
    """``manifest.json`` of a generated BEIR folder (``sycl generate``); written last, so it marks a complete set.

    The backend's own settings (``base_url``, ``concurrency``, ``dtype``, ...) sit beside ``backend``
    and ``model`` and are kept as they are.
    """

    model_config = ConfigDict(extra="allow")

    kind: Literal["generation"] = "generation"
    sycl_version: str | None = Field(default=None, description="the sycl that wrote it")
    backend: str = Field(description="generation backend")
    model: str = Field(description="generator model")
    structured_output: str | None = Field(default=None, description="JSON-schema mode the backend used")
    mode: str | None = Field(default=None, description="json (one answer per context) or per-level prompts")
    prompt: PromptInfo | None = Field(default=None, description="the generation prompt")
    sampling: dict[str, Any] = Field(default_factory=dict, description="temperature, top_p, max_tokens, seed, ...")
    levels: dict[int, str] = Field(description="label -> definition of the level")
    level_names: dict[int, str] = Field(default_factory=dict, description="label -> short name")
    queries_source: str | None = Field(default=None, description="the queries file or BEIR folder")
    split: str | None = Field(default=None, description="the source split whose judged queries were used")
    output_split: str = Field(default="train", description="the qrels split written")
    counts: GenerationCounts = Field(description="what was generated, failed and retried")
    counts_per_level: dict[int, int] = Field(default_factory=dict, description="passages per label")
    tokens: dict[str, int] = Field(default_factory=dict, description="prompt and completion tokens")
    timings: GenerationTimings = Field(default_factory=GenerationTimings, description="generation speed")
    this_run: dict[str, Any] = Field(default_factory=dict, description="counters of the last invocation (resumes)")
    failures: list[GenerationFailure] = Field(default_factory=list, description="contexts that failed")
    quality: QualitySummary | None = Field(default=None, description="the embedding judge's summary")
    llm_judge: LLMJudgeSummary | None = Field(default=None, description="the LLM judge's summary")


# -------------------------------------------------------------------------------------- mining


class MiningRecord(Record):
    """``<negatives>.mining.json`` beside the negatives ``sycl mine`` wrote."""

    kind: Literal["mining"] = "mining"
    method: Literal["bm25", "dense"] = Field(description="retriever used")
    model: str | None = Field(default=None, description="the dense model (None for BM25)")
    encoder_path: str | None = Field(
        default=None,
        description='the encoder that embedded the corpus: "torch bf16", "openvino bf16", ... (None for BM25)',
    )
    dataset: str = Field(description="the BEIR folder or name mined")
    split: str = Field(description="qrels split whose queries were mined")
    k: int = Field(ge=1, description="negatives kept per query")
    format: Literal["jsonl", "tsv"]
    out: str = Field(description="the negatives file")
    queries: int = Field(ge=0, description="queries with at least one negative")
    negatives: int = Field(ge=0, description="negatives written")
    short: int = Field(ge=0, description="queries with fewer than k negatives")
    skipped_empty: int = Field(ge=0, description="queries with none")
    seconds: float = Field(ge=0)


# ----------------------------------------------------------------------------------------- run


class StageRecord(Entry):
    fingerprint: str = Field(description="hash of the stage's settings and upstream fingerprints")
    seconds: float = Field(ge=0)
    finished: str = Field(description="UTC time, ISO 8601")
    output: str = Field(description="the file whose existence marks the stage done")


class HostInfo(Entry):
    platform: str
    cpus: int | None = None


class RunManifest(Record):
    """``RUN_DIR/manifest.json`` of ``sycl run`` / ``sycl quickstart``: provenance and the stages done."""

    kind: Literal["run"] = "run"
    name: str
    config_file: str | None = Field(default=None, description="the run file, or the command that made the config")
    config: dict[str, Any] = Field(description="the resolved RunConfig")
    seed: int
    versions: dict[str, str] = Field(default_factory=dict, description="python and library versions")
    host: HostInfo | None = Field(default=None, description="the machine: platform and CPU count")
    paths: dict[str, str] = Field(default_factory=dict, description="where each stage's outputs are")
    stages: dict[str, StageRecord] = Field(default_factory=dict, description="finished stages by key")
    started: str = Field(description="UTC time, ISO 8601")
    finished: str | None = None
    seconds: float | None = Field(default=None, ge=0, description="time of the last invocation")
    executed: list[str] = Field(default_factory=list, description="stages the last invocation ran")
    skipped: list[str] = Field(default_factory=list, description="stages it found current")


# ---------------------------------------------------------------------------------- comparison


class ComparisonRow(Entry):
    """One comparison; a value undefined for the scores (an interval of one query) is null in the file."""

    dataset: str = Field(description="data set/split")
    measure: str
    system: str
    baseline: str
    n_queries: int = Field(ge=0)
    n_runs: int = Field(ge=1, description="runs paired (the larger system's)")
    mean_a: float | None = Field(description="the system's mean")
    mean_b: float | None = Field(description="the baseline's mean")
    diff: float | None = Field(description="mean difference system - baseline")
    ci_low: float | None
    ci_high: float | None
    df: float | None = Field(description="degrees of freedom of the t interval")
    p: float | None = Field(description="two-sided p-value, uncorrected")
    test: str
    wins: int = Field(ge=0)
    ties: int = Field(ge=0)
    losses: int = Field(ge=0)
    per_query: dict[str, float | None] = Field(default_factory=dict, description="query id -> mean difference")
    p_adjusted: float | None = Field(description="p corrected over the comparisons of the measure")
    significant: bool


class ComparisonRecord(Record):
    """The JSON of ``sycl compare --out FILE``."""

    kind: Literal["comparison"] = "comparison"
    settings: dict[str, Any] = Field(description="the CompareConfig used")
    systems: dict[str, list[str]] = Field(description="system name -> its metrics.json files")
    comparisons: list[ComparisonRow]


# --------------------------------------------------------------------------------- read, write

R = TypeVar("R", bound=Record)

RECORDS: dict[str, tuple[type[Record], str]] = {
    "training": (TrainingRecord, "sycl train"),
    "evaluation": (MetricsRecord, "sycl evaluate"),
    "generation": (GenerationManifest, "sycl generate"),
    "mining": (MiningRecord, "sycl mine"),
    "run": (RunManifest, "sycl run"),
    "comparison": (ComparisonRecord, "sycl compare --out"),
}


def kind_of(model: type[Record]) -> str:
    return model.model_fields["kind"].default


def describe_error(err: ValidationError) -> str:
    """``field X: problem`` for the first problem of ``err`` (with how many more there are)."""
    first, n = err.errors()[0], err.error_count()
    msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    more = f" (and {n - 1} more problem{'s' * (n > 2)})" if n > 1 else ""
    return f"field {'.'.join(str(p) for p in first['loc']) or '<root>'}: {msg}{more}"


def parse_record(obj: Any, model: type[R], source: str | Path | None = None) -> R:
    """Validate ``obj`` (a parsed JSON object) as ``model``; problems raise ``DataError`` naming ``source``."""
    kind = kind_of(model)
    stage = RECORDS[kind][1]
    if not isinstance(obj, dict):
        raise DataError(source, f"expected a JSON object (a sycl {kind} record), found {type(obj).__name__}")
    if obj.get("kind") != kind:
        found = "no kind" if "kind" not in obj else f"kind {obj['kind']!r}"
        raise DataError(source, f'field kind: expected "{kind}", found {found}: not a sycl {kind} record')
    version = obj.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
        raise DataError(source, f"field version: expected a whole number >= 1, found {version!r}")
    if isinstance(version, int) and version > VERSION:
        raise DataError(
            source,
            f"field version: {version}: written by a newer sycl (this one reads version {VERSION}); upgrade sycl",
        )
    data = obj if version is not None else {**obj, "version": 1}  # before versions: the same shape, read as 1
    try:
        return model.model_validate(data)
    except ValidationError as err:
        if version is None:
            raise DataError(
                source, f"field version: missing: written by an older sycl; re-run {stage} ({describe_error(err)})"
            ) from None
        raise DataError(source, describe_error(err)) from None


def load_json(path: str | Path) -> Any:
    """The JSON value in ``path``; unreadable or malformed files raise ``DataError`` naming the file (and line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(path, "not found") from None
    except UnicodeDecodeError as err:
        raise DataError(path, f"not valid UTF-8 ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise DataError(path, f"cannot read: {err.strerror or err}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(path, f"malformed JSON: {err.msg} (column {err.colno})", err.lineno) from None


def read_record(path: str | Path, model: type[R]) -> R:
    """Read and validate the record at ``path``; every problem is a ``DataError`` naming the file."""
    if not Path(path).is_file():
        raise DataError(path, f"not found: expected a sycl {kind_of(model)} record")
    return parse_record(load_json(path), model, path)


def peek_kind(path: str | Path) -> str | None:
    """The ``kind`` of the JSON object at ``path``; ``None`` for anything unreadable or kind-less."""
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    kind = obj.get("kind") if isinstance(obj, dict) else None
    return kind if isinstance(kind, str) else None


def write_record(path: str | Path, record: Record) -> None:
    """Write ``record`` to ``path`` atomically as JSON."""
    atomic_write_json(path, record.model_dump(mode="json"))
