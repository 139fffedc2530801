"""One WebSocket connection of the probe: open it (no redirects, per-session cookies, frame cap),
send frames, and receive frames as (raw text, JSON document) in raw or Socket.IO framing."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as _connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from autogen_doctor.probe.redact import redact_url
from autogen_doctor.probe.ws import socketio
from autogen_doctor.textsafe import escape_text

USER_AGENT = "autogen-doctor-probe"


class _NoRedirectConnect(_connect):
    """`websockets` follows redirects by default; the probe sends only to the URL it was given."""

    def process_redirect(self, exc: Exception) -> Exception:  # noqa: D102 - library hook
        return exc


class ChannelError(Exception):
    """Opening or speaking on the connection failed; `status` is the handshake status if any."""

    def __init__(self, message: str, *, status: int | None = None, headers: list[tuple[str, str]] | None = None,
                 retryable: bool = False, unreachable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or []
        self.retryable = retryable
        self.unreachable = unreachable


class AckRequested(Exception):
    """A Socket.IO server asked for an answer through an ack, which the probe does not speak."""


@dataclass
class Frame:
    raw: str
    document: Any = None  # parsed JSON (for Socket.IO: {"event", "data", "args"}); None for plain text


def _http_url(url: str) -> str:
    return "http" + url[2:] if url.lower().startswith("ws") else url


@dataclass
class Channel:
    """An open connection: raw text frames, or Socket.IO events over it."""

    connection: ClientConnection
    framing: str
    status: int
    response_headers: list[tuple[str, str]]
    request_headers: list[tuple[str, str]]
    local: str = ""
    peer: str = ""
    os_pid: int | None = None  # the worker holding the server end, from the OS (os_identity)

    async def send(self, frame: str) -> None:
        await self.connection.send(socketio.event_packet(frame) if self.framing == "socketio" else frame)

    async def receive(self, timeout: float) -> Frame:
        """The next frame within `timeout` seconds (TimeoutError); ConnectionClosed when closed.

        Socket.IO pings are answered here and never returned; a server DISCONNECT reads as a
        close; an ack request raises AckRequested.
        """
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            async with asyncio.timeout(left):
                message = await self.connection.recv()
            raw = message if isinstance(message, str) else message.decode("utf-8", errors="replace")
            if self.framing != "socketio":
                return Frame(raw, _json_or_none(raw))
            packet = socketio.decode(raw)
            if packet.kind == "ping":
                await self.connection.send(socketio.PONG)
            elif packet.kind == "event":
                event = [packet.document["event"], *packet.document["args"]]
                return Frame(json.dumps(event, ensure_ascii=False), packet.document)
            elif packet.kind == "ack-request":
                raise AckRequested(packet.document.get("event") if packet.document else "?")
            elif packet.kind in ("disconnect", "close"):
                await self.connection.close()
                raise ConnectionClosed(None, None)
            # Other packets (noop, CONNECT repeats) carry nothing for the probe.

    async def close(self, farewell: str | None, timeout: float) -> None:
        """Best-effort: the stop frame if any, then a normal close, all within `timeout`."""
        try:
            async with asyncio.timeout(timeout):
                if farewell is not None:
                    await self.send(farewell)
                await self.connection.close()
        except (TimeoutError, ConnectionClosed, OSError):
            self.connection.transport.abort()


def _json_or_none(raw: str) -> Any:
    stripped = raw.lstrip()
    if not stripped or stripped[0] not in "[{":
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _address(pair: Any) -> str:
    if isinstance(pair, tuple) and len(pair) >= 2:
        host = pair[0]
        return f"[{host}]:{pair[1]}" if ":" in str(host) else f"{host}:{pair[1]}"
    return ""


def tls_context(verify: ssl.SSLContext | bool) -> ssl.SSLContext | None:
    """The SSL context for wss:// from the HTTP path's `tls_verify` answer: --ca-bundle's context,
    no verification for --insecure, None (the library's default, the system's CAs) otherwise."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return None


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for this URL (as httpx and `websockets` read it), or None.

    Looked up once per run: every connection of a run goes to the same host, and reading the
    environment per connection costs a sixth of a short turn.
    """
    from websockets.proxy import get_proxy
    from websockets.uri import parse_uri

    try:
        return get_proxy(parse_uri(url.replace("{", "%7B").replace("}", "%7D")))
    except Exception:  # an unparsable URL fails later, with its own message
        return None


async def open_channel(url: str, *, headers: list[tuple[str, str]], cookies: httpx.Cookies, timeout: float,
                       max_frame: int, framing: str, auth: str | None, proxy: str | None = None,
                       tls: ssl.SSLContext | None = None) -> Channel:
    """Open the connection (and the Socket.IO session); ChannelError with a one-line reason.

    `tls` verifies wss:// servers (--insecure / --ca-bundle, see `tls_context`); None uses the
    system's certificate authorities.
    """
    target = socketio.socketio_url(url) if framing == "socketio" else url
    sent_headers = list(headers)
    if cookies:
        request = httpx.Request("GET", _http_url(target))
        cookies.set_cookie_header(request)
        if "cookie" in request.headers:
            sent_headers.append(("Cookie", request.headers["cookie"]))
    try:
        connection = await _NoRedirectConnect(
            target, additional_headers=sent_headers, user_agent_header=None, open_timeout=timeout,
            close_timeout=min(2.0, timeout), ping_interval=None, max_size=max_frame, proxy=proxy,
            **({"ssl": tls} if tls is not None and target.lower().startswith("wss:") else {}))
    except InvalidStatus as error:
        response = error.response
        status = response.status_code
        response_headers = list(response.headers.raw_items())
        _keep_cookies(cookies, target, status, response_headers)
        if 300 <= status < 400:
            location = response.headers.get("Location", "?")
            message = (f"HTTP {status} redirect to {escape_text(redact_url(location))} not followed "
                       "(the probe sends only to the URL it was given)")
        elif status == 101:
            message = "HTTP 101 without a valid WebSocket upgrade"
        else:
            message = f"HTTP {status}: the WebSocket handshake was refused"
        raise ChannelError(message, status=status, headers=response_headers, retryable=status >= 500) from None
    except InvalidURI as error:
        raise ChannelError(f"invalid WebSocket URL: {escape_text(error)}") from None
    except InvalidHandshake as error:
        raise ChannelError(f"not a WebSocket endpoint: {escape_text(error)}", retryable=True,
                           unreachable=True) from None
    except TimeoutError:
        raise ChannelError(f"the WebSocket handshake did not finish within {timeout:g}s (timed out)",
                           retryable=True, unreachable=True) from None
    except OSError as error:
        from autogen_doctor.probe.send import _connect_reason

        reason, retryable = _connect_reason(error)
        raise ChannelError(reason, retryable=retryable, unreachable=True) from None
    response_headers = list(connection.response.headers.raw_items())
    _keep_cookies(cookies, target, connection.response.status_code, response_headers)
    channel = Channel(connection, framing, connection.response.status_code, response_headers,
                      list(connection.request.headers.raw_items()),
                      local=_address(connection.local_address), peer=_address(connection.remote_address))
    if framing == "socketio":
        await _socketio_open(channel, auth, timeout)
    return channel


async def _socketio_open(channel: Channel, auth: str | None, timeout: float) -> None:
    """Engine.IO open packet, then CONNECT with the auth payload; the answer is awaited with a
    timeout because Chainlit answers a CONNECT it cannot read with nothing at all."""
    connection = channel.connection
    try:
        async with asyncio.timeout(timeout):
            opening = socketio.decode(_text(await connection.recv()))
            if opening.kind != "open":
                raise ChannelError("not a Socket.IO endpoint: the first frame is not an Engine.IO open packet")
            await connection.send(socketio.connect_packet(auth))
            while True:
                packet = socketio.decode(_text(await connection.recv()))
                if packet.kind == "ping":
                    await connection.send(socketio.PONG)
                elif packet.kind == "connect":
                    return
                elif packet.kind == "connect-error":
                    detail = packet.document.get("message") if isinstance(packet.document, dict) else packet.document
                    raise ChannelError(f"Socket.IO CONNECT refused: {escape_text(detail)}")
    except TimeoutError:
        await channel.close(None, 1.0)
        raise ChannelError(f"no answer to the Socket.IO CONNECT within {timeout:g}s (check --ws-auth)",
                           status=channel.status, headers=channel.response_headers) from None
    except ConnectionClosed as error:
        raise ChannelError(f"the server closed the connection during the Socket.IO handshake ({_close_text(error)})",
                           status=channel.status, headers=channel.response_headers) from None
    except ChannelError as error:
        await channel.close(None, 1.0)
        error.status, error.headers = channel.status, channel.response_headers
        raise


def _text(message: str | bytes) -> str:
    return message if isinstance(message, str) else message.decode("utf-8", errors="replace")


def _close_text(error: ConnectionClosed) -> str:
    close = error.rcvd or error.sent
    if close is None:
        return "no close frame"
    return f"code {close.code}" + (f" {escape_text(close.reason)}" if close.reason else "")


def close_info(error: ConnectionClosed) -> dict[str, Any]:
    """{code, reason, by}: who closed and how (the server's close frame when there is one)."""
    if error.rcvd is not None:
        return {"code": error.rcvd.code, "reason": error.rcvd.reason, "by": "server"}
    if error.sent is not None:
        return {"code": error.sent.code, "reason": error.sent.reason, "by": "probe"}
    return {"code": 1006, "reason": "", "by": "network"}


def _keep_cookies(cookies: httpx.Cookies, url: str, status: int, headers: list[tuple[str, str]]) -> None:
    if any(name.lower() == "set-cookie" for name, _ in headers):
        request = httpx.Request("GET", _http_url(url))
        cookies.extract_cookies(httpx.Response(status, headers=headers, request=request))
