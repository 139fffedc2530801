"""How fast is `autogen-doctor scan` on a large real tree, against the parse floor and bandit?

    python benchmarks/scan_speed.py                    # stdlib + site-packages
    python benchmarks/scan_speed.py --mid-size --skip-bandit   # a few hundred stdlib files
    python benchmarks/scan_speed.py --tree ./src --skip-bandit
    python benchmarks/scan_speed.py --startup                  # a 3-file project: start-up cost

`--mid-size` copies about 400 files of the standard library (its top-level modules and a few
packages) into a temporary folder, the size of most users' repositories, where per-file and
start-up costs show. Every run also times a warm scan after one file changed (only that file
is parsed again; resolution and rules re-run over the cached facts of the others); the edited
file is put back as it was afterwards.

Prints, from one run: files, lines, the time of a bare `ast.parse` of every Python file in
one process (the floor for any Python AST tool), our cold scan (fresh cache, all cores),
our warm scan (same cache, nothing changed) and `bandit -r -q` on the same tree, each in
seconds and as a ratio to the floor. The scans run as subprocesses, so interpreter start-up
and reporting are included, as a CI job would see them; like an installed package they run
with byte-code caching on, after one untimed scan of a small project has written it.

`--tree-rounds N` (default 5 with `--mid-size`, else 1) repeats floor, cold, warm and
edited scans N times, interleaved, and reports medians: each round's scans are divided by
the floor timed just before them, so a shared machine that slows down between rounds moves
both sides of the ratio.

The floor parses the same Python files our scan reads (discovery honours .gitignore and
skips nested virtualenvs and build folders); bandit walks the trees its own way.

`--startup` times what a small project costs, where start-up is most of the scan: `scan` of a
3-file project, cold (fresh cache) and warm (same cache), and `import autogen_doctor.cli`, each
against `python -c pass`, interleaved over `--rounds` rounds in the same run. With `--tree` or
`--mid-size` it follows the tree's figures; alone it is the whole run. Its commands run with
byte-code caching on (PYTHONDONTWRITEBYTECODE is dropped for them), as an installed package runs.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import site
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings
from pathlib import Path


def default_trees() -> list[Path]:
    """The standard library and every site-packages folder of this interpreter."""
    trees = [Path(sysconfig.get_paths()["stdlib"])]
    for folder in [*site.getsitepackages(), site.getusersitepackages()]:
        path = Path(folder)
        if path.is_dir() and path not in trees:
            trees.append(path)
    return trees


MID_SIZE_PACKAGES = ("asyncio", "email", "http", "json", "logging", "concurrent", "importlib",
                     "multiprocessing", "urllib", "xml", "unittest")


def build_mid_size_tree(destination: Path) -> Path:
    """Copy the stdlib's top-level modules and MID_SIZE_PACKAGES under `destination`."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    tree = destination / "stdlib-mid"
    tree.mkdir(parents=True)
    for module in sorted(stdlib.glob("*.py")):
        shutil.copy2(module, tree / module.name)
    for package in MID_SIZE_PACKAGES:
        if (stdlib / package).is_dir():
            shutil.copytree(stdlib / package, tree / package,
                            ignore=shutil.ignore_patterns("__pycache__", "test", "tests"))
    return tree


STARTUP_PROJECT = {
    "app.py": (
        "from fastapi import FastAPI\n\nfrom agents import make_agent\n\napp = FastAPI()\n"
        "SESSIONS = {}\n\n\n@app.post('/chat/{session_id}')\n"
        "async def chat(session_id: str, text: str):\n"
        "    history = SESSIONS.setdefault(session_id, [])\n    history.append(text)\n"
        "    return {'reply': make_agent('helper')['name'], 'turns': len(history)}\n"
    ),
    "agents.py": "def make_agent(name: str) -> dict:\n    return {'name': name, 'model': 'gpt-4o'}\n",
    "settings.py": "import os\n\nREDIS_URL = os.environ.get('REDIS_URL', 'redis://localhost:6379/0')\n",
}


def build_startup_project(destination: Path) -> Path:
    """A 3-file service under `destination`, its files dated an hour ago (the cache trusts
    only mtimes that are not recent, so the warm scan is a truly warm one)."""
    project = destination / "startup-project"
    project.mkdir(parents=True)
    an_hour_ago = time.time() - 3600
    for name, text in STARTUP_PROJECT.items():
        (project / name).write_text(text, encoding="utf-8")
        os.utime(project / name, (an_hour_ago, an_hour_ago))
    return project


def _startup_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["NO_COLOR"] = "1"
    return env


def measure_startup(workspace: Path, rounds: int, timeout: float) -> int:
    """Print the start-up table: each command's median wall and minimum CPU seconds over
    `rounds` interleaved rounds, and both as a ratio to `python -c pass`."""
    project = build_startup_project(workspace)
    warm_cache = workspace / "startup-cache-warm"
    scan = [sys.executable, "-m", "autogen_doctor", "scan", str(project)]
    commands = {
        "python -c pass": lambda _round: [sys.executable, "-c", "pass"],
        "import autogen_doctor.cli": lambda _round: [sys.executable, "-c", "import autogen_doctor.cli"],
        "scan 3 files, cold (fresh cache)":
            lambda number: [*scan, "--cache-dir", str(workspace / f"startup-cache-cold-{number}")],
        "scan 3 files, warm (same cache)": lambda _round: [*scan, "--cache-dir", str(warm_cache)],
    }
    env = _startup_env()
    walls: dict[str, list[float]] = {label: [] for label in commands}
    cpus: dict[str, list[float]] = {label: [] for label in commands}
    say(f"start-up: {len(STARTUP_PROJECT)}-file project, {rounds} rounds")
    # Round -1 is not timed: it writes byte-code caches and fills the warm scan's cache.
    for number in range(-1, rounds):
        for label, command in commands.items():
            cpu_before = _children_cpu()
            started = time.perf_counter()
            try:
                done = subprocess.run(command(number), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True, timeout=timeout, env=env)
            except subprocess.TimeoutExpired:
                say(f"  {label}: timed out after {timeout:.0f} s")
                return 1
            wall, cpu = time.perf_counter() - started, _children_cpu() - cpu_before
            if done.returncode not in (0, 1):
                tail = done.stderr.strip().splitlines()[-1:] or [""]
                say(f"  {label}: exit {done.returncode}: {tail[0]}")
                return 1
            if number >= 0:
                walls[label].append(wall)
                cpus[label].append(cpu)
    generations = [entry for entry in warm_cache.iterdir() if entry.is_dir()]
    warm_note = "INVALID: autogen-doctor's code changed during the run" if len(generations) > 1 else ""

    base_wall = statistics.median(walls["python -c pass"])
    base_cpu = min(cpus["python -c pass"])
    say()
    say(f"{'':36} {'wall s':>8} {'x pass':>7} {'cpu s':>7} {'x pass':>7}   (median wall, minimum CPU)")
    for label in commands:
        wall, cpu = statistics.median(walls[label]), min(cpus[label])
        note = warm_note if label.endswith("(same cache)") else ""
        say(f"{label:36} {wall:8.3f} {wall / base_wall:7.2f} {cpu:7.3f} {cpu / base_cpu:7.2f}  {note}".rstrip())
    warm_cpu = min(cpus["scan 3 files, warm (same cache)"])
    cold_cpu = min(cpus["scan 3 files, cold (fresh cache)"])
    say(f"\n3-file scan: warm {warm_cpu:.3f} s, cold {cold_cpu:.3f} s of CPU (one process: about its wall "
        f"time on an idle machine); target well under 0.3 s; the interpreter alone takes {base_cpu:.3f} s")
    return 0


def python_files(trees: list[Path]) -> list[Path]:
    """The Python files our scan reads under `trees` (its own discovery, so the floor is fair)."""
    from autogen_doctor.scan.discover import PYTHON, discover

    return [source.path for source in discover(trees) if source.kind == PYTHON]


def parse_floor(files: list[Path]) -> tuple[float, int, int]:
    """Seconds to read and `ast.parse` every file in this one process; (seconds, lines, failures)."""
    lines = failures = 0
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in files:
            try:
                data = path.read_bytes()
                lines += data.count(b"\n")
                ast.parse(data, filename=str(path))
            except (SyntaxError, ValueError, OSError, RecursionError, MemoryError):
                failures += 1
    return time.perf_counter() - started, lines, failures


CPU_SECONDS: dict[str, float] = {}  # label -> user + system CPU of the command and its children


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], timeout: float, label: str = "",
          env: dict[str, str] | None = None) -> tuple[float | None, int | None, str]:
    """(seconds, exit code, last stderr line); seconds is None when it timed out.

    The command's CPU time (with its worker processes) goes to CPU_SECONDS[label]: on a
    machine shared with other jobs it moves far less than the wall-clock time.
    """
    started = time.perf_counter()
    cpu_before = _children_cpu()
    try:
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return None, None, f"timed out after {timeout:.0f} s"
    CPU_SECONDS[label] = _children_cpu() - cpu_before
    tail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    return time.perf_counter() - started, done.returncode, tail


def say(text: str = "") -> None:
    print(text, flush=True)  # progress shows up even when the output goes to a file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", type=Path,
                        help="folder to scan (repeatable; default: stdlib + site-packages)")
    parser.add_argument("--mid-size", action="store_true",
                        help="scan a copy of about 400 stdlib files instead of the default trees")
    parser.add_argument("--startup", action="store_true",
                        help="time scan of a 3-file project and the CLI's import against `python -c pass` "
                             "(alone: only that)")
    parser.add_argument("--rounds", type=int, default=15, help="rounds of the --startup commands (default 15)")
    parser.add_argument("--tree-rounds", type=int, default=None,
                        help="rounds of floor + cold + warm scans of the tree, medians reported "
                             "(default 5 with --mid-size, else 1)")
    parser.add_argument("--skip-bandit", action="store_true", help="do not run bandit")
    parser.add_argument("--jobs", type=int, default=None, help="--jobs for our scan (default: all cores)")
    parser.add_argument("--timeout", type=float, default=3600, help="per-command timeout in seconds")
    args = parser.parse_args(argv)

    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.tree_rounds is not None and args.tree_rounds < 1:
        parser.error("--tree-rounds must be at least 1")
    workspace = Path(tempfile.mkdtemp(prefix="autogen-doctor-bench-tree-"))
    try:
        if args.mid_size:
            args.tree = [build_mid_size_tree(workspace)]
        code = 0
        if args.tree or not args.startup:
            code = _run(args)
        if args.startup and code == 0:
            if args.tree:
                say()
            code = measure_startup(workspace, args.rounds, args.timeout)
        return code
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


COLD, WARM, CHANGED = ("autogen-doctor cold (fresh cache)", "autogen-doctor warm (same cache)",
                       "autogen-doctor warm, 1 file changed")


def _scan_round(scan: list[str], files: list[Path], env: dict[str, str], timeout: float,
                say_progress: bool) -> dict[str, tuple[float | None, str, float]]:
    """One cold scan (fresh cache), one warm scan and one after an edit: label -> (seconds,
    note, CPU seconds); seconds is None when skipped or timed out."""
    measured: dict[str, tuple[float | None, str, float]] = {}
    for label in (COLD, WARM, CHANGED):
        if label == CHANGED:
            changed = files[len(files) // 2]
            if not os.access(changed, os.W_OK):
                measured[label] = (None, f"skipped ({changed} is read-only; use --mid-size or a copy)", 0.0)
                continue
            original = changed.read_bytes()
            times = changed.stat()
            with open(changed, "a", encoding="utf-8") as handle:
                handle.write("\n# edited by scan_speed.py\n")
            try:
                seconds, code, tail = timed(scan, timeout, label, env=env)
            finally:
                # --tree may be the user's own code, or the default trees this interpreter's
                # own files: put the edited file back as it was, times included.
                changed.write_bytes(original)
                os.utime(changed, ns=(times.st_atime_ns, times.st_mtime_ns))
        else:
            seconds, code, tail = timed(scan, timeout, label, env=env)
        note = "" if code in (0, 1) else f"exit {code}: {tail}"
        measured[label] = (seconds, note, CPU_SECONDS.get(label, 0.0))
        if say_progress:
            say(f"  {label}: {'-' if seconds is None else f'{seconds:.2f} s'} {note}".rstrip())
    return measured


def _run(args: argparse.Namespace) -> int:
    trees = [tree.resolve() for tree in (args.tree or default_trees())]
    missing = [str(tree) for tree in trees if not tree.is_dir()]
    if missing:
        print(f"scan_speed: error: not a folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    rounds = args.tree_rounds or (5 if args.mid_size else 1)
    say(f"trees: {', '.join(str(tree) for tree in trees)}")
    say(f"python {sys.version.split()[0]}, {cores} cores available, {rounds} round(s)")

    files = python_files(trees)
    # Our scans run as an installed package runs: with byte-code caching on (an environment
    # that sets PYTHONDONTWRITEBYTECODE would make every scan compile the scanner first),
    # after one untimed scan of a small project has written the byte-code.
    env = _startup_env()
    warm_up = build_startup_project(Path(tempfile.mkdtemp(prefix="autogen-doctor-bench-warmup-")))
    try:
        subprocess.run([sys.executable, "-m", "autogen_doctor", "scan", str(warm_up), "--format", "json",
                        "--no-cache", "--output", os.devnull, "--quiet"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=args.timeout, env=env)
    finally:
        shutil.rmtree(warm_up.parent, ignore_errors=True)

    # Each round times the floor right before our scans, so a machine that slows down or
    # speeds up between rounds (shared hosts swing by a third) moves both: the ratio of the
    # round is what is compared, and the median round is reported.
    floors: list[float] = []
    floor_cpu: list[float] = []
    runs: dict[str, list[tuple[float | None, str, float]]] = {COLD: [], WARM: [], CHANGED: []}
    invalid = False
    lines = failures = 0
    for number in range(rounds):
        cpu_before = time.process_time()
        floor, lines, failures = parse_floor(files)
        floor_cpu.append(time.process_time() - cpu_before)
        floors.append(floor)
        if number == 0:
            say(f"files: {len(files)} Python files, {lines:,} lines ({failures} do not parse)")
        say(f"round {number + 1}: floor {floor:.2f} s")
        cache_dir = Path(tempfile.mkdtemp(prefix="autogen-doctor-bench-"))
        try:
            scan = [sys.executable, "-m", "autogen_doctor", "scan", *map(str, trees), "--format", "json",
                    "--output", os.devnull, "--cache-dir", str(cache_dir), "--fail-on", "error", "--quiet"]
            if args.jobs:
                scan += ["--jobs", str(args.jobs)]
            for label, value in _scan_round(scan, files, env, args.timeout, say_progress=True).items():
                runs[label].append(value)
            # The cache is keyed by the scanner's own code: an edit between the runs makes the
            # warm run cold again, and its figure meaningless.
            invalid = invalid or len([entry for entry in cache_dir.iterdir() if entry.is_dir()]) > 1
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)
    if invalid:
        say("  warning: the scanner's code changed during the benchmark; the warm figure is not a warm scan")

    def median_ratio(label: str) -> tuple[float | None, float | None, str]:
        """(median seconds, median of the rounds' ratios to their floor, note)."""
        pairs = [(seconds, seconds / floor) for (seconds, _, _), floor in zip(runs[label], floors)
                 if seconds is not None]
        notes = sorted({note for _, note, _ in runs[label] if note})
        if label == WARM and invalid:
            notes.append("INVALID: autogen-doctor's code changed between the runs")
        if not pairs:
            return None, None, "; ".join(notes)
        return (statistics.median(seconds for seconds, _ in pairs),
                statistics.median(ratio for _, ratio in pairs), "; ".join(notes))

    rows: list[tuple[str, float | None, float | None, float | None, str]] = [
        ("ast.parse floor (1 process)", statistics.median(floors), 1.0, statistics.median(floor_cpu), "")]
    for label in (COLD, WARM, CHANGED):
        seconds, ratio, note = median_ratio(label)
        cpu = statistics.median(cpu for _, _, cpu in runs[label]) if runs[label] else None
        rows.append((label, seconds, ratio, cpu, note))

    if not args.skip_bandit:
        bandit = shutil.which("bandit")
        if bandit is None:
            rows.append(("bandit -r -q", None, None, None, "bandit is not installed"))
        else:
            command = [bandit, "-r", "-q", "-f", "json", "-o", os.devnull, *map(str, trees)]
            seconds, code, tail = timed(command, args.timeout, "bandit")
            rows.append(("bandit -r -q", seconds, None if seconds is None else seconds / floors[-1],
                         CPU_SECONDS.get("bandit"), tail if seconds is None else ""))
            say(f"  bandit: {'-' if seconds is None else f'{seconds:.2f} s'}")

    say()
    if rounds > 1:
        say(f"medians of {rounds} rounds; 'x floor' is the median of each round's scan / that round's floor")
    say(f"{'':36} {'seconds':>9} {'x floor':>8} {'cpu s':>7}")
    for label, seconds, ratio, cpu, note in rows:
        cpu_text = f"{cpu:7.2f}" if cpu is not None else f"{'':7}"
        if seconds is None:
            say(f"{label:36} {'-':>9} {'-':>8} {cpu_text}  {note}")
        else:
            say(f"{label:36} {seconds:9.2f} {ratio:8.2f} {cpu_text}  {note}".rstrip())
    if rounds > 1:
        cold_ratios = sorted(seconds / floor for (seconds, _, _), floor in zip(runs[COLD], floors)
                             if seconds is not None)
        if cold_ratios:
            say(f"\ncold x floor per round: {', '.join(f'{ratio:.2f}' for ratio in cold_ratios)}")
    cold, warm, changed = (rows[index][1] for index in (1, 2, 3))
    if cold and warm:
        say(f"\nwarm scan (nothing changed) takes {warm / cold:.2f}x the cold scan "
            f"({cold / warm:.1f}x faster)")
    if cold and changed:
        say(f"warm scan (1 file changed) takes {changed / cold:.2f}x the cold scan")
    if not args.skip_bandit and rows[-1][1] and cold:
        say(f"cold scan is {rows[-1][1] / cold:.1f}x faster than bandit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
