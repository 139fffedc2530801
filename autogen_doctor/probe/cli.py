"""`probe` command: flags -> ProbeOptions -> run_probe / run_serve -> report -> exit code."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from autogen_doctor.exit_codes import UserError
from autogen_doctor.textsafe import escape_text
from autogen_doctor.probe.options import DEFAULT_BODY, DEFAULT_RETRIES, DEFAULT_TIMEOUT_S, MAX_RETRIES, ProbeOptions


# RFC 9110 token characters: what a header name may be made of.
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def parse_header(text: str) -> tuple[str, str]:
    """'Name: value' -> (name, value); a one-line UserError otherwise.

    Checked here rather than left to the HTTP client, which would fail every request (or
    crash on non-ASCII) only after the probe started.
    """
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not name or any(ch.isspace() for ch in name):
        # What was given is not echoed: without the colon we cannot tell the name from a token.
        raise UserError("--header must look like 'Name: value' (no colon after the name in what was given; "
                        "it is not shown here because it may hold a secret)")
    if not set(name) <= _TOKEN_CHARS:
        raise UserError(f"--header name '{escape_text(name)}' may hold only ASCII letters, digits and "
                        "!#$%&'*+-.^_`|~")
    value = value.strip()
    bad = next((ch for ch in value if not (ch == "\t" or " " <= ch <= "~")), None)
    if bad is not None:
        # The value itself is not echoed: it may be a token bound for a CI log.
        raise UserError(f"--header {name}: the value holds '{escape_text(bad)}', which an HTTP header cannot carry "
                        "(printable ASCII only: no line breaks, no accented letters)")
    return name, value


MAX_SERVE_WORKERS = 64


def parse_workers(text: str) -> list[int]:
    """'1,4' -> [1, 4]."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or any(count < 1 for count in counts):
        raise UserError(f"--workers must be a comma-separated list of worker counts such as 1,4, got {text!r}")
    if max(counts) > MAX_SERVE_WORKERS:  # a typo such as 4000 would fork until the machine stalls
        raise UserError(f"--workers counts must be at most {MAX_SERVE_WORKERS}, got {max(counts)}")
    return counts


def probe_command(
    url: Optional[str] = typer.Argument(
        None, help="The chat endpoint, e.g. http://127.0.0.1:8000/chat (a path such as /chat with --serve)"),
    body: Optional[str] = typer.Option(
        None, "--body", help="Request body (WebSocket: per-turn frame): JSON with {session}, {message}, {turn}"),
    method: str = typer.Option("POST", "--method", help="HTTP method"),
    header: Optional[List[str]] = typer.Option(None, "--header", "-H", help="'Name: value' (repeatable)"),
    reply_path: Optional[str] = typer.Option(None, "--reply-path", help="Dot path to the reply text in JSON"),
    pid_header: Optional[str] = typer.Option(None, "--pid-header", help="Response header naming the process"),
    pod_header: Optional[str] = typer.Option(None, "--pod-header", help="Response header naming the pod"),
    pid_path: Optional[str] = typer.Option(None, "--pid-path", help="Dot path to the process id in the JSON reply"),
    pod_path: Optional[str] = typer.Option(None, "--pod-path", help="Dot path to the pod name in the JSON reply"),
    sessions: int = typer.Option(8, "--sessions", help="Sessions (conversations) to run"),
    turns: int = typer.Option(4, "--turns", help="Turns per session"),
    concurrency: int = typer.Option(4, "--concurrency", help="Sessions in flight at once"),
    concurrent_turns: bool = typer.Option(
        False, "--concurrent-turns", help="Send a session's first turns at once (lost updates), then recall turns"),
    timeout: float = typer.Option(DEFAULT_TIMEOUT_S, "--timeout", help="Seconds per request, streamed replies included"),
    retries: int = typer.Option(DEFAULT_RETRIES, "--retries", help=f"Retries for 5xx, 429, timeouts, connection errors (at most {MAX_RETRIES})"),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed for reproducible session ids and codewords"),
    reuse_connections: bool = typer.Option(
        False, "--reuse-connections", help="Keep connections open (default: a new connection per request)"),
    fmt: str = typer.Option("text", "--format", help="text, json, junit, markdown or html"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report to FILE"),
    record: Optional[Path] = typer.Option(None, "--record", help="Write every request and reply to FILE.jsonl"),
    replay: Optional[Path] = typer.Option(None, "--replay", help="Analyse a recording; send nothing"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no notes"),
    src: Optional[Path] = typer.Option(None, "--src", help="Also scan the service's code and link causes"),
    serve: Optional[str] = typer.Option(None, "--serve", help="Start the service with this command and probe it"),
    workers: str = typer.Option("1,4", "--workers", help="With --serve: worker counts to try"),
    port: Optional[int] = typer.Option(None, "--port", help="With --serve: port to run the service on"),
    ready_timeout: Optional[float] = typer.Option(
        None, "--ready-timeout", min=1.0, help="With --serve: seconds to wait for the service to answer (default 60)"),
    # --- WebSocket (ws:// and wss:// URLs; docs/probe-websocket.md) ---
    preset: Optional[str] = typer.Option(
        None, "--preset", help="WebSocket flag set: agentchat-team, studio, fastagency, chainlit, ag2-iostream"),
    body_text: Optional[str] = typer.Option(None, "--body-text", help="WebSocket: per-turn raw text frame"),
    ws_start: Optional[str] = typer.Option(None, "--ws-start", help="WebSocket: JSON frame sent when a connection opens"),
    ws_start_text: Optional[str] = typer.Option(None, "--ws-start-text", help="WebSocket: raw text start frame"),
    ws_ready: Optional[List[str]] = typer.Option(None, "--ws-ready", help="WebSocket: RULE of the frame to await before the first message"),
    ws_until: Optional[List[str]] = typer.Option(None, "--ws-until", help="WebSocket: RULE of the frame that ends a turn"),
    ws_final: Optional[List[str]] = typer.Option(None, "--ws-final", help="WebSocket: RULE that ends the turn and the connection"),
    ws_error: Optional[List[str]] = typer.Option(None, "--ws-error", help="WebSocket: RULE of an error frame"),
    ws_reply_when: Optional[List[str]] = typer.Option(None, "--ws-reply-when", help="WebSocket: RULE of reply frames"),
    ws_reply_skip: Optional[List[str]] = typer.Option(None, "--ws-reply-skip", help="WebSocket: RULE of frames that are not replies"),
    ws_idle: Optional[float] = typer.Option(None, "--ws-idle", help="WebSocket: end a turn after this many quiet seconds"),
    ws_join: Optional[str] = typer.Option(None, "--ws-join", help="WebSocket: separator between reply frames"),
    ws_connection: str = typer.Option("turn", "--ws-connection", help="WebSocket: turn, session or N turns per connection"),
    ws_stop: Optional[str] = typer.Option(None, "--ws-stop", help="WebSocket: JSON frame sent before closing"),
    ws_stop_text: Optional[str] = typer.Option(None, "--ws-stop-text", help="WebSocket: raw text frame sent before closing"),
    ws_framing: Optional[str] = typer.Option(None, "--ws-framing", help="WebSocket: raw or socketio"),
    ws_auth: Optional[str] = typer.Option(None, "--ws-auth", help="Socket.IO: CONNECT payload (JSON template)"),
    ws_max_frame: int = typer.Option(16 * 1024 * 1024, "--ws-max-frame", help="WebSocket: largest frame accepted, bytes"),
    insecure: bool = typer.Option(False, "--insecure", help="https: do not verify the service's certificate"),
    ca_bundle: Optional[Path] = typer.Option(
        None, "--ca-bundle", help="https: trust the CA certificates in this PEM file (a self-signed service)"),
) -> None:
    """Fire multi-turn sessions at a running service and diagnose conversation-state loss.

    Exit codes: 0 pass, 1 state-loss, 3 inconclusive, 2 usage error / unreachable / every request failed.
    """
    from autogen_doctor.probe.ws import is_ws_url
    from autogen_doctor.probe.ws.options import WsFlags, build_ws_options

    ws_flags = WsFlags(
        preset=preset, body_text=body_text, start=ws_start, start_text=ws_start_text, ready=ws_ready or [],
        until=ws_until or [], final=ws_final or [], error=ws_error or [], reply_when=ws_reply_when or [],
        reply_skip=ws_reply_skip or [], idle=ws_idle, join=ws_join, connection=ws_connection, stop=ws_stop,
        stop_text=ws_stop_text, framing=ws_framing, auth=ws_auth, max_frame=ws_max_frame)
    options = ProbeOptions(
        url=url, body=body if body is not None else DEFAULT_BODY, method=method.upper(), headers=[parse_header(item) for item in header or []],
        reply_path=reply_path, pid_header=pid_header, pod_header=pod_header, pid_path=pid_path,
        pod_path=pod_path, sessions=sessions, turns=turns, concurrency=concurrency,
        concurrent_turns=concurrent_turns, timeout=timeout, retries=retries, seed=seed,
        reuse_connections=reuse_connections, fmt=fmt.lower(), output=output, record=record, replay=replay,
        quiet=quiet, src=src, serve=serve, workers=parse_workers(workers), port=port,
        ready_timeout=ready_timeout, insecure=insecure, ca_bundle=ca_bundle,
    )
    if serve is not None:
        if is_ws_url(url):
            raise UserError("with --serve, give the endpoint as a path (e.g. /ws/chat) and select WebSocket "
                            "with --preset or the --ws-* flags, not a full ws:// URL")
        if ws_flags.given:  # a WebSocket service: the path is probed as ws://127.0.0.1:PORT/PATH
            options.ws = build_ws_options(ws_flags, body=body, reply_path=reply_path)
            options.reply_path = options.ws.reply_path
        if replay is not None:
            raise UserError("--serve and --replay cannot be used together")
        if port is not None and not 0 <= port <= 65535:  # 0: let the kernel choose, as without --port
            raise UserError(f"--port must be between 1 and 65535, got {port}")
        from autogen_doctor.probe.serve import run_serve
        from autogen_doctor.probe.ws.presets import PRESETS

        if not options.url:
            options.url = (PRESETS[preset]["path"] if options.ws is not None and preset in PRESETS else "/chat")
        raise typer.Exit(run_serve(options))
    if url is None and replay is None:
        raise UserError("a URL is required (or --replay FILE.jsonl, or --serve CMD)")
    if url is not None and replay is not None:
        raise UserError("give either a URL or --replay FILE.jsonl, not both")
    # WebSocket dispatch: the URL scheme (or a WebSocket recording) selects probe/ws.
    from autogen_doctor.probe.ws.command import is_ws_recording, run_ws_probe

    if is_ws_url(url) or (replay is not None and is_ws_recording(replay)):
        if url is not None:
            options.ws = build_ws_options(ws_flags, body=body, reply_path=reply_path)
            options.reply_path = options.ws.reply_path
        from autogen_doctor.probe.command import report

        raise typer.Exit(report(run_ws_probe(options, progress=True), options))
    if ws_flags.given:
        raise UserError("--preset, --body-text and --ws-* flags need a ws:// or wss:// URL")

    from autogen_doctor.probe.command import report, run_probe

    run = run_probe(options, progress=True)
    raise typer.Exit(report(run, options))
