"""The plan: which sessions, which turns, which codeword each turn plants, and the request body.

Codewords look like `adr-mq4z-x81c`: all the same length and shape, so two distinct codewords are
never substrings of each other, and none is a substring of a session id (`adr-s3-7k2p`). Session
ids and codewords are unique per run; `--seed` makes them reproducible.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field

from autogen_doctor.exit_codes import UserError

# No 0/o, 1/l/i: a person reading a transcript (or an LLM copying one) should not confuse them.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
PLACEHOLDERS = ("session", "message", "turn")
CODEWORD_PATTERN = re.compile(r"adr-[a-z0-9]{4}-[a-z0-9]{4}", re.IGNORECASE)


@dataclass(frozen=True)
class TurnPlan:
    turn: int  # 1-based
    codeword: str
    message: str
    burst: bool = False


@dataclass(frozen=True)
class SessionPlan:
    session: str
    turns: list[TurnPlan]

    @property
    def burst(self) -> list[TurnPlan]:
        return [turn for turn in self.turns if turn.burst]

    @property
    def after_burst(self) -> list[TurnPlan]:
        return [turn for turn in self.turns if not turn.burst]


@dataclass(frozen=True)
class Plan:
    seed: int
    sessions: list[SessionPlan]
    concurrent_turns: bool = False
    codewords_by_session: dict[str, list[str]] = field(default_factory=dict)


def burst_size(turns: int) -> int:
    """How many turns open a session under --concurrent-turns.

    The burst must leave ordinary recall turns after it (a burst's own replies cannot show what
    it lost): one recall turn for 3 turns, two from 4 turns on, so a word that vanished "for good"
    is seen missing twice.
    """
    if turns < 3:
        raise UserError("--concurrent-turns needs --turns 3 or more (a burst, then recall turns)")
    return turns - 1 if turns == 3 else turns - 2


def turn_message(codeword: str, turn: int) -> str:
    """Plain words a real LLM answers: plant one codeword, ask for all of them."""
    if turn == 1:
        return (f"Remember this codeword: {codeword}. Now list every codeword I have given you "
                f"so far in this conversation, separated by commas.")
    return (f"Here is another codeword to remember: {codeword}. Now list every codeword I have "
            f"given you so far in this conversation, including the earlier ones, separated by commas.")


def _token(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(length))


def make_plan(sessions: int, turns: int, *, seed: int | None = None, concurrent_turns: bool = False) -> Plan:
    """Build the run's sessions and codewords; the same seed gives the same plan."""
    if sessions < 1:
        raise UserError("--sessions must be at least 1")
    if turns < 2:
        raise UserError("--turns must be at least 2 (recall needs an earlier turn)")
    if seed is None:
        seed = random.SystemRandom().randrange(1, 2**31)
    rng = random.Random(seed)
    bursting = burst_size(turns) if concurrent_turns else 0
    used: set[str] = set()

    def fresh(make) -> str:
        while True:
            candidate = make()
            if candidate not in used:
                used.add(candidate)
                return candidate

    plans: list[SessionPlan] = []
    by_session: dict[str, list[str]] = {}
    for index in range(1, sessions + 1):
        session = fresh(lambda: f"adr-s{index}-{_token(rng, 4)}")
        turn_plans = []
        for turn in range(1, turns + 1):
            codeword = fresh(lambda: f"adr-{_token(rng, 4)}-{_token(rng, 4)}")
            turn_plans.append(TurnPlan(turn, codeword, turn_message(codeword, turn), burst=turn <= bursting))
        plans.append(SessionPlan(session, turn_plans))
        by_session[session] = [turn.codeword for turn in turn_plans]
    return Plan(seed=seed, sessions=plans, concurrent_turns=concurrent_turns, codewords_by_session=by_session)


def _json_escaped(value: object) -> str:
    return json.dumps(str(value))[1:-1]


def render_body(template: str, *, session: str, message: str, turn: int) -> str:
    """Replace {session}, {message}, {turn} by JSON-escaped values (no other placeholder allowed)."""
    values = {"session": session, "message": message, "turn": turn}

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise UserError(f"--body has an unknown placeholder {{{name}}}; "
                            f"use {{session}}, {{message}} or {{turn}}")
        return _json_escaped(values[name])

    return _PLACEHOLDER.sub(substitute, template)


def check_body_template(template: str) -> None:
    """Fail with one line, before any request, when the template cannot make a valid body."""
    names = set(_PLACEHOLDER.findall(template))
    unknown = sorted(names - set(PLACEHOLDERS))
    if unknown:
        raise UserError(f"--body has an unknown placeholder {{{unknown[0]}}}; "
                        f"use {{session}}, {{message}} or {{turn}}")
    if "message" not in names:
        raise UserError("--body must contain the {message} placeholder (the probe's question goes there)")
    sample = render_body(template, session='adr-s1-"x"', message='a "quoted" \\ message\nline', turn=1)
    try:
        json.loads(sample)
    except json.JSONDecodeError as error:
        raise UserError(f"--body is not valid JSON once its placeholders are filled: {error.msg} "
                        f"(line {error.lineno} column {error.colno})") from None
