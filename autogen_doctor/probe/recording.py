"""`--record FILE.jsonl` and `--replay FILE.jsonl`: a run header line, then one line per turn.

Records are written already redacted (the sender redacts before a record exists).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from autogen_doctor import __version__
from autogen_doctor.exit_codes import UserError
from autogen_doctor.files import read_regular_file
from autogen_doctor.probe.options import MAX_SESSIONS, MAX_TURNS
from autogen_doctor.probe.transcript import Transcript, TurnRecord
from autogen_doctor.textsafe import escape_text

_REQUIRED = {"session": str, "turn": int, "planted": str}
_LISTS = ("expected", "recalled", "foreign", "joined_codewords")
_NUMBER = (int, float)
_NONE = type(None)
# Optional fields and the JSON types they may hold: a damaged or hand-edited recording must
# be a one-line error, not a crash deep inside a report.
_TURN_OPTIONAL = {"status": (int, _NONE), "error": (str, _NONE), "attempts": int, "sent_at": _NUMBER,
                  "latency_s": _NUMBER, "burst": bool, "reply_text": str, "request": dict,
                  "response_headers": dict, "reply_stream": (str, _NONE)}
# A recording is read whole: bigger than this is not one the probe wrote (a million sessions of
# four turns with short replies stay well under it).
MAX_RECORDING_BYTES = 1024 * 1024 * 1024
MAX_ATTEMPTS = 1000
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
        raise UserError(f"cannot write the recording {escape_text(path)}: {error.strerror or error}") from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _loads(line: str) -> Any:
    try:
        return json.loads(line)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except json.JSONDecodeError as error:
        raise ValueError(error.msg) from None


def read_recording_text(path: Path) -> str:
    """The text of a recording: a regular file of at most MAX_RECORDING_BYTES, or a one-line UserError."""
    if Path(path).is_dir():  # said the way a recording's users read it: a folder is not a .jsonl file
        raise UserError(f"--replay {escape_text(path)}: not a regular file (a recording is a .jsonl file)")
    data = read_regular_file(Path(path), "--replay", MAX_RECORDING_BYTES)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserError(f"--replay {escape_text(path)}: cannot read it (not UTF-8 text: {error.reason})") from None


def _check_record(data: Any, where: str, turns: int) -> TurnRecord:
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
        raise UserError(f"{where}: turn record field {wrong!r} has the wrong type ({_short(data[wrong])})")
    if not 1 <= data.get("attempts", 1) <= MAX_ATTEMPTS:
        raise UserError(f"{where}: 'attempts' must be between 1 and {MAX_ATTEMPTS}")
    if not 1 <= data["turn"] <= turns:
        raise UserError(f"{where}: 'turn' must be between 1 and the run's {turns} turns, got {_short(data['turn'])}")
    status = data.get("status")
    if status is not None and not 100 <= status <= 599:
        raise UserError(f"{where}: 'status' must be an HTTP status (100 to 599), got {_short(status)}")
    for key in ("latency_s", "sent_at"):
        value = data.get(key, 0.0)
        if not (math.isfinite(value) and value >= 0):
            raise UserError(f"{where}: {key!r} must be a finite number of seconds, at least 0, got {_short(value)}")
    try:
        return TurnRecord.from_json(data)
    except (TypeError, ValueError) as error:
        raise UserError(f"{where}: unreadable turn record ({error})") from None


def read_recording(path: Path) -> tuple[Transcript, dict[str, Any]]:
    """The transcript of a recording and its raw header; one-line UserError when malformed."""
    text = read_recording_text(Path(path))
    shown = escape_text(path)
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise UserError(f"--replay {shown}: the file is empty")
    parsed = []
    for number, line in lines:
        try:
            parsed.append((number, _loads(line)))
        except ValueError as error:
            raise UserError(f"{shown} line {number}: not JSON ({error})") from None
    path = shown  # type: ignore[assignment] - every message below quotes the escaped name
    number, header = parsed[0]
    if not isinstance(header, dict) or header.get("type") != "run":
        raise UserError(f"{path} line {number}: not an autogen-doctor recording (no run header)")
    fields = Transcript.__dataclass_fields__
    values = {key: header[key] for key in fields if key in header and key != "records"}
    for key, kind in (("url", str), ("sessions", int), ("turns", int)):
        if not isinstance(values.get(key), kind) or isinstance(values.get(key), bool):
            raise UserError(f"{path} line {number}: run header needs {key!r} ({kind.__name__})")
    for key, low, most in (("sessions", 1, MAX_SESSIONS), ("turns", 2, MAX_TURNS)):
        if not low <= values[key] <= most:
            raise UserError(f"{path} line {number}: run header {key!r} must be between {low} and {most}, "
                            f"got {_short(values[key])}")
    codewords = values.get("codewords_by_session", {})
    if not isinstance(codewords, dict) or not all(
            isinstance(words, list) and all(isinstance(word, str) for word in words) for words in codewords.values()):
        raise UserError(f"{path} line {number}: 'codewords_by_session' must map sessions to lists of codewords")
    wrong = _wrong_type(values, _HEADER_OPTIONAL)
    if wrong is not None:
        raise UserError(f"{path} line {number}: run header field {wrong!r} has the wrong type "
                        f"({_short(values[wrong])})")
    duration = values.get("duration_s", 0.0)
    if not (math.isfinite(duration) and duration >= 0):
        raise UserError(f"{path} line {number}: 'duration_s' must be a finite number of seconds, "
                        f"got {_short(duration)}")
    records = []
    seen: set[tuple[str, int]] = set()
    for number, data in parsed[1:]:
        if isinstance(data, dict) and data.get("type", "turn") != "turn":
            continue  # later versions may add other line types; skip what we do not know
        record = _check_record(data, f"{path} line {number}", values["turns"])
        key = (record.session, record.turn)
        if key in seen:
            raise UserError(f"{path} line {number}: a second record for turn {record.turn} of session "
                            f"'{escape_text(record.session)}'")
        seen.add(key)
        records.append(record)
    try:
        transcript = Transcript(records=records, **values)
    except TypeError as error:
        raise UserError(f"{path}: unreadable run header ({error})") from None
    return transcript, header
