"""Engine.IO v4 / Socket.IO v5 text framing over one WebSocket (the websocket transport only).

Packets used: Engine.IO `0` open, `1` close, `2` ping -> `3` pong, `4` message; inside a message,
Socket.IO `0` CONNECT (`40{auth}` / `40{"sid"}`), `1` DISCONNECT, `2` EVENT (`42["name", ...]`,
`42<id>[...]` asks for an ack), `4` CONNECT_ERROR. Binary packets and namespaces other than `/`
are not spoken. Incoming events are shown to rules as {"event": NAME, "data": FIRST_ARG, "args": [...]}.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_EVENT = re.compile(r"^42(\d*)(\[.*)$", re.DOTALL)


class SocketIOError(Exception):
    """The Socket.IO exchange failed (refused CONNECT, malformed packet)."""


def socketio_url(url: str) -> str:
    """The URL with `EIO=4&transport=websocket` in its query (replacing any given values)."""
    parts = urlsplit(url)
    pairs = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
             if key not in ("EIO", "transport")]
    pairs += [("EIO", "4"), ("transport", "websocket")]
    path = parts.path or "/"
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(pairs), parts.fragment))


@dataclass
class Packet:
    """One decoded incoming text frame."""

    kind: str  # "ping", "event", "ack-request", "connect", "connect-error", "disconnect", "open", "close", "other"
    document: Any = None
    ack_id: str | None = None


def decode(raw: str) -> Packet:
    """Decode one Engine.IO text frame carrying at most one Socket.IO packet."""
    if raw == "2" or raw.startswith("2"):
        return Packet("ping")
    if raw.startswith("0"):
        return Packet("open", _json_or_none(raw[1:]))
    if raw.startswith("1"):
        return Packet("close")
    if raw.startswith("42"):
        match = _EVENT.match(raw)
        args = _json_or_none(match.group(2)) if match else None
        if not isinstance(args, list) or not args or not isinstance(args[0], str):
            return Packet("other")
        document = {"event": args[0], "data": args[1] if len(args) > 1 else None, "args": args[1:]}
        ack_id = match.group(1) or None
        return Packet("ack-request" if ack_id else "event", document, ack_id)
    if raw.startswith("40"):
        return Packet("connect", _json_or_none(raw[2:]))
    if raw.startswith("44"):
        return Packet("connect-error", _json_or_none(raw[2:]))
    if raw.startswith("41"):
        return Packet("disconnect")
    return Packet("other")


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def connect_packet(auth: str | None) -> str:
    """The CONNECT packet for the default namespace, with the auth payload when given."""
    return "40" + (auth or "")


def event_packet(frame: str) -> str:
    """An EVENT packet from a JSON array template's text (`["client_message", {...}]`)."""
    return "42" + frame


PONG = "3"
