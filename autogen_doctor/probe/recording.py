"""`--record FILE.jsonl` and `--replay FILE.jsonl`: a run header line, then one line per turn.

Records are written already redacted (the sender redacts before a record exists).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from autogen_doctor import __version__
from autogen_doctor.exit_codes import UserError
from autogen_doctor.probe.options import MAX_SESSIONS, MAX_TURNS
from autogen_doctor.probe.transcript import Transcript, TurnRecord

_REQUIRED = {"session": str, "turn": int, "planted": str}
_LISTS = ("expected", "recalled", "foreign")
_NUMBER = (int, float)
_NONE = type(None)
# Optional fields and the JSON types they may hold: a damaged or hand-edited recording must
# be a one-line error, not a crash deep inside a report.
_TURN_OPTIONAL = {"status": (int, _NONE), "error": (str, _NONE), "attempts": int, "sent_at": _NUMBER,
                  "latency_s": _NUMBER, "burst": bool, "reply_text": str, "request": dict,
                  "response_headers": dict}
_HEADER_OPTIONAL = {"concurrent_turns": bool, "identity_source": (str, _NONE), "duration_s": _NUMBER}
_BACKEND_PARTS = ("pod", "pid")


def _wrong_type(data: dict[str, Any], expected: dict[str, Any]) -> str | None:
    """The first key of `data` whose value is not of its expected type (bool is no number)."""
    for key, kinds in expected.items():
        if key not in data:
            continue
        value = data[key]
        allowed = kinds if isinstance(kinds, tuple) else (kinds,)
        if isinstance(value, bool) and bool not in allowed:
            return key
        if not isinstance(value, allowed):
            return key
    return None


def write_recording(path: Path, transcript: Transcript, *, seed: int | None = None) -> None:
    """Write the transcript as JSONL; a one-line UserError when the file cannot be written."""
    header = {**transcript.header_json(), "version": __version__, "seed": seed,
              "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    lines = [json.dumps(header, ensure_ascii=False)]
    lines += [json.dumps(record.to_json(), ensure_ascii=False) for record in transcript.records]
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)  # as `scan --output` does
        Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot write the recording {path}: {error.strerror or error}") from None


def _check_record(data: Any, where: str) -> TurnRecord:
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a JSON object")
    for key, kind in _REQUIRED.items():
        if not isinstance(data.get(key), kind) or isinstance(data.get(key), bool):
            raise UserError(f"{where}: turn record needs {key!r} ({kind.__name__})")
    for key in _LISTS:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(word, str) for word in value):
            raise UserError(f"{where}: {key!r} must be a list of codewords")
    backend = data.get("backend")
    if backend is not None and (not isinstance(backend, dict) or any(
            not isinstance(backend.get(part), (str, int, _NONE)) or isinstance(backend.get(part), bool)
            for part in _BACKEND_PARTS)):
        raise UserError(f"{where}: 'backend' must be an object with pod and pid")
    wrong = _wrong_type(data, _TURN_OPTIONAL)
    if wrong is not None:
        raise UserError(f"{where}: turn record field {wrong!r} has the wrong type ({data[wrong]!r})")
    if data.get("attempts", 1) < 1:
        raise UserError(f"{where}: 'attempts' must be at least 1")
    try:
        return TurnRecord.from_json(data)
    except (TypeError, ValueError) as error:
        raise UserError(f"{where}: unreadable turn record ({error})") from None


def read_recording(path: Path) -> tuple[Transcript, dict[str, Any]]:
    """The transcript of a recording and its raw header; one-line UserError when malformed."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"--replay {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"--replay {path}: cannot read it ({getattr(error, 'strerror', None) or error})") from None
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise UserError(f"--replay {path}: the file is empty")
    parsed = []
    for number, line in lines:
        try:
            parsed.append((number, json.loads(line)))
        except json.JSONDecodeError as error:
            raise UserError(f"{path} line {number}: not JSON ({error.msg})") from None
    number, header = parsed[0]
    if not isinstance(header, dict) or header.get("type") != "run":
        raise UserError(f"{path} line {number}: not an autogen-doctor recording (no run header)")
    fields = Transcript.__dataclass_fields__
    values = {key: header[key] for key in fields if key in header and key != "records"}
    for key, kind in (("url", str), ("sessions", int), ("turns", int)):
        if not isinstance(values.get(key), kind) or isinstance(values.get(key), bool):
            raise UserError(f"{path} line {number}: run header needs {key!r} ({kind.__name__})")
    for key, most in (("sessions", MAX_SESSIONS), ("turns", MAX_TURNS)):
        if not 1 <= values[key] <= most:
            raise UserError(f"{path} line {number}: run header {key!r} must be between 1 and {most}, "
                            f"got {values[key]}")
    codewords = values.get("codewords_by_session", {})
    if not isinstance(codewords, dict) or not all(
            isinstance(words, list) and all(isinstance(word, str) for word in words) for words in codewords.values()):
        raise UserError(f"{path} line {number}: 'codewords_by_session' must map sessions to lists of codewords")
    wrong = _wrong_type(values, _HEADER_OPTIONAL)
    if wrong is not None:
        raise UserError(f"{path} line {number}: run header field {wrong!r} has the wrong type ({values[wrong]!r})")
    records = []
    for number, data in parsed[1:]:
        if isinstance(data, dict) and data.get("type", "turn") != "turn":
            continue  # later versions may add other line types; skip what we do not know
        records.append(_check_record(data, f"{path} line {number}"))
    try:
        transcript = Transcript(records=records, **values)
    except TypeError as error:
        raise UserError(f"{path}: unreadable run header ({error})") from None
    return transcript, header
