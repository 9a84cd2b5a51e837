"""Render a :class:`~sycl.reporting.content.ReportContent` as one self-contained HTML page.

Charts are embedded as base64 PNG ``data:`` URIs, the style sheet is inline and nothing refers
to an external URL, so the file can be mailed or opened offline. Every piece of text from the
artefacts is HTML-escaped. A small inline script sets ``data-charts-loaded="N"`` on ``<body>``
once all N images have decoded (``naturalWidth > 0``), which the browser test reads.
"""

from __future__ import annotations

import base64
from html import escape

from sycl.reporting.content import ReportContent, Section, Table
from sycl.reporting.plots import LEVEL_COLOURS, Chart
from sycl.reporting.samples import SampleContext

CSS = """
:root { --fg:#1d2329; --muted:#5b6670; --line:#dde2e6; --bg:#ffffff; --panel:#f6f8fa; --accent:#1f77b4; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color:var(--fg); background:var(--bg); }
header { padding:24px 40px 16px; border-bottom:1px solid var(--line); background:var(--panel); }
header h1 { margin:0 0 4px; font-size:26px; }
header .meta { color:var(--muted); font-size:13px; }
nav { margin-top:10px; font-size:14px; }
nav a { color:var(--accent); text-decoration:none; margin-right:16px; }
main { padding:8px 40px 40px; max-width:1200px; }
section { margin-top:28px; }
h2 { font-size:20px; border-bottom:2px solid var(--line); padding-bottom:4px; }
h3 { font-size:16px; margin:18px 0 8px; }
table { border-collapse:collapse; margin:8px 0 18px; font-size:13.5px; }
caption { caption-side:top; text-align:left; color:var(--muted); font-size:13px; padding-bottom:4px; white-space:nowrap; }
th, td { border-bottom:1px solid var(--line); padding:5px 12px; text-align:left; white-space:nowrap; }
th.num, td.num { text-align:right; font-variant-numeric:tabular-nums; }
th { background:var(--panel); font-weight:600; }
td.best { font-weight:700; }
.wide td { white-space:normal; }
figure { margin:10px 0 22px; }
figure img { max-width:100%; height:auto; border:1px solid var(--line); border-radius:4px; }
figcaption { color:var(--muted); font-size:13px; }
.charts { display:flex; flex-wrap:wrap; gap:18px; align-items:flex-start; }
.note { color:#7a5b00; background:#fff8e1; border-left:3px solid #f0b400; padding:6px 10px; margin:6px 0; font-size:13.5px; }
.context { border:1px solid var(--line); border-radius:6px; margin:12px 0 18px; overflow:hidden; }
.context .query { background:var(--panel); padding:8px 12px; font-weight:600; }
.context .qid { color:var(--muted); font-weight:400; font-size:12px; margin-left:8px; }
.passage { display:flex; gap:10px; padding:7px 12px; border-top:1px solid var(--line); font-size:14px; }
.badge { flex:0 0 auto; min-width:62px; text-align:center; border-radius:10px; padding:1px 8px; height:22px;
         color:#fff; font-size:12px; font-weight:600; line-height:20px; }
.passage .title { font-weight:600; }
.passage .did { color:var(--muted); font-size:12px; margin-left:6px; }
details { margin:8px 0; }
details pre { background:var(--panel); padding:10px; overflow:auto; max-height:420px; font-size:12.5px; }
footer { color:var(--muted); font-size:12px; padding:16px 40px; border-top:1px solid var(--line); }
"""

SCRIPT = """
(function () {
  var tries = 0;
  function check() {
    tries += 1;
    var imgs = Array.prototype.slice.call(document.images);
    var ok = imgs.filter(function (im) { return im.complete && im.naturalWidth > 0; }).length;
    document.body.setAttribute('data-charts-total', String(imgs.length));
    if (ok === imgs.length) { document.body.setAttribute('data-charts-loaded', String(ok)); }
    else if (tries < 200) { setTimeout(check, 50); }
    else { document.body.setAttribute('data-charts-broken', String(imgs.length - ok)); }
  }
  if (document.readyState === 'complete') { check(); } else { window.addEventListener('load', check); }
})();
"""


def _table(t: Table, wide: bool = False) -> str:
    out = [f'<table class="{"wide" if wide else ""}">']
    if t.caption:
        out.append(f"<caption>{escape(t.caption)}</caption>")
    numeric = t.numeric_columns()
    out.append(
        "<thead><tr>"
        + "".join(f'<th class="{"num" if n else ""}">{escape(h)}</th>' for h, n in zip(t.header, numeric))
        + "</tr></thead><tbody>"
    )
    for r, row in enumerate(t.rows):
        cells = []
        for c, cell in enumerate(row):
            cls = " ".join(x for x in ("num" if numeric[c] else "", "best" if t.bold and t.bold[r][c] else "") if x)
            cells.append(f'<td class="{cls}">{escape(cell)}</td>' if cls else f"<td>{escape(cell)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _chart(c: Chart) -> str:
    data = base64.b64encode(c.png).decode("ascii")
    cap = escape(c.title + (f" \u2014 {c.caption}" if c.caption else ""))
    return (
        f'<figure id="{escape(c.chart_id)}"><img class="chart" src="data:image/png;base64,{data}" '
        f'alt="{escape(c.alt)}" data-chart="{escape(c.chart_id)}"><figcaption>{cap}</figcaption></figure>'
    )


def _badge(level: int) -> str:
    colour = LEVEL_COLOURS.get(level, "#777777")
    return f'<span class="badge" style="background:{colour}">level {level}</span>'


def _context(ctx: SampleContext) -> str:
    out = [
        f'<div class="context"><div class="query">{escape(ctx.query)}<span class="qid">{escape(ctx.query_id)}</span></div>'
    ]
    for p in ctx.passages:
        title = f'<span class="title">{escape(p.title)}</span> ' if p.title else ""
        out.append(
            f'<div class="passage">{_badge(p.level)}<div>{title}{escape(p.text)}'
            f'<span class="did">{escape(p.doc_id)}</span></div></div>'
        )
    out.append("</div>")
    return "\n".join(out)


def _section(s: Section) -> str:
    out = [f'<section id="{escape(s.section_id)}"><h2>{escape(s.title)}</h2>']
    out += [f'<p class="note">{escape(n)}</p>' for n in s.notes]
    if s.charts:
        out.append('<div class="charts">' + "\n".join(_chart(c) for c in s.charts) + "</div>")
    out += [_table(t, wide=t.header == ["field", "value"] or t.header == ["name", "model evaluated"]) for t in s.tables]
    for name, contexts in s.samples.items():
        out.append(f"<h3>Sample ranking contexts \u2014 {escape(name)}</h3>")
        out += [_context(c) for c in contexts]
    for label, text in s.details.items():
        out.append(f"<details><summary>{escape(label)}</summary><pre>{escape(text)}</pre></details>")
    out.append("</section>")
    return "\n".join(out)


def render_html(content: ReportContent) -> str:
    """The whole page as a string (UTF-8, no external resources)."""
    nav = "".join(f'<a href="#{escape(s.section_id)}">{escape(s.title)}</a>' for s in content.sections)
    notes = ""
    if content.notes:
        notes = (
            '<section id="notes"><h2>Notes</h2>'
            + "".join(f'<p class="note">{escape(n)}</p>' for n in content.notes)
            + "</section>"
        )
    runs = ", ".join(escape(d) for d in content.run_dirs)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(content.title)}</title>
<style>{CSS}</style>
</head>
<body data-charts-loaded="" data-charts-total="{len(content.charts())}">
<header><h1>{escape(content.title)}</h1>
<div class="meta">Run directories: {runs} &middot; created {escape(content.created)}</div>
<nav>{nav}</nav></header>
<main>
{chr(10).join(_section(s) for s in content.sections)}
{notes}
</main>
<footer>Generated by <code>sycl report</code>. Self-contained: charts are embedded images.</footer>
<script>{SCRIPT}</script>
</body>
</html>
"""
