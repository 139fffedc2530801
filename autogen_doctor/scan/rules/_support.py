"""Shared helpers for the Python rules (not a rule: modules starting with `_` are skipped)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from autogen_doctor.scan.entrypoints import (AIOHTTP, CELERY, CHAINLIT, DJANGO, FASTAPI, FLASK, GRADIO,
                                             STARLETTE, STREAMLIT, EntryPoints, Reach)
from autogen_doctor.scan.facts import MODULE_BODY, Call, Expr, Function, ModuleFacts
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.flow import FlowModel, Step
from autogen_doctor.scan.project import Project
from autogen_doctor.scan.resolve import LOCAL, Resolver

if TYPE_CHECKING:
    from autogen_doctor.scan.deploy.envpaths import EnvPlacement


@dataclass
class Analysis:
    resolver: Resolver
    entry_points: EntryPoints
    flow: FlowModel

    def key(self, module: ModuleFacts) -> str:
        return self.resolver.key_of[id(module)]


def analysis(project: Project) -> Analysis:
    """Resolution and entry points, computed once per project and shared by every rule."""
    if project.analysis is None:
        resolver = Resolver(project.modules)
        entry_points = EntryPoints(resolver)
        project.analysis = Analysis(resolver, entry_points, FlowModel(resolver, entry_points))
    return project.analysis


def where(module: ModuleFacts, line: int) -> str:
    return f"{module.display or module.path}:{line}"


def via(reach: Reach) -> str:
    """` (FastAPI route POST /chat -> save_turn)` style description of a request path."""
    chain = [part for part in reach.chain if part != MODULE_BODY]
    description = reach.entry.description
    if len(chain) > 1:
        description += " -> " + " -> ".join(chain[1:])
    return description


_STORE_FIX = {
    FASTAPI: "keep it in a shared store keyed by the session id (Redis: `await redis.rpush(f\"chat:{session_id}\", "
             "json.dumps(message))` to add, `lrange` to read; or a database table) and load it at the start of each "
             "request; every uvicorn worker and replica has its own copy of process memory",
    STARLETTE: "keep it in a shared store keyed by the session id (Redis list per session with RPUSH/LRANGE, or a "
               "database table) and load it in each request; each worker process has its own copy",
    FLASK: "keep it in Redis or the database keyed by the session id (e.g. `redis.rpush(f\"chat:{sid}\", ...)`), "
           "not in process memory; each gunicorn worker has its own copy",
    DJANGO: "keep it in the database (a model with one row per message) or a Redis-backed cache keyed by the "
            "session id; each gunicorn/uwsgi worker has its own copy of module state",
    AIOHTTP: "keep it in Redis (aioredis RPUSH/LRANGE per session) or a database, not in process memory; each "
             "worker process and replica has its own copy",
    CELERY: "Celery tasks run in many worker processes: pass the state in the task arguments or keep it in "
            "Redis/the database keyed by the session id",
    CHAINLIT: "Chainlit: keep per-conversation data in `cl.user_session` for the live session and persist history "
              "with a data layer (database) so a restart or another replica can resume it (`on_chat_resume`)",
    STREAMLIT: "Streamlit: per-user state belongs in `st.session_state`, persistent history in a database; objects "
               "in imported modules are shared by every user of the process",
    GRADIO: "Gradio: keep per-user state in `gr.State` or a database keyed by the session, not in a module-level "
            "object shared by every user of the process",
}


def store_fix(framework: str) -> str:
    return _STORE_FIX.get(framework, _STORE_FIX[FASTAPI])


def make_finding(code: str, severity: Severity, module: ModuleFacts, line: int, col: int, message: str,
                 *, symbol: str | None, fix: str, end_line: int | None = None, end_col: int | None = None,
                 trace: tuple[Step, ...] = ()) -> Finding:
    return Finding(code=code, severity=severity, path=module.display or module.path, line=line, column=col,
                   message=message, end_line=end_line, end_column=end_col, symbol=symbol, fix=fix, trace=tuple(trace))


def request_trace(state: Analysis, reach: Reach, module: ModuleFacts, line: int, note: str,
                  *more: Step) -> tuple[Step, ...]:
    """Witness from the entry point down to `module:line` (the state), then `more`."""
    return state.flow.request_trace(reach, state.flow.step(module, line, note), *more)


def local_assign_values(function: Function, name: str) -> list[Expr]:
    return [assign.value for assign in function.assigns if name in assign.targets]


def calls_on(function: Function, name: str) -> list[Call]:
    """Calls whose receiver is exactly `name` (e.g. `team.run`, `team.load_state`)."""
    return [call for call in function.calls if call.receiver == name]


def is_local(function: Function, text: str) -> bool:
    return function.is_local(text.split(".", 1)[0].split("[", 1)[0])


def canonical_is_local(canonical: str) -> bool:
    return canonical.startswith(LOCAL)


def deployed_placement(state: Analysis, project: Project, module: ModuleFacts, function: Function | None,
                       paths) -> "EnvPlacement | None":
    """Where the deployment puts the first of `paths` (path expressions) that is read from an
    environment variable a Kubernetes container or compose service sets; None when none is."""
    from autogen_doctor.scan.deploy.envpaths import env_placement, has_env
    from autogen_doctor.scan.flow.paths import env_names

    if not has_env(project):
        return None
    for path in paths:
        names = env_names(state.resolver, module, function, path, arguments=state.flow.argument_values)
        placement = env_placement(project, names) if names else None
        if placement is not None:
            return placement
    return None
