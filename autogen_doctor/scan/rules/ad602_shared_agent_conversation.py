"""One agent or team, and so one conversation, for every user of the process.

## What it does
Finds an AutoGen agent, team or group chat that every request shares and whose own history
the requests extend:
- made at module level and run on a request path (`assistant = AssistantAgent(...)` then
  `await assistant.run(task=req.message)` in a route);
- returned by a cached factory that takes no argument to tell conversations apart
  (`@st.cache_resource def get_agent(): return AssistantAgent(...)`, `@lru_cache`);
- rebound in a `global` by a request (`global assistant; assistant = AssistantAgent(...)`);
- a module global named as a conversation's history (`message_history`, `chat_history`,
  `conversation`) that a request replaces whole (`global message_history; message_history =
  history`), with no key in it from the request: one history for everybody.

The same uses that cannot mix conversations are skipped: a classic `generate_reply(messages=...)`,
a classic `initiate_chat` with a partner built for this request, and a Streamlit script's own
globals (see AD105). AD105/AD104/AD103 report the same objects as process-local state (AD1);
this rule reports the other half: users see each other's conversation. A module-level classic
pair run with `initiate_chat` and the default `clear_history=True` is reported by this rule
alone: each run clears the history, so nothing outlives the request (not AD1), but concurrent
requests chat through the same message lists and read each other's turns.

A `global` rebound to an agent or team by a request is reported only when some request path
reads that global (a variable only written, e.g. the last team kept for a stop button, or only
read as a function's own local/`nonlocal`, is nobody's conversation).

## Why is this bad?
The agent's model context (AgentChat) or message lists (classic) hold every turn it has seen.
With one agent for everybody, user B's question is answered in the context of user A's chat,
A's words can come back in B's answers, and both lose track of their own conversation. It is
the static side of the probe's `cross-session-leak` cause: a privacy breach even with one
worker, hence an error.

## Example
```python
@st.cache_resource
def get_agent():
    return AssistantAgent("assistant", model_client=client)

agent = get_agent()
if prompt := st.chat_input():
    result = asyncio.run(agent.run(task=prompt))
```

## Use instead
```python
@st.cache_resource
def get_client():
    return OpenAIChatCompletionClient(model="gpt-4o")

if "agent" not in st.session_state:
    st.session_state.agent = AssistantAgent("assistant", model_client=get_client())
if prompt := st.chat_input():
    result = asyncio.run(st.session_state.agent.run(task=prompt))
```
Services: build the agent per request and restore the session's own state
(`await agent.load_state(saved[session_id])`).
"""

from __future__ import annotations

import re
from typing import Iterator

from autogen_doctor.scan import autogen_api
from autogen_doctor.scan.facts import MODULE_BODY
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.flow.objects import (expr_autogen, is_cached_factory, returns_autogen,
                                              returns_autogen_tuple)
from autogen_doctor.scan.flow.shared import global_read_elsewhere, keeps_conversation, shared_uses
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.rules._support import analysis, make_finding, via

_CONVERSATIONAL = frozenset({autogen_api.AGENT, autogen_api.TEAM})
_FIX = ("Give every conversation its own agent: build it per request (or keep it per session, e.g. "
        "`st.session_state`, `cl.user_session`) and restore that session's state from a store keyed by the "
        "session id (`await agent.load_state(saved)`); share only the model client.")


# A module global named as a conversation's history (`message_history`, `chat_history`,
# `conversation`, `messages`): rebound whole by a request, it is one history for everybody.
_HISTORY_GLOBAL = re.compile(r"(^|_)(history|histories|messages|msgs|conversations?|convo|transcript|chat_log|"
                             r"dialog|dialogue)(_|$)", re.IGNORECASE)
_HISTORY_FIX = ("Keep each conversation's history under its own key (a session or conversation id from the request) "
                "in Redis or the database, and load and save only that conversation's messages.")


def _an(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _runs_it(call, name: str) -> bool:
    """The object takes this user's turn: it is run, or given to a run (as partner or member)."""
    if call.method in autogen_api.RUN_METHODS or call.method in autogen_api.RUN_FUNCTIONS:
        return True
    # a team built around it for this request (AgentChat agents keep their own model context)
    return call.method[:1].isupper()


@rule(code="AD602", name="shared-agent-conversation", severity=Severity.ERROR,
      summary="One agent or team serves every user: their turns land in one shared conversation")
def check(project) -> Iterator[Finding]:
    state = analysis(project)
    resolver = state.resolver
    reported: set[tuple[str, int]] = set()
    # Module-level agents and teams run on a request path.
    uses: dict[tuple[str, int], list] = {}
    for use in shared_uses(state, _CONVERSATIONAL):
        module, function, reach, call, definition, category, class_name = use
        if not _runs_it(call, definition.name) or \
                not keeps_conversation(state, module, function, reach, call, definition, class_name):
            continue
        uses.setdefault((module.path, call.line), []).append(use)
    for _, found in sorted(uses.items()):
        # One conversation per run: `user_proxy.initiate_chat(manager)` shares the manager's chat.
        found.sort(key=lambda use: use[5] != autogen_api.TEAM)
        module, function, reach, call, definition, category, class_name = found[0]
        line = definition.assign.line
        if (definition.module.path, line) in reported:
            continue
        reported.add((definition.module.path, line))
        yield make_finding(
            "AD602", Severity.ERROR, definition.module, line, definition.assign.col,
            f"module-level {category} `{definition.name}` (`{class_name}`) is run for every user ({via(reach)}, line "
            f"{call.line}); all conversations go into its one history, so users see each other's turns",
            symbol=definition.name, fix=_FIX,
            trace=state.flow.request_trace(
                reach, state.flow.step(module, call.line, f"runs `{definition.name}` with this user's turn"),
                state.flow.step(definition.module, line, f"`{definition.name}` is one object for every user")))
    # Cached factories with nothing to tell conversations apart, called on a request path.
    for ref, module, function, reach in state.entry_points.request_functions():
        for call in function.calls:
            target = resolver.call_target(module, function, call.func)
            if target is None:
                continue
            factory_module, factory = resolver.function(target)
            if factory.params or not is_cached_factory(resolver, factory_module, factory):
                continue
            returned = returns_autogen(resolver, factory_module, factory)
            if returned is None or returned[0] not in _CONVERSATIONAL:
                continue
            if (factory_module.path, factory.line) in reported:
                continue
            reported.add((factory_module.path, factory.line))
            yield make_finding(
                "AD602", Severity.ERROR, factory_module, factory.line, factory.col,
                f"`{factory.qualname}()` is cached and returns one {returned[0]} (`{returned[1]}`) for every caller "
                f"({via(reach)}); all conversations go into its one history, so users see each other's turns",
                symbol=factory.qualname, fix=_FIX,
                trace=state.flow.request_trace(
                    reach, state.flow.step(module, call.line, f"gets the shared {returned[0]} from `{call.func}()`"),
                    state.flow.step(factory_module, factory.line, "cached: built once, returned to every caller")))
        # `global assistant; assistant = AssistantAgent(...)` in a request.
        if function.qualname == MODULE_BODY:
            continue
        for write in function.global_writes:
            if write.lazy_init or (module.path, write.line) in reported:
                continue
            found = None
            for assign in function.assigns:
                if assign.line != write.line or write.name not in assign.targets:
                    continue
                if len(assign.targets) == 1:
                    found = expr_autogen(resolver, module, function, assign.value)
                elif assign.value.kind == "call":  # `assistant, proxy = initialize_agents(...)`
                    target = resolver.call_target(module, function, assign.value.dotted)
                    if target is not None:
                        pair = returns_autogen_tuple(resolver, *resolver.function(target))
                        index = assign.targets.index(write.name)
                        found = pair[index] if index < len(pair) else None
                break
            history = found is None and _HISTORY_GLOBAL.search(write.name) is not None and \
                any(write.name in assign.targets and assign.line == write.line for assign in function.assigns)
            if not history and (found is None or found[0] not in _CONVERSATIONAL):
                continue
            if not global_read_elsewhere(state, module, function, write.name):
                continue  # kept only for later writes (a stop button's "last team"): nobody talks to it
            reported.add((module.path, write.line))
            if history:
                message = (f"`global {write.name}` holds the conversation and a request replaces it whole ({via(reach)}); "
                           f"no request value says whose conversation it is, so every user continues one history")
            else:
                message = (f"`global {write.name}` is set to {_an(found[0])} (`{found[1]}`) by a request ({via(reach)}); "
                           f"every user then talks to that one object and its one history")
            yield make_finding(
                "AD602", Severity.ERROR, module, write.line, write.col, message, symbol=write.name,
                fix=_HISTORY_FIX if history else _FIX,
                trace=state.flow.request_trace(reach, state.flow.step(module, write.line,
                                                                      f"rebinds global `{write.name}` for everybody")))
