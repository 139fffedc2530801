"""Scripted WebSocket servers (the `websockets` library's own server) on 127.0.0.1, each in a
thread with its own event loop, and a helper that runs the probe in process through the same
option building as the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any, Awaitable, Callable, Iterator

from websockets.asyncio.server import serve

from autogen_doctor.probe.options import ProbeOptions
from autogen_doctor.probe.ws.command import run_ws_probe
from autogen_doctor.probe.ws.options import WsFlags, build_ws_options

Handler = Callable[[Any], Awaitable[None]]


@contextlib.contextmanager
def scripted_server(handler: Handler, *, pid: str | None = "4242", process_request=None,
                    max_size: int | None = 2**20, tls=None) -> Iterator[str]:
    """Serve `handler` on a free loopback port until the block ends; yields ws://127.0.0.1:PORT.

    With `pid`, every handshake answer carries X-Backend-Pid (one backend, as one process is).
    With `tls` (a server SSLContext) it serves wss:// and yields wss://127.0.0.1:PORT.
    """
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, Any] = {}

    def add_identity(connection, request, response):
        if pid is not None:
            response.headers["X-Backend-Pid"] = pid
        return response

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, process_request=process_request,
                         process_response=add_identity, max_size=max_size, ssl=tls) as server:
            box["port"] = server.sockets[0].getsockname()[1]
            box["stop"] = asyncio.Event()
            started.set()
            await box["stop"].wait()
            # Handlers that sleep (a silent server) would hold the shutdown: cancel them.
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    assert started.wait(10), "scripted server did not start"
    try:
        yield f"{'wss' if tls is not None else 'ws'}://127.0.0.1:{box['port']}"
    finally:
        loop.call_soon_threadsafe(box["stop"].set)
        thread.join(10)
        loop.close()


def probe(url: str, *, body: str | None = None, reply_path: str | None = None, sessions: int = 3,
          turns: int = 3, timeout: float = 5.0, retries: int = 0, record=None, os_identity_root=None,
          **ws_flags):
    """Run `probe URL` in process: the CLI's option building, then run_ws_probe."""
    flags = WsFlags(**ws_flags)
    options = ProbeOptions(url=url, sessions=sessions, turns=turns, timeout=timeout, retries=retries, seed=7,
                           quiet=True, record=record, os_identity_root=os_identity_root)
    options.ws = build_ws_options(flags, body=body, reply_path=reply_path)
    options.reply_path = options.ws.reply_path
    return run_ws_probe(options)
