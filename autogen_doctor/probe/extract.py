"""Reply text from a response body: a `--reply-path`, common keys, plain text, or an event stream."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

COMMON_KEYS = ("reply", "answer", "response", "content", "message", "text", "output", "summary")
# Shapes of well-known chat APIs, tried before the common keys.
KNOWN_PATHS = ("choices.0.message.content", "choices.0.text", "choices.0.delta.content")
_MISSING = object()


class ExtractError(Exception):
    """The reply has no usable text (empty, not JSON for a --reply-path, the path is missing)."""


@dataclass
class Reply:
    text: str
    # Parsed JSON documents: the body, or every JSON event of a stream (identity may live there).
    documents: list[Any] = field(default_factory=list)


def walk(document: Any, path: str) -> Any:
    """Follow a dot path (`choices.0.message.content`); list indices are numbers. _MISSING if absent."""
    current = document
    for part in path.split("."):
        if isinstance(current, dict):
            if part not in current:
                return _MISSING
            current = current[part]
        elif isinstance(current, list):
            try:
                current = current[int(part)]
            except (ValueError, IndexError):
                return _MISSING
        else:
            return _MISSING
    return current


def lookup(document: Any, path: str) -> Any | None:
    """The value at a dot path, or None when it is absent."""
    found = walk(document, path)
    return None if found is _MISSING else found


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _common_text(document: Any) -> str | None:
    for path in KNOWN_PATHS:
        found = walk(document, path)
        if isinstance(found, str):
            return found
    # Breadth-first: the shallowest common key wins; descend into containers under common keys.
    queue = [document]
    while queue:
        current = queue.pop(0)
        if isinstance(current, dict):
            for key in COMMON_KEYS:
                value = current.get(key)
                if isinstance(value, str):
                    return value
            for key in COMMON_KEYS:
                value = current.get(key)
                if isinstance(value, (dict, list)):
                    queue.append(value)
        elif isinstance(current, list):
            queue.extend(item for item in current if isinstance(item, (dict, list)))
    return None


def _document_text(document: Any, raw: str, reply_path: str | None) -> str:
    if reply_path:
        found = walk(document, reply_path)
        if found is _MISSING:
            raise ExtractError(f"reply path {reply_path!r} not found in the JSON reply")
        return _as_text(found)
    text = _common_text(document)
    return text if text is not None else raw


def _stream_events(raw: str) -> list[str]:
    """Data payloads of a text/event-stream, one per event (multi-line data joined by newline)."""
    events, lines = [], []
    for line in raw.splitlines():
        if line.startswith("data:"):
            value = line[5:]
            lines.append(value[1:] if value.startswith(" ") else value)
        elif line == "" and lines:
            events.append("\n".join(lines))
            lines = []
    if lines:
        events.append("\n".join(lines))
    return events


def extract_reply(body: bytes, content_type: str, reply_path: str | None = None) -> Reply:
    """The text to search for codewords. Raises ExtractError when there is none."""
    raw = body.decode("utf-8", errors="replace")
    if not raw.strip():
        raise ExtractError("empty reply")
    media = content_type.split(";")[0].strip().lower()
    if media == "text/event-stream":
        pieces, documents = [], []
        for event in _stream_events(raw):
            if event.strip() == "[DONE]":
                continue
            try:
                document = json.loads(event)
            except ValueError:
                pieces.append(event)
                continue
            documents.append(document)
            if reply_path:
                found = walk(document, reply_path)
                if found is not _MISSING and found is not None:
                    pieces.append(_as_text(found))
            else:
                text = _common_text(document)
                pieces.append(text if text is not None else event)
        # Token streams split words across events: join without a separator.
        text = "".join(pieces)
        if not text.strip():
            if reply_path and documents:
                raise ExtractError(f"reply path {reply_path!r} not found in any event of the stream")
            raise ExtractError("empty event stream")
        return Reply(text, documents)
    if media in ("text/html", "application/xhtml+xml"):
        # A chat API does not answer with a web page: most likely the URL is wrong.
        raise ExtractError(f"reply is a web page ({media}), not a chat reply: is the URL the chat endpoint?")
    try:
        document = json.loads(raw)
    except ValueError as error:
        if media == "application/json" or media.endswith("+json"):
            # Reading a broken JSON reply as plain text would find no codeword and call a
            # broken endpoint forgetful (a false state-loss); it is an error reply instead.
            raise ExtractError(f"reply says {media} but is not valid JSON ({error.msg} at "
                               f"line {error.lineno} column {error.colno})") from None
        if reply_path:
            raise ExtractError(f"reply is not JSON ({media or 'no content type'}), "
                               f"so --reply-path {reply_path!r} cannot apply") from None
        return Reply(raw, [])
    text = _document_text(document, raw, reply_path)
    if not text.strip():
        raise ExtractError("empty reply text")
    return Reply(text, [document])
