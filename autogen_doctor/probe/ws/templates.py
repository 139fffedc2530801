"""Frame and URL templates of the WebSocket probe.

Placeholders: {session}, {message}, {turn}, {connection} (a fresh UUID4 per connection),
{uuid} (a fresh UUID4 per occurrence) and {now} (ISO-8601 UTC). Any other `{...}` is left as it
is, because real frames carry literal braces (AutoGen Studio team configs hold `{roles}`,
`{history}`, `{result}`). JSON templates get JSON-escaped values and must be valid JSON once
filled; text templates get the values verbatim; URLs get them percent-encoded.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from autogen_doctor.exit_codes import UserError

PLACEHOLDERS = ("session", "message", "turn", "connection", "uuid", "now")
# Filled by a preset's HTTP set-up (setup.py): {run} and {workflow} are strings, {team} is JSON
# inserted as it is (AutoGen Studio's team component).
SETUP_PLACEHOLDERS = ("run", "team", "workflow")
RAW_JSON_PLACEHOLDERS = ("team",)
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS + SETUP_PLACEHOLDERS) + r")\}")


@dataclass(frozen=True)
class Values:
    """What one frame's placeholders stand for."""

    session: str
    message: str = ""
    turn: int = 0
    connection: str = ""
    setup: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        if name in SETUP_PLACEHOLDERS:
            return self.setup.get(name, "{}" if name in RAW_JSON_PLACEHOLDERS else "")
        if name == "uuid":
            return str(uuid.uuid4())
        if name == "now":
            return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return str(getattr(self, name))


@dataclass(frozen=True)
class Template:
    """A frame template: `text` false means JSON (escaped values, checked to parse)."""

    source: str
    text: bool = False

    @property
    def names(self) -> set[str]:
        return set(_PLACEHOLDER.findall(self.source))

    def render(self, values: Values) -> str:
        if self.text:
            return _PLACEHOLDER.sub(lambda match: values.get(match.group(1)), self.source)
        return _PLACEHOLDER.sub(lambda match: _json_value(match.group(1), values), self.source)


def _json_value(name: str, values: Values) -> str:
    value = values.get(name)
    return value if name in RAW_JSON_PLACEHOLDERS else json.dumps(value)[1:-1]


def load_template(source: str | None, flag: str, *, text: bool) -> Template | None:
    """A template from a flag value; `@FILE` reads the file (Studio team configs are long)."""
    if source is None:
        return None
    if source.startswith("@") and len(source) > 1:
        path = Path(source[1:])
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as error:
            raise UserError(f"{flag} {path}: cannot read it ({error.strerror or error})") from None
    template = Template(source, text=text)
    if not text:
        sample = template.render(Values(session='adr-s1-"x"', message='a "quoted" \\ message\nline', turn=1,
                                        connection="c"))
        try:
            json.loads(sample)
        except json.JSONDecodeError as error:
            raise UserError(f"{flag} is not valid JSON once its placeholders are filled: {error.msg} "
                            f"(line {error.lineno} column {error.colno}); use the -text form for raw text "
                            "frames") from None
    return template


def render_url(url: str, values: Values) -> str:
    """The URL with placeholders percent-encoded (`ws://h/ws/{session}`, `?session_id={session}`)."""
    return _PLACEHOLDER.sub(lambda match: quote(values.get(match.group(1)), safe=""), url)
