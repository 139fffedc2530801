"""How much the WebSocket probe costs on top of a bare `websockets` client: turns per second
against a no-op WebSocket service.

Starts a no-op ASGI WebSocket app under real uvicorn (it answers every frame with the AgentChat
team sample's reply + UserInputRequestedEvent), then alternates two clients sending the same
turns (same sessions x turns, same concurrency, a new connection per turn):

- the probe: `run_ws_probe` with `--preset agentchat-team` end to end (templates, rules, reply
  selection, identity, records, analysis);
- a bare loop: `websockets.connect` per turn, send the frame, read until the end-of-turn frame.

Prints both rates (median of --rounds, alternating which goes first) and the ratio; the target
is a ratio of at least 0.80.

    python benchmarks/probe_ws_overhead.py [--sessions 50] [--turns 4] [--concurrency 4] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from autogen_doctor.probe.options import ProbeOptions  # noqa: E402
from autogen_doctor.probe.plan import make_plan  # noqa: E402
from autogen_doctor.probe.ws.command import run_ws_probe  # noqa: E402
from autogen_doctor.probe.ws.options import WsFlags, build_ws_options  # noqa: E402
from support.services import uvicorn_service  # noqa: E402

REPLY = json.dumps({"source": "assistant", "content": "noted", "type": "TextMessage"})
TURN_END = json.dumps({"source": "user", "content": "", "type": "UserInputRequestedEvent"})


async def noop_ws_app(scope, receive, send):
    """Accepts with an identity header and answers every frame at once, remembering nothing."""
    if scope["type"] == "http":
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    if scope["type"] != "websocket":
        return
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept", "headers": [(b"x-backend-pid", b"1")]})
        elif message["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": REPLY})
            await send({"type": "websocket.send", "text": TURN_END})
        else:
            return


async def bare_loop(url: str, sessions: int, turns: int, concurrency: int, seed: int) -> int:
    """The same turns as the probe, with nothing but `websockets`."""
    plan = make_plan(sessions, turns, seed=seed)
    gate = asyncio.Semaphore(concurrency)
    sent = 0

    async def one_session(session) -> None:
        nonlocal sent
        async with gate:
            for turn in session.turns:
                async with connect(url, ping_interval=None) as socket_:
                    await socket_.send(json.dumps({"content": turn.message, "source": "user"}))
                    while json.loads(await socket_.recv()).get("type") != "UserInputRequestedEvent":
                        pass
                sent += 1

    await asyncio.gather(*(one_session(session) for session in plan.sessions))
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    turns = args.sessions * args.turns
    probe_rates, bare_rates = [], []
    with uvicorn_service("probe_ws_overhead:noop_ws_app", app_dir=ROOT / "benchmarks") as service:
        url = service.url.replace("http://", "ws://") + "/ws/chat"

        def bare_round(round_number: int) -> None:
            started = time.perf_counter()
            sent = asyncio.run(bare_loop(url, args.sessions, args.turns, args.concurrency, seed=round_number))
            bare_rates.append(sent / (time.perf_counter() - started))

        def probe_round(round_number: int) -> None:
            options = ProbeOptions(url=url, sessions=args.sessions, turns=args.turns,
                                   concurrency=args.concurrency, seed=round_number, quiet=True)
            options.ws = build_ws_options(WsFlags(preset="agentchat-team"), body=None, reply_path=None)
            options.reply_path = options.ws.reply_path
            started = time.perf_counter()
            run = run_ws_probe(options)
            probe_rates.append(len(run.transcript.records) / (time.perf_counter() - started))
            assert len(run.transcript.records) == turns and all(r.ok for r in run.transcript.records)

        bare_round(-1)  # warm-up: imports, the server's first connections
        bare_rates.clear()
        for round_number in range(args.rounds):
            first, second = (bare_round, probe_round) if round_number % 2 == 0 else (probe_round, bare_round)
            first(round_number)
            second(round_number)
    bare, probe = statistics.median(bare_rates), statistics.median(probe_rates)
    print(f"turns per round: {turns} ({args.sessions} sessions x {args.turns} turns, concurrency "
          f"{args.concurrency}, new connection per turn), {args.rounds} rounds each")
    print(f"bare websockets loop: {bare:8.1f} turns/s  (median; best {max(bare_rates):.1f})")
    print(f"autogen-doctor      : {probe:8.1f} turns/s  (median; best {max(probe_rates):.1f})")
    print(f"ratio               : {probe / bare:8.2f}  (medians; target >= 0.80)")


if __name__ == "__main__":
    main()
