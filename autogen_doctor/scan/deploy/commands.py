"""Read the command lines that start a service and tell how many processes they run.

Understands uvicorn, gunicorn, hypercorn, granian, uwsgi, `fastapi run` and `celery worker`,
whether written bare, as `python -m ...`, behind wrappers (`exec`, `env`, `tini --`, `dumb-init`,
`gosu user`, `poetry run`, `uv run`, `ddtrace-run`, `opentelemetry-instrument`, entrypoint
scripts ending in `.sh`) or inside `sh -c "..."`. Nothing is ever run: shell text is split with
`shlex` and variables are resolved only from values written in the same file
(`ENV`, `env:`, `environment:`) or from `${VAR:-default}` defaults.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from typing import Iterable, Mapping

from autogen_doctor.scan.deploy.facts import (
    CELERY_PREFORK,
    SERVER_WORKERS,
    LineIndex,
    ProcessCount,
    ScalingFact,
)

# Stands for a shell expression that yields the CPU count: $(nproc), $(( $(nproc) * 2 + 1 )), ...
CPUS_MARK = "@CPUS@"
_CPU_WORDS = ("nproc", "cpu_count", "NPROCESSORS", "cpus")
_SEPARATORS = frozenset({";", "&&", "||", "|", "&", "(", ")", ";;", "|&"})


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a command and where it is written (absolute offset in the file, -1 unknown)."""

    text: str
    offset: int


@dataclass(frozen=True, slots=True)
class EnvVar:
    """An environment variable set in the file, and the offset of where it is set."""

    value: str
    offset: int


Env = Mapping[str, EnvVar]


@dataclass(frozen=True, slots=True)
class Launch:
    """One server or worker started by a command line."""

    server: str
    concept: str  # SERVER_WORKERS or CELERY_PREFORK
    count: ProcessCount | None  # None: one process, or a number that cannot be determined
    explicit: bool  # the command line sets the process count itself
    dev_reload: bool  # `--reload`: a development server, never several processes
    evidence: str
    offset: int
    length: int = 0  # length of the word at `offset`, when it was found as written


@dataclass(frozen=True)
class _ServerSpec:
    long_flags: tuple[str, ...]
    short_flags: tuple[str, ...]
    reads_web_concurrency: bool
    subcommand: str | None = None


# Servers that take a worker-process count on the command line.
_SERVERS: dict[str, _ServerSpec] = {
    "uvicorn": _ServerSpec(("--workers",), (), True),
    "gunicorn": _ServerSpec(("--workers",), ("-w",), True),
    "hypercorn": _ServerSpec(("--workers",), ("-w",), False),
    "granian": _ServerSpec(("--workers",), (), False),
    "uwsgi": _ServerSpec(("--processes", "--workers"), ("-p",), False),
    "fastapi": _ServerSpec(("--workers",), (), False, subcommand="run"),
}
WEB_CONCURRENCY_READERS = frozenset(name for name, spec in _SERVERS.items() if spec.reads_web_concurrency)

# Wrappers that run the rest of the line as the real command.
_PLAIN_WRAPPERS = frozenset({
    "exec", "nohup", "time", "dumb-init", "ddtrace-run", "opentelemetry-instrument", "tini",
    "catatonit", "setsid", "chpst", "s6-setuidgid", "sudo", "doppler", "infisical",
})
_RUNNERS = {"poetry": "run", "pipenv": "run", "pdm": "run", "hatch": "run", "rye": "run", "uv": "run",
            "newrelic-admin": "run-program", "conda": "run", "micromamba": "run"}
_USER_WRAPPERS = frozenset({"gosu", "su-exec"})
_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh"})
_SHELL_KEYWORDS = frozenset({"then", "else", "do", "{", "!"})
_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_VARIABLE = re.compile(
    r"^\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::?[-=](?P<default>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*)"
    r"|\((?P<k8s>[A-Za-z_][A-Za-z0-9_]*)\))$"
)
_SINGLE_PROCESS_POOLS = frozenset({"solo", "threads", "gevent", "eventlet"})
_CELERY_OPTIONS_WITH_VALUE = frozenset({
    "-A", "--app", "-b", "--broker", "--result-backend", "--loader", "--config", "--workdir",
})


def resolve_count(raw: str, env: Env, _depth: int = 0) -> ProcessCount | None:
    """A process count written as a number, `$(nproc)`, `$VAR`, `${VAR:-4}` or `$(VAR)`;
    None when it cannot be determined from the file."""
    text = raw.strip().strip("\"'").strip()
    if text == CPUS_MARK:
        return ProcessCount(None, "one per CPU")
    if text.isdigit():
        return ProcessCount(int(text), str(int(text)))
    match = _VARIABLE.match(text)
    if match is None or _depth > 5:
        return None
    name = match.group("braced") or match.group("plain") or match.group("k8s")
    entry = env.get(name)
    if entry is not None:
        # `WORKERS=${WORKERS:-4}` refers to the variable's earlier value, not to itself.
        earlier = {key: value for key, value in env.items() if key != name}
        found = resolve_count(entry.value, earlier, _depth + 1)
        if found is None:
            return None
        return found if "(" in found.label else ProcessCount(found.value, f"{found.label} (from ${name})")
    default = match.group("default")
    if default:
        found = resolve_count(default, env, _depth + 1)
        if found is not None:
            return ProcessCount(found.value, f"{found.label} (default of ${name})")
    return None


def _mark_cpu_expressions(text: str) -> str:
    """Replace `$(...)` / `$((...))` / backquoted expressions that compute the CPU count."""
    if "nproc" not in text and "cpu" not in text.lower() and "NPROCESSORS" not in text:
        return text
    out: list[str] = []
    index = 0
    while index < len(text):
        if text.startswith("$(", index):
            depth, end = 0, index + 1
            while end < len(text):
                if text[end] == "(":
                    depth += 1
                elif text[end] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                end += 1
            inner = text[index:end + 1]
            if any(word in inner for word in _CPU_WORDS):
                out.append(CPUS_MARK)
                index = end + 1
                continue
        elif text[index] == "`":
            end = text.find("`", index + 1)
            if end > 0 and any(word in text[index:end] for word in _CPU_WORDS):
                out.append(CPUS_MARK)
                index = end + 1
                continue
        out.append(text[index])
        index += 1
    return "".join(out)


def _words_of(chunk: str) -> list[str] | None:
    lexer = shlex.shlex(chunk, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True  # `#` starts a comment only at the start of a word
    try:
        return list(lexer)
    except ValueError:  # an unbalanced quote
        return None


def split_shell(text: str) -> list[list[str]]:
    """Simple commands of a shell text, each a list of words (quotes removed, comments dropped).

    Lines are lexed one at a time (a newline ends a command, a `#` comment ends at the line's
    end); a quote left open joins the next line, and an unbalanced quote at the very end falls
    back to plain whitespace words."""
    text = re.sub(r"\\\r?\n", " ", _mark_cpu_expressions(text))
    commands: list[list[str]] = [[]]
    pending = ""
    lines = text.splitlines()
    for number, line in enumerate(lines):
        chunk = f"{pending}\n{line}" if pending else line
        tokens = _words_of(chunk)
        if tokens is None:
            if number + 1 < len(lines) and len(chunk) < 100_000:
                pending = chunk
                continue
            tokens = chunk.split()
        pending = ""
        for token in tokens:
            if token in _SEPARATORS:
                commands.append([])
            else:
                commands[-1].append(token)
        commands.append([])
    return [command for command in commands if command]


def locate_words(texts: Iterable[str], source: str, start: int, end: int) -> list[Word]:
    """Attach to each word the offset where it is written in `source[start:end]`, in order.

    A word that cannot be found as written (escapes, substitutions) gets the offset where the
    search stands, which is the end of the previous word: close enough for a line number."""
    words: list[Word] = []
    cursor = max(0, start)
    end = len(source) if end < 0 else end
    for text in texts:
        found = source.find(text, cursor, end) if text else -1
        if found >= 0:
            words.append(Word(text, found))
            cursor = found + len(text)
        else:
            words.append(Word(text, cursor if start >= 0 else -1))
    return words


def launches_in_shell(text: str, source: str, start: int, end: int, env: Env) -> list[Launch]:
    """Every server launch in a shell text written at `source[start:end]`."""
    launches: list[Launch] = []
    cursor = start
    shell_env = dict(env)
    set_here: set[str] = set()  # variables the script itself sets (`export X=1`, `X=1`)
    for command in split_shell(text):
        words = locate_words(command, source, cursor, end)
        located = [word.offset for word in words if word.offset >= 0]
        if located:
            cursor = max(located)
        assignments = words[1:] if words[0].text == "export" else words
        if all(_ASSIGNMENT.match(word.text) for word in assignments):
            for word in assignments:
                key, _, value = word.text.partition("=")
                shell_env[key] = EnvVar(value, word.offset)
                set_here.add(key)
            continue
        launches.extend(launches_in_words(words, source, end, shell_env, frozenset(set_here)))
    return launches


def launches_in_words(words: list[Word], source: str, end: int, env: Env,
                      inline: frozenset[str] = frozenset()) -> list[Launch]:
    """Server launches in one command given as words (exec form, YAML list, or one simple command).

    `inline` names variables set by the command line itself rather than by the container's
    environment: a WEB_CONCURRENCY set there belongs to this launch."""
    local_env = dict(env)
    local_keys = set(inline)
    index = 0
    while index < len(words):
        word = words[index].text
        name = os.path.basename(word)
        if _ASSIGNMENT.match(word):  # FOO=1 gunicorn ...
            key, _, value = word.partition("=")
            local_env[key] = EnvVar(value, words[index].offset)
            local_keys.add(key)
            index += 1
        elif name == "export":
            return []
        elif word in _SHELL_KEYWORDS:  # `then exec gunicorn ...`, `do ...`, `! cmd`
            index += 1
        elif name == "env" or name in _PLAIN_WRAPPERS:
            index += 1
            while index < len(words) and (words[index].text.startswith("-") or
                                          (name == "env" and _ASSIGNMENT.match(words[index].text))):
                if name == "env" and _ASSIGNMENT.match(words[index].text):
                    key, _, value = words[index].text.partition("=")
                    local_env[key] = EnvVar(value, words[index].offset)
                    local_keys.add(key)
                index += 1
            index = _next_command(words, index)
        elif name in _USER_WRAPPERS:
            index += 2
        elif name in _RUNNERS and index + 1 < len(words) and words[index + 1].text == _RUNNERS[name]:
            index += 2
            while index < len(words) and words[index].text.startswith("-"):
                index += 1
            index = _next_command(words, index)
        elif name in _SHELLS:
            index += 1
            while index < len(words) and words[index].text.startswith("-"):
                if "c" in words[index].text[1:] and not words[index].text.startswith("--"):
                    if index + 1 < len(words):
                        inner = words[index + 1]
                        start = inner.offset if inner.offset >= 0 else 0
                        return launches_in_shell(inner.text, source, start, end, local_env)
                    return []
                index += 1
            # `sh script.sh args`: the script is a wrapper we cannot read; look at what follows.
        elif word.endswith(".sh") or "entrypoint" in name:
            index += 1  # an entrypoint script that ends in `exec "$@"`
        elif _PYTHON.match(name):
            index += 1
            while index < len(words) and words[index].text.startswith("-") and words[index].text != "-m":
                index += 2 if words[index].text in ("-X", "-W") else 1
            if index + 1 < len(words) and words[index].text == "-m":
                module = words[index + 1].text
                return _launch_for(module, words, index + 1, local_env, local_keys)
            return []
        else:
            return _launch_for(name, words, index, local_env, local_keys)
    return []


def _names_a_command(word: str) -> bool:
    name = os.path.basename(word)
    return name in _SERVERS or name == "celery" or _PYTHON.match(name) is not None


def _next_command(words: list[Word], index: int) -> int:
    """Where a wrapped command starts. Wrapper options may take values
    (`opentelemetry-instrument --service_name chat uvicorn ...`, `uv run --with x uvicorn ...`):
    when the word at `index` is not a server or Python, skip to the first one that is."""
    if index >= len(words) or _names_a_command(words[index].text):
        return index
    for position in range(index, len(words)):
        if _names_a_command(words[position].text):
            return position
    return index


def _launch_for(server: str, words: list[Word], index: int, env: Env,
                inline: set[str] | frozenset[str] = frozenset()) -> list[Launch]:
    if server == "celery":
        launch = _celery_launch(words, index, env)
        return [launch] if launch else []
    spec = _SERVERS.get(server)
    if spec is None:
        return []
    args = words[index + 1:]
    if spec.subcommand is not None and (not args or args[0].text != spec.subcommand):
        return []
    count: ProcessCount | None = None
    flag_word: Word | None = None
    flag_text = ""
    explicit = False
    dev_reload = False
    position = 0
    while position < len(args):
        word = args[position]
        text = word.text
        value: str | None = None
        if text == "--reload" or text.startswith("--reload="):
            dev_reload = True
        elif text in spec.long_flags or text in spec.short_flags:
            value = args[position + 1].text if position + 1 < len(args) else ""
            flag_text = f"{text} {value}"
            position += 1
        elif "=" in text and text.split("=", 1)[0] in spec.long_flags:
            value = text.split("=", 1)[1]
            flag_text = text
        elif not text.startswith("--") and any(
                text.startswith(short) and len(text) > len(short) and text[len(short)] != "="
                for short in spec.short_flags):
            value = text[2:]
            flag_text = text
        if value is not None:  # the last occurrence wins, as with argparse and click
            explicit = True
            flag_word = word
            count = resolve_count(value, env)
        position += 1
    anchor = flag_word or words[index]
    if not explicit and server in WEB_CONCURRENCY_READERS and "WEB_CONCURRENCY" in inline:
        # `WEB_CONCURRENCY=4 gunicorn app:app`: the command line sets the count after all.
        entry = env["WEB_CONCURRENCY"]
        explicit, count = True, resolve_count(entry.value, env)
        flag_text = f"(WEB_CONCURRENCY={entry.value})"
        anchor = Word(f"WEB_CONCURRENCY={entry.value}", entry.offset)
    if dev_reload:
        count = None
    command = f"{server} {spec.subcommand}" if spec.subcommand else server
    evidence = f"{command} {flag_text}".strip().replace(CPUS_MARK, "<CPU count>")
    return [Launch(server, SERVER_WORKERS, count, explicit, dev_reload, evidence, anchor.offset,
                   len(anchor.text))]


def _celery_launch(words: list[Word], index: int, env: Env) -> Launch | None:
    args = words[index + 1:]
    worker_word: Word | None = None
    position = 0
    while position < len(args):
        text = args[position].text
        if text in _CELERY_OPTIONS_WITH_VALUE:
            position += 2
            continue
        if not text.startswith("-"):
            if text == "worker":
                worker_word = args[position]
            break  # the first plain word is the sub-command
        position += 1
    if worker_word is None:
        return None
    options = args[position + 1:]
    pool = concurrency = autoscale = None
    concurrency_text = autoscale_text = ""
    concurrency_word = autoscale_word = None
    for position, word in enumerate(options):
        text = word.text
        following = options[position + 1].text if position + 1 < len(options) else ""
        if text in ("-P", "--pool"):
            pool = following
        elif text.startswith("--pool="):
            pool = text.split("=", 1)[1]
        elif text.startswith("-P") and len(text) > 2:
            pool = text[2:]
        elif text in ("-c", "--concurrency"):
            concurrency, concurrency_text, concurrency_word = following, f"{text} {following}", word
        elif text.startswith("--concurrency="):
            concurrency, concurrency_text, concurrency_word = text.split("=", 1)[1], text, word
        elif text.startswith("-c") and len(text) > 2 and not text.startswith("--"):
            concurrency, concurrency_text, concurrency_word = text[2:], text, word
        elif text == "--autoscale":
            autoscale, autoscale_text, autoscale_word = following, f"{text} {following}", word
        elif text.startswith("--autoscale="):
            autoscale, autoscale_text, autoscale_word = text.split("=", 1)[1], text, word
    if pool is not None and pool.strip("\"'") in _SINGLE_PROCESS_POOLS:
        return Launch("celery", CELERY_PREFORK, None, True, False, f"celery worker --pool {pool}",
                      worker_word.offset, len(worker_word.text))
    if autoscale is not None:
        highest = resolve_count(autoscale.split(",")[0], env)
        if highest is not None and highest.value is not None:
            highest = ProcessCount(highest.value, f"up to {highest.label}")
        anchor = autoscale_word or worker_word
        return Launch("celery", CELERY_PREFORK, highest, True, False, f"celery worker {autoscale_text}",
                      anchor.offset, len(anchor.text))
    if concurrency is not None:
        count = resolve_count(concurrency, env)
        anchor = concurrency_word or worker_word
        return Launch("celery", CELERY_PREFORK, count, True, False,
                      f"celery worker {concurrency_text}".replace(CPUS_MARK, "<CPU count>"),
                      anchor.offset, len(anchor.text))
    return Launch("celery", CELERY_PREFORK, ProcessCount(None, "one per CPU"), False, False,
                  "celery worker (prefork pool, no --concurrency)", worker_word.offset, len(worker_word.text))


def scope_facts(launches: list[Launch], env: Env, own_env: Iterable[str], *, owner: str,
                symbol: str | None, lines: LineIndex) -> list[ScalingFact]:
    """Scaling facts for one place that runs a command with an environment (a Dockerfile's
    final stage, a container, a compose service, a supervisor program)."""
    return (launch_facts(launches, owner=owner, symbol=symbol, lines=lines)
            + env_facts(launches, env, own_env, owner=owner, symbol=symbol, lines=lines))


def launch_facts(launches: list[Launch], *, owner: str, symbol: str | None,
                 lines: LineIndex) -> list[ScalingFact]:
    """A fact for every launch that runs several processes."""
    return [ScalingFact(launch.concept, launch.count, launch.evidence, owner, symbol or launch.server,
                        lines.position(launch.offset, launch.length), launch.server)
            for launch in launches
            if launch.count is not None and launch.count.several and not launch.dev_reload]


def env_facts(launches: list[Launch], env: Env, own_env: Iterable[str], *, owner: str,
              symbol: str | None, lines: LineIndex) -> list[ScalingFact]:
    """WEB_CONCURRENCY and GUNICORN_CMD_ARGS set in this scope (`own_env`), reported where they
    are set, when a server in the scope reads them or when the command is not known (the
    image's default CMD, say). A server given an explicit worker count ignores them."""
    facts: list[ScalingFact] = []
    own = set(own_env)
    readers = [launch for launch in launches if launch.server in WEB_CONCURRENCY_READERS
               and not launch.explicit and not launch.dev_reload]
    entry = env.get("WEB_CONCURRENCY")
    if entry is not None and "WEB_CONCURRENCY" in own and (readers or not launches):
        count = resolve_count(entry.value, env)
        if count is not None and count.several:
            server = readers[0].server if readers else None
            facts.append(ScalingFact(SERVER_WORKERS, count, f"WEB_CONCURRENCY={entry.value}", owner,
                                     symbol or server, lines.position(entry.offset, len("WEB_CONCURRENCY")), server))
    entry = env.get("GUNICORN_CMD_ARGS")
    gunicorns = [launch for launch in readers if launch.server == "gunicorn"]
    if entry is not None and "GUNICORN_CMD_ARGS" in own and (gunicorns or not launches):
        words = [Word(text, entry.offset) for command in split_shell(entry.value) for text in command]
        for launch in _launch_for("gunicorn", [Word("gunicorn", entry.offset)] + words, 0, env):
            if launch.count is not None and launch.count.several and not launch.dev_reload:
                position = lines.position(entry.offset, len("GUNICORN_CMD_ARGS"))
                facts.append(ScalingFact(SERVER_WORKERS, launch.count, f"GUNICORN_CMD_ARGS={entry.value}",
                                         owner, symbol or "gunicorn", position, "gunicorn"))
    return facts
