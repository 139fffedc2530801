"""supervisord configuration: `[program:x]` sections with `command=`, `numprocs=`, `environment=`.

Read as INI text by hand (so every value keeps its line number): `;` and `#` start comment lines,
` ;` starts an inline comment, indented lines continue the previous value. `%(ENV_X)s` expansions
are unknown. A `.conf` file with no `[program:...]`, `[fcgi-program:...]` or `[supervisord]`
section is not a supervisor file (nginx keeps its confs in `conf.d/` too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from autogen_doctor.scan.deploy.commands import EnvVar, launches_in_shell, resolve_count, scope_facts
from autogen_doctor.scan.deploy.facts import (
    OTHER,
    SUPERVISOR,
    SUPERVISOR_NUMPROCS,
    DeployFile,
    LineIndex,
    ScalingFact,
)

_SECTION = re.compile(r"^\[(?P<name>[^\]]+)\]")
_SETTING = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]\s*(?P<value>.*)$")
_ENVIRONMENT_ITEM = re.compile(r"""([A-Za-z_][A-Za-z0-9_]*)\s*=\s*("[^"]*"|'[^']*'|[^,]*)""")


@dataclass
class _Value:
    text: str
    start: int  # offset of the value's first character
    end: int


@dataclass
class _Section:
    name: str
    settings: dict[str, _Value] = field(default_factory=dict)


def _sections(text: str) -> list[_Section]:
    sections: list[_Section] = []
    current: _Section | None = None
    last_key: str | None = None
    offset = 0
    for raw in text.splitlines(keepends=True):
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        line_offset = offset
        offset += len(raw)
        if not stripped or stripped[0] in ";#":
            continue
        if line[0] in " \t" and current is not None and last_key is not None:  # continuation
            value = current.settings[last_key]
            value.text += "\n" + _strip_comment(stripped)
            value.end = line_offset + len(line)
            continue
        section = _SECTION.match(stripped)
        if section:
            current = _Section(section.group("name").strip())
            sections.append(current)
            last_key = None
            continue
        setting = _SETTING.match(stripped)
        if setting and current is not None:
            key = setting.group("key").lower()
            value_start = line_offset + (len(line) - len(line.lstrip())) + setting.start("value")
            current.settings[key] = _Value(_strip_comment(setting.group("value")), value_start,
                                           line_offset + len(line))
            last_key = key
    return sections


def _strip_comment(value: str) -> str:
    match = re.search(r"\s;", value)
    return (value[:match.start()] if match else value).strip()


def _environment(value: _Value | None, text: str) -> dict[str, EnvVar]:
    env: dict[str, EnvVar] = {}
    if value is None:
        return env
    for match in _ENVIRONMENT_ITEM.finditer(value.text):
        located = text.find(match.group(1), value.start, value.end)
        env[match.group(1)] = EnvVar(match.group(2).strip().strip("\"'"), located if located >= 0 else value.start)
    return env


def parse_supervisor(text: str, display_path: str) -> DeployFile:
    """Scaling facts of a supervisord configuration file."""
    sections = _sections(text)
    programs = [section for section in sections
                if section.name.startswith(("program:", "fcgi-program:"))]
    if not programs and not any(section.name == "supervisord" for section in sections):
        return DeployFile(kind=OTHER, display_path=display_path, note="no supervisor program sections")
    result = DeployFile(kind=SUPERVISOR, display_path=display_path)
    lines = LineIndex(text)
    global_env = {}
    for section in sections:
        if section.name == "supervisord":
            global_env = _environment(section.settings.get("environment"), text)
    for section in programs:
        name = section.name.split(":", 1)[1].strip()
        owner = f"supervisor program '{name}'"
        numprocs = section.settings.get("numprocs")
        if numprocs is not None:
            count = resolve_count(numprocs.text, {})
            if count is not None and count.several:
                result.scaling.append(ScalingFact(SUPERVISOR_NUMPROCS, count, f"numprocs={numprocs.text}", owner,
                                                  name, lines.position(numprocs.start, len(numprocs.text))))
        own_env = _environment(section.settings.get("environment"), text)
        env = {**global_env, **own_env}
        command = section.settings.get("command")
        launches = launches_in_shell(command.text, text, command.start, command.end, env) if command else []
        result.scaling.extend(scope_facts(launches, env, own_env.keys(), owner=owner, symbol=name, lines=lines))
    return result
