"""JSON report: the SPEC's object (`Verdict.to_json`), one object, indented, UTF-8 text."""

from __future__ import annotations

import json as _json
import math

from autogen_doctor.probe.transcript import Transcript
from autogen_doctor.probe.verdict import Verdict


def render_json(verdict: Verdict, transcript: Transcript) -> str:
    """The verdict as the contract's JSON object (the transcript goes to --record, not here)."""
    return dumps_strict(verdict.to_json()) + "\n"


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def dumps_strict(document: object) -> str:
    """Indented JSON that strict parsers (jq) accept: NaN and Infinity, which only a damaged
    recording could carry this far, are written as null instead of invalid JSON."""
    return _json.dumps(_finite(document), indent=2, ensure_ascii=False, allow_nan=False)
