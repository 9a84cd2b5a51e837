"""Build the report of one or more run directories: discovery -> content -> HTML + Markdown + figures."""

from __future__ import annotations

from pathlib import Path

from sycl.io.atomic import atomic_open, atomic_write_text, check_output_folder
from sycl.io.errors import DataError
from sycl.log import get_logger
from sycl.reporting.config import ReportConfig
from sycl.reporting.content import collect
from sycl.reporting.discovery import discover
from sycl.reporting.html import render_html
from sycl.reporting.markdown import figure_path, render_markdown

log = get_logger(__name__)


def default_out_dir(run_dirs: list[str | Path], out_dir: str | Path | None) -> Path:
    """``out_dir`` if given, else ``RUN_DIR/report`` for a single run directory; several need ``--out``."""
    if out_dir is not None:
        return Path(out_dir)
    if len(run_dirs) == 1:
        return Path(run_dirs[0]) / "report"
    raise DataError(None, "several run directories given: say where the report goes with --out DIR")


def build_report(
    run_dirs: list[str | Path], out_dir: str | Path | None = None, title: str | None = None, **settings
) -> tuple[Path, Path]:
    """Write ``report.html``, ``report.md`` and ``figures/*.png`` into ``out_dir``; return the two paths.

    ``settings`` are further :class:`ReportConfig` fields: ``measure`` is the headline measure of the
    summary table and bar chart; ``samples`` ranking contexts per generated set are shown with
    passages capped to ``max_chars`` characters. Raises :class:`DataError` when no run directory
    holds any known artefact.
    """
    return report(run_dirs, ReportConfig(out=None if out_dir is None else str(out_dir), title=title, **settings))


def report(run_dirs: list[str | Path], config: ReportConfig) -> tuple[Path, Path]:
    """``sycl report``: write the report of ``run_dirs`` as ``config`` says; return (html, markdown) paths."""
    out_dir, title = config.out, config.title
    run_dirs = list(run_dirs)
    out = check_output_folder(default_out_dir(run_dirs, out_dir))
    art = discover(run_dirs)
    if title is None:
        title = "SyCL report: " + ", ".join(Path(d).resolve().name for d in run_dirs)
    content = collect(art, title, measure=config.measure, n_samples=config.samples, max_chars=config.max_chars)
    for note in content.notes:
        log.info("note: %s", note)
    for chart in content.charts():
        with atomic_open(out / figure_path(chart.chart_id), "wb") as fh:
            fh.write(chart.png)
    md_path, html_path = out / "report.md", out / "report.html"
    atomic_write_text(md_path, render_markdown(content))
    atomic_write_text(html_path, render_html(content))
    log.info(
        "report of %d evaluation(s), %d trained model(s), %d generated set(s): %s",
        len(art.evaluations),
        len(art.trainings),
        len(art.generations),
        html_path,
    )
    return html_path, md_path
