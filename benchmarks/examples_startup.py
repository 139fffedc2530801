"""How long each example service takes to start under uvicorn with N workers (AutoGen imports are slow).

For every example: start `uvicorn app:api --app-dir examples/NAME --workers N`, and measure the
time to the first 200 on `GET /` and the time until N distinct `X-Backend-Pid` values answered
(every worker up). Needs redis-server on PATH (or REDIS_URL) for the Redis-backed examples.

    python benchmarks/examples_startup.py [--workers 4] [--rounds 2] [NAME ...]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.services import free_port, redis_server, stop_process_group  # noqa: E402

DEFAULT_EXAMPLES = ["broken_inproc", "broken_no_restore", "fixed_redis", "broken_team", "fixed_team",
                    "broken_classic", "fixed_classic"]
LIMIT_S = 60.0


def measure(name: str, workers: int, redis_url: str) -> tuple[float, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:api", "--app-dir", f"examples/{name}", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, "REDIS_URL": redis_url}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )
    first = None
    pids: set[str] = set()
    try:
        while time.perf_counter() - started < LIMIT_S and len(pids) < workers:
            with contextlib.suppress(httpx.HTTPError):
                with httpx.Client(timeout=1.0) as client:  # a new connection each time: any worker may take it
                    reply = client.get(url, headers={"Connection": "close"})
                if reply.status_code == 200:
                    first = first or time.perf_counter() - started
                    pids.add(reply.headers.get("X-Backend-Pid", ""))
                    continue
            time.sleep(0.05)
        all_up = time.perf_counter() - started if len(pids) >= workers else float("nan")
        return first or float("nan"), all_up
    finally:
        stop_process_group(process)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("names", nargs="*", default=DEFAULT_EXAMPLES)
    args = parser.parse_args()
    context = contextlib.nullcontext(os.environ["REDIS_URL"]) if os.environ.get("REDIS_URL") else redis_server()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with context as redis_url:
        for name in args.names:
            runs = [measure(name, args.workers, redis_url) for _ in range(args.rounds)]
            first = statistics.median(run[0] for run in runs)
            every = statistics.median(run[1] for run in runs)
            print(f"{name:18} {args.workers} workers: first reply {first:5.1f} s, all workers up {every:5.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
