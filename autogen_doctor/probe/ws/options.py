"""The WebSocket flags as given, and the checked options the sender uses.

`build_ws_options` applies a preset (filling only flags the user left out), parses every rule
and template, and fails with one line before any connection is opened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from autogen_doctor.exit_codes import UserError
from autogen_doctor.probe.ws.presets import PRESETS, preset_names
from autogen_doctor.probe.ws.rules import Rule, parse_rules
from autogen_doctor.probe.ws.templates import Template, load_template

DEFAULT_MAX_FRAME = 16 * 1024 * 1024  # AutoGen Studio's `result` frame carries every message of a run
DEFAULT_IDLE_S = 3.0
FRAMINGS = ("raw", "socketio")


@dataclass
class WsFlags:
    """The `--ws-*` flags exactly as given on the command line (None / [] when absent)."""

    preset: str | None = None
    body_text: str | None = None
    start: str | None = None
    start_text: str | None = None
    ready: list[str] = field(default_factory=list)
    until: list[str] = field(default_factory=list)
    final: list[str] = field(default_factory=list)
    error: list[str] = field(default_factory=list)
    reply_when: list[str] = field(default_factory=list)
    reply_skip: list[str] = field(default_factory=list)
    idle: float | None = None
    join: str | None = None
    connection: str = "turn"
    stop: str | None = None
    stop_text: str | None = None
    framing: str | None = None
    auth: str | None = None
    max_frame: int = DEFAULT_MAX_FRAME

    @property
    def given(self) -> bool:
        """True when any WebSocket-only flag was used (an error with an http:// URL)."""
        return any((self.preset, self.body_text, self.start, self.start_text, self.ready, self.until,
                    self.final, self.error, self.reply_when, self.reply_skip, self.idle is not None,
                    self.join is not None, self.connection != "turn", self.stop, self.stop_text, self.framing,
                    self.auth, self.max_frame != DEFAULT_MAX_FRAME))


@dataclass
class WsOptions:
    """Checked WebSocket options (see docs/probe-websocket.md)."""

    body: Template
    start: Template | None = None
    ready: list[Rule] = field(default_factory=list)
    until: list[Rule] = field(default_factory=list)
    final: list[Rule] = field(default_factory=list)
    error: list[Rule] = field(default_factory=list)
    reply_when: list[Rule] = field(default_factory=list)
    reply_skip: list[Rule] = field(default_factory=list)
    idle: float | None = None
    join: str = "\n"
    turns_per_connection: int | None = 1  # None: one connection for the whole session
    connection_label: str = "turn"
    stop: Template | None = None
    framing: str = "raw"
    auth: Template | None = None
    max_frame: int = DEFAULT_MAX_FRAME
    preset: str | None = None
    setup: str | None = None  # HTTP set-up before connecting: "studio", "fastagency"
    reply_path: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def start_carries_message(self) -> bool:
        return self.start is not None and "message" in self.start.names

    @property
    def close_ends_turn(self) -> bool:
        return any(rule.is_close for rule in self.until + self.final)


def parse_connection(text: str) -> tuple[int | None, str]:
    """`turn` -> 1, `session` -> None (held), `N` -> N turns per connection."""
    value = (text or "").strip().lower()
    if value == "turn":
        return 1, "turn"
    if value == "session":
        return None, "session"
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise UserError(f"--ws-connection must be turn, session or a number of turns per connection, got {text!r}")
    return count, str(count)


def build_ws_options(flags: WsFlags, *, body: str | None, reply_path: str | None) -> WsOptions:
    """Preset + flags -> WsOptions; `body` is None when --body was not given."""
    preset: dict = {}
    if flags.preset is not None:
        if flags.preset not in PRESETS:
            raise UserError(f"--preset must be one of {preset_names()}, got {flags.preset!r}")
        preset = PRESETS[flags.preset]

    def pick(name: str, given):
        return given if given not in (None, []) else preset.get(name)

    body_text = pick("body_text", flags.body_text)
    if body is not None and flags.body_text is not None:
        raise UserError("give either --body (a JSON frame) or --body-text (a raw text frame), not both")
    if body is not None:
        body_template = load_template(body, "--body", text=False)
    elif body_text is not None:
        body_template = load_template(body_text, "--body-text", text=True)
    elif preset.get("body") is not None:
        body_template = load_template(preset["body"], "--body", text=False)
    else:
        from autogen_doctor.probe.options import DEFAULT_BODY

        body_template = load_template(DEFAULT_BODY, "--body", text=False)
    if "message" not in body_template.names:
        raise UserError("the per-turn frame (--body / --body-text) must contain the {message} placeholder")
    if flags.start is not None and flags.start_text is not None:
        raise UserError("give either --ws-start or --ws-start-text, not both")
    if flags.stop is not None and flags.stop_text is not None:
        raise UserError("give either --ws-stop or --ws-stop-text, not both")
    if flags.start_text is not None:
        start = load_template(flags.start_text, "--ws-start-text", text=True)
    else:
        start = load_template(pick("start", flags.start), "--ws-start", text=False)
    if flags.stop_text is not None:
        stop = load_template(flags.stop_text, "--ws-stop-text", text=True)
    else:
        stop = load_template(pick("stop", flags.stop), "--ws-stop", text=False)
    framing = (pick("framing", flags.framing) or "raw").lower()
    if framing not in FRAMINGS:
        raise UserError(f"--ws-framing must be raw or socketio, got {flags.framing!r}")
    auth = load_template(pick("auth", flags.auth), "--ws-auth", text=False)
    if auth is not None and framing != "socketio":
        raise UserError("--ws-auth is the Socket.IO CONNECT payload: it needs --ws-framing socketio")
    if framing == "socketio":
        for name, template in (("--body", body_template), ("--ws-start", start)):
            if template is not None and (template.text or not template.source.lstrip().startswith("[")):
                raise UserError(f"with --ws-framing socketio, {name} must be a JSON array [\"event\", payload]")
    if flags.idle is not None and not (flags.idle > 0 and math.isfinite(flags.idle)):
        raise UserError(f"--ws-idle must be a positive number of seconds, got {flags.idle}")
    if flags.max_frame < 1024:
        raise UserError(f"--ws-max-frame must be at least 1024 bytes, got {flags.max_frame}")
    turns_per_connection, label = parse_connection(flags.connection)
    options = WsOptions(
        body=body_template, start=start,
        ready=parse_rules(pick("ready", flags.ready), "--ws-ready"),
        until=parse_rules(pick("until", flags.until), "--ws-until", allow_close=True),
        final=parse_rules(pick("final", flags.final), "--ws-final", allow_close=True),
        error=parse_rules(pick("error", flags.error), "--ws-error"),
        reply_when=parse_rules(pick("reply_when", flags.reply_when), "--ws-reply-when"),
        reply_skip=parse_rules(pick("reply_skip", flags.reply_skip), "--ws-reply-skip"),
        idle=flags.idle, join=pick("join", flags.join) if pick("join", flags.join) is not None else "\n",
        turns_per_connection=turns_per_connection, connection_label=label, stop=stop, framing=framing,
        auth=auth, max_frame=flags.max_frame, preset=flags.preset, setup=preset.get("setup"),
        reply_path=reply_path if reply_path is not None else preset.get("reply_path"),
    )
    if not options.until and not options.final and options.idle is None:
        options.idle = DEFAULT_IDLE_S
        options.notes.append(f"no --ws-until, --ws-final or --ws-idle rule: a turn ended after "
                             f"{DEFAULT_IDLE_S:g}s without a frame")
    return options
