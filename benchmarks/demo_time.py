"""How long `autogen-doctor demo` takes, end to end, as a user runs it (target: under 60 s).

Runs the demo as a subprocess --rounds times and prints each wall time and the time of each
part as the demo reports it (most of it is uvicorn workers importing AutoGen).

    python benchmarks/demo_time.py [--rounds 3] [--workers 4]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    walls = []
    for round_number in range(1, args.rounds + 1):
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "autogen_doctor", "demo", "--workers", str(args.workers)],
                                cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
        wall = time.perf_counter() - started
        walls.append(wall)
        ready = re.findall(r"ready after ([\d.]+) s", result.stdout)
        parts = re.findall(r"^(\w+)\s+\d+ workers: .*\(.*?, (\d+) s\)$", result.stdout, re.MULTILINE)
        print(f"round {round_number}: {wall:.1f} s wall, exit {result.returncode}; "
              f"servers ready after {', '.join(ready) or '?'} s; parts: "
              + ", ".join(f"{name} {seconds} s" for name, seconds in parts))
    worst = max(walls)
    print(f"worst {worst:.1f} s, best {min(walls):.1f} s (target < {TARGET_S:.0f} s): "
          f"{'ok' if worst < TARGET_S else 'TOO SLOW'}")
    return 0 if worst < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
