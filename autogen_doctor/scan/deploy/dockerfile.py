"""Dockerfile / Containerfile: what the final stage runs, and with how many processes.

Only the final stage counts (it is the image that runs), including what it inherits from an
earlier stage named in `FROM <stage>`. `CMD` and `ENTRYPOINT` are read in exec (JSON) and shell
form and combined the way Docker combines them; `RUN` runs at build time and is ignored. `ENV`
values (and `ARG` defaults used in them) resolve `$VAR` in the command. Comments, line
continuations, the `# escape=` directive and heredocs (`RUN <<EOF`) are understood.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

from autogen_doctor.scan.deploy.commands import (
    EnvVar,
    Launch,
    Word,
    env_facts,
    launch_facts,
    launches_in_shell,
    launches_in_words,
    locate_words,
)
from autogen_doctor.scan.deploy.facts import DOCKERFILE, DeployFile, ImageCommand, LineIndex

_DIRECTIVE = re.compile(r"^#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$")
_HEREDOC = re.compile(r"<<(-?)\s*([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_SUBSTITUTION = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass
class _Instruction:
    keyword: str
    arguments: str  # continuation lines joined
    start: int  # offset of the arguments' first character in the file
    end: int  # offset just past the instruction's last line


@dataclass
class _Command:
    keyword: str  # CMD or ENTRYPOINT
    words: list[Word] | None  # exec form
    shell: str | None  # shell form
    start: int
    end: int


@dataclass
class _Stage:
    name: str | None
    env: dict[str, EnvVar] = field(default_factory=dict)
    own_env: set[str] = field(default_factory=set)
    build_args: dict[str, str] = field(default_factory=dict)
    cmd: _Command | None = None
    entrypoint: _Command | None = None
    cmd_inherited: bool = False


def _instructions(text: str) -> list[_Instruction]:
    lines = text.splitlines(keepends=True)
    offsets, total = [], 0
    for line in lines:
        offsets.append(total)
        total += len(line)
    escape = "\\"
    for line in lines:  # parser directives come first, before any instruction or blank line
        match = _DIRECTIVE.match(line.strip())
        if not match:
            break
        if match.group(1).lower() == "escape" and match.group(2) in ("\\", "`"):
            escape = match.group(2)
    found: list[_Instruction] = []
    index = 0
    while index < len(lines):
        stripped = lines[index].strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue
        first = lines[index]
        keyword_match = re.match(r"\s*(\S+)\s*", first)
        keyword = keyword_match.group(1).upper() if keyword_match else ""
        start = offsets[index] + (keyword_match.end() if keyword_match else 0)
        parts = [first[keyword_match.end() if keyword_match else 0:]]
        while parts[-1].rstrip("\r\n").rstrip().endswith(escape) and index + 1 < len(lines):
            parts[-1] = parts[-1].rstrip("\r\n").rstrip()[:-1] + " "
            index += 1
            while index < len(lines) and lines[index].strip().startswith("#"):
                index += 1  # comment lines inside a continued instruction are dropped
            if index < len(lines):
                parts.append(lines[index])
        index += 1
        arguments = "".join(parts).strip()
        end = offsets[index] if index < len(lines) else total
        found.append(_Instruction(keyword, arguments, start, end))
        if keyword in ("RUN", "COPY", "ADD"):
            for heredoc in _HEREDOC.finditer(arguments):
                strip_tabs, terminator = heredoc.group(1) == "-", heredoc.group(3)
                while index < len(lines):
                    body = lines[index].rstrip("\r\n")
                    index += 1
                    if (body.lstrip("\t") if strip_tabs else body) == terminator:
                        break
    return found


def _substitute(value: str, stage: _Stage) -> str:
    """Replace $VAR / ${VAR} with values known at build time (ENV, then ARG defaults)."""

    def replace(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name in stage.env:
            return stage.env[name].value
        if name in stage.build_args:
            return stage.build_args[name]
        return match.group(0)

    return _SUBSTITUTION.sub(replace, value)


def _env_pairs(arguments: str) -> list[tuple[str, str]]:
    try:
        words = shlex.split(arguments, comments=False, posix=True)
    except ValueError:
        words = arguments.split()
    if not words:
        return []
    if "=" not in words[0]:  # legacy form: ENV NAME value with spaces
        return [(words[0], arguments[len(arguments.split(None, 1)[0]):].strip().strip("\"'"))]
    return [tuple(word.split("=", 1)) for word in words if "=" in word]  # type: ignore[misc]


def _command(instruction: _Instruction, source: str) -> _Command:
    arguments = instruction.arguments
    if arguments.startswith("["):
        try:
            parsed = json.loads(arguments)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
            words = locate_words(parsed, source, instruction.start, instruction.end)
            return _Command(instruction.keyword, words, None, instruction.start, instruction.end)
    return _Command(instruction.keyword, None, arguments, instruction.start, instruction.end)


def _launches(stage: _Stage, source: str) -> list[tuple[_Command, Launch]]:
    entrypoint, cmd = stage.entrypoint, stage.cmd
    env = stage.env
    found: list[tuple[_Command, Launch]] = []

    def from_command(command: _Command, words_before: list[Word]) -> list[Launch]:
        if command.words is not None:
            return launches_in_words(words_before + command.words, source, len(source), env)
        if words_before:  # exec ENTRYPOINT + shell CMD: Docker appends ["/bin/sh", "-c", CMD]
            shell = [Word("/bin/sh", -1), Word("-c", -1), Word(command.shell or "", command.start)]
            return launches_in_words(words_before + shell, source, command.end, env)
        return launches_in_shell(command.shell or "", source, command.start, command.end, env)

    if entrypoint is not None and entrypoint.words is None:  # shell-form ENTRYPOINT ignores CMD
        return [(entrypoint, launch) for launch in from_command(entrypoint, [])]
    if entrypoint is not None and cmd is not None:
        for launch in from_command(cmd, list(entrypoint.words or [])):
            owner = cmd if cmd.start <= launch.offset < cmd.end else entrypoint
            found.append((owner, launch))
        return found
    command = cmd or entrypoint
    if command is None:
        return []
    return [(command, launch) for launch in from_command(command, [])]


def parse_dockerfile(text: str, display_path: str) -> DeployFile:
    """Scaling facts of a Dockerfile's final stage."""
    stages: dict[str, _Stage] = {}
    global_args: dict[str, str] = {}
    stage: _Stage | None = None
    for instruction in _instructions(text):
        keyword, arguments = instruction.keyword, instruction.arguments
        if keyword == "FROM":
            words = [word for word in arguments.split() if not word.startswith("--")]
            base = words[0].lower() if words else ""
            name = words[2].lower() if len(words) >= 3 and words[1].upper() == "AS" else None
            parent = stages.get(base)
            if parent is not None:
                stage = _Stage(name, dict(parent.env), set(parent.own_env), dict(parent.build_args),
                               parent.cmd, parent.entrypoint, cmd_inherited=parent.cmd is not None)
            else:
                stage = _Stage(name)
            if name:
                stages[name] = stage
        elif keyword == "ARG":
            for word in arguments.split():
                key, _, default = word.partition("=")
                target = stage.build_args if stage is not None else global_args
                if default:
                    target[key] = default.strip("\"'")
                elif key in global_args:  # `ARG N` in a stage re-declares a global ARG's default
                    target[key] = global_args[key]
        elif keyword == "ENV" and stage is not None:
            cursor = instruction.start
            for key, value in _env_pairs(arguments):
                located = text.find(key, cursor, instruction.end)
                offset = located if located >= 0 else instruction.start
                cursor = max(cursor, offset)
                stage.env[key] = EnvVar(_substitute(value, stage), offset)
                stage.own_env.add(key)
        elif keyword in ("CMD", "ENTRYPOINT") and stage is not None:
            command = _command(instruction, text)
            if keyword == "CMD":
                stage.cmd, stage.cmd_inherited = command, False
            else:
                stage.entrypoint = command
                if stage.cmd_inherited:  # Docker resets a CMD inherited from the base stage
                    stage.cmd, stage.cmd_inherited = None, False
    result = DeployFile(kind=DOCKERFILE, display_path=display_path)
    if stage is None:
        return result
    lines = LineIndex(text)
    launches = _launches(stage, text)
    by_keyword: dict[str, list[Launch]] = {}
    for command, launch in launches:
        by_keyword.setdefault(command.keyword, []).append(launch)
    for keyword, group in by_keyword.items():
        result.scaling.extend(launch_facts(group, owner=f"Dockerfile {keyword}", symbol=None, lines=lines))
    result.scaling.extend(env_facts([launch for _, launch in launches], stage.env, stage.own_env,
                                    owner="Dockerfile ENV", symbol=None, lines=lines))
    entrypoint = stage.entrypoint
    if entrypoint is not None:
        # What Kubernetes `args` and a compose `command` run inside (a shell form ignores them).
        words = (tuple(word.text for word in entrypoint.words) if entrypoint.words is not None
                 else ("/bin/sh", "-c", entrypoint.shell or ""))
        result.image = ImageCommand(words, tuple((key, entry.value) for key, entry in stage.env.items()))
    return result

