"""Procfile (Heroku, Dokku, honcho, foreman): one `type: command` per line.

Each process type's command is read like a shell line. The number of dynos per type is set
outside the file (`heroku ps:scale`), so only worker counts written in the command are seen.
"""

from __future__ import annotations

import re

from autogen_doctor.scan.deploy.commands import launches_in_shell, scope_facts
from autogen_doctor.scan.deploy.facts import PROCFILE, DeployFile, LineIndex

_PROCESS = re.compile(r"^(?P<name>[A-Za-z0-9_-]+)[ \t]*:[ \t]*(?P<command>\S.*)$")


def parse_procfile(text: str, display_path: str) -> DeployFile:
    """Scaling facts of every process type in a Procfile."""
    result = DeployFile(kind=PROCFILE, display_path=display_path)
    lines = LineIndex(text)
    offset = 0
    for line in text.splitlines(keepends=True):
        match = _PROCESS.match(line.rstrip("\r\n"))
        if match and not line.lstrip().startswith("#"):
            name = match.group("name")
            start = offset + match.start("command")
            end = offset + len(line.rstrip("\r\n"))
            launches = launches_in_shell(match.group("command"), text, start, end, {})
            result.scaling.extend(scope_facts(launches, {}, (), owner=f"Procfile process '{name}'",
                                              symbol=name, lines=lines))
        offset += len(line)
    return result
