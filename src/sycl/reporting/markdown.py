"""Render a :class:`~sycl.reporting.content.ReportContent` as Markdown (GitHub-flavoured tables).

Charts are referenced as ``figures/<chart_id>.png`` next to the Markdown file (the caller
writes them); best-in-column cells are bold. Text from the artefacts is escaped so that it can
neither break a table nor inject HTML.
"""

from __future__ import annotations

from sycl.io.markdown import md_escape
from sycl.reporting.content import ReportContent, Section, Table


def figure_path(chart_id: str) -> str:
    return f"figures/{chart_id}.png"


def render_table(t: Table) -> str:
    lines = []
    if t.caption:
        lines += [f"*{md_escape(t.caption)}*", ""]
    lines.append("| " + " | ".join(md_escape(h) for h in t.header) + " |")
    lines.append("|" + "|".join(" ---: " if n else " --- " for n in t.numeric_columns()) + "|")
    for r, row in enumerate(t.rows):
        cells = [f"**{md_escape(c)}**" if t.bold and t.bold[r][i] else md_escape(c) for i, c in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _section(s: Section) -> str:
    out = [f"## {md_escape(s.title)}", ""]
    out += [f"> Note: {md_escape(n)}\n" for n in s.notes]
    for c in s.charts:
        out += [f"![{md_escape(c.alt)}]({figure_path(c.chart_id)})", ""]
        if c.caption:
            out += [f"*{md_escape(c.title)}: {md_escape(c.caption)}*", ""]
    for t in s.tables:
        out += [render_table(t), ""]
    for name, contexts in s.samples.items():
        out += [f"### Sample ranking contexts: {md_escape(name)}", ""]
        for ctx in contexts:
            out.append(f"**Query** `{ctx.query_id.replace('`', '')}`: {md_escape(ctx.query)}")
            out.append("")
            for p in ctx.passages:
                title = f"*{md_escape(p.title)}* " if p.title else ""
                out.append(f"- **[level {p.level}]** {title}{md_escape(p.text)}")
            out.append("")
    for label, text in s.details.items():
        fence = "````" if "```" in text else "```"
        out += [
            f"<details><summary>{md_escape(label)}</summary>",
            "",
            f"{fence}json",
            text,
            fence,
            "",
            "</details>",
            "",
        ]
    return "\n".join(out)


def render_markdown(content: ReportContent) -> str:
    """The report as one Markdown document."""
    out = [
        f"# {md_escape(content.title)}",
        "",
        f"Run directories: {', '.join(md_escape(d) for d in content.run_dirs)}; created {content.created}.",
        "",
    ]
    out += [_section(s) for s in content.sections]
    if content.notes:
        out += ["## Notes", ""] + [f"- {md_escape(n)}" for n in content.notes] + [""]
    return "\n".join(out).rstrip() + "\n"
