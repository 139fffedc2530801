"""JSON report: the SPEC's object (`Verdict.to_json`), one object, indented, UTF-8 text."""

from __future__ import annotations

import json as _json

from autogen_doctor.probe.transcript import Transcript
from autogen_doctor.probe.verdict import Verdict


def render_json(verdict: Verdict, transcript: Transcript) -> str:
    """The verdict as the contract's JSON object (the transcript goes to --record, not here)."""
    return _json.dumps(verdict.to_json(), indent=2, ensure_ascii=False) + "\n"
