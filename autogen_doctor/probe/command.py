"""One probe run end to end: plan -> send -> transcript -> analysis -> verdict (+ --src links)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

from autogen_doctor.exit_codes import ExitCode, UserError
from autogen_doctor.probe.options import FORMATS, MAX_SESSIONS, MAX_TURNS, ProbeOptions
from autogen_doctor.probe.plan import check_body_template, make_plan
from autogen_doctor.probe.recording import read_recording, write_recording
from autogen_doctor.probe.redact import redact_url
from autogen_doctor.probe.send import ProgressHook, Sender, Unreachable
from autogen_doctor.probe.transcript import Transcript, TurnRecord


@dataclass
class ProbeRun:
    verdict: Any  # autogen_doctor.probe.verdict.Verdict
    transcript: Transcript
    # A note for the user that is not part of the verdict (e.g. why --src linked nothing).
    note: str | None = None


def check_url(url: str | None) -> str:
    """The URL to probe, or a one-line UserError."""
    if not url:
        raise UserError("a URL is required (or --replay FILE.jsonl)")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket: http://[::1/chat
        hostname = None
    if hostname is None or parts.scheme not in ("http", "https") or not hostname:
        raise UserError(f"URL must look like http://host[:port]/path, got {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise UserError(f"URL has an invalid port: {url!r}") from None
    import httpx

    try:
        httpx.URL(url).host  # noqa: B018 - the client's own parsing, IDNA included (http://xn--.x/)
    except (httpx.InvalidURL, UnicodeError) as error:  # idna's IDNAError is a UnicodeError
        raise UserError(f"URL {url!r} is not valid: {error}") from None
    return url


def check_options(options: ProbeOptions) -> None:
    """Every usage error that can be found before a request is sent."""
    if options.fmt not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, got {options.fmt!r}")
    if options.src is not None and not Path(options.src).exists():
        raise UserError(f"--src {options.src}: no such file or folder")
    if options.replay is not None:
        return
    for name, value, low in (("--sessions", options.sessions, 1), ("--turns", options.turns, 2),
                             ("--concurrency", options.concurrency, 1), ("--retries", options.retries, 0)):
        if value < low:
            raise UserError(f"{name} must be at least {low}, got {value}")
    for name, value, most in (("--sessions", options.sessions, MAX_SESSIONS), ("--turns", options.turns, MAX_TURNS)):
        if value > most:
            raise UserError(f"{name} must be at most {most}, got {value}")
    if not (options.timeout > 0 and math.isfinite(options.timeout)):  # inf would wait forever
        raise UserError(f"--timeout must be a positive number of seconds, got {options.timeout}")
    if not options.method or not options.method.isalpha():
        raise UserError(f"--method must be an HTTP method such as POST, got {options.method!r}")
    check_body_template(options.body)


def _failure_summary(records: list[TurnRecord]) -> str:
    reasons = Counter(record.error or f"HTTP {record.status}" for record in records)
    reason, count = reasons.most_common(1)[0]
    more = f"; also: {', '.join(list(r for r in reasons if r != reason)[:2])}" if len(reasons) > 1 else ""
    return f"{reason} ({count} of {len(records)}){more}"


@contextlib.contextmanager
def _live_progress(enabled: bool, sessions: int, turns: int) -> Iterator[ProgressHook | None]:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    counts = {"sessions": 0, "turns": 0, "errors": 0}
    progress = Progress(
        TextColumn("probing"), BarColumn(), TextColumn("{task.completed}/{task.total} turns"),
        TextColumn("{task.fields[sessions]}/{task.fields[total_sessions]} sessions"),
        TextColumn("[red]{task.fields[errors]} errors"), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    )
    task = progress.add_task("probe", total=sessions * turns, sessions=0, total_sessions=sessions, errors=0)

    def hook(event: str, record: TurnRecord | None) -> None:
        if event == "turn" and record is not None:
            counts["turns"] += 1
            counts["errors"] += 0 if record.ok else 1
        elif event == "session":
            counts["sessions"] += 1
        progress.update(task, completed=counts["turns"], sessions=counts["sessions"], errors=counts["errors"])

    with progress:
        yield hook


def _send(options: ProbeOptions, url: str, progress: bool) -> tuple[Transcript, int]:
    plan = make_plan(options.sessions, options.turns, seed=options.seed,
                     concurrent_turns=options.concurrent_turns)
    started = time.perf_counter()
    with _live_progress(progress and not options.quiet, options.sessions, options.turns) as hook:
        sender = Sender(options, plan, url, hook)
        try:
            records, identity_source = asyncio.run(sender.run())
        except Unreachable as error:
            raise UserError(f"cannot reach {redact_url(url)}: {error}") from None
    order = {session.session: index for index, session in enumerate(plan.sessions)}
    records.sort(key=lambda record: (order[record.session], record.turn))
    transcript = Transcript(
        url=redact_url(url), sessions=options.sessions, turns=options.turns, records=records,
        concurrent_turns=options.concurrent_turns, identity_source=identity_source,
        duration_s=round(time.perf_counter() - started, 3),
        codewords_by_session=plan.codewords_by_session,
    )
    return transcript, plan.seed


def run_probe(options: ProbeOptions, url: str | None = None, *, progress: bool = False) -> ProbeRun:
    """Probe `url` (or options.url), or analyse options.replay; prints nothing but the progress bar.

    Raises UserError (exit 2) for usage errors found before sending (malformed --body...),
    when the target cannot be reached, and when every request failed.
    """
    from autogen_doctor.probe.analysis import analyse

    check_options(options)
    if options.replay is not None:
        transcript, _ = read_recording(options.replay)
    else:
        target = check_url(url or options.url)
        transcript, seed = _send(options, target, progress)
        if options.record is not None:
            write_recording(options.record, transcript, seed=seed)
        if transcript.records and not any(record.ok for record in transcript.records):
            raise UserError(f"every request to {transcript.url} failed: {_failure_summary(transcript.records)}")
    verdict = analyse(transcript)
    note = None
    if options.src is not None:
        from autogen_doctor.probe.link import attach_findings

        note = attach_findings(verdict, Path(options.src))
    return ProbeRun(verdict=verdict, transcript=transcript, note=note)


def report(run: ProbeRun, options: ProbeOptions) -> int:
    """Write the verdict in the chosen format (stdout or --output) and return the exit code."""
    from autogen_doctor.probe.reporters import render

    to_terminal = options.output is None and sys.stdout.isatty()
    text = render(run.verdict, run.transcript, options.fmt, color=options.fmt == "text" and to_terminal)
    if options.output is not None:
        try:
            Path(options.output).parent.mkdir(parents=True, exist_ok=True)  # as `scan --output` does
            Path(options.output).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        except OSError as error:
            raise UserError(f"cannot write {options.output}: {error.strerror or error}") from None
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
    if run.note and not options.quiet:
        sys.stderr.write(f"autogen-doctor: note: {run.note}\n")
    code = run.verdict.exit_code()
    return int(code) if code is not None else int(ExitCode.INCONCLUSIVE)
