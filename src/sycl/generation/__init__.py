"""Synthetic multi-level ranking contexts: an LLM writes passages at graded relevance levels
for real queries; the result is a BEIR-format training set whose labels are those levels.

Layout: ``levels`` + ``prompts`` (what is asked), ``backends/`` (who answers), ``parsing``
(what is accepted), ``units`` + ``pipeline`` + ``journal`` (how the work runs and resumes),
``dataset`` (what is written), ``quality`` (an independent judge), ``api`` (the entry point).

    from sycl.generation import GenerationConfig, generate
    path = generate(GenerationConfig(queries="queries.jsonl", out="synthetic", backend="embedded"))
"""

from sycl._lazy import lazy_exports

_EXPORTS = {
    "GenerationFailed": "sycl.generation.api",
    "GenerationResult": "sycl.generation.api",
    "generate": "sycl.generation.api",
    "load_queries": "sycl.generation.api",
    "run_generate": "sycl.generation.api",
    "BackendUnavailable": "sycl.generation.backends",
    "GenerationConfig": "sycl.generation.config",
    "SamplingConfig": "sycl.generation.config",
    "load_config": "sycl.generation.config",
    "TREC_DL_LEVELS": "sycl.generation.levels",
    "RelevanceLevel": "sycl.generation.levels",
    "default_levels": "sycl.generation.levels",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
