"""Send the plan over WebSockets: sessions in parallel, turns in order, one record per turn.

Connection policy (`--ws-connection`): `turn` (default) opens a new connection for every turn,
as a page reload or a reconnect does, so each turn may land on another backend; `session` holds
one connection for all of a session's turns; `N` reconnects every N turns. Cookies are kept per
session; redirects are never followed; every wait is bounded by --timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

import httpx
from websockets.exceptions import ConnectionClosed

from autogen_doctor.probe.extract import _MISSING, Reply, _as_text, _common_text, walk
from autogen_doctor.probe.identity import identify
from autogen_doctor.probe.options import ProbeOptions
from autogen_doctor.probe.os_identity import identify_connection, parse_address
from autogen_doctor.probe.plan import CODEWORD_PATTERN, Plan, SessionPlan, TurnPlan
from autogen_doctor.probe.redact import redact_body, redact_headers, redact_url
from autogen_doctor.probe.send import REPLY_TEXT_LIMIT, ProgressHook, Sender, tls_verify
from autogen_doctor.probe.transcript import Backend, TurnRecord
from autogen_doctor.probe.ws.channel import (USER_AGENT, AckRequested, Channel, ChannelError, Frame, close_info,
                                             open_channel, proxy_for, tls_context)
from autogen_doctor.probe.ws.options import WsOptions
from autogen_doctor.probe.ws.rules import first_match
from autogen_doctor.probe.ws.setup import SETUP_BACKEND, Setup, make_setup, split_note
from autogen_doctor.probe.ws.templates import Values, render_url
from autogen_doctor.textsafe import escape_text

FRAME_LOG_LIMIT = 30  # frames kept per turn in a record
FRAME_TEXT_LIMIT = 500  # characters kept per logged frame
CLOSE_WAIT_S = 2.0
# Close codes after which a retry on a new connection can help (abnormal end, server restarting).
_RETRYABLE_CLOSES = (1006, 1011, 1012, 1013, 1014)


@dataclass
class _Held:
    """The connection a session is using, if any, and its place in the session."""

    channel: Channel | None = None
    index: int = 0  # connections opened so far in this session (1-based once open)
    turns_on: int = 0  # turns sent on the current connection
    connection_id: str = ""
    url: str = ""
    setup_values: dict[str, str] = field(default_factory=dict)
    session_setup: dict[str, str] | None = None
    pending: list[dict[str, str]] = field(default_factory=list)  # frames read while opening


@dataclass
class _TurnResult:
    status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""
    frame: str = ""
    error: str | None = None
    retryable: bool = False
    unreachable: bool = False
    pieces: list[str] = field(default_factory=list)
    documents: list[Any] = field(default_factory=list)
    frames: list[dict[str, str]] = field(default_factory=list)
    ended_by: str | None = None
    close: dict[str, Any] | None = None
    connection: int = 0
    connection_turn: int = 0
    local: str = ""
    peer: str = ""
    os_pid: int | None = None
    keys_seen: set[str] = field(default_factory=set)
    drop: bool = False  # the connection is no longer usable
    retire: bool = False  # a final frame: the next turn needs a new connection


def _log(frames: list[dict[str, str]], direction: str, text: str) -> None:
    if len(frames) < FRAME_LOG_LIMIT:
        frames.append({"dir": direction, "text": text[:FRAME_TEXT_LIMIT]})


class WsSender(Sender):
    """The WebSocket counterpart of `Sender`: same plan, same records, same reach check."""

    def __init__(self, options: ProbeOptions, plan: Plan, url: str, progress: ProgressHook | None = None):
        super().__init__(options, plan, url, progress)
        self.ws: WsOptions = options.ws
        given = {name.lower() for name, _ in options.headers}
        self.handshake_headers = ([] if "user-agent" in given else [("User-Agent", USER_AGENT)]) + list(options.headers)
        self.setup: Setup | None = make_setup(self.ws.setup, url, options) if self.ws.setup else None
        self.connections_opened = 0
        self.proxy = proxy_for(url)
        # wss:// honours --insecure and --ca-bundle as https:// does; made once per run.
        self.tls = tls_context(tls_verify(options)) if url.lower().startswith("wss:") else None
        self.os_notes: list[str] = []  # why the OS could not name a worker, once each
        # Secrets sent in frames (a start/auth/body template with a secret-named key) are
        # scrubbed from echoes as the HTTP body's are.
        for template in (self.ws.start, self.ws.body, self.ws.stop, self.ws.auth):
            source = getattr(template, "source", None)
            if isinstance(source, str):
                self.secrets.add_body(source)

    def _client(self):
        # Used only by presets whose service needs HTTP calls before a connection (setup.py);
        # building an HTTP client (its TLS context) costs more than a short run's first turns.
        if self.setup is None:
            return contextlib.nullcontext()
        return httpx.AsyncClient(timeout=httpx.Timeout(self.options.timeout), follow_redirects=False,
                                 headers=dict(self.options.headers), verify=tls_verify(self.options))

    # --- connections ---------------------------------------------------------------------------
    async def _open(self, client: httpx.AsyncClient, session: SessionPlan, held: _Held, cookies: httpx.Cookies) -> None:
        ws, timeout = self.ws, self.options.timeout
        held.index += 1
        held.turns_on = 0
        held.connection_id = str(uuid.uuid4())
        held.pending = []
        if self.setup is not None:
            if held.session_setup is None:
                held.session_setup = await self.setup.for_session(client, session.session)
            held.setup_values = {**held.session_setup, **await self.setup.for_connection(client, held.session_setup)}
        values = Values(session=session.session, connection=held.connection_id, setup=held.setup_values)
        held.url = render_url(self.url, values)
        auth = ws.auth.render(values) if ws.auth is not None else None
        try:
            channel = await open_channel(held.url, headers=self.handshake_headers, cookies=cookies,
                                         timeout=timeout, max_frame=ws.max_frame, framing=ws.framing, auth=auth,
                                         proxy=self.proxy, tls=self.tls)
        except ChannelError as error:
            if self.setup is not None and error.status is not None:
                # Refused by a backend other than the one that answered the set-up: say so.
                split = split_note(held.setup_values.get(SETUP_BACKEND), self.setup.backend_of(error.headers))
                if split:
                    raise ChannelError(f"{error}{split}", status=error.status, headers=error.headers,
                                       retryable=error.retryable, unreachable=error.unreachable) from None
            raise
        self.connections_opened += 1
        held.channel = channel
        if self.options.os_identity_root is not None:
            channel.os_pid = await asyncio.to_thread(self._os_pid, channel)
        try:
            if ws.start is not None and not ws.start_carries_message:
                opening = ws.start.render(values)
                _log(held.pending, "out", redact_body(opening))
                await asyncio.wait_for(channel.send(opening), timeout)
            if ws.ready:
                await self._wait_ready(channel, held)
        except ChannelError as error:
            error.status, error.headers = channel.status, channel.response_headers
            await self._drop(held)
            raise
        except (ConnectionClosed, TimeoutError, OSError) as error:
            await self._drop(held)
            detail = (f"code {close_info(error)['code']}" if isinstance(error, ConnectionClosed)
                      else type(error).__name__)
            raise ChannelError(f"the connection ended before it was ready ({detail})", status=channel.status,
                               headers=channel.response_headers, retryable=True) from None

    def _os_pid(self, channel: Channel) -> int | None:
        """Ask the OS while the connection is open: which served process holds its server end."""
        client, server = parse_address(channel.local), parse_address(channel.peer)
        if client is None or server is None:
            return None
        found = identify_connection(client, server, self.options.os_identity_root)
        if found.pid is None and found.reason and found.reason not in self.os_notes:
            self.os_notes.append(found.reason)
        return found.pid

    async def _wait_ready(self, channel: Channel, held: _Held) -> None:
        timeout = self.options.timeout
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                frame = await channel.receive(max(left, 0.0))
            except TimeoutError:
                rules = " or ".join(rule.source for rule in self.ws.ready)
                raise ChannelError(f"no ready frame ({rules}) within {timeout:g}s of connecting",
                                   retryable=True) from None
            _log(held.pending, "in", frame.raw)
            if first_match(self.ws.ready, frame.raw, frame.document):
                return

    async def _drop(self, held: _Held) -> None:
        if held.channel is not None:
            held.channel.connection.transport.abort()
        held.channel = None

    async def _retire(self, held: _Held, values: Values) -> None:
        """Close the connection politely: the stop frame if any, then close 1000."""
        channel, held.channel = held.channel, None
        if channel is not None:
            farewell = self.ws.stop.render(values) if self.ws.stop is not None else None
            await channel.close(farewell, min(CLOSE_WAIT_S, self.options.timeout))

    # --- one turn ------------------------------------------------------------------------------
    def _is_reply(self, frame: Frame) -> bool:
        ws, raw, document = self.ws, frame.raw, frame.document
        if first_match(ws.reply_skip, raw, document):
            return False
        if ws.reply_when:
            return first_match(ws.reply_when, raw, document) is not None
        return not any(first_match(rules, raw, document) for rules in (ws.until, ws.final, ws.error, ws.ready))

    def _frame_text(self, frame: Frame, result: _TurnResult) -> str | None:
        path, document = self.ws.reply_path, frame.document
        if path:
            if document is None:
                return None
            found = walk(document, path)
            if found is _MISSING or found is None:
                if isinstance(document, dict):
                    result.keys_seen.update(str(key) for key in document)
                return None
            return _as_text(found)
        if document is not None:
            text = _common_text(document)
            return text if text is not None else frame.raw
        return frame.raw

    async def _read_turn(self, channel: Channel, message: str, result: _TurnResult) -> None:
        ws, timeout = self.ws, self.options.timeout
        deadline = time.monotonic() + timeout
        error_text: str | None = None
        sent = message.strip()
        replied = False  # a reply frame arrived (even one without text at --reply-path)
        received = 0  # frames of any kind since the message was sent
        while True:
            left = deadline - time.monotonic()
            answered = replied or error_text is not None
            idle = ws.idle is not None and answered
            wait = min(left, ws.idle) if idle else left
            try:
                frame = await channel.receive(max(wait, 0.0))
            except TimeoutError:
                if idle and wait < left:
                    result.ended_by = "idle"
                    break
                result.error = f"no end of turn within {timeout:g}s (timed out)"
                if result.pieces:
                    result.error += f" after {len(result.pieces)} reply frame(s)"
                elif not received:
                    # Tells a silent service (FastAgency's adapter drops AG2 run events) from
                    # frames that no rule recognised.
                    result.error += ": the service sent nothing after the message"
                else:
                    result.error += f" after {received} frame(s), none of them a reply"
                result.retryable, result.drop = not answered, True
                result.ended_by = "timeout"
                return
            except AckRequested as request:
                result.error = (f"the service asked for input through a Socket.IO ack (event {escape_text(request)}), "
                                "which the probe does not answer")
                result.drop, result.ended_by = True, "ack"
                return
            except ConnectionClosed as closed:
                info = close_info(closed)
                result.close, result.drop = info, True
                if info["by"] == "probe" and info["code"] == 1009:
                    result.error = (f"a frame was larger than --ws-max-frame ({ws.max_frame} bytes); the "
                                    "connection was closed with code 1009")
                    result.ended_by = "close:1009"
                    return
                result.ended_by = f"close:{info['code']}"
                # A normal close after the reply ends the turn even without a `close` rule: the
                # service answered and hung up (one connection per message).
                # So does one after an error frame: the error is the turn's outcome.
                if ws.close_ends_turn or ((replied or error_text is not None) and info["code"] in (1000, 1001)):
                    break
                reason = f" {escape_text(info['reason'])}" if info["reason"] else ""
                result.error = (f"the server closed the connection (code {info['code']}{reason}) before the "
                                "turn ended")
                result.retryable = not answered and info["code"] in _RETRYABLE_CLOSES
                return
            _log(result.frames, "in", frame.raw)
            received += 1
            if frame.document is not None and len(result.documents) < FRAME_LOG_LIMIT:
                result.documents.append(frame.document)
            is_error = first_match(ws.error, frame.raw, frame.document) is not None
            if is_error and error_text is None:
                error_text = self._frame_text(frame, result) or frame.raw
            final = first_match(ws.final, frame.raw, frame.document)
            if final is not None:
                result.ended_by, result.retire = f"final:{final.source}", True
                break
            until = first_match(ws.until, frame.raw, frame.document)
            # An end marker counts once the turn has been answered: services announce "ready
            # for input" before the first message too (Chainlit's on_chat_start task_end).
            if until is not None and (replied or error_text is not None):
                result.ended_by = f"until:{until.source}"
                break
            if is_error or until is not None or not self._is_reply(frame):
                continue
            text = self._frame_text(frame, result)
            if text is not None and sent and sent in text.strip():
                continue  # the echo of the message, or a frame carrying the whole prompt
            replied = True
            if text is not None:
                result.pieces.append(text)
        if error_text is not None:
            result.error = f"the service reported an error: {escape_text(error_text.strip()[:300])}"
            return
        if not ws.join.join(result.pieces).strip():
            if ws.reply_path and result.keys_seen:
                keys = escape_text(", ".join(sorted(result.keys_seen)[:12]))
                result.error = f"reply path {ws.reply_path!r} not found in any reply frame (keys seen: {keys})"
            else:
                result.error = f"no reply text in the frames of this turn (ended by {result.ended_by})"

    async def _attempt(self, client: httpx.AsyncClient, session: SessionPlan, turn: TurnPlan, held: _Held,
                       cookies: httpx.Cookies) -> _TurnResult:
        ws, timeout = self.ws, self.options.timeout
        result = _TurnResult()
        if held.channel is None:
            try:
                await self._open(client, session, held, cookies)
            except ChannelError as error:
                result.error, result.status, result.response_headers = str(error), error.status, error.headers
                result.retryable, result.unreachable = error.retryable, error.unreachable
                result.url, result.connection, result.frames = held.url, held.index, held.pending
                return result
        channel = held.channel
        held.turns_on += 1
        result.status, result.response_headers = channel.status, channel.response_headers
        result.request_headers, result.url = channel.request_headers, held.url
        result.connection, result.connection_turn = held.index, held.turns_on
        result.local, result.peer, result.os_pid = channel.local, channel.peer, channel.os_pid
        result.frames, held.pending = held.pending, []
        values = Values(session=session.session, message=turn.message, turn=turn.turn,
                        connection=held.connection_id, setup=held.setup_values)
        template = ws.start if ws.start_carries_message and held.turns_on == 1 else ws.body
        result.frame = template.render(values)
        _log(result.frames, "out", redact_body(result.frame))
        try:
            await asyncio.wait_for(channel.send(result.frame), timeout)
        except ConnectionClosed as closed:
            info = close_info(closed)
            reason = f" {escape_text(info['reason'])}" if info["reason"] else ""
            result.close, result.ended_by = info, f"close:{info['code']}"
            result.error = f"the server closed the connection (code {info['code']}{reason}) before the turn ended"
            result.retryable, result.drop = info["code"] in _RETRYABLE_CLOSES, True
        except (TimeoutError, OSError) as error:
            result.error = f"the connection ended before the message was sent ({type(error).__name__})"
            result.retryable = result.drop = True
        else:
            await self._read_turn(channel, turn.message, result)
        if result.drop:
            await self._drop(held)
        elif result.retire or (ws.turns_per_connection is not None and held.turns_on >= ws.turns_per_connection):
            await self._retire(held, values)
        return result

    async def send_turn(self, client, session: SessionPlan, turn: TurnPlan, cookies: httpx.Cookies,
                        held: _Held | None = None) -> tuple[TurnRecord, Reply | None, bool]:
        """One turn with its retries (a retry always opens a new connection)."""
        options = self.options
        own = held is None
        held = held or _Held()
        sent_at = time.perf_counter() - self.started
        attempts = 0
        while True:
            attempts += 1
            began = time.perf_counter()
            result = await self._attempt(client, session, turn, held, cookies)
            latency = time.perf_counter() - began
            if not result.retryable or attempts > options.retries:
                break
            await self._drop(held)
            await asyncio.sleep(min(0.1 * 2 ** (attempts - 1), 2.0) * (0.5 + random.random()))
        if own:
            await self._retire(held, Values(session=session.session))
        # Whatever the service sent back (frames, close reasons, error text, handshake headers)
        # may echo a secret the probe sent: scrubbed before it reaches a record or a report.
        scrub = self.secrets.scrub
        frames = [{**frame, "text": scrub(frame["text"])} for frame in result.frames]
        close = ({**result.close, "reason": scrub(result.close["reason"])}
                 if result.close and isinstance(result.close.get("reason"), str) else result.close)
        record = TurnRecord(
            session=session.session, turn=turn.turn, planted=turn.codeword, status=result.status,
            error=scrub(result.error) if result.error else None, attempts=attempts, sent_at=round(sent_at, 6),
            latency_s=round(latency, 6), burst=turn.burst,
            request={"method": "WEBSOCKET", "url": redact_url(result.url or self.url),
                     "headers": redact_headers(result.request_headers, self.secrets),
                     "body": scrub(redact_body(result.frame))},
            response_headers=redact_headers(result.response_headers, self.secrets),
            ws={"connection": result.connection, "connection_turn": result.connection_turn,
                "ended_by": result.ended_by, "close": close, "client": result.local,
                "server": result.peer, "frames": frames},
        )
        reply = None
        if result.error is None:
            joined = self.ws.join.join(result.pieces)
            # Several reply frames are pieces of one reply, joined as JSON-lines chunks are: a
            # codeword split across frames counts once joined, and the record says so.
            reply = Reply(text=joined, documents=result.documents,
                          pieces=list(result.pieces) if len(result.pieces) > 1 else [],
                          stream="ws-frames" if len(result.pieces) > 1 else None)
            record.reply_text = scrub(joined[:REPLY_TEXT_LIMIT])
            record.reply_stream = reply.stream
            text = joined.lower()
            # Codeword-shaped tokens looked up in the lazy plan: linear in the reply.
            record.foreign = sorted({word for word in CODEWORD_PATTERN.findall(text)
                                     if (self.plan.owner(word) or record.session) != record.session})
        backend, source = identify(dict(result.response_headers), result.documents,
                                   pid_header=options.pid_header, pod_header=options.pod_header,
                                   pid_path=options.pid_path, pod_path=options.pod_path)
        if backend.pid is None and result.os_pid is not None:
            # No identity in the handshake or the frames: the OS named the worker (--serve).
            backend = Backend(pod=backend.pod, pid=str(result.os_pid))
            source = ", ".join(filter(None, [source, "os /proc"]))
        record.backend = backend
        if source and source not in self.identity_sources:
            self.identity_sources.append(source)
        return record, reply, result.unreachable

    @contextlib.asynccontextmanager
    async def _session_scope(self, session: SessionPlan) -> AsyncIterator[tuple[_Held]]:
        """The session's held connection for its in-order turns (burst turns each open their own),
        closed politely when the session ends, however it ends."""
        held = _Held()
        try:
            yield (held,)
        finally:
            await self._retire(held, Values(session=session.session))
