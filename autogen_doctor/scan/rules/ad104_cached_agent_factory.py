"""Cached factory returning AutoGen agents, teams or group chats.

## What it does
Finds functions decorated with `functools.lru_cache`, `functools.cache`, `cachetools.cached`
or `st.cache_resource` that return an AutoGen agent, team, group chat, runtime or memory
(classic `autogen`/`ag2` or `autogen_agentchat`), directly or through another factory.

## Why is this bad?
The cache keeps the object in process memory and hands the same instance to every caller. An
agent or team accumulates conversation state, so one user's turns land in the object another
user gets back (`st.cache_resource` is shared by every Streamlit session), and each worker or
replica has a different object with a different history.

## Example
```python
@functools.lru_cache
def get_team(session_id: str) -> RoundRobinGroupChat:
    return RoundRobinGroupChat([AssistantAgent("helper", model_client=client)])
```

## Use instead
```python
async def get_team(session_id: str) -> RoundRobinGroupChat:
    team = RoundRobinGroupChat([AssistantAgent("helper", model_client=client)])
    saved = await redis.get(f"team:{session_id}")
    if saved:
        await team.load_state(json.loads(saved))
    return team  # after the run: await redis.set(key, json.dumps(await team.save_state()))
```
Cache the model client (stateless), not the agent.
"""

from __future__ import annotations

from typing import Iterator

from autogen_doctor.scan.facts import MODULE_BODY
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.flow.objects import returns_autogen
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.rules._support import analysis, make_finding

_CACHING = frozenset({"functools.lru_cache", "functools.cache", "streamlit.cache_resource",
                      "streamlit.experimental_singleton", "cachetools.cached", "async_lru.alru_cache",
                      "functools.cached_property"})


@rule(code="AD104", name="cached-agent-factory", severity=Severity.WARNING,
      summary="lru_cache / cache / st.cache_resource keeps AutoGen agents or teams in process memory")
def check(project) -> Iterator[Finding]:
    state = analysis(project)
    resolver = state.resolver
    for key, module in project.modules.items():
        for qualname, function in module.functions.items():
            if qualname == MODULE_BODY or not function.decorators:
                continue
            parent = module.functions.get(function.parent) if function.parent else None
            cache_name = None
            for decorator in function.decorators:
                canonical = resolver.canonical(module, parent, decorator.dotted)
                if canonical in _CACHING:
                    cache_name = decorator.dotted
                    break
            if cache_name is None:
                continue
            returned = returns_autogen(resolver, module, function)
            if returned is None:
                continue
            category, class_name = returned
            streamlit = "cache_resource" in cache_name or "singleton" in cache_name
            fix = ("Keep only the model client in `st.cache_resource`; build the agent per session and keep "
                   "its state in `st.session_state` (and a database for history that must survive restarts)."
                   if streamlit else
                   "Cache the model client, not the agent: build the agent/team per request and restore its "
                   "history from a shared store (`await team.load_state(saved)`; save with `await team.save_state()`).")
            yield make_finding(
                "AD104", Severity.WARNING, module, function.line, function.col,
                f"`{function.qualname}` is cached with `@{cache_name}` and returns {'an' if category[:1] in 'aeiou' else 'a'} {category} "
                f"(`{class_name}`); the cached object and its conversation state are shared by every caller "
                f"in the process and differ between processes",
                symbol=function.qualname, fix=fix)
