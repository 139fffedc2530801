"""Reporters: a verdict (and the transcript behind it) as text, JSON, JUnit XML, Markdown or HTML."""

from __future__ import annotations

from autogen_doctor.exit_codes import UserError
from autogen_doctor.probe.transcript import Transcript
from autogen_doctor.probe.verdict import Verdict

FORMATS = ("text", "json", "junit", "markdown", "html")


def render(verdict: Verdict, transcript: Transcript, fmt: str, *, color: bool = False) -> str:
    """The report in format `fmt` (text|json|junit|markdown|html) as a string.

    `color` only affects `text` (ANSI colours for a terminal); every other format is plain data.
    """
    if fmt == "text":
        from autogen_doctor.probe.reporters.text import render_text

        return render_text(verdict, transcript, color=color)
    if fmt == "json":
        from autogen_doctor.probe.reporters.json import render_json

        return render_json(verdict, transcript)
    if fmt == "junit":
        from autogen_doctor.probe.reporters.junit import render_junit

        return render_junit(verdict, transcript)
    if fmt == "markdown":
        from autogen_doctor.probe.reporters.markdown import render_markdown

        return render_markdown(verdict, transcript)
    if fmt == "html":
        from autogen_doctor.probe.reporters.html import render_html

        return render_html(verdict, transcript)
    raise UserError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
