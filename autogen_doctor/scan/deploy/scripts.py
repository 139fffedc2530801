"""Container start scripts (`docker-entrypoint.sh`, `entrypoint.sh`, `start.sh`, ...).

Images often start the server from such a script (`exec gunicorn -w 4 app:app`) rather than from
the Dockerfile's CMD. The script is read as shell text, never run: each command line is split
with `shlex`, `export`ed variables are followed, `if/then` branches are all read.
"""

from __future__ import annotations

from autogen_doctor.scan.deploy.commands import launch_facts, launches_in_shell
from autogen_doctor.scan.deploy.facts import SCRIPT, DeployFile, LineIndex

# The name test lives with the other name tests: discovery needs it without this parser.
from autogen_doctor.scan.deploy.names import START_SCRIPT_NAME, is_start_script  # noqa: F401


def parse_start_script(text: str, display_path: str) -> DeployFile:
    """Scaling facts of a shell script that starts the service."""
    result = DeployFile(kind=SCRIPT, display_path=display_path)
    launches = launches_in_shell(text, text, 0, len(text), {})
    result.scaling.extend(launch_facts(launches, owner="start script", symbol=None, lines=LineIndex(text)))
    return result
