"""`probe ws://...`: check, send over WebSockets, analyse with the shared analysis, then say what
a WebSocket changes about the verdict (state tied to the connection, held connections)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from autogen_doctor.exit_codes import UserError
from autogen_doctor.probe.command import ProbeRun, _failure_summary, check_options, send_and_transcribe
from autogen_doctor.probe.options import DEFAULT_BODY, ProbeOptions
from autogen_doctor.probe.recording import read_recording_text, write_recording
from autogen_doctor.probe.redact import redact_url
from autogen_doctor.probe.transcript import Transcript, TurnRecord
from autogen_doctor.probe.verdict import (EVIDENCE_CAP, INCONCLUSIVE, NOT_REHYDRATED, PROCESS_LOCAL_STATE,
                                          STATE_LOSS, Verdict)
from autogen_doctor.probe.ws import WS_SCHEMES
from autogen_doctor.probe.ws.presets import PRESETS
from autogen_doctor.textsafe import escape_text

TIED_TO_CONNECTION = ("the conversation is tied to the WebSocket connection: it is lost on every reconnect "
                      "(a page reload, a dropped connection, a deploy), whichever backend the new connection "
                      "reaches")
HELD_CANNOT_SHOW = ("each session held one WebSocket, and a WebSocket stays on the backend that accepted it, "
                    "so no turn could move to another process and per-process state cannot show; rerun with "
                    "--ws-connection turn (the default) or N to model reconnects")


def is_ws_recording(path: Path) -> bool:
    """True when a recording's run header says it was made over WebSockets.

    Read with the replay's own reader (regular files only, bounded, never blocking on a FIFO or
    a device): a file it refuses is left to `--replay` to refuse with its one-line error.
    """
    try:
        text = read_recording_text(path)
    except UserError:
        return False
    first = text.split("\n", 1)[0]
    try:
        header = json.loads(first or "{}")
    except (ValueError, RecursionError):
        return False
    return isinstance(header, dict) and header.get("transport") == "ws"


def check_ws_url(url: str | None, preset: str | None) -> str:
    """The ws:// or wss:// URL to probe (a preset's path when the URL has none), or a UserError."""
    if not url:
        raise UserError("a URL is required (or --replay FILE.jsonl)")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise UserError(f"URL must look like ws://host[:port]/path, got '{escape_text(redact_url(url))}'") from None
    if parts.scheme.lower() not in WS_SCHEMES or not hostname:
        raise UserError(f"URL must look like ws://host[:port]/path, got '{escape_text(redact_url(url))}'")
    if parts.path in ("", "/") and preset is not None:
        path = PRESETS[preset]["path"]
        url = urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
    return url


def connection_checks(transcript: Transcript) -> dict[str, list[int]]:
    """Recall checks split by whether the codeword was planted on the same connection as the
    reply: {"same": [expected, recalled], "cross": [...], "cross_same_backend": [...]}. A
    connection never changes backend, so "same" checks are same-backend checks even without any
    identity; "cross_same_backend" are reconnects that reached the backend that received the word."""
    planted_by: dict[tuple[str, str], TurnRecord] = {}
    for record in transcript.records:
        planted_by[(record.session, record.planted)] = record
    counts = {"same": [0, 0], "cross": [0, 0], "cross_same_backend": [0, 0]}
    for record in transcript.records:
        if not record.ok or record.burst or not record.ws:
            continue
        recalled = set(record.recalled)
        for word in record.expected:
            planting = planted_by.get((record.session, word))
            same = planting is not None and (planting.ws or {}).get("connection") == record.ws.get("connection")
            kinds = ["same"] if same else ["cross"]
            if not same and planting is not None and record.backend.known and planting.backend == record.backend:
                kinds.append("cross_same_backend")
            for kind in kinds:
                counts[kind][0] += 1
                counts[kind][1] += word in recalled
    return counts


def _tied_to_connection(verdict: Verdict, transcript: Transcript) -> bool:
    """True when the loss is the connection's, not the process's.

    The shared analysis counts a codeword recalled on the connection that received it as a
    same-backend recall, so a service that keeps the conversation in the connection looks like
    process-local-state once a session spans several connections (`--ws-connection N`, or no
    identity at all). The connection settles it: everything recalled on its own connection,
    nothing after any reconnect, and (with identity) reconnects that reached the same backend
    forgot too.
    """
    if verdict.cause != PROCESS_LOCAL_STATE:
        return False
    counts = connection_checks(transcript)
    (same_total, same_recalled), (cross_total, cross_recalled) = counts["same"], counts["cross"]
    if cross_total < 3 or cross_recalled or same_recalled != same_total:
        return False
    if not any(record.backend.known for record in transcript.records):
        return True
    return counts["cross_same_backend"][0] >= 3


def _relabel_as_not_rehydrated(verdict: Verdict, transcript: Transcript) -> None:
    counts = connection_checks(transcript)
    (same_total, same_recalled), (cross_total, _) = counts["same"], counts["cross"]
    on_same_backend = counts["cross_same_backend"][0]
    summary = (f"{cross_total} of {cross_total} codewords planted on an earlier connection were forgotten after "
               "a reconnect")
    if on_same_backend:
        summary += f" ({on_same_backend} of them when the reconnect reached the backend that received them)"
    summary += f"; {same_recalled} of {same_total} were recalled on the connection that received them"
    kept = [report for report in verdict.causes if report.cause not in (PROCESS_LOCAL_STATE, NOT_REHYDRATED)]
    moved = [report for report in verdict.causes if report.cause in (PROCESS_LOCAL_STATE, NOT_REHYDRATED)]
    merged = dataclasses.replace(moved[0], cause=NOT_REHYDRATED, summary=summary,
                                 count=sum(report.count for report in moved),
                                 evidence=[line for report in moved for line in report.evidence][:EVIDENCE_CAP])
    from autogen_doctor.probe.verdict import CAUSE_ORDER

    verdict.causes = sorted(kept + [merged], key=lambda report: CAUSE_ORDER.index(report.cause))
    verdict.cause = verdict.causes[0].cause
    verdict.reason = f"{verdict.cause}: {verdict.causes[0].summary}."
    verdict.notes = [note for note in verdict.notes if "which points to process-local-state" not in note]
    verdict.notes.append("a WebSocket never changes backend: every codeword was recalled on its own connection "
                         "and none after a reconnect")
    for row in verdict.per_session:
        row["causes"] = list(dict.fromkeys(NOT_REHYDRATED if cause == PROCESS_LOCAL_STATE else cause
                                           for cause in row.get("causes", [])))


def explain(verdict: Verdict, transcript: Transcript) -> None:
    """Add what the WebSocket transport means for this verdict to its reason and notes."""
    mode = transcript.ws_connection or "turn"
    if mode != "session" and _tied_to_connection(verdict, transcript):
        _relabel_as_not_rehydrated(verdict, transcript)
    elif mode != "session" and verdict.cause == PROCESS_LOCAL_STATE:
        counts = connection_checks(transcript)
        if counts["cross"][0] and not counts["cross"][1] and not counts["cross_same_backend"][0]:
            verdict.notes.append("no reconnect reached the backend that had received the codeword, so this run "
                                 "cannot tell state kept per process from state kept per connection; rerun with "
                                 "more --sessions or --ws-connection turn")
    if mode == "session":
        if verdict.verdict == INCONCLUSIVE and verdict.reason.startswith("no loss seen"):
            verdict.reason = f"no loss seen, but {HELD_CANNOT_SHOW}"
        else:
            verdict.notes.append(f"held connections: {HELD_CANNOT_SHOW}")
        return
    if verdict.verdict == STATE_LOSS and verdict.cause == NOT_REHYDRATED:
        verdict.reason = f"{verdict.reason.rstrip('.')}; {TIED_TO_CONNECTION}."
    elif verdict.verdict == STATE_LOSS and verdict.cause == PROCESS_LOCAL_STATE:
        verdict.notes.append("a new connection picks the conversation up only on the backend that holds it: a "
                             "reconnect that reaches another worker or pod loses it")


def _send(options: ProbeOptions, url: str, progress: bool) -> tuple[Transcript, int, list[str]]:
    from autogen_doctor.probe.ws.sender import WsSender

    transcript, seed, sender_notes = send_and_transcribe(
        options, url, progress, WsSender, transport="ws", ws_connection=options.ws.connection_label)
    notes = list(options.ws.notes) + sender_notes  # the OS's reasons included, when it named no worker
    return transcript, seed, notes


def check_ws_options(options: ProbeOptions) -> None:
    """Every usage error of a WebSocket run that can be found before a connection (or, under
    --serve, before the service starts)."""
    # The shared checks, minus the HTTP body and method (frames have their own templates).
    check_options(dataclasses.replace(options, body=DEFAULT_BODY, method="POST"))
    if options.reuse_connections:
        raise UserError("--reuse-connections is for HTTP; over WebSockets use --ws-connection session or N")
    if options.concurrent_turns and options.ws.turns_per_connection != 1:
        raise UserError("--concurrent-turns needs --ws-connection turn (a held connection is strictly "
                        "request -> reply)")


def run_ws_probe(options: ProbeOptions, *, progress: bool = False) -> ProbeRun:
    """Probe a ws:// URL (or replay a WebSocket recording) through the shared analysis."""
    from autogen_doctor.probe.analysis import analyse
    from autogen_doctor.probe.command import run_probe

    if options.replay is not None:
        run = run_probe(options)
        explain(run.verdict, run.transcript)
        return run
    check_ws_options(options)
    url = check_ws_url(options.url, options.ws.preset)
    transcript, seed, notes = _send(options, url, progress)
    if options.record is not None:
        write_recording(options.record, transcript, seed=seed)
    if transcript.records and not any(record.ok for record in transcript.records):
        raise UserError(f"every turn to {escape_text(transcript.url)} failed: {_failure_summary(transcript.records)}")
    verdict = analyse(transcript)
    verdict.notes.extend(notes)
    explain(verdict, transcript)
    note = None
    if options.src is not None:
        from autogen_doctor.probe.link import attach_findings

        note = attach_findings(verdict, Path(options.src))
    return ProbeRun(verdict=verdict, transcript=transcript, note=note)
