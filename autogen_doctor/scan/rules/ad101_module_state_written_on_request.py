"""Module-level container written on a request path.

## What it does
Finds a module-level `dict`, `list`, `set`, `defaultdict`, `OrderedDict`, `deque`, `Counter` or
cachetools cache (`TTLCache`, `LRUCache`, ...) that a request handler or task writes to, directly,
through helper functions, or from another module (`from .state import sessions`).

## Why is this bad?
A module-level object lives in one process. With `uvicorn --workers 4`, gunicorn workers,
Kubernetes replicas or Celery workers, each process has its own copy: a conversation stored
by one worker is missing when the next turn lands on another, and it is gone after a restart.
The service appears to work on a laptop (one process) and forgets users in production.

## Example
```python
sessions: dict[str, list] = {}

@app.post("/chat")
async def chat(req: ChatRequest):
    history = sessions.setdefault(req.session_id, [])
    history.append({"role": "user", "content": req.message})
```

## Use instead
```python
@app.post("/chat")
async def chat(req: ChatRequest):
    key = f"chat:{req.session_id}"
    await redis.rpush(key, json.dumps({"role": "user", "content": req.message}))
    history = [json.loads(item) for item in await redis.lrange(key, 0, -1)]
```
`os.environ[...] = value` with a value the handler was given (a user's model or API key) is
reported too: the environment is process state.
Registries filled at import time (decorators, the module body), read-only configuration and
containers of per-process things (clients, locks, metrics) are not reported.
"""

from __future__ import annotations

from typing import Iterator

from autogen_doctor.scan.entrypoints import STREAMLIT
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.flow.objects import container_kind, is_per_process_name
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.rules._support import analysis, make_finding, request_trace, store_fix, via, where


@rule(code="AD101", name="module-state-written-on-request", severity=Severity.WARNING,
      summary="Module-level container written on a request path (per-process conversation state)")
def check(project) -> Iterator[Finding]:
    state = analysis(project)
    resolver = state.resolver
    for ref, module, function, reach in state.entry_points.request_functions():
        reported: set[tuple[str, int]] = set()
        for mutation in function.mutations:
            if mutation.how == "attribute assignment":
                continue
            head = mutation.base.split(".", 1)[0]
            if head in ("self", "cls") or function.is_local(head):
                continue
            if resolver.canonical(module, function, mutation.base) == "os.environ":
                written = [assign.value for assign in function.assigns if assign.line == mutation.line]
                # A user's own value (a parameter) put into the environment, not a default or config
                if not any(value.names & set(function.params) for value in written):
                    continue
                if ("os.environ", 0) not in reported:  # once per function
                    reported.add(("os.environ", 0))
                    yield _environ_finding(state, module, function, mutation, reach)
                continue
            found = _module_container(resolver, module, function, mutation.base, reach)
            if found is None:
                continue
            definition, kind = found
            if (definition.name, mutation.line) in reported:
                continue
            reported.add((definition.name, mutation.line))
            yield _finding(module, mutation.line, mutation.col, mutation.end_line, mutation.end_col, definition,
                           kind, reach, f"with {mutation.how}", state)
        # A container handed to a helper that writes into that parameter: `remember(sessions, sid, m)`.
        for call in function.calls:
            if not call.args and not call.kwargs:
                continue
            target = resolver.call_target(module, function, call.func)
            if target is None:
                continue
            helper_module, helper = resolver.function(target)
            written = {m.base for m in helper.mutations if m.how != "attribute assignment" and m.base in helper.params}
            if not written:
                continue
            offset = 1 if helper.class_name and helper.params[:1] in (("self",), ("cls",)) else 0
            pairs = [(helper.params[index + offset], argument) for index, argument in enumerate(call.args)
                     if index + offset < len(helper.params)] + list(call.kwargs)
            for parameter, argument in pairs:
                if parameter not in written or argument.kind not in ("name", "attr"):
                    continue
                if function.is_local(argument.dotted.split(".", 1)[0]):
                    continue
                found = _module_container(resolver, module, function, argument.dotted, reach)
                if found is None:
                    continue
                definition, kind = found
                if (definition.name, call.line) in reported:
                    continue
                reported.add((definition.name, call.line))
                yield _finding(module, call.line, call.col, call.end_line, call.end_col, definition, kind, reach,
                               f"by `{helper.qualname}`, which writes into its parameter `{parameter}`", state)


def _environ_finding(state, module, function, mutation, reach) -> Finding:
    return make_finding(
        "AD101", Severity.WARNING, module, mutation.line, mutation.col,
        f"`os.environ` is written on a request path ({via(reach)}); the process environment is one per worker, "
        f"shared by every user of that process and different in the next one",
        symbol="os.environ", end_line=mutation.end_line, end_col=mutation.end_col,
        trace=request_trace(state, reach, module, mutation.line, "writes `os.environ`"),
        fix="Pass per-user settings (model, keys) along with the request or keep them in the user's session, "
            "not in the process environment.")


def _module_container(resolver, module, function, dotted: str, reach):
    """(definition, kind) when `dotted` names a module-level container that is state, else None."""
    definition = resolver.definition(resolver.canonical(module, function, dotted), module)
    if definition is None or definition.rest or definition.assign is None:
        return None
    kind = container_kind(resolver, definition.module, definition.assign.value)
    if kind is None or is_per_process_name(definition.name):
        return None
    if reach.entry.framework == STREAMLIT and definition.module is module:
        return None  # a Streamlit script's own globals are rebuilt on every rerun
    return definition, kind


def _finding(module, line, col, end_line, end_col, definition, kind, reach, how, state) -> Finding:
    return make_finding(
                "AD101", Severity.WARNING, module, line, col,
                f"module-level {kind} `{definition.name}` ({where(definition.module, definition.assign.line)}) "
                f"is written on a request path ({via(reach)}) {how}; each worker process and "
                f"replica keeps its own copy",
                symbol=definition.name, end_line=end_line, end_col=end_col,
                trace=request_trace(state, reach, module, line, f"writes `{definition.name}` {how}",
                                    state.flow.step(definition.module, definition.assign.line,
                                                    f"`{definition.name}` lives in process memory")),
                fix=f"Move `{definition.name}` out of process memory: {store_fix(reach.entry.framework)}.")
