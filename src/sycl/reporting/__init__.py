"""Reports for people: an HTML page and Markdown of a run's charts and tables, and model cards.

* :func:`build_report` -- walk run directories for artefacts (``docs/CONTRACTS.md``) and write
  ``report.html`` (self-contained) + ``report.md`` + ``figures/``.
* :func:`write_model_card` -- ``README.md`` of a trained model directory.
* :func:`push_to_hub` -- upload a model directory's model files and card to the Hugging Face hub.
"""

from sycl._lazy import lazy_exports

_EXPORTS = {
    "push_to_hub": "sycl.reporting.publish",
    "write_model_card": "sycl.training.model_card",
    "build_report": "sycl.reporting.report",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
