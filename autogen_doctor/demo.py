"""`autogen-doctor demo`: the whole story in one command, on the bundled examples.

1. `examples/broken_inproc` (sessions in a module-level dict) runs under several uvicorn
   workers; the probe shows state-loss (process-local-state), the scan shows the AD1 finding
   that explains it.
2. `examples/fixed_redis` (agent state saved to and restored from Redis) runs the same way and
   passes; the scan finds nothing. It needs Redis: `$REDIS_URL` when set, else a private
   `redis-server` on a free loopback port when one is on PATH, else this part is skipped.

Exit code 0 when the demo showed what it should (broken: state-loss; fixed: pass, or skipped),
1 when it did not (each surprise is printed), 2 for usage errors (no examples, missing extra).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import typer

import autogen_doctor
from autogen_doctor.exit_codes import ExitCode, UserError
from autogen_doctor.scan.paths import display_path

# What the examples import; all come with `pip install -e '.[examples]'`.
EXAMPLE_MODULES = ("fastapi", "uvicorn", "pydantic", "autogen_agentchat", "autogen_core")
REDIS_MODULES = ("redis",)
BROKEN, FIXED = "broken_inproc", "fixed_redis"
# AutoGen imports under several workers on a small machine take a while.
DEMO_READY_TIMEOUT_S = 90.0
# A demo, not a load test: `--workers 99999` would fork until the machine stalls.
MAX_DEMO_WORKERS = 16


@dataclass
class DemoPart:
    """One example's run: what we expected, what the probe and the scan said, and whether it matched."""

    example: str
    workers: int
    expected: str  # the verdict this example must get
    verdict: Any = None
    findings: list[Any] = field(default_factory=list)
    skipped: str | None = None
    surprises: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.surprises


def examples_root() -> Path:
    """The `examples/` folder of the source checkout autogen_doctor runs from (one-line error if absent)."""
    root = Path(autogen_doctor.__file__).resolve().parents[1] / "examples"
    missing = [name for name in (BROKEN, FIXED) if not (root / name / "app.py").is_file()]
    if missing:
        raise UserError(
            f"the demo runs the examples of a source checkout, and {root / missing[0] / 'app.py'} "
            "is not there (an installed wheel has no examples): clone the repository and run "
            "`pip install -e '.[examples]'` in it"
        )
    return root


def check_example_dependencies(modules: tuple[str, ...] = EXAMPLE_MODULES) -> None:
    """UserError naming the missing packages when the examples extra is not installed."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(
            f"the demo needs the examples extra (missing: {', '.join(missing)}): "
            "pip install -e '.[examples]'"
        )


class _Printer:
    """Plain text on stdout; bold headings and coloured marks only on a terminal."""

    def __init__(self) -> None:
        self.color = sys.stdout.isatty() and "NO_COLOR" not in os.environ

    def line(self, text: str = "") -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def heading(self, text: str) -> None:
        self.line()
        self.line(typer.style(text, bold=True) if self.color else text)
        self.line("=" * len(text))

    def mark(self, ok: bool) -> str:
        text = "as expected" if ok else "NOT as expected"
        if not self.color:
            return text
        return typer.style(text, fg="green" if ok else "red", bold=not ok)


@contextlib.contextmanager
def redis_for_demo() -> Iterator[tuple[str | None, str]]:
    """Yield (REDIS_URL or None, how we got it): $REDIS_URL, a private redis-server, or nothing."""
    from autogen_doctor.probe.redact import redact_url
    from autogen_doctor.probe.serve import free_port, spawn_group, stop_process_group

    if os.environ.get("REDIS_URL"):
        url = os.environ["REDIS_URL"]
        yield url, f"using REDIS_URL ({redact_url(url)})"
        return
    binary = shutil.which("redis-server")
    if binary is None:
        yield None, "skipped: no redis-server on PATH and REDIS_URL is not set"
        return
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="autogen-doctor-demo-redis-")
    process = spawn_group(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir, "--daemonize", "no"],
    )
    try:
        deadline = time.monotonic() + 10
        while not _redis_answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise UserError(f"the private redis-server on 127.0.0.1:{port} did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", f"started a private redis-server on 127.0.0.1:{port}"
    finally:
        stop_process_group(process, grace_s=2.0)
        shutil.rmtree(workdir, ignore_errors=True)


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _scan(example_dir: Path) -> list[Any]:
    from autogen_doctor.scan.engine import scan_paths

    return list(scan_paths([example_dir]).findings)


def _probe_example(example_dir: Path, workers: int, sessions: int, turns: int, seed: int | None,
                   env: dict[str, str] | None, printer: _Printer) -> tuple[Any, Any]:
    from autogen_doctor.probe.command import run_probe
    from autogen_doctor.probe.options import ProbeOptions
    from autogen_doctor.probe.serve import served

    command = [sys.executable, "-m", "uvicorn", "app:api", "--app-dir", str(example_dir), "--log-level", "warning"]
    shown = f"uvicorn app:api --app-dir {display_path(example_dir)} --workers {workers}"
    printer.line(f"starting: {shown} (127.0.0.1, a free port)")
    started = time.monotonic()
    with served(command, workers, cwd=example_dir.parents[1], env=env, ready_timeout_s=DEMO_READY_TIMEOUT_S,
                notify=lambda message: printer.line(f"note: {message}")) as base_url:
        printer.line(f"ready after {time.monotonic() - started:.1f} s; probing {base_url}/chat: "
                     f"{sessions} sessions x {turns} turns, each turn on a new connection")
        options = ProbeOptions(url=base_url + "/chat", sessions=sessions, turns=turns, seed=seed, quiet=True)
        run = run_probe(options, base_url + "/chat", progress=sys.stderr.isatty())
    return run.verdict, run.transcript


def _show_findings(part: DemoPart, example_dir: Path, printer: _Printer) -> None:
    from autogen_doctor.probe.link import CAUSE_FAMILIES, cause_names
    from autogen_doctor.scan.registry import FAMILIES

    printer.line()
    printer.line(f"scan {display_path(example_dir)}: "
                 + (f"{len(part.findings)} finding(s)" if part.findings else "no findings"))
    for finding in part.findings:
        printer.line(f"  {finding.path}:{finding.line}:{finding.column}: {finding.code} "
                     f"[{finding.severity.value}] {finding.message}")
    causes = cause_names(part.verdict) if part.verdict is not None else []
    for cause in causes:
        families = CAUSE_FAMILIES.get(cause, ())
        linked = [finding for finding in part.findings if finding.code[:3] in families]
        if linked:
            for finding in linked:
                printer.line(f"explains {cause}: {finding.code} ({finding.code[:3]} {FAMILIES.get(finding.code[:3], '')})"
                             f" at {finding.path}:{finding.line}")
        else:
            wanted = ", ".join(f"{family} ({FAMILIES.get(family, '?')})" for family in families) or "none"
            printer.line(f"explains {cause}: no finding in this code (families that would: {wanted})")
    if "process-local-state" in causes and not any(f.code.startswith("AD4") for f in part.findings):
        printer.line("(AD4, scaled deployment, flags workers > 1 in deployment files; here the demo "
                     f"passed --workers {part.workers} on the command line)")


def run_part(example: str, expected: str, root: Path, workers: int, sessions: int, turns: int,
             seed: int | None, printer: _Printer, env: dict[str, str] | None = None) -> DemoPart:
    """Serve, probe and scan one example; record every way it differed from `expected`."""
    from autogen_doctor.probe.reporters import render

    part = DemoPart(example=example, workers=workers, expected=expected)
    example_dir = root / example
    started = time.monotonic()
    try:
        part.verdict, transcript = _probe_example(example_dir, workers, sessions, turns, seed, env, printer)
    except UserError as error:
        part.surprises.append(f"{example}: the probe could not run: {error}")
        tail = getattr(error, "log_tail", "")
        if tail:
            printer.line("--- last lines of the service's log ---")
            printer.line(tail)
            printer.line("---")
    else:
        printer.line()
        printer.line(render(part.verdict, transcript, "text", color=printer.color).rstrip())
        if part.verdict.verdict != expected:
            part.surprises.append(f"{example}: expected {expected}, the probe said {_verdict_phrase(part.verdict)}")
    try:
        part.findings = _scan(example_dir)
    except Exception as error:  # the demo reports a broken scan as a surprise, not a traceback
        part.surprises.append(f"{example}: the scan failed ({type(error).__name__}: {error})")
    _show_findings(part, example_dir, printer)
    if expected == "state-loss":
        from autogen_doctor.probe.link import CAUSE_FAMILIES

        families = CAUSE_FAMILIES.get(getattr(part.verdict, "cause", None) or "process-local-state", ())
        if not any(finding.code[:3] in families for finding in part.findings):
            part.surprises.append(f"{example}: the scan found nothing in {', '.join(families)} to explain the loss")
    elif part.findings:
        codes = ", ".join(sorted({finding.code for finding in part.findings}))
        part.surprises.append(f"{example}: the scan should find nothing in the fixed code, found {codes}")
    part.duration_s = time.monotonic() - started
    return part


def _verdict_phrase(verdict: Any) -> str:
    if verdict is None:
        return "nothing"
    cause = getattr(verdict, "cause", None)
    return f"{verdict.verdict} ({cause})" if cause else verdict.verdict


def _summary(parts: list[DemoPart], printer: _Printer, total_s: float) -> None:
    printer.heading("Summary")
    width = max(len(part.example) for part in parts)
    for part in parts:
        if part.skipped:
            printer.line(f"{part.example.ljust(width)}  skipped: {part.skipped}")
            continue
        codes = ", ".join(sorted({finding.code for finding in part.findings})) or "no findings"
        printer.line(f"{part.example.ljust(width)}  {part.workers} workers: {_verdict_phrase(part.verdict)}; "
                     f"scan: {codes}  ({printer.mark(part.ok)}, {part.duration_s:.0f} s)")
    for part in parts:
        for surprise in part.surprises:
            printer.line(f"unexpected: {surprise}")
    if all(part.ok for part in parts):
        printer.line()
        printer.line("The in-process dict loses conversations as soon as a turn lands on another worker;")
        printer.line("keeping agent state in Redis (save_state/load_state) fixes it. Try it on your service:")
        printer.line("  autogen-doctor scan ./src")
        printer.line('  autogen-doctor probe --serve "uvicorn app:api" --workers 1,4')
    printer.line(f"demo finished in {total_s:.0f} s")


@contextlib.contextmanager
def _say_when_interrupted() -> Iterator[None]:
    # typer turns KeyboardInterrupt into a silent exit 130; tell the user what was cleaned up.
    try:
        yield
    except (KeyboardInterrupt, SystemExit) as stopped:
        if isinstance(stopped, KeyboardInterrupt) or stopped.code in (128 + signal.SIGTERM, 128 + signal.SIGHUP):
            print("autogen-doctor: demo interrupted; every service it started was stopped",
                  file=sys.stderr, flush=True)
        raise


def run_demo(workers: int = 4, sessions: int = 8, turns: int = 4, seed: int | None = None) -> int:
    """Run the demo; returns 0 when it showed what it should, 1 otherwise."""
    from autogen_doctor.probe.serve import exit_cleanly_on_termination

    if workers < 2:
        raise UserError(f"--workers must be at least 2 (the loss shows when a turn changes worker), got {workers}")
    if workers > MAX_DEMO_WORKERS:
        raise UserError(f"--workers must be at most {MAX_DEMO_WORKERS} for the demo, got {workers}")
    if sessions < 1:
        raise UserError(f"--sessions must be at least 1, got {sessions}")
    if turns < 2:
        raise UserError(f"--turns must be at least 2 (recall is judged from the second turn), got {turns}")
    # The same bounds as `probe`, checked before any service starts.
    from autogen_doctor.probe.options import MAX_SESSIONS, MAX_TURNS

    if sessions > MAX_SESSIONS:
        raise UserError(f"--sessions must be at most {MAX_SESSIONS}, got {sessions}")
    if turns > MAX_TURNS:
        raise UserError(f"--turns must be at most {MAX_TURNS}, got {turns}")
    root = examples_root()
    check_example_dependencies()
    printer = _Printer()
    started = time.monotonic()
    parts: list[DemoPart] = []
    with _say_when_interrupted(), exit_cleanly_on_termination():  # servers and redis-server stop either way
        printer.heading(f"1/2 {BROKEN}: each session's agent kept in a module-level dict")
        parts.append(run_part(BROKEN, "state-loss", root, workers, sessions, turns, seed, printer))

        printer.heading(f"2/2 {FIXED}: agent state saved to and restored from Redis")
        if any(importlib.util.find_spec(name) is None for name in REDIS_MODULES):
            parts.append(DemoPart(FIXED, workers, "pass",
                                  skipped="the redis package is missing (pip install -e '.[examples]')"))
            printer.line(f"skipped: {parts[-1].skipped}")
        else:
            with redis_for_demo() as (redis_url, how):
                printer.line(f"redis: {how}")
                if redis_url is None:
                    parts.append(DemoPart(FIXED, workers, "pass", skipped=how.removeprefix("skipped: ")))
                else:
                    parts.append(run_part(FIXED, "pass", root, workers, sessions, turns, seed, printer,
                                          env={"REDIS_URL": redis_url}))
        _summary(parts, printer, time.monotonic() - started)
    return int(ExitCode.OK) if all(part.ok for part in parts) else int(ExitCode.FINDINGS)


def demo_command(
    workers: int = typer.Option(4, "--workers", help="Worker processes for each example (2 to 16)"),
    sessions: int = typer.Option(8, "--sessions", help="Sessions (conversations) the probe runs"),
    turns: int = typer.Option(4, "--turns", help="Turns per session"),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for reproducible session ids and codewords"),
) -> None:
    """Run the bundled broken example under several workers, probe it, scan it, explain; then the fixed one.

    Exit codes: 0 the demo showed what it should, 1 it did not, 2 usage error (no examples, missing extra).
    """
    raise typer.Exit(run_demo(workers=workers, sessions=sessions, turns=turns, seed=seed))
