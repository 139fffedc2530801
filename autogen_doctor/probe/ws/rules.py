"""Frame rules: `type=UserInputRequestedEvent`, `type=completion,status=error`, `text~Press enter`.

A rule is comma-separated terms that must all hold for one frame. A term is `PATH=VALUE`,
`PATH!=VALUE`, `PATH~REGEX` (re.search) or `PATH` alone (present and not null). `text` is the
raw frame text; other paths are dot paths into the frame's JSON (list indices are numbers).
`close` (alone) matches the server closing the connection. `\\,` puts a comma in a value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from autogen_doctor.exit_codes import UserError
from autogen_doctor.probe.extract import lookup

_TERM = re.compile(r"^([A-Za-z0-9_.\-]+)(!=|=|~)(.*)$", re.DOTALL)
_PATH = re.compile(r"^[A-Za-z0-9_.\-]+$")
RAW_TEXT = "text"
CLOSE = "close"


@dataclass(frozen=True)
class Term:
    path: str
    op: str  # "=", "!=", "~", "present"
    value: str = ""
    pattern: re.Pattern | None = None

    def holds(self, raw: str, document: Any) -> bool:
        if self.path == RAW_TEXT:
            found: Any = raw
        else:
            found = lookup(document, self.path) if isinstance(document, (dict, list)) else None
        if self.op == "present":
            return found is not None
        if found is None and self.op != "!=":
            # `null` is a JSON value a rule may name: compare it only when the key exists.
            if not (self.op == "=" and self.value == "null" and _has_key(document, self.path)):
                return False
        text = found if isinstance(found, str) else json.dumps(found, ensure_ascii=False)
        if self.op == "=":
            return text == self.value
        if self.op == "!=":
            return text != self.value
        return self.pattern is not None and self.pattern.search(text) is not None


def _has_key(document: Any, path: str) -> bool:
    head, _, last = path.rpartition(".")
    parent = lookup(document, head) if head else document
    return isinstance(parent, dict) and last in parent


@dataclass(frozen=True)
class Rule:
    """One rule as given (`source`) and its parsed terms; `close` rules have no terms."""

    source: str
    terms: tuple[Term, ...] = ()
    is_close: bool = False

    def matches(self, raw: str, document: Any) -> bool:
        return not self.is_close and all(term.holds(raw, document) for term in self.terms)


def _split_terms(text: str) -> list[str]:
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char if char == "," else "\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def parse_rule(text: str, flag: str, *, allow_close: bool = False) -> Rule:
    """Parse one rule; a one-line UserError naming the flag when it is malformed."""
    stripped = text.strip()
    if stripped == CLOSE:
        if not allow_close:
            raise UserError(f"{flag} {text!r}: 'close' is only a turn end (--ws-until, --ws-final)")
        return Rule(source=stripped, is_close=True)
    if not stripped:
        raise UserError(f"{flag} needs a rule such as type=UserInputRequestedEvent, got an empty one")
    terms = []
    for part in _split_terms(stripped):
        part = part.strip()
        match = _TERM.match(part)
        if match:
            path, op, value = match.groups()
            pattern = None
            if op == "~":
                try:
                    pattern = re.compile(value)
                except re.error as error:
                    raise UserError(f"{flag} {text!r}: bad regular expression {value!r} ({error})") from None
            terms.append(Term(path, op, value, pattern))
        elif _PATH.match(part):
            terms.append(Term(part, "present"))
        else:
            raise UserError(f"{flag} {text!r}: each term must be PATH=VALUE, PATH!=VALUE, PATH~REGEX or "
                            f"PATH (e.g. type=UserInputRequestedEvent), got {part!r}")
    return Rule(source=stripped, terms=tuple(terms))


def parse_rules(texts: list[str] | None, flag: str, *, allow_close: bool = False) -> list[Rule]:
    return [parse_rule(text, flag, allow_close=allow_close) for text in texts or []]


def first_match(rules: list[Rule], raw: str, document: Any) -> Rule | None:
    """The first rule (flags repeat as OR) that the frame matches."""
    return next((rule for rule in rules if rule.matches(raw, document)), None)
