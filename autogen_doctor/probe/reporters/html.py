"""HTML report: ONE self-contained file (inline CSS, no script, no external asset, no network).

Reply texts, backend labels and error messages come from the probed server, which is not
trusted: every such value is HTML-escaped, and a Content-Security-Policy forbids scripts and
remote loads in case a browser is ever handed something we missed.
"""

from __future__ import annotations

from html import escape

from autogen_doctor.probe.reporters.session_map import MARK_LEGEND, build_map, linked_finding_line
from autogen_doctor.probe.transcript import Transcript
from autogen_doctor.probe.verdict import INCONCLUSIVE, PASS, Verdict
from autogen_doctor.textsafe import escape_text

# Backend colours (background, text): distinct hues first.
PALETTE = (
    ("#7fd3e6", "#000"), ("#e58fd8", "#000"), ("#f2d45c", "#000"), ("#8fdc8f", "#000"),
    ("#3d6fd1", "#fff"), ("#d14a3d", "#fff"), ("#c9c9c9", "#000"), ("#8a4fc0", "#fff"),
    ("#3aa6a0", "#fff"), ("#c08a2e", "#fff"), ("#2e8b57", "#fff"), ("#666", "#fff"),
)
VERDICT_COLOUR = {PASS: "#1f883d", INCONCLUSIVE: "#9a6700"}
MAX_REPLY_CHARS = 2000

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#1f2328;max-width:75em}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.6em 0 .5em}
.verdict{display:inline-block;padding:.2em .7em;border-radius:.3em;color:#fff;font-weight:700}
.reason{margin:.6em 0;font-size:1.05em}
table{border-collapse:collapse}td,th{padding:.25em .5em;border:1px solid #d0d7de;text-align:left}
table.map td.cell{text-align:center;font-family:ui-monospace,monospace;min-width:3.2em}
table.map td.lost{outline:3px solid #cf222e;outline-offset:-3px;font-weight:700}
table.map td.err{background:#fff;color:#cf222e;font-weight:700;border-style:dashed}
table.map td.unknown{background:#eee;color:#555}
th.lost{color:#cf222e}
.evidence li{margin:.15em 0}.dim{color:#57606a}
.tag{display:inline-block;padding:0 .5em;border-radius:.2em;font-family:ui-monospace,monospace}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:.5em;margin:.2em 0}
details{margin:.2em 0}summary{cursor:pointer}
"""


def _e(text: object) -> str:
    return escape(escape_text(text), quote=True)


def _e_block(text: object) -> str:
    """A reply shown in <pre>: its lines kept, every other control character escaped."""
    return "\n".join(_e(line) for line in str(text).split("\n"))


def _palette_class(index: int | None) -> str:
    return "unknown" if index is None else f"b{index % len(PALETTE)}"


def render_html(verdict: Verdict, transcript: Transcript) -> str:
    """The report as one HTML document."""
    session_map = build_map(transcript)
    colour = VERDICT_COLOUR.get(verdict.verdict, "#cf222e")
    styles = CSS + "".join(f".b{i}{{background:{bg};color:{fg}}}" for i, (bg, fg) in enumerate(PALETTE))
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>autogen-doctor probe: {_e(verdict.verdict)}</title>",
        f"<style>{styles}</style></head><body>",
        f"<h1>autogen-doctor probe <span class=\"dim\">{_e(verdict.url)}</span></h1>",
        f'<p><span class="verdict" style="background:{colour}">{_e(verdict.verdict.upper())}</span>'
        + (f" cause: <strong>{_e(verdict.cause)}</strong>" if verdict.cause else "") + "</p>",
        f'<p class="reason">{_e(verdict.reason)}</p>',
    ]
    rate = f"{verdict.recall.rate:.0%}" if verdict.recall.rate is not None else "n/a"
    out.append("<table><tr><th>sessions × turns</th><th>replies</th><th>errors</th><th>retries</th>"
               "<th>backends</th><th>recall</th><th>duration</th></tr>"
               f"<tr><td>{verdict.sessions} × {verdict.turns}</td><td>{verdict.replies}</td>"
               f"<td>{verdict.errors}</td><td>{verdict.retries}</td><td>{len(verdict.backends)}</td>"
               f"<td>{verdict.recall.recalled}/{verdict.recall.expected} ({rate})</td>"
               f"<td>{verdict.duration_s:.1f} s</td></tr></table>")

    if verdict.causes:
        out.append("<h2>Evidence</h2>")
        for report in verdict.causes:
            fix = f'<p><strong>Fix:</strong> {_e(report.fix)}</p>' if report.fix else ""
            out.append(f"<h3>{_e(report.cause)} ({report.count})</h3><p>{_e(report.summary)}</p>{fix}"
                       '<ul class="evidence">' + "".join(f"<li>{_e(item)}</li>" for item in report.evidence)
                       + (f'<li class="dim">… and {report.evidence_omitted} more</li>' if report.evidence_omitted else "")
                       + "</ul>")

    if session_map.rows:
        out.append("<h2>Session map</h2>"
                   '<p class="dim">One row per session, one cell per turn, coloured by the backend that '
                   "served it. Hover a cell for details.</p>")
        out.append('<table class="map"><tr><th>session</th>'
                   + "".join(f"<th>{turn}</th>" for turn in range(1, session_map.turns + 1)) + "</tr>")
        for row in session_map.rows:
            cells = []
            for cell in row.cells:
                classes = ["cell", "err" if cell.kind == "error" else _palette_class(cell.palette)]
                if cell.lost:
                    classes.append("lost")
                cells.append(f'<td class="{" ".join(classes)}" title="{_e(cell.title)}">{_e(cell.text)}</td>')
            cells += ["<td></td>"] * (session_map.turns - len(row.cells))
            head_class = ' class="lost"' if row.lost else ""
            out.append(f"<tr><th{head_class}>{_e(row.session)}</th>{''.join(cells)}</tr>")
        out.append("</table>")
        out.append("<p>Backends: " + " ".join(
            f'<span class="tag {_palette_class(entry.palette)}">{_e(entry.tag)}</span> {_e(entry.label)} '
            f'<span class="dim">({entry.replies} replies)</span>' for entry in session_map.legend) + "</p>")
        out.append('<p class="dim">Marks: ' + "; ".join(f"<code>{_e(mark)}</code> {_e(meaning)}"
                                                     for mark, meaning in MARK_LEGEND) + "</p>")

    if verdict.backends:
        out.append("<h2>Backends</h2><table><tr><th>pod</th><th>pid</th><th>replies</th></tr>"
                   + "".join(f"<tr><td>{_e(b.pod or '-')}</td><td>{_e(b.pid or '-')}</td><td>{b.replies}</td></tr>"
                             for b in verdict.backends) + "</table>")
    if verdict.notes:
        out.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_e(note)}</li>" for note in verdict.notes) + "</ul>")
    if verdict.linked_findings:
        out.append("<h2>Findings in the code that explain it</h2><ul>"
                   + "".join(f"<li>{_e(linked_finding_line(item))}</li>" for item in verdict.linked_findings)
                   + "</ul>")

    if session_map.rows:
        out.append("<h2>Replies</h2>")
        for row in session_map.rows:
            out.append(f"<details><summary>{_e(row.session)}</summary>")
            for cell in row.cells:
                reply = cell.reply_text[:MAX_REPLY_CHARS]
                out.append(f"<p><strong>turn {cell.turn}</strong> <span class=\"dim\">{_e(cell.title)}</span></p>"
                           f"<pre>{_e_block(reply) or '<em>(no reply)</em>'}</pre>")
            out.append("</details>")
    out.append(f'<p class="dim">autogen-doctor {_e(verdict.version)}</p></body></html>')
    return "\n".join(out) + "\n"
