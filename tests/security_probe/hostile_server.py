"""A raw HTTP server for hostile-reply tests: each test writes the exact bytes a hostile service sends.

Plain asyncio sockets on 127.0.0.1 in a background thread (no HTTP library on the server side, so a
reply can be as malformed as a test needs). Every request is parsed just enough to read the JSON
body; the test's `reply(request)` returns the raw response bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

CODEWORD = re.compile(r"adr-[a-z0-9]{4}-[a-z0-9]{4}")


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    number: int  # 1-based, in arrival order

    @property
    def document(self) -> dict:
        try:
            value = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass
class Memory:
    """A service with perfect per-session memory (what most hostile modes pretend to be)."""

    sessions: dict[str, list[str]] = field(default_factory=dict)

    def remember(self, request: Request) -> list[str]:
        words = self.sessions.setdefault(str(request.document.get("session_id")), [])
        words += CODEWORD.findall(str(request.document.get("message", "")))
        return words


def http_response(status: str, headers: list[tuple[str, str]], body: bytes, raw_headers: bytes = b"") -> bytes:
    """Bytes of an HTTP/1.1 response; header values are sent as latin-1, unchecked."""
    names = {name.lower() for name, _ in headers}
    if "content-length" not in names and "transfer-encoding" not in names:
        headers = [*headers, ("Content-Length", str(len(body)))]
    head = f"HTTP/1.1 {status}\r\n".encode()
    for name, value in [*headers, ("Connection", "close")]:
        head += name.encode("latin-1") + b": " + value.encode("latin-1") + b"\r\n"
    return head + raw_headers + b"\r\n" + body


def json_response(document: object, headers: list[tuple[str, str]] | None = None) -> bytes:
    return http_response("200 OK", [("Content-Type", "application/json"), *(headers or [])],
                         json.dumps(document).encode())


class HostileServer:
    """Serves `reply(request) -> bytes` on 127.0.0.1 until closed; counts and keeps requests."""

    def __init__(self, reply: Callable[[Request], bytes], tls: ssl.SSLContext | None = None) -> None:
        self.reply = reply
        self.tls = tls
        self.requests: list[Request] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/chat"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            body = await asyncio.wait_for(reader.readexactly(length), 10) if length else b""
            request = Request(method, path, headers, body, len(self.requests) + 1)
            self.requests.append(request)
            writer.write(self.reply(request))
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, ValueError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls, limit=1 << 20))
        self.port = server.sockets[0].getsockname()[1]
        self._server = server
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())

    def __enter__(self) -> "HostileServer":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@contextlib.contextmanager
def hostile(reply: Callable[[Request], bytes], tls: ssl.SSLContext | None = None) -> Iterator[HostileServer]:
    with HostileServer(reply, tls) as server:
        yield server


def probe(*args: object, timeout: float = 120, memory_limit: int | None = None) -> subprocess.CompletedProcess:
    """`autogen-doctor probe ARGS` as a user runs it; `.took` is the wall time in seconds.

    `memory_limit` (bytes of address space, Linux) makes a run that would balloon fail instead.
    """
    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "autogen_doctor", "probe", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          preexec_fn=limit if memory_limit else None)
    done.took = time.monotonic() - started  # type: ignore[attr-defined]
    return done


def one_line_error(done: subprocess.CompletedProcess) -> str:
    """The single `autogen-doctor: error:` line of a run that exited 2 (asserted)."""
    assert done.returncode == 2, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("autogen-doctor: error:")]
    assert len(lines) == 1, done.stderr
    return lines[0]
