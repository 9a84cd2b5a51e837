"""Synthetic multi-level ranking contexts: an LLM writes passages at graded relevance levels
for real queries; the result is a BEIR-format training set whose labels are those levels.

Layout: ``levels`` + ``prompts`` (what is asked), ``backends/`` (who answers), ``parsing``
(what is accepted), ``units`` + ``pipeline`` + ``journal`` (how the work runs and resumes),
``dataset`` (what is written), ``quality`` (an independent judge), ``api`` (the entry point).

    from sycl.generation import GenerationConfig, generate
    path = generate(GenerationConfig(queries="queries.jsonl", out="synthetic", backend="embedded"))
"""
from sycl.generation.api import GenerationFailed, GenerationResult, generate, load_queries, run_generate
from sycl.generation.backends import BackendUnavailable
from sycl.generation.config import GenerationConfig, SamplingConfig, load_config
from sycl.generation.levels import TREC_DL_LEVELS, RelevanceLevel, default_levels

__all__ = [
    "BackendUnavailable",
    "GenerationConfig",
    "GenerationFailed",
    "GenerationResult",
    "RelevanceLevel",
    "SamplingConfig",
    "TREC_DL_LEVELS",
    "default_levels",
    "generate",
    "load_config",
    "load_queries",
    "run_generate",
]
