"""How much the probe costs on top of a bare client: turns per second against a no-op service.

Starts a no-op ASGI app under real uvicorn, then alternates two clients sending the same turns
(same sessions x turns, same concurrency, a new connection per turn):

- HTTP (`--transport http`): the probe's `run_probe` end to end (plan, send, reply extraction,
  identity, redaction, recall bookkeeping, analysis) against a bare httpx loop posting the same
  bodies with an AsyncClient that keeps no idle connection;
- WebSocket (`--transport ws`): `run_ws_probe` with `--preset agentchat-team` (templates, turn-end
  rules, reply selection, identity, records, analysis) against a bare `websockets.connect` per
  turn that sends the frame and reads until the end-of-turn frame. The app answers every frame
  with the AgentChat team sample's reply + UserInputRequestedEvent.

Prints both rates (median of --rounds, rounds alternating which client goes first) and the
ratio per transport; the target is a ratio of at least 0.80.

    python benchmarks/probe_overhead.py [--transport http|ws|both] [--sessions 50] [--turns 4]
                                        [--concurrency 4] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Awaitable, Callable

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from autogen_doctor.probe.command import run_probe  # noqa: E402
from autogen_doctor.probe.options import ProbeOptions  # noqa: E402
from autogen_doctor.probe.plan import make_plan, render_body  # noqa: E402
from support.services import uvicorn_service  # noqa: E402

WS_REPLY = json.dumps({"source": "assistant", "content": "noted", "type": "TextMessage"})
WS_TURN_END = json.dumps({"source": "user", "content": "", "type": "UserInputRequestedEvent"})


async def noop_app(scope, receive, send):
    """Answers every request and every frame at once, with an identity header, remembering nothing."""
    if scope["type"] == "http":
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"x-backend-pid", b"1")]})
        await send({"type": "http.response.body", "body": b'{"reply": "noted"}'})
    elif scope["type"] == "websocket":
        while True:
            message = await receive()
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.accept", "headers": [(b"x-backend-pid", b"1")]})
            elif message["type"] == "websocket.receive":
                await send({"type": "websocket.send", "text": WS_REPLY})
                await send({"type": "websocket.send", "text": WS_TURN_END})
            else:
                return


async def each_turn(sessions: int, turns: int, concurrency: int, seed: int,
                    send_turn: Callable[[object, object], Awaitable[None]]) -> int:
    """Run the probe's plan for `seed` through `send_turn(session, turn)`; return turns sent."""
    plan = make_plan(sessions, turns, seed=seed)
    gate = asyncio.Semaphore(concurrency)
    sent = 0

    async def one_session(session) -> None:
        nonlocal sent
        async with gate:
            for turn in session.turns:
                await send_turn(session, turn)
                sent += 1

    await asyncio.gather(*(one_session(session) for session in plan.sessions))
    return sent


async def bare_http(url: str, sessions: int, turns: int, concurrency: int, seed: int) -> int:
    """The same requests as the probe, with nothing but httpx."""
    template = ProbeOptions().body
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        async def post(session, turn) -> None:
            body = render_body(template, session=session.session, message=turn.message, turn=turn.turn)
            response = await client.post(url, content=body.encode(), headers={"Content-Type": "application/json"})
            json.loads(response.content)

        return await each_turn(sessions, turns, concurrency, seed, post)


async def bare_ws(url: str, sessions: int, turns: int, concurrency: int, seed: int) -> int:
    """The same turns as the probe, with nothing but `websockets`."""
    from websockets.asyncio.client import connect

    async def exchange(_session, turn) -> None:
        async with connect(url, ping_interval=None) as socket_:
            await socket_.send(json.dumps({"content": turn.message, "source": "user"}))
            while json.loads(await socket_.recv()).get("type") != "UserInputRequestedEvent":
                pass

    return await each_turn(sessions, turns, concurrency, seed, exchange)


def probe_http(url: str, args: argparse.Namespace, seed: int):
    options = ProbeOptions(url=url, sessions=args.sessions, turns=args.turns,
                           concurrency=args.concurrency, seed=seed, quiet=True)
    return run_probe(options)


def probe_ws(url: str, args: argparse.Namespace, seed: int):
    from autogen_doctor.probe.ws.command import run_ws_probe
    from autogen_doctor.probe.ws.options import WsFlags, build_ws_options

    options = ProbeOptions(url=url, sessions=args.sessions, turns=args.turns,
                           concurrency=args.concurrency, seed=seed, quiet=True)
    options.ws = build_ws_options(WsFlags(preset="agentchat-team"), body=None, reply_path=None)
    options.reply_path = options.ws.reply_path
    return run_ws_probe(options)


TRANSPORTS = {
    # name: (path on the no-op app, bare client, probe, what the bare client is called)
    "http": ("http", "/chat", bare_http, probe_http, "bare httpx loop"),
    "ws": ("ws", "/ws/chat", bare_ws, probe_ws, "bare websockets loop"),
}


def compare(base_url: str, transport: str, args: argparse.Namespace) -> None:
    """Alternate bare and probe rounds on one transport and print the medians and their ratio."""
    scheme, path, bare_client, probe, bare_name = TRANSPORTS[transport]
    url = base_url.replace("http", scheme, 1) + path
    expected = args.sessions * args.turns
    bare_rates: list[float] = []
    probe_rates: list[float] = []

    def bare_round(seed: int) -> None:
        started = time.perf_counter()
        sent = asyncio.run(bare_client(url, args.sessions, args.turns, args.concurrency, seed=seed))
        bare_rates.append(sent / (time.perf_counter() - started))

    def probe_round(seed: int) -> None:
        started = time.perf_counter()
        run = probe(url, args, seed)
        probe_rates.append(len(run.transcript.records) / (time.perf_counter() - started))
        assert len(run.transcript.records) == expected and all(r.ok for r in run.transcript.records)

    bare_round(-1)  # warm-up: imports, the server's first connections
    bare_rates.clear()
    for round_number in range(args.rounds):
        # Alternate which goes first so a slow moment of the machine hits both alike.
        first, second = (bare_round, probe_round) if round_number % 2 == 0 else (probe_round, bare_round)
        first(round_number)
        second(round_number)
    bare, probed = statistics.median(bare_rates), statistics.median(probe_rates)
    print(f"[{transport}] turns per round: {expected} ({args.sessions} sessions x {args.turns} turns, "
          f"concurrency {args.concurrency}, new connection per turn), {args.rounds} rounds each")
    print(f"[{transport}] {bare_name:20}: {bare:8.1f} turns/s  (median; best {max(bare_rates):.1f})")
    print(f"[{transport}] {'autogen-doctor':20}: {probed:8.1f} turns/s  (median; best {max(probe_rates):.1f})")
    print(f"[{transport}] {'ratio':20}: {probed / bare:8.2f}  (medians; best/best "
          f"{max(probe_rates) / max(bare_rates):.2f}; target >= 0.80)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=("http", "ws", "both"), default="both")
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    transports = ["http", "ws"] if args.transport == "both" else [args.transport]
    with uvicorn_service("probe_overhead:noop_app", app_dir=ROOT / "benchmarks") as service:
        for transport in transports:
            compare(service.url, transport, args)


if __name__ == "__main__":
    main()
