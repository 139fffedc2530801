"""Shared helpers for the Python rules (not a rule: modules starting with `_` are skipped)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from autogen_doctor.scan import autogen_api
from autogen_doctor.scan.entrypoints import (AIOHTTP, CELERY, CHAINLIT, DJANGO, FASTAPI, FLASK, GRADIO,
                                             STARLETTE, STREAMLIT, EntryPoints, Reach)
from autogen_doctor.scan.facts import MODULE_BODY, Call, Expr, Function, ModuleFacts
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.project import Project
from autogen_doctor.scan.resolve import LOCAL, Resolver


@dataclass
class Analysis:
    resolver: Resolver
    entry_points: EntryPoints

    def key(self, module: ModuleFacts) -> str:
        return self.resolver.key_of[id(module)]


def analysis(project: Project) -> Analysis:
    """Resolution and entry points, computed once per project and shared by every rule."""
    if project.analysis is None:
        resolver = Resolver(project.modules)
        project.analysis = Analysis(resolver, EntryPoints(resolver))
    return project.analysis


CONTAINER_CALLS = frozenset({
    "builtins.dict", "builtins.list", "builtins.set", "collections.defaultdict", "collections.OrderedDict",
    "collections.deque", "collections.Counter", "collections.ChainMap", "weakref.WeakValueDictionary",
    "weakref.WeakKeyDictionary", "typing.DefaultDict", "collections.UserDict", "collections.UserList",
})
_CACHE_CLASS = re.compile(r"^(cachetools(\.\w+)*\.(TTLCache|LRUCache|LFUCache|FIFOCache|RRCache|TLRUCache|Cache)"
                          r"|expiringdict\.ExpiringDict|pylru\.lrucache|lru\.LRU)$")
# Process-local containers of things that are meant to be per process (clients, locks, metrics).
_PER_PROCESS_NAMES = re.compile(
    r"(^|_)(clients?|connections?|conns?|engines?|pools?|locks?|semaphores?|tokenizers?|encoders?|"
    r"metrics|stats|counters?|loggers?|handlers?|registry|registries|routes|plugins|hooks)$", re.IGNORECASE)


def container_kind(resolver: Resolver, module: ModuleFacts, value: Expr) -> str | None:
    """'dict', 'list', 'set', 'defaultdict', 'TTLCache', ... when `value` builds a mutable container."""
    if value.kind in ("dict", "list", "set"):
        return value.kind
    if value.kind == "comp":
        return "collection"
    if value.kind == "call":
        canonical = resolver.canonical(module, None, value.dotted)
        if canonical in CONTAINER_CALLS or _CACHE_CLASS.match(canonical):
            return canonical.rsplit(".", 1)[-1]
    return None


def is_per_process_name(name: str) -> bool:
    return bool(_PER_PROCESS_NAMES.search(name))


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
                 *, symbol: str | None, fix: str, end_line: int | None = None, end_col: int | None = None) -> Finding:
    return Finding(code=code, severity=severity, path=module.display or module.path, line=line, column=col,
                   message=message, end_line=end_line, end_column=end_col, symbol=symbol, fix=fix)


# ---------- AutoGen objects built in a function ----------
def autogen_category(resolver: Resolver, module: ModuleFacts, function: Function | None, text: str) -> tuple[str, str] | None:
    """(category, class name) when `text` names an AutoGen class or a project subclass of one."""
    canonical = resolver.canonical(module, function, text)
    found = autogen_api.category(canonical)
    if found is not None:
        return found, autogen_api.class_name(canonical)
    definition = resolver.definition(canonical, module)
    if definition is not None and definition.klass is not None:
        for base in resolver.class_canonical_bases(definition.module, definition.klass):
            found = autogen_api.category(base)
            if found is not None:
                return found, definition.klass.name
    return None


def returns_autogen(resolver: Resolver, module: ModuleFacts, function: Function, depth: int = 0) -> tuple[str, str] | None:
    """What AutoGen object a factory function returns (directly, via a local, or via another factory)."""
    for value in function.returns:
        found = expr_autogen(resolver, module, function, value, depth)
        if found is not None:
            return found
    return None


def expr_autogen(resolver: Resolver, module: ModuleFacts, function: Function | None, value: Expr,
                 depth: int = 0) -> tuple[str, str] | None:
    if value.kind == "call":
        found = autogen_category(resolver, module, function, value.dotted)
        if found is not None:
            return found
        if value.dotted.endswith(".load_component"):
            return autogen_api.TEAM, "component"
        if function is not None and depth < 3:
            target = resolver.call_target(module, function, value.dotted)
            if target is not None:
                target_module, target_function = resolver.function(target)
                return returns_autogen(resolver, target_module, target_function, depth + 1)
    elif value.kind == "name" and function is not None:
        for assign in function.assigns:
            if value.dotted in assign.targets and assign.how in ("assign", "annotated") and assign.value.kind == "call":
                return expr_autogen(resolver, module, function, assign.value, depth)
    return None


def local_assign_values(function: Function, name: str) -> list[Expr]:
    return [assign.value for assign in function.assigns if name in assign.targets]


def calls_on(function: Function, name: str) -> list[Call]:
    """Calls whose receiver is exactly `name` (e.g. `team.run`, `team.load_state`)."""
    return [call for call in function.calls if call.receiver == name]


def is_local(function: Function, text: str) -> bool:
    return function.is_local(text.split(".", 1)[0].split("[", 1)[0])


def canonical_is_local(canonical: str) -> bool:
    return canonical.startswith(LOCAL)
