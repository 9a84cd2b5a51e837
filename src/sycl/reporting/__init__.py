"""Reports for people: an HTML page and Markdown of a run's charts and tables, and model cards.

* :func:`build_report` -- walk run directories for artefacts (``docs/CONTRACTS.md``) and write
  ``report.html`` (self-contained) + ``report.md`` + ``figures/``.
* :func:`write_model_card` -- ``README.md`` of a trained model directory.
* :func:`push_to_hub` -- upload a model directory to the Hugging Face hub.
"""
from sycl.reporting.model_card import push_to_hub, write_model_card
from sycl.reporting.report import build_report

__all__ = ["build_report", "write_model_card", "push_to_hub"]
