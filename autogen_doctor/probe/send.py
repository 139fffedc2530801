"""Send the plan with httpx: sessions in parallel, turns in order (or a burst), one record per turn.

Connection policy: unless --reuse-connections, the client keeps no idle connection, so every
request opens a new one and a balancer (or the kernel, for `uvicorn --workers`) routes each turn
on its own, the way separate clients are spread. Cookies are kept per session, never shared.
Redirects are never followed: the probe sends only to the URL it was given.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import math
import random
import socket
import ssl
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable

import httpx

from autogen_doctor.probe.decode import ACCEPT_ENCODING, BoundedDecoder, TooLarge, UnsupportedEncoding
from autogen_doctor.probe.extract import ExtractError, Reply, describe_keys, extract_reply, lookup
from autogen_doctor.probe.identity import identify
from autogen_doctor.probe.options import MAX_BACKOFF_S, ProbeOptions
from autogen_doctor.probe.plan import CODEWORD_PATTERN, Plan, SessionPlan, TurnPlan, render_body
from autogen_doctor.probe.redact import Secrets, redact_body, redact_headers, redact_url
from autogen_doctor.probe.transcript import Backend, TurnRecord
from autogen_doctor.textsafe import escape_text

MAX_REPLY_BYTES = 2 * 1024 * 1024
REPLY_TEXT_LIMIT = 4000  # characters of reply text kept in a record
USER_AGENT = "autogen-doctor-probe"


class _RejectAllCookies(http.cookiejar.DefaultCookiePolicy):
    """The shared client stores no cookie: each session keeps its own jar."""

    def set_ok(self, cookie, request):  # noqa: D102 - stdlib hook
        return False


@dataclass
class Outcome:
    """One attempt's result before it becomes a record."""

    status: int | None = None
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    body: bytes = b""
    error: str | None = None
    retryable: bool = False
    # Connection-level failure (refused, DNS, TLS, timeout): the target may be unreachable.
    unreachable: bool = False
    os_pid: int | None = None  # with ProbeOptions.os_identity_root: the worker, from the OS
    retry_after: float | None = None  # seconds, from a 429/503 Retry-After header


# What h11 says about a reply that reached us but is not usable HTTP, in the user's words.
_PROTOCOL_MESSAGES = (
    ("receive buffer too long", "the reply's headers are too large (the service sent more header "
                                "bytes than an HTTP client accepts: too many cookies or headers?)"),
    ("illegal status line", "the reply is not HTTP (is this port serving another protocol, or TLS?)"),
    ("illegal request line", "the reply is not HTTP (is this port serving another protocol, or TLS?)"),
    ("invalid http status", "the reply is not HTTP (it has no valid status line)"),
    ("illegal header", "the reply has a malformed header line"),
    ("location header", "the reply's Location header is not a valid URL"),
)


def _protocol_reason(error: Exception) -> str | None:
    text = str(error).lower()
    for needle, message in _PROTOCOL_MESSAGES:
        if needle in text:
            return message
    return None


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: fall back to the usual backoff
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


ProgressHook = Callable[[str, TurnRecord | None], None]  # ("turn", record) / ("session", None) / ("retry", None)


def _causes(error: BaseException) -> list[BaseException]:
    chain, current = [], error
    while current is not None and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _connect_reason(error: Exception) -> tuple[str, bool]:
    """A short reason and whether retrying can help (DNS and TLS failures will not heal)."""
    text = str(error) or type(error).__name__
    chain = _causes(error)
    lowered = " ".join(str(item).lower() for item in chain)
    if any(isinstance(item, ssl.SSLError) for item in chain) or "ssl" in lowered or "certificate" in lowered:
        return f"TLS error: {text}", False
    if any(isinstance(item, socket.gaierror) for item in chain) or "name or service not known" in lowered:
        return f"DNS lookup failed: {text}", False
    if any(isinstance(item, ConnectionRefusedError) for item in chain) or "refused" in lowered:
        return "connection refused", True
    return f"cannot connect: {text}", True


class Sender:
    """Sends one plan's turns; holds the client and the run's shared settings."""

    def __init__(self, options: ProbeOptions, plan: Plan, url: str, progress: ProgressHook | None = None):
        self.options = options
        self.plan = plan
        self.url = url
        self.shown_url = redact_url(url)
        self.progress = progress
        self.started = 0.0
        self.identity_sources: list[str] = []
        # Codewords of the sessions started so far: the plan is made lazily, session by session.
        self.codewords_by_session: dict[str, list[str]] = {}
        self.session_order: dict[str, int] = {}
        # Every secret this run sends (headers, URL credentials, body secrets): scrubbed from
        # whatever the service echoes back into replies, headers and error pages.
        self.secrets = Secrets()
        self.secrets.add_headers(options.headers)
        self.secrets.add_url(url)
        self.secrets.add_body(options.body)
        # --pid-path/--pod-path: how many replies held each, and what keys replies had otherwise.
        self.path_found = {flag: 0 for flag in ("--pid-path", "--pod-path") if getattr(options, flag[2:].replace("-", "_"))}
        self.sample_documents: list[Any] = []
        self.ok_replies = 0
        self.os_notes: list[str] = []  # --serve: why the OS could not name a worker, once each
        self.base_headers = [("User-Agent", USER_AGENT), ("Content-Type", "application/json"),
                             ("Accept", "application/json, text/event-stream, application/x-ndjson, text/plain, */*"),
                             ("Accept-Encoding", ACCEPT_ENCODING)]
        given = {name.lower() for name, _ in options.headers}
        self.base_headers = [(n, v) for n, v in self.base_headers if n.lower() not in given] + list(options.headers)

    def _client(self) -> httpx.AsyncClient:
        keepalive = self.options.concurrency * 2 if self.options.reuse_connections else 0
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=keepalive)
        jar = http.cookiejar.CookieJar(policy=_RejectAllCookies())
        return httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(self.options.timeout),
                                 follow_redirects=False, cookies=jar, verify=tls_verify(self.options))

    async def _exchange(self, client: httpx.AsyncClient, request: httpx.Request,
                        answered: list[tuple[httpx.Response, int | None]]) -> Outcome:
        response = await client.send(request, stream=True)
        os_pid = None
        if self.options.os_identity_root is not None:  # asked while the connection is open
            from autogen_doctor.probe.os_identity import identify_http_response

            found = identify_http_response(response, self.options.os_identity_root)
            os_pid = found.pid
            if found.pid is None and found.reason and found.reason not in self.os_notes:
                self.os_notes.append(found.reason)
        answered.append((response, os_pid))  # so a reply that stalls after this is not "unreachable"
        too_large = f"reply larger than {MAX_REPLY_BYTES // (1024 * 1024)} MiB"
        try:
            try:
                decoder = BoundedDecoder(response.headers.get("content-encoding", ""), MAX_REPLY_BYTES)
            except UnsupportedEncoding as unknown:
                return Outcome(status=response.status_code, headers=response.headers,
                               error=f"reply uses Content-Encoding '{escape_text(unknown)}', which the probe "
                                     f"does not decode (it asks for {ACCEPT_ENCODING})")
            chunks = []
            try:
                # Raw bytes, decoded here layer by layer with the cap inside each layer: httpx's
                # own decoder would expand a whole chunk (and every stacked gzip layer) first.
                async for raw in response.aiter_raw():
                    chunks.append(decoder.feed(raw))
                    await asyncio.sleep(0)  # let --timeout and the other sessions run
                chunks.append(decoder.finish())
            except TooLarge:
                return Outcome(status=response.status_code, headers=response.headers, error=too_large)
            except zlib.error as error:  # a corrupt compressed body
                return Outcome(status=response.status_code, headers=response.headers,
                               error=f"reply's compressed body is corrupt ({escape_text(error)})")
            return Outcome(status=response.status_code, headers=response.headers, body=b"".join(chunks),
                           os_pid=os_pid)
        finally:
            await response.aclose()

    async def _attempt(self, client: httpx.AsyncClient, request: httpx.Request) -> Outcome:
        timeout = self.options.timeout
        answered: list[tuple[httpx.Response, int | None]] = []
        try:
            # wait_for bounds the whole exchange, so a reply that streams forever still ends.
            outcome = await asyncio.wait_for(self._exchange(client, request, answered), timeout)
        except (asyncio.TimeoutError, httpx.TimeoutException):
            if answered:
                # The status line and headers came, the body never finished (a stream that
                # stalled or never ends): the service is reachable, and its headers still name the backend.
                response, os_pid = answered[0]
                return Outcome(status=response.status_code, headers=response.headers, os_pid=os_pid,
                               error=f"the service answered HTTP {response.status_code}, but its reply did "
                                     f"not finish within {timeout:g}s (timed out)",
                               retryable=True, unreachable=True)
            return Outcome(error=f"no complete reply within {timeout:g}s (timed out)", retryable=True,
                           unreachable=True)
        except httpx.ConnectError as error:
            reason, retryable = _connect_reason(error)
            return Outcome(error=reason, retryable=retryable, unreachable=True)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.NetworkError) as error:
            understood = _protocol_reason(error)
            if understood is not None:
                # Something answered, but not with usable HTTP: not "unreachable", and retrying
                # the same server would get the same reply.
                return Outcome(error=f"the service answered, but {understood} [{escape_text(error)}]")
            # An exception is always truthy: test its text, which is often empty (a reset, or
            # plain HTTP sent to a TLS port), and name the failure rather than print nothing.
            reason = str(error) or f"{type(error).__name__}, the server closed the connection without a reply"
            return Outcome(error=f"connection dropped: {escape_text(reason)}", retryable=True, unreachable=True)
        except httpx.HTTPError as error:
            understood = _protocol_reason(error)
            if understood is not None:
                return Outcome(error=f"the service answered, but {understood}")
            return Outcome(error=f"{type(error).__name__}: {escape_text(error)}")
        except (ssl.SSLError, OSError) as error:
            return Outcome(error=f"cannot connect: {escape_text(error)}", unreachable=True)
        if outcome.error is None and outcome.status is not None:
            if outcome.status == 429:
                outcome.retry_after = _retry_after(outcome.headers)
                wait = f", Retry-After {outcome.retry_after:g} s" if outcome.retry_after is not None else ""
                outcome.error = (f"HTTP 429 rate limited{wait}: the service refuses this many requests; "
                                 "lower --concurrency (or raise the service's limit for the probe)")
                outcome.retryable = True
            elif outcome.status >= 500:
                outcome.error, outcome.retryable = f"HTTP {outcome.status}", True
                outcome.retry_after = _retry_after(outcome.headers) if outcome.status == 503 else None
            elif 300 <= outcome.status < 400:
                location = outcome.headers.get("location", "?")
                outcome.error = (f"HTTP {outcome.status} redirect to {escape_text(redact_url(location))} not followed "
                                 "(the probe sends only to the URL it was given)")
            elif outcome.status >= 400:
                outcome.error = f"HTTP {outcome.status}"
        return outcome

    async def send_turn(self, client: httpx.AsyncClient, session: SessionPlan, turn: TurnPlan,
                        cookies: httpx.Cookies) -> tuple[TurnRecord, str | None, bool]:
        """Send one turn with its retries.

        Returns the record (without `expected`/`recalled`, which depend on earlier turns), the
        full reply text in lower case (None without a usable reply) and whether the last failure
        was connection-level.
        """
        options = self.options
        body = render_body(options.body, session=session.session, message=turn.message, turn=turn.turn)
        sent_at = time.perf_counter() - self.started
        attempts = 0
        while True:
            attempts += 1
            request = client.build_request(options.method, self.url, content=body.encode("utf-8"),
                                           headers=self.base_headers)
            if cookies:
                cookies.set_cookie_header(request)
            began = time.perf_counter()
            outcome = await self._attempt(client, request)
            latency = time.perf_counter() - began
            if outcome.status is not None and "set-cookie" in outcome.headers:
                cookies.extract_cookies(httpx.Response(outcome.status, headers=outcome.headers, request=request))
            if not outcome.retryable or attempts > options.retries:
                break
            if self.progress:
                self.progress("retry", None)
            if outcome.retry_after is not None:
                # The service said when to come back: honour it, but never wait past --timeout.
                await asyncio.sleep(min(outcome.retry_after, options.timeout))
            else:
                # Exponential backoff with jitter: a struggling service gets room to recover.
                await asyncio.sleep(min(0.1 * 2 ** (attempts - 1), MAX_BACKOFF_S) * (0.5 + random.random()))
        scrub = self.secrets.scrub
        record = TurnRecord(
            session=session.session, turn=turn.turn, planted=turn.codeword, status=outcome.status,
            error=scrub(outcome.error) if outcome.error else None, attempts=attempts,
            sent_at=round(sent_at, 6), latency_s=round(latency, 6), burst=turn.burst,
            request={"method": options.method, "url": self.shown_url,
                     "headers": redact_headers(request.headers.multi_items(), self.secrets),
                     "body": scrub(redact_body(body))},
            response_headers=redact_headers(outcome.headers.multi_items(), self.secrets),
        )
        # Reading the reply shares the turn's --timeout (at least a second, so a slow exchange
        # still gets its reply read).
        remaining = max(1.0, began + options.timeout - time.perf_counter())
        reply = self._read_reply(record, outcome, time.monotonic() + remaining) if outcome.status is not None else None
        return record, reply, outcome.unreachable

    def _read_reply(self, record: TurnRecord, outcome: Outcome, deadline: float) -> Reply | None:
        options = self.options
        documents: list = []
        reply = None
        scrub = self.secrets.scrub
        if record.error is None:
            try:
                reply = extract_reply(outcome.body, outcome.headers.get("content-type", ""), options.reply_path,
                                      deadline=deadline)
            except ExtractError as error:
                record.error = scrub(str(error))
            else:
                record.reply_text = scrub(reply.text[:REPLY_TEXT_LIMIT])
                record.reply_stream = reply.stream
                documents = reply.documents
                text = reply.text.lower()
                # Scan the reply for codeword-shaped tokens, then look them up: linear in the
                # reply, whatever the number of sessions.
                record.foreign = sorted({word for word in CODEWORD_PATTERN.findall(text)
                                         if (self.plan.owner(word) or record.session) != record.session})
                self._note_paths(documents)
        else:
            record.reply_text = scrub(outcome.body[:REPLY_TEXT_LIMIT].decode("utf-8", errors="replace"))
        backend, source = identify(outcome.headers, documents, pid_header=options.pid_header,
                                   pod_header=options.pod_header, pid_path=options.pid_path,
                                   pod_path=options.pod_path)
        if backend.pid is None and outcome.os_pid is not None:  # no identity in the reply: the OS named it
            backend = Backend(pod=backend.pod, pid=str(outcome.os_pid))
            source = ", ".join(filter(None, [source, "os /proc"]))
        record.backend = backend
        if source and source not in self.identity_sources:
            self.identity_sources.append(source)
        return reply

    def _note_paths(self, documents: list[Any]) -> None:
        """Count the replies where --pid-path/--pod-path found something; keep a few documents."""
        self.ok_replies += 1
        for flag in self.path_found:
            path = getattr(self.options, flag[2:].replace("-", "_"))
            if any(lookup(document, path) is not None and not isinstance(lookup(document, path), (dict, list))
                   for document in documents[:50]):
                self.path_found[flag] += 1
        if len(self.sample_documents) < 5:
            self.sample_documents.extend(documents[:5 - len(self.sample_documents)])

    def notes(self) -> list[str]:
        """What the user should know about the flags: a path that matched nothing in any reply."""
        found = []
        for flag, hits in self.path_found.items():
            if self.ok_replies and not hits:
                path = getattr(self.options, flag[2:].replace("-", "_"))
                found.append(f"{flag} '{escape_text(path)}' matched nothing in any of {self.ok_replies} replies "
                             f"({escape_text(describe_keys(self.sample_documents))})")
        # Only when the OS named no worker at all: a reply that raced its connection's close is no news.
        if self.os_notes and not any("os" in source.split(",")[-1] for source in self.identity_sources):
            found.extend(f"the OS could not name a worker: {escape_text(reason)}" for reason in self.os_notes[:2])
        return found

    async def run_session(self, client: httpx.AsyncClient, session: SessionPlan,
                          after_first_step: Callable[[list[TurnRecord], list[bool]], None] | None = None,
                          ) -> list[TurnRecord]:
        """All turns of one session: a burst at once (if planned), then the rest in order.

        `expected` of a turn is every codeword planted by an earlier turn whose reply was OK;
        burst turns expect nothing (they were sent together, none is earlier than another).
        `after_first_step` sees the first step's records (the first turn, or the burst) and
        whether each failed at connection level; it may raise to stop the run.
        """
        cookies = httpx.Cookies()
        records: list[TurnRecord] = []
        planted_ok: list[str] = []
        async with self._session_scope(session) as in_order_args:
            burst = session.burst
            if burst:
                sent = await asyncio.gather(*(self.send_turn(client, session, turn, cookies) for turn in burst))
                for record, text, _ in sent:
                    self._judge(record, text, [])
                if after_first_step:
                    after_first_step([record for record, _, _ in sent], [flag for _, _, flag in sent])
                for record, _, _ in sent:
                    records.append(record)
                    self._tick(record)
                planted_ok = [record.planted for record in records if record.ok]
            for index, turn in enumerate(session.after_burst):
                record, text, unreachable = await self.send_turn(client, session, turn, cookies, *in_order_args)
                self._judge(record, text, list(planted_ok))
                if after_first_step and not burst and index == 0:
                    after_first_step([record], [unreachable])
                if record.ok:
                    planted_ok.append(record.planted)
                records.append(record)
                self._tick(record)
        if self.progress:
            self.progress("session", None)
        return records

    @contextlib.asynccontextmanager
    async def _session_scope(self, session: SessionPlan) -> AsyncIterator[tuple[Any, ...]]:
        """What a session's in-order turns share, passed to `send_turn` after its usual arguments,
        and released when the session ends: nothing over HTTP (a transport may hold a connection)."""
        yield ()

    @staticmethod
    def _judge(record: TurnRecord, reply: Reply | None, expected: list[str]) -> None:
        record.expected = expected
        text = reply.text.lower() if reply is not None else None
        record.recalled = [word for word in expected if text is not None and word.lower() in text]
        if reply is not None and record.recalled:
            record.joined_codewords = reply.split_words(record.recalled)

    def _tick(self, record: TurnRecord) -> None:
        if self.progress:
            self.progress("turn", record)

    async def run(self) -> tuple[list[TurnRecord], str | None]:
        """Send every session; raises Unreachable when the run's first step cannot connect.

        The first session's first step (its first turn, or its burst) goes out alone: if the
        target cannot be reached at all the run stops there, within one request's timeout and
        retries, instead of failing every turn.
        """
        self.started = time.perf_counter()
        failure: list[str] = []
        groups: list[list[TurnRecord]] = []
        gate = asyncio.Event()

        def check_reach(records: list[TurnRecord], unreachable: list[bool]) -> None:
            if all(unreachable) and not any(record.ok for record in records):
                failure.append(records[0].error or "no reply")
            gate.set()
            if failure:
                raise Unreachable(failure[0], answered=records[0].status is not None)

        next_index = iter(range(1, self.plan.count))

        async with self._client() as client:
            async def lead() -> None:
                try:
                    groups.append(await self.run_session(client, self._start(0), check_reach))
                finally:
                    gate.set()
                await follow()  # the lead's slot of --concurrency goes on with the next sessions

            async def follow() -> None:
                # Sessions are made as they are sent: a million planned sessions cost nothing
                # up front, and a run that stops early never builds the rest.
                await gate.wait()
                for index in next_index:
                    if failure:
                        return
                    groups.append(await self.run_session(client, self._start(index)))

            followers = min(max(1, self.options.concurrency), self.plan.count) - 1
            await asyncio.gather(lead(), *(follow() for _ in range(followers)))
        records = [record for group in groups for record in group]
        return records, (", ".join(self.identity_sources) or None)

    def _start(self, index: int) -> SessionPlan:
        session = self.plan.session(index)
        self.codewords_by_session[session.session] = [turn.codeword for turn in session.turns]
        self.session_order[session.session] = index
        return session


def tls_verify(options: ProbeOptions) -> ssl.SSLContext | bool:
    """How https replies are verified: the system's CAs, --ca-bundle FILE, or not at all (--insecure)."""
    if getattr(options, "insecure", False):
        return False
    bundle = getattr(options, "ca_bundle", None)
    if bundle is not None:
        return ssl.create_default_context(cafile=str(bundle))
    return True


class Unreachable(Exception):
    """The first request could not reach the target (refused, DNS, TLS, timed out), or reached it
    and got a status line whose reply then never finished (`answered`)."""

    def __init__(self, reason: str, *, answered: bool = False) -> None:
        super().__init__(reason)
        self.answered = answered
