"""HTTP calls some services need before a WebSocket can open, run by the presets that name them.

`studio` (AutoGen Studio): once per probe session, read the user's first team (GET /api/teams/)
and create a Studio session (POST /api/sessions/); for every connection, create a run
(POST /api/runs/), whose id goes into the URL as {run}; the team's component JSON goes into the
start frame as {team}. With no auth configured Studio's user is `guestuser@gmail.com`.
`fastagency`: once per probe session, read the first workflow name from /fastagency/discovery
into {workflow}. Every call goes to the probed host only, without redirects.

Behind a balancer, the set-up calls and the connection may reach different backends. Each
set-up answer's backend (the same identity headers as a reply's) is kept under SETUP_BACKEND,
so a refusal can name both sides: AutoGen Studio pods with their own databases refuse a run
made on another pod ("set-up state is not shared between backends").
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from autogen_doctor.probe.identity import identify
from autogen_doctor.probe.options import ProbeOptions
from autogen_doctor.probe.transcript import Backend
from autogen_doctor.probe.ws.channel import ChannelError
from autogen_doctor.textsafe import escape_text

STUDIO_USER = "guestuser@gmail.com"
# The key of the values below naming the backend that answered the last set-up call (not a placeholder).
SETUP_BACKEND = "setup_backend"


def split_note(setup_backend: str | None, backend: Backend) -> str:
    """Empty, unless a set-up answer and a later answer came from different known backends: then
    a note saying why that matters (what one backend created, the other does not know)."""
    if not setup_backend or not backend.known or backend.label == setup_backend:
        return ""
    return (f" (the set-up call was answered by {escape_text(setup_backend)}, this by "
            f"{escape_text(backend.label)}: set-up state is not shared between backends)")


class Setup:
    """Values for templates, per probe session and per connection."""

    def __init__(self, base: str, options: ProbeOptions) -> None:
        self.base = base.rstrip("/")
        self.options = options

    async def for_session(self, client: httpx.AsyncClient, session: str) -> dict[str, str]:
        return {}

    async def for_connection(self, client: httpx.AsyncClient, session_values: dict[str, str]) -> dict[str, str]:
        return {}

    def backend_of(self, headers: httpx.Headers | list[tuple[str, str]]) -> Backend:
        """The backend named by a set-up answer's or a handshake's headers (as a reply's is)."""
        backend, _ = identify(dict(headers), [], pid_header=self.options.pid_header,
                              pod_header=self.options.pod_header)
        return backend

    async def _call(self, client: httpx.AsyncClient, method: str, path: str, body: Any = None, *,
                    values: dict[str, str] | None = None) -> Any:
        """Call the probed host; with `values`, note in them the backend that answered, and name
        the split when an earlier set-up call was answered by another backend and this one fails."""
        url = self.base + path
        try:
            response = await client.request(method, url, json=body)
        except httpx.HTTPError as error:
            reason = escape_text(error) if str(error) else type(error).__name__
            raise ChannelError(f"set-up call {method} {path} failed: {reason}", retryable=True,
                               unreachable=True) from None
        backend = self.backend_of(response.headers)
        if response.status_code >= 300:
            split = split_note(values.get(SETUP_BACKEND), backend) if values is not None else ""
            raise ChannelError(f"set-up call {method} {path} answered HTTP {response.status_code}{split}",
                               retryable=response.status_code >= 500)
        if values is not None and backend.known:
            values[SETUP_BACKEND] = backend.label
        try:
            return response.json()
        except ValueError:
            raise ChannelError(f"set-up call {method} {path} did not answer JSON") from None


def _data(document: Any, path: str) -> Any:
    if isinstance(document, dict) and document.get("status") is False:
        raise ChannelError(f"set-up call {path} refused: {escape_text(document.get('message', '?'))}")
    return document.get("data") if isinstance(document, dict) else None


class StudioSetup(Setup):
    async def for_session(self, client: httpx.AsyncClient, session: str) -> dict[str, str]:
        teams = _data(await self._call(client, "GET", f"/api/teams/?user_id={STUDIO_USER}"), "/api/teams/")
        if not isinstance(teams, list) or not teams or not isinstance(teams[0], dict):
            raise ChannelError(f"AutoGen Studio has no team for {STUDIO_USER}: create one first")
        team = teams[0]
        values: dict[str, str] = {}
        created = _data(await self._call(client, "POST", "/api/sessions/",
                                         {"name": f"autogen-doctor {session}", "team_id": team.get("id"),
                                          "user_id": STUDIO_USER}, values=values), "/api/sessions/")
        if not isinstance(created, dict) or "id" not in created:
            raise ChannelError("AutoGen Studio did not return a session id")
        return {**values, "team": json.dumps(team.get("component") or {}), "studio_session": str(created["id"])}

    async def for_connection(self, client: httpx.AsyncClient, session_values: dict[str, str]) -> dict[str, str]:
        values = {key: value for key, value in session_values.items() if key == SETUP_BACKEND}
        run = _data(await self._call(client, "POST", "/api/runs/",
                                     {"session_id": int(session_values["studio_session"]), "user_id": STUDIO_USER},
                                     values=values), "/api/runs/")
        if not isinstance(run, dict) or "run_id" not in run:
            raise ChannelError("AutoGen Studio did not return a run id")
        return {**values, "run": str(run["run_id"])}


class FastAgencySetup(Setup):
    async def for_session(self, client: httpx.AsyncClient, session: str) -> dict[str, str]:
        workflows = await self._call(client, "GET", "/fastagency/discovery")
        if not isinstance(workflows, list) or not workflows or not isinstance(workflows[0], dict):
            raise ChannelError("FastAgency lists no workflow at /fastagency/discovery")
        return {"workflow": str(workflows[0].get("name", ""))}


def _base(url: str, marker: str) -> str:
    parts = urlsplit(url)
    scheme = "https" if parts.scheme.lower() == "wss" else "http"
    path = parts.path
    prefix = path[: path.find(marker)] if marker in path else ""
    return urlunsplit((scheme, parts.netloc, prefix, "", ""))


def make_setup(kind: str, url: str, options: ProbeOptions) -> Setup:
    """The set-up a preset asked for (`studio`, `fastagency`)."""
    if kind == "studio":
        return StudioSetup(_base(url, "/api/ws"), options)
    if kind == "fastagency":
        return FastAgencySetup(_base(url, "/fastagency"), options)
    raise ValueError(kind)
