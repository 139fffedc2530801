"""`probe ws://...`: the WebSocket and Socket.IO transport of the probe.

A WebSocket is pinned to one backend for its whole life, so the probe models reconnects: by
default every turn opens a new connection (`--ws-connection turn`). Frames are sent from
templates and read until a turn-end rule matches; the records feed the same analysis as HTTP.
"""

WS_SCHEMES = ("ws", "wss")


def is_ws_url(url: str | None) -> bool:
    """True for ws:// and wss:// URLs (the scheme selects the transport)."""
    return bool(url) and url.split(":", 1)[0].lower() in WS_SCHEMES
