"""The plan: which sessions, which turns, which codeword each turn plants, and the request body.

Codewords look like `adr-mq4z-x81c`: all the same length and shape, so two distinct codewords are
never substrings of each other, and none is a substring of a session id (`adr-s3-7k2p`). Session
ids and codewords are unique per run; `--seed` makes them reproducible.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from typing import Iterator

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


_CODEWORD_SPACE = len(_ALPHABET) ** 8  # adr-xxxx-xxxx: 8 letters


def _letters(number: int, length: int) -> str:
    out = []
    for _ in range(length):
        number, digit = divmod(number, len(_ALPHABET))
        out.append(_ALPHABET[digit])
    return "".join(reversed(out))


def _number(letters: str) -> int | None:
    number = 0
    for char in letters:
        digit = _ALPHABET.find(char)
        if digit < 0:
            return None
        number = number * len(_ALPHABET) + digit
    return number


class Plan:
    """The run's sessions, made on demand: session `index` (0-based) is the same for the same seed.

    Nothing is built up front, so `--sessions 1000000` costs nothing until sessions are sent.
    Codewords are unique by construction: turn `t` of session `i` is the number `i*turns + t`
    sent through a seeded bijection of the 31^8 codeword space (an affine map), so no two turns
    of a run share one, and a codeword read back from any reply maps to the session that planted it.
    """

    def __init__(self, seed: int, count: int, turns: int, concurrent_turns: bool = False) -> None:
        self.seed = seed
        self.count = count
        self.turns = turns
        self.concurrent_turns = concurrent_turns
        self._bursting = burst_size(turns) if concurrent_turns else 0
        rng = random.Random(seed)
        self._scale = rng.randrange(1, _CODEWORD_SPACE)
        while self._scale % len(_ALPHABET) == 0:  # must be coprime with 31^8
            self._scale = rng.randrange(1, _CODEWORD_SPACE)
        self._shift = rng.randrange(_CODEWORD_SPACE)
        self._inverse = pow(self._scale, -1, _CODEWORD_SPACE)

    def session_id(self, index: int) -> str:
        """`adr-s{index+1}-xxxx`: unique by its number, the suffix only makes ids hard to guess.

        The suffix depends on the turn count too: codewords are numbered `index*turns + t`, so a
        rerun with the same seed and another `--turns` must not reach the sessions an earlier run
        left in a durable store, whose codewords this plan would map to other sessions (a false
        cross-session leak)."""
        rng = random.Random(f"{self.seed}:{self.turns}:{index}")
        return f"adr-s{index + 1}-{_token(rng, 4)}"

    def codeword(self, index: int, turn: int) -> str:
        value = (self._scale * (index * self.turns + turn - 1) + self._shift) % _CODEWORD_SPACE
        letters = _letters(value, 8)
        return f"adr-{letters[:4]}-{letters[4:]}"

    def session(self, index: int) -> SessionPlan:
        """Session number `index` (0-based) of the plan."""
        turn_plans = []
        for turn in range(1, self.turns + 1):
            codeword = self.codeword(index, turn)
            turn_plans.append(TurnPlan(turn, codeword, turn_message(codeword, turn), burst=turn <= self._bursting))
        return SessionPlan(self.session_id(index), turn_plans)

    def owner(self, codeword: str) -> str | None:
        """The session of this plan that planted `codeword` (any case), or None."""
        word = codeword.lower()
        if len(word) != 13 or not word.startswith("adr-") or word[8] != "-":
            return None
        value = _number(word[4:8] + word[9:])
        if value is None:
            return None
        position = ((value - self._shift) * self._inverse) % _CODEWORD_SPACE
        index = position // self.turns
        return self.session_id(index) if index < self.count else None

    def iter_sessions(self) -> Iterator[SessionPlan]:
        """Every session in order, one at a time."""
        for index in range(self.count):
            yield self.session(index)

    @property
    def sessions(self) -> list[SessionPlan]:
        """Every session as a list (small plans and tests; a run uses `session(index)`)."""
        return list(self.iter_sessions())

    @property
    def codewords_by_session(self) -> dict[str, list[str]]:
        """Every session's codewords (small plans and tests)."""
        return {plan.session: [turn.codeword for turn in plan.turns] for plan in self.iter_sessions()}


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
    """The run's plan (built lazily); the same seed gives the same plan."""
    if sessions < 1:
        raise UserError("--sessions must be at least 1")
    if turns < 2:
        raise UserError("--turns must be at least 2 (recall needs an earlier turn)")
    if seed is None:
        seed = random.SystemRandom().randrange(1, 2**31)
    return Plan(seed, sessions, turns, concurrent_turns)


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
