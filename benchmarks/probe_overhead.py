"""How much the probe costs on top of plain HTTP: requests per second against a no-op service.

Starts a no-op ASGI app under real uvicorn, then alternates two clients sending the same
requests (same sessions x turns, same concurrency, a new connection per request):

- the probe: `run_probe` end to end (plan, send, reply extraction, identity, redaction,
  recall bookkeeping, analysis);
- a bare httpx loop: the same POST bodies with an AsyncClient that keeps no idle connection.

Prints both rates (median of --rounds, rounds alternating which client goes first) and the
ratio; the target is a ratio of at least 0.80.

    python benchmarks/probe_overhead.py [--sessions 50] [--turns 4] [--concurrency 4] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from autogen_doctor.probe.command import run_probe  # noqa: E402
from autogen_doctor.probe.options import ProbeOptions  # noqa: E402
from autogen_doctor.probe.plan import make_plan, render_body  # noqa: E402
from support.services import uvicorn_service  # noqa: E402


async def noop_app(scope, receive, send):
    """Answers every request at once, with an identity header, remembering nothing."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"x-backend-pid", b"1")]})
    await send({"type": "http.response.body", "body": b'{"reply": "noted"}'})


async def bare_loop(url: str, sessions: int, turns: int, concurrency: int, seed: int) -> int:
    """The same requests as the probe, with nothing but httpx."""
    plan = make_plan(sessions, turns, seed=seed)
    template = ProbeOptions().body
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    gate = asyncio.Semaphore(concurrency)
    sent = 0

    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        async def one_session(session) -> None:
            nonlocal sent
            async with gate:
                for turn in session.turns:
                    body = render_body(template, session=session.session, message=turn.message, turn=turn.turn)
                    response = await client.post(url, content=body.encode(),
                                                 headers={"Content-Type": "application/json"})
                    json.loads(response.content)
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
    requests = args.sessions * args.turns
    probe_rates, bare_rates = [], []
    with uvicorn_service("probe_overhead:noop_app", app_dir=ROOT / "benchmarks") as service:
        url = service.url + "/chat"
        def bare_round(round_number: int) -> None:
            started = time.perf_counter()
            sent = asyncio.run(bare_loop(url, args.sessions, args.turns, args.concurrency, seed=round_number))
            bare_rates.append(sent / (time.perf_counter() - started))

        def probe_round(round_number: int) -> None:
            options = ProbeOptions(url=url, sessions=args.sessions, turns=args.turns,
                                   concurrency=args.concurrency, seed=round_number, quiet=True)
            started = time.perf_counter()
            run = run_probe(options)
            probe_rates.append(len(run.transcript.records) / (time.perf_counter() - started))
            assert len(run.transcript.records) == requests and all(r.ok for r in run.transcript.records)

        bare_round(-1)  # warm-up: imports, the server's first connections
        bare_rates.clear()
        for round_number in range(args.rounds):
            # Alternate which goes first so a slow moment of the machine hits both alike.
            first, second = (bare_round, probe_round) if round_number % 2 == 0 else (probe_round, bare_round)
            first(round_number)
            second(round_number)
    bare, probe = statistics.median(bare_rates), statistics.median(probe_rates)
    print(f"requests per round: {requests} ({args.sessions} sessions x {args.turns} turns, "
          f"concurrency {args.concurrency}, new connection per request), {args.rounds} rounds each")
    print(f"bare httpx loop : {bare:8.1f} req/s  (median; best {max(bare_rates):.1f})")
    print(f"autogen-doctor  : {probe:8.1f} req/s  (median; best {max(probe_rates):.1f})")
    print(f"ratio           : {probe / bare:8.2f}  (medians; best/best {max(probe_rates) / max(bare_rates):.2f}; "
          f"target >= 0.80)")


if __name__ == "__main__":
    main()
