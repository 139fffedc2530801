"""Tell which backend served each reply: `X-Backend-Pid` and `X-Backend-Pod` on every response.

`autogen-doctor probe` attributes every reply to a backend, the pair (pod, pid), and reads these
two headers by default. Add one line to your service:

    api.add_middleware(BackendIdentityMiddleware)            # FastAPI / Starlette (ASGI)
    app.wsgi_app = BackendIdentityWSGIMiddleware(app.wsgi_app)  # Flask / Django (WSGI)

The pod is `$POD_NAME` (set it from the Kubernetes downward API), else `$HOSTNAME`, else the
host name. The pid is read per request, not at import, because servers such as gunicorn import
the app once and then fork the workers. A response that already carries one of the headers
keeps its own value. WebSocket handshakes get the same headers on their 101 answer (the ASGI
`websocket.accept` message, and the `websocket.http.response.start` of a refused handshake), which
`probe ws://...` reads; frames and lifespan traffic pass through unchanged. Pure standard
library: no dependency.
"""

from __future__ import annotations

import os
import socket
from typing import Any, Awaitable, Callable, Iterable, MutableMapping

PID_HEADER = "X-Backend-Pid"
POD_HEADER = "X-Backend-Pod"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def pod_name() -> str:
    """This backend's pod: `$POD_NAME`, else `$HOSTNAME`, else the machine's host name."""
    return os.environ.get("POD_NAME") or os.environ.get("HOSTNAME") or socket.gethostname()


def identity_headers() -> list[tuple[str, str]]:
    """The two identity headers for the current process, as (name, value) pairs."""
    return [(PID_HEADER, str(os.getpid())), (POD_HEADER, pod_name())]


def _header_value(value: str) -> str:
    # HTTP header values are latin-1 at most; a pod name from the environment might not be.
    return value.encode("latin-1", errors="replace").decode("latin-1")


# ASGI messages that open a response and may carry headers, by scope type.
_HEADED_MESSAGES = {
    "http": ("http.response.start",),
    "websocket": ("websocket.accept", "websocket.http.response.start"),
}


def _with_identity(message: Message) -> Message:
    headers = list(message.get("headers") or [])
    present = {bytes(name).lower() for name, _ in headers}
    for name, value in identity_headers():
        if name.lower().encode("latin-1") not in present:
            headers.append((name.encode("latin-1"), _header_value(value).encode("latin-1")))
    return {**message, "headers": headers}


class BackendIdentityMiddleware:
    """ASGI middleware adding `X-Backend-Pid` / `X-Backend-Pod` to every HTTP response and to
    every WebSocket handshake answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headed = _HEADED_MESSAGES.get(scope.get("type", ""))
        if headed is None:
            await self.app(scope, receive, send)
            return

        async def send_with_identity(message: Message) -> None:
            if message.get("type") in headed:
                message = _with_identity(message)
            await send(message)

        await self.app(scope, receive, send_with_identity)


StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class BackendIdentityWSGIMiddleware:
    """WSGI middleware adding `X-Backend-Pid` / `X-Backend-Pod` to every response."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        def start_with_identity(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            extra = [(name, _header_value(value)) for name, value in identity_headers()
                     if name.lower() not in present]
            if exc_info is None:
                return start_response(status, list(headers) + extra)
            return start_response(status, list(headers) + extra, exc_info)

        return self.app(environ, start_with_identity)


__all__ = [
    "PID_HEADER",
    "POD_HEADER",
    "BackendIdentityMiddleware",
    "BackendIdentityWSGIMiddleware",
    "identity_headers",
    "pod_name",
]
