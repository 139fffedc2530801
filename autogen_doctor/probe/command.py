"""One probe run end to end: plan -> send -> transcript -> analysis -> verdict (+ --src links)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

from autogen_doctor.exit_codes import ExitCode, UserError
from autogen_doctor.probe.options import FORMATS, MAX_RETRIES, MAX_SESSIONS, MAX_TURNS, ProbeOptions
from autogen_doctor.probe.plan import check_body_template, make_plan
from autogen_doctor.probe.recording import read_recording, write_recording
from autogen_doctor.probe.redact import Secrets, redact_url
from autogen_doctor.textsafe import escape_text
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
    # The URL is quoted back without its credentials, and with anything the user sent as a
    # secret scrubbed from the parser's own message.
    shown = escape_text(redact_url(url))
    secrets = Secrets()
    secrets.add_url(url)
    if hostname is None or parts.scheme not in ("http", "https") or not hostname:
        raise UserError(f"URL must look like http://host[:port]/path, got '{shown}'")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise UserError(f"URL has an invalid port: '{shown}'") from None
    import httpx

    try:
        httpx.URL(url).host  # noqa: B018 - the client's own parsing, IDNA included (http://xn--.x/)
    except (httpx.InvalidURL, UnicodeError) as error:  # idna's IDNAError is a UnicodeError
        raise UserError(f"URL '{shown}' is not valid: {escape_text(secrets.scrub(str(error)))}") from None
    return url


def _url_has_credentials(url: str | None) -> bool:
    try:
        return bool(url) and "@" in urlsplit(url).netloc
    except ValueError:
        return False


def _writable_target(flag: str, path: Path) -> None:
    """A one-line UserError now, before any request, if `path` cannot be written later."""
    target = Path(path)
    if target.is_dir():
        raise UserError(f"{flag} {escape_text(target)}: is a folder, not a file")
    if target.exists():
        if not os.access(target, os.W_OK):
            raise UserError(f"{flag} {escape_text(target)}: not writable")
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)  # as the write itself would, only earlier
    except OSError as error:
        raise UserError(f"{flag} {escape_text(target)}: cannot create its folder "
                        f"({error.strerror or error})") from None
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {escape_text(target)}: its folder is not writable")


def check_output_paths(options: ProbeOptions, names: list[tuple[str, Path]] | None = None) -> None:
    """--record and --output: writable, and not the same file (the report would overwrite the recording)."""
    pairs = names if names is not None else [
        (flag, Path(value)) for flag, value in (("--record", options.record), ("--output", options.output))
        if value is not None and str(value) not in ("", "-")]
    for flag, path in pairs:
        _writable_target(flag, path)
    resolved: dict[Path, str] = {}
    for flag, path in pairs:
        key = Path(os.path.abspath(path))
        if key in resolved and resolved[key] != flag:
            raise UserError(f"--record and --output name the same file ({escape_text(path)}): "
                            "the report would overwrite the recording")
        resolved[key] = flag


def check_options(options: ProbeOptions) -> None:
    """Every usage error that can be found before a request is sent."""
    if options.fmt not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, got {options.fmt!r}")
    if options.src is not None and not Path(options.src).exists():
        raise UserError(f"--src {options.src}: no such file or folder")
    if options.ca_bundle is not None and not Path(options.ca_bundle).is_file():
        raise UserError(f"--ca-bundle {escape_text(options.ca_bundle)}: no such file")
    if options.insecure and options.ca_bundle is not None:
        raise UserError("--insecure and --ca-bundle contradict each other: give one")
    if options.replay is not None:
        if options.record is not None:
            raise UserError("--record and --replay cannot be used together (a replay sends nothing to record)")
        return
    if options.serve is None:
        check_output_paths(options)
    if _url_has_credentials(options.url) and any(name.lower() == "authorization" for name, _ in options.headers):
        # httpx would turn user:password@ into a Basic Authorization header that silently
        # replaces the explicit one; which one the user meant is a guess we do not make.
        raise UserError("the URL has user:password@ and -H Authorization is given too: keep only one "
                        "(the URL's credentials would replace the header)")
    for name, value, low in (("--sessions", options.sessions, 1), ("--turns", options.turns, 2),
                             ("--concurrency", options.concurrency, 1), ("--retries", options.retries, 0)):
        if value < low:
            raise UserError(f"{name} must be at least {low}, got {value}")
    for name, value, most in (("--sessions", options.sessions, MAX_SESSIONS), ("--turns", options.turns, MAX_TURNS),
                              ("--retries", options.retries, MAX_RETRIES)):
        if value > most:
            raise UserError(f"{name} must be at most {most}, got {value}")
    if not (options.timeout > 0 and math.isfinite(options.timeout)):  # inf would wait forever
        raise UserError(f"--timeout must be a positive number of seconds, got {options.timeout}")
    if not options.method or not options.method.isalpha():
        raise UserError(f"--method must be an HTTP method such as POST, got {options.method!r}")
    check_body_template(options.body)


def _failure_summary(records: list[TurnRecord]) -> str:
    reasons = Counter(escape_text(record.error or f"HTTP {record.status}") for record in records)
    reason, count = reasons.most_common(1)[0]
    more = f"; also: {', '.join(list(r for r in reasons if r != reason)[:2])}" if len(reasons) > 1 else ""
    return f"{reason} ({count} of {len(records)}){more}"


PLAIN_PROGRESS_EVERY_S = 5.0


def _plain_progress(total: int) -> ProgressHook:
    """Without a terminal (CI logs): one line at most every PLAIN_PROGRESS_EVERY_S, so a slow run
    (retries against a failing service) shows it is alive and why it is slow."""
    counts = {"turns": 0, "errors": 0, "retries": 0}
    last = [time.monotonic()]

    def hook(event: str, record: TurnRecord | None) -> None:
        if event == "turn" and record is not None:
            counts["turns"] += 1
            counts["errors"] += 0 if record.ok else 1
        elif event == "retry":
            counts["retries"] += 1
        now = time.monotonic()
        if now - last[0] >= PLAIN_PROGRESS_EVERY_S:
            last[0] = now
            sys.stderr.write(f"autogen-doctor: probing: {counts['turns']}/{total} turns, "
                             f"{counts['errors']} errors, {counts['retries']} retries\n")
            sys.stderr.flush()

    return hook


@contextlib.contextmanager
def _live_progress(enabled: bool, sessions: int, turns: int) -> Iterator[ProgressHook | None]:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise."""
    if not enabled:
        yield None
        return
    if not sys.stderr.isatty():
        yield _plain_progress(sessions * turns)
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


def send_and_transcribe(options: ProbeOptions, url: str, progress: bool, sender_class: type = Sender,
                        **transcript_fields: object) -> tuple[Transcript, int, list[str]]:
    """Send the run's plan to `url` with `sender_class` (HTTP `Sender` or the WebSocket sender) and
    return its transcript, the plan's seed and the sender's notes; `transcript_fields` are the
    transport's extra Transcript fields."""
    plan = make_plan(options.sessions, options.turns, seed=options.seed,
                     concurrent_turns=options.concurrent_turns)
    started = time.perf_counter()
    with _live_progress(progress and not options.quiet, options.sessions, options.turns) as hook:
        sender = sender_class(options, plan, url, hook)
        try:
            records, identity_source = asyncio.run(sender.run())
        except Unreachable as error:
            # A service that sent its status line was reached: saying "cannot reach" would send
            # the user looking at the network instead of at the reply that never finished.
            lead = "no complete reply from" if error.answered else "cannot reach"
            raise UserError(f"{lead} {escape_text(redact_url(url))}: {escape_text(error)}") from None
    # The plan is lazy: only the sessions the sender started exist, in the order it started them.
    order = sender.session_order
    records.sort(key=lambda record: (order[record.session], record.turn))
    transcript = Transcript(
        url=redact_url(url), sessions=options.sessions, turns=options.turns, records=records,
        concurrent_turns=options.concurrent_turns, identity_source=identity_source,
        duration_s=round(time.perf_counter() - started, 3),
        codewords_by_session=dict(sorted(sender.codewords_by_session.items(), key=lambda item: order[item[0]])),
        **transcript_fields,
    )
    return transcript, plan.seed, sender.notes()


def run_probe(options: ProbeOptions, url: str | None = None, *, progress: bool = False) -> ProbeRun:
    """Probe `url` (or options.url), or analyse options.replay; prints nothing but the progress bar.

    Raises UserError (exit 2) for usage errors found before sending (malformed --body...),
    when the target cannot be reached, and when every request failed.
    """
    from autogen_doctor.probe.analysis import analyse

    check_options(options)
    notes: list[str] = []
    if options.replay is not None:
        transcript, _ = read_recording(options.replay)
    else:
        target = check_url(url or options.url)
        transcript, seed, notes = send_and_transcribe(options, target, progress)
        if options.record is not None:
            write_recording(options.record, transcript, seed=seed)
        if transcript.records and not any(record.ok for record in transcript.records):
            raise UserError(f"every request to {transcript.url} failed: {_failure_summary(transcript.records)}")
    verdict = analyse(transcript)
    note = None
    if options.src is not None:
        from autogen_doctor.probe.link import attach_findings

        note = attach_findings(verdict, Path(options.src))
    if notes:
        note = "; ".join([*notes, *([note] if note else [])])
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
            raise UserError(f"cannot write {escape_text(options.output)}: {error.strerror or error}") from None
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
    if run.note and not options.quiet:
        sys.stderr.write(f"autogen-doctor: note: {run.note}\n")
    code = run.verdict.exit_code()
    return int(code) if code is not None else int(ExitCode.INCONCLUSIVE)
