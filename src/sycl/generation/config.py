"""The ``generate`` section of an experiment file, and the settings of ``sycl generate``.

YAML example (either the whole file, or the ``generate:`` section of an experiment file)::

    generate:
      queries: ../shared/datasets/scifact
      split: train
      out: runs/scifact-synthetic
      backend: openai
      model: meta-llama/Llama-3.3-70B-Instruct
      base_url: http://127.0.0.1:8000/v1
      api_key_env: OPENAI_API_KEY
      concurrency: 64
      passages_per_level: 1

Command-line flags override the file. ``mode`` and ``max_new_tokens`` default per backend
(see :meth:`GenerationConfig.resolved_mode`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from sycl.config import StrictModel, apply_overrides, read_yaml, validate
from sycl.generation.levels import RelevanceLevel, check_levels, default_levels

Backend = Literal["openai", "vllm", "transformers", "embedded"]
Mode = Literal["json", "per-level"]
StructuredOutput = Literal["json_schema", "json_object", "none"]
JudgeAction = Literal["report", "drop", "relabel"]


def check_base_url(url: str) -> str:
    """``url`` stripped, if it is an ``http(s)://host[:port][/path]`` URL; else ``ValueError`` saying why.

    Checked when the settings are read, so a mistyped ``--base-url`` ends the run before any work
    (it would otherwise fail every request, after all their retries).
    """
    url = url.strip()
    example = "e.g. http://127.0.0.1:8000/v1"
    shown = re.sub(r"//([^/@:]*):[^/@]*@", r"//\1:***@", url)  # never echo a password
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port that is not a number in 0..65535
    except ValueError as err:
        raise ValueError(f"{shown!r} is not a URL ({err}); {example}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{shown!r} is not an http:// or https:// URL; {example}")
    host = parts.hostname or ""
    if not host:
        raise ValueError(f"{shown!r} names no host; {example}")
    if not all(c.isalnum() or c in "-._~" for c in host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"{shown!r}: {host!r} is not a host name or IP address; {example}") from None
    if port == 0:
        raise ValueError(f"{shown!r}: port 0 cannot be connected to; {example}")
    if any(c.isspace() for c in url):
        raise ValueError(f"{shown!r} contains whitespace; {example}")
    return url


class SamplingConfig(StrictModel):
    """Sampling parameters sent to every backend (``max_tokens``: completion tokens per request)."""

    temperature: float = Field(0.8, ge=0.0, le=5.0, description="sampling temperature")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="nucleus sampling mass")
    max_tokens: int | None = Field(
        None, ge=8, description="completion tokens per request (default: from passage_words, per level and passage)"
    )


class LLMJudgeConfig(StrictModel):
    """An LLM that grades every generated passage on the levels' scale (``sycl.generation.llm_judge``).

    Unset ``backend``/``model``/``base_url``/``api_key_env``/``concurrency`` are the generator's,
    so ``enabled: true`` alone has the generator grade its own passages. ``action``: ``report``
    (agreement numbers only), ``drop`` (remove passages graded differently from their intended
    level) or ``relabel`` (the grade becomes the passage's label in the qrels).
    """

    enabled: bool = Field(False, description="grade every generated passage with an LLM (UMBRELA-style prompt)")
    backend: Backend | None = Field(None, description="the judge's backend (default: the generator's)")
    model: str | None = Field(None, description="the judge's model (default: the generator's)")
    base_url: str | None = Field(None, description="the judge's OpenAI-compatible server (default: the generator's)")
    api_key_env: str | None = Field(None, description="environment variable with the judge server's API key")
    concurrency: int | None = Field(None, ge=1, le=4096, description="judge requests in flight")
    prompt_template: Path | None = Field(None, description="None: sycl/resources/prompts/judge_umbrela.txt")
    max_tokens: int = Field(48, ge=4, description='completion tokens per grade (the answer is {"final_score": N})')
    temperature: float = Field(0.0, ge=0.0, le=5.0)
    max_attempts: int = Field(2, ge=1, description="tries per passage when the answer holds no grade")
    action: JudgeAction = Field(
        "report",
        description="report agreement only, drop passages graded differently "
        "from their level, or relabel them with the grade",
    )

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str | None) -> str | None:
        return None if v is None else check_base_url(v)


class GenerationConfig(StrictModel):
    """Everything that decides what ``sycl generate`` produces (see the module docstring)."""

    queries: Path | None = Field(None, description="queries.jsonl, a TSV 'id<TAB>text', or a BEIR folder (with split)")
    split: str | None = Field(None, description="with a BEIR folder: only queries judged in this split")
    out: Path | None = Field(None, description="output folder (a BEIR data set)")
    limit: int | None = Field(None, ge=1, description="only the first N queries")
    backend: Backend = Field(
        "embedded",
        description="who writes the passages: an OpenAI-compatible server, vLLM "
        "in-process, a local transformers model, or the embedded SmolLM2-135M (offline)",
    )
    model: str | None = Field(None, description="model name (openai, vllm), directory or .gguf file (transformers)")
    base_url: str = Field("http://127.0.0.1:8000/v1", description="OpenAI-compatible server")
    api_key_env: str | None = Field(None, description="name of the environment variable holding the API key")
    concurrency: int = Field(16, ge=1, le=4096, description="requests in flight (openai backend)")
    request_timeout: float = Field(120.0, gt=0, description="seconds per HTTP request")
    max_retries: int = Field(6, ge=0, description="transport retries per request (429/5xx/timeouts/connection)")
    structured_output: StructuredOutput = Field(
        "json_schema",
        description="first response_format the openai backend tries in json mode; a server that "
        "rejects it gets the next at once: json_schema -> json_object with the schema -> none (JSON asked for "
        "in the prompt only)",
    )
    max_attempts: int | None = Field(
        None,
        ge=1,
        description="content attempts per query or level (malformed "
        "answers); default 5 for the embedded model, 3 for the others",
    )
    batch_size: int = Field(
        64,
        ge=1,
        description="prompts per batch for the local backends "
        "(64 beat 32 for the embedded model on 2 CPU cores: benchmarks/RESULTS.md)",
    )
    dtype: Literal["auto", "float32", "bfloat16"] = Field("auto", description="weights of the local backends")
    mode: Mode | None = Field(
        None,
        description="one JSON answer per query, or one request per level "
        "(default: per-level for the embedded model, json for the others)",
    )
    prompt_template: Path | None = Field(None, description="your own template file (see sycl/resources/prompts/)")
    levels: list[RelevanceLevel] = Field(default_factory=default_levels)
    passages_per_level: int = Field(1, ge=1, le=16, description="passages per level and query")
    samples_per_query: int = Field(1, ge=1, le=64, description="ranking contexts per query")
    passage_words: int = Field(80, ge=5, le=1000, description="length guidance written into the prompt")
    min_words: int = Field(8, ge=1, description="shorter passages are rejected and asked again")
    near_duplicate_jaccard: float = Field(
        0.8, gt=0.0, le=1.0, description="word-set overlap above which two passages of a context count as duplicates"
    )
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    seed: int = Field(0, description="sampling seed")
    max_failure_rate: float = Field(0.1, ge=0.0, le=1.0, description="exit 1 when a larger share of contexts fails")
    judge: str | None = Field(
        "embedded",
        description="sentence-transformers path of the quality judge; 'embedded' (all-MiniLM-L6-v2) or 'none'",
    )
    filter_inconsistent: bool = Field(
        False, description="drop contexts whose judge ordering disagrees with the labels (tau < min_tau)"
    )
    min_tau: float = Field(0.0, ge=-1.0, le=1.0, description="threshold of filter_inconsistent")
    llm_judge: LLMJudgeConfig = Field(default_factory=LLMJudgeConfig)
    vllm_kwargs: dict[str, Any] = Field(default_factory=dict, description="extra vllm.LLM(...) arguments")

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: list[RelevanceLevel]) -> list[RelevanceLevel]:
        return check_levels(v)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        return check_base_url(v)

    def resolved_mode(self) -> Mode:
        """``mode`` or the backend's default: one request per level for the small embedded
        model (it cannot hold four passages in one JSON answer), JSON for the others."""
        if self.mode is not None:
            return self.mode
        return "per-level" if self.backend == "embedded" else "json"

    def resolved_max_attempts(self) -> int:
        """``max_attempts`` or the backend's default: the 135M embedded model writes meta-text ("The
        passage is irrelevant...") often enough that 3 attempts failed 6 of the quickstart's 50 queries."""
        if self.max_attempts is not None:
            return self.max_attempts
        return 5 if self.backend == "embedded" else 3

    def resolved_max_tokens(self) -> int:
        """Completion-token budget per request."""
        if self.sampling.max_tokens is not None:
            return self.sampling.max_tokens
        per_passage = max(48, int(self.passage_words * 1.6) + 16)
        if self.resolved_mode() == "json":
            return per_passage * self.passages_per_level * len(self.levels) + 32
        return per_passage * self.passages_per_level


def load_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> GenerationConfig:
    """Read ``path`` (the whole file, or its ``generate:`` section), apply ``overrides``, validate.

    ``overrides`` maps dotted keys to typed values (as :func:`sycl.config.flag_values` gives them).
    Relative paths are relative to the working directory, as on the command line.
    """
    data: dict = {}
    if path:
        data = read_yaml(path)
        if "generate" in data:
            section = data["generate"]
            if not isinstance(section, dict):
                from sycl.io.errors import DataError

                raise DataError(path, "the 'generate' section must be a mapping")
            data = section
    if overrides:
        data = apply_overrides(data, dict(overrides))
    return validate(GenerationConfig, data, str(path) if path else "<command line>")
