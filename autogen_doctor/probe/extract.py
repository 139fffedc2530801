"""Reply text from a response body: a `--reply-path`, common keys, plain text, or an event stream."""

from __future__ import annotations

import json
import re
import time
from collections import deque
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
    # For a stream: the reply text of each piece (event or JSON line), joined into `text`.
    pieces: list[str] = field(default_factory=list)
    stream: str | None = None  # "event-stream" or "json-lines"

    def split_words(self, words: list[str]) -> list[str]:
        """The `words` found in the joined text but in no single piece: only joining showed them."""
        if not self.pieces:
            return []
        lowered = [piece.lower() for piece in self.pieces]
        joined = self.text.lower()
        return [word for word in words if word.lower() in joined
                and not any(word.lower() in piece for piece in lowered)]


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
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (RecursionError, ValueError):
        raise ExtractError("the reply's JSON is nested too deeply to read") from None


# Work bound per reply: the search for reply text visits at most this many JSON containers.
MAX_NODES_VISITED = 200_000
# The deadline is checked every this many steps of work (events, lines, containers).
_CHECK_EVERY = 2048


class _Budget:
    """Bounded work for one reply: a node count and the --timeout deadline (time.monotonic)."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.steps = 0

    def step(self) -> None:
        self.steps += 1
        if self.deadline is not None and self.steps % _CHECK_EVERY == 0 and time.monotonic() > self.deadline:
            raise ExtractError("reading the reply took longer than --timeout (it is too large or too intricate)")


def parse_json(raw: str, budget: "_Budget | None" = None) -> Any:
    """json.loads, with JSON nested too deeply for the parser (it raises RecursionError, which used
    to end the whole run) turned into an ExtractError for this reply only."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ExtractError("the reply's JSON is nested too deeply to read") from None


_COMMON_SET = frozenset(COMMON_KEYS)
_MEDIA = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")


def _common_text(document: Any, budget: "_Budget | None" = None) -> str | None:
    budget = budget or _Budget(None)
    if isinstance(document, dict) and "choices" in document:  # every known shape starts there
        for path in KNOWN_PATHS:
            found = walk(document, path)
            if isinstance(found, str):
                return found
    # Breadth-first: the shallowest common key wins; descend into containers under common keys.
    # A deque keeps it linear in the document; the budget bounds it outright.
    queue = deque([document])
    visited = 0
    while queue:
        current = queue.popleft()
        budget.step()
        visited += 1
        if visited > MAX_NODES_VISITED:
            return None
        if isinstance(current, dict):
            present = _COMMON_SET.intersection(current)  # one C-level pass, most dicts have none
            if not present:
                continue
            ordered = [key for key in COMMON_KEYS if key in present]
            for key in ordered:
                value = current[key]
                if isinstance(value, str):
                    return value
            for key in ordered:
                value = current[key]
                if isinstance(value, (dict, list)):
                    queue.append(value)
        elif isinstance(current, list):
            queue.extend(item for item in current if isinstance(item, (dict, list)))
    return None


def _keys_of(documents: list[Any], limit: int = 12) -> list[str]:
    """The dot paths present near the top of the documents, to show when a path matched nothing."""
    keys: list[str] = []
    for document in documents[:50]:
        stack: list[tuple[str, Any, int]] = [("", document, 0)]
        while stack and len(keys) < limit:
            prefix, current, level = stack.pop(0)
            if isinstance(current, dict):
                for key, value in list(current.items())[:20]:
                    path = f"{prefix}{key}"
                    if path not in keys and len(keys) < limit:
                        keys.append(path)
                    if level < 2 and isinstance(value, (dict, list)):
                        stack.append((path + ".", value, level + 1))
            elif isinstance(current, list) and current and level < 2:
                stack.append((prefix + "0.", current[0], level + 1))
        if len(keys) >= limit:
            break
    return keys


def describe_keys(documents: list[Any]) -> str:
    """`keys present: reply, meta, meta.pid` (or `no JSON object in the reply`)."""
    keys = _keys_of(documents)
    return f"keys present: {', '.join(keys)}" if keys else "no JSON object in the reply"


def _stream_events(raw: str, budget: _Budget) -> list[str]:
    """Data payloads of a text/event-stream, one per event (multi-line data joined by newline)."""
    events, lines = [], []
    for line in raw.splitlines():
        budget.step()
        if line.startswith("data:"):
            value = line[5:]
            lines.append(value[1:] if value.startswith(" ") else value)
        elif line == "" and lines:
            events.append("\n".join(lines))
            lines = []
    if lines:
        events.append("\n".join(lines))
    return events


def _json_lines(raw: str, budget: _Budget) -> list[Any] | None:
    """The documents of a JSON-lines stream (two or more lines, each one JSON object), else None."""
    lines = [line for line in raw.splitlines() if line.strip()]
    if len(lines) < 2 or not all(line.lstrip().startswith("{") for line in lines):
        return None
    documents = []
    for line in lines:
        budget.step()
        try:
            documents.append(parse_json(line, budget))
        except ValueError:
            return None
    return documents


def _join_pieces(documents: list[Any], reply_path: str | None, budget: _Budget,
                 raw_pieces: list[str] | None = None) -> list[str]:
    """The reply text of each piece of a stream (an SSE event or a JSON line)."""
    pieces = []
    for index, document in enumerate(documents):
        if reply_path:
            found = walk(document, reply_path)
            if found is not _MISSING and found is not None:
                pieces.append(_as_text(found))
        else:
            text = _common_text(document, budget)
            if text is not None:
                pieces.append(text)
            elif raw_pieces is not None:
                pieces.append(raw_pieces[index])
    return pieces


def extract_reply(body: bytes, content_type: str, reply_path: str | None = None, *,
                  deadline: float | None = None) -> Reply:
    """The text to search for codewords. Raises ExtractError when there is none.

    Streams (text/event-stream, and JSON lines whatever the content type says) are read piece by
    piece: `--reply-path` (or the common keys) applies to each piece and the pieces are joined,
    since chunks split words. `deadline` (time.monotonic) bounds the work, as --timeout does.
    """
    budget = _Budget(deadline)
    raw = body.decode("utf-8", errors="replace")
    if not raw.strip():
        raise ExtractError("empty reply")
    # Only the type/subtype token counts: anything glued to it (controls, junk) is ignored.
    found_media = _MEDIA.match(content_type.strip().lower())
    media = found_media.group(0) if found_media else ""
    if media == "text/event-stream":
        documents, pieces, raw_pieces = [], [], []
        for event in _stream_events(raw, budget):
            if event.strip() == "[DONE]":
                continue
            try:
                document = parse_json(event, budget)
            except ValueError as error:
                if isinstance(error, ExtractError):
                    raise
                if documents or raw_pieces:
                    pieces.extend(_join_pieces(documents, reply_path, budget, raw_pieces))
                    documents, raw_pieces = [], []
                pieces.append(event)
                continue
            documents.append(document)
            raw_pieces.append(event)
        all_documents = documents
        pieces.extend(_join_pieces(documents, reply_path, budget, raw_pieces))
        # Token streams split words across events: join without a separator.
        text = "".join(pieces)
        if not text.strip():
            if reply_path and all_documents:
                raise ExtractError(f"reply path {reply_path!r} not found in any event of the stream "
                                   f"({describe_keys(all_documents)})")
            raise ExtractError("empty event stream")
        return Reply(text, all_documents, pieces=pieces, stream="event-stream")
    if media in ("text/html", "application/xhtml+xml"):
        # A chat API does not answer with a web page: most likely the URL is wrong.
        raise ExtractError(f"reply is a web page ({media}), not a chat reply: is the URL the chat endpoint?")
    try:
        document = parse_json(raw, budget)
    except ExtractError:
        raise
    except ValueError as error:
        lines = _json_lines(raw, budget)
        if lines is not None:
            return _json_lines_reply(lines, reply_path, budget)
        if media == "application/json" or media.endswith("+json"):
            # Reading a broken JSON reply as plain text would find no codeword and call a
            # broken endpoint forgetful (a false state-loss); it is an error reply instead.
            detail = (f"{error.msg} at line {error.lineno} column {error.colno}"
                      if isinstance(error, json.JSONDecodeError) else str(error))
            raise ExtractError(f"reply says {media} but is not valid JSON ({detail})") from None
        if reply_path:
            raise ExtractError(f"reply is not JSON ({media or 'no content type'}), "
                               f"so --reply-path {reply_path!r} cannot apply") from None
        return Reply(raw, [])
    text = _document_text(document, raw, reply_path, budget)
    if not text.strip():
        raise ExtractError("empty reply text")
    return Reply(text, [document])


def _json_lines_reply(documents: list[Any], reply_path: str | None, budget: _Budget) -> Reply:
    pieces = _join_pieces(documents, reply_path, budget)
    text = "".join(pieces)
    if not text.strip():
        if reply_path:
            raise ExtractError(f"reply path {reply_path!r} not found in any line of the JSON-lines stream "
                               f"({describe_keys(documents)})")
        raise ExtractError("no reply text in any line of the JSON-lines stream")
    return Reply(text, documents, pieces=pieces, stream="json-lines")


def _document_text(document: Any, raw: str, reply_path: str | None, budget: _Budget) -> str:
    if reply_path:
        found = walk(document, reply_path)
        if found is _MISSING:
            raise ExtractError(f"reply path {reply_path!r} not found in the JSON reply ({describe_keys([document])})")
        return _as_text(found)
    text = _common_text(document, budget)
    return text if text is not None else raw
