"""Agent, team or group chat built per request and run with no history restored.

## What it does
Finds a request handler or task (or a helper it calls) that builds an AutoGen agent, team,
group chat or group chat manager (classic `autogen`/`ag2` or `autogen_agentchat`) and runs it
without any earlier messages reaching it. The agent may be built right there, by a factory
(also one returning a `(user_proxy, manager)` pair), or by a project wrapper class whose methods
build agents on `self` (`GroupChat(messages=[])` in `__init__`) and run them (`workflow.run(msg)`).
A client-sent history counts only when it is passed whole: `messages[-1]` is the newest message
alone, and drops the rest. History counts as restored when it reaches the agent:
`await agent.load_state(saved)`, earlier messages passed as the task or as `messages=`,
`GroupChat(messages=history)`, a model context built with `initial_messages`, a memory,
`chat_messages=`, replay with `send(..., request_reply=False)`, `resume(messages=...)` or
`generate_reply(messages=history)`. When history was loaded from a store but never given to
the agent, the message says so.

Only a request path that is one turn of a longer conversation is reported: a conversation key in
its parameters or the request fields it reads (`session_id`, `thread_id`, `chat_id`, `user_id`,
...), a history concept (loaded history, a `history`/`messages` parameter, variable or body
field), a chat callback (Chainlit `@on_message`, a websocket handler, a Streamlit chat script), a
chat endpoint (`POST /chat`), or a loop that rebuilds and runs the agent every turn. A stateless
one-shot endpoint (classify, summarise, extract, a one-task demo) has nothing to restore: a
fresh agent per request is the right design there and stays silent.

## Why is this bad?
A freshly built agent knows nothing: every request starts a new conversation. Users see an
assistant that forgets what they said one message ago, on every worker, even with one process.

## Example
```python
@app.post("/chat")
async def chat(req: ChatRequest):
    history = await store.load(req.session_id)   # loaded ...
    agent = AssistantAgent("assistant", model_client=client)
    result = await agent.run(task=req.message)   # ... but never given to the agent
```

## Use instead
```python
@app.post("/chat")
async def chat(req: ChatRequest):
    agent = AssistantAgent("assistant", model_client=client)
    saved = await store.load_state(req.session_id)
    if saved:
        await agent.load_state(saved)
    result = await agent.run(task=req.message)
    await store.save_state(req.session_id, await agent.save_state())
```
Classic AutoGen: `GroupChat(agents, messages=history)` then `manager.resume(messages=history)`,
or `agent.generate_reply(messages=history)`.
"""

from __future__ import annotations

from typing import Iterator

from autogen_doctor.scan import autogen_api
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.flow import agents as _agent_flow
from autogen_doctor.scan.rules._support import request_trace, analysis, make_finding, via


def fix_for(var: str, classic: bool) -> str:
    if classic:
        return ("Restore the session's messages before running: keep them in a shared store keyed by session id and "
                "pass them back (`GroupChat(agents, messages=history)` + `manager.resume(messages=history)`, "
                "`ConversableAgent(..., chat_messages=...)`, or `generate_reply(messages=history)`); save new "
                "messages after the run.")
    return ("Restore state before running: `saved = await store.get(session_id)`; `if saved: await "
            f"{var}.load_state(json.loads(saved))`; after the run "
            f"`await store.set(session_id, json.dumps(await {var}.save_state()))`; or pass the stored messages as "
            "the task / `initial_messages=` of the model context.")


@rule(code="AD201", name="agent-not-rehydrated", severity=Severity.WARNING,
      summary="Agent, team or group chat built per request and run with no history restored")
def check(project) -> Iterator[Finding]:
    state = analysis(project)
    resolver = state.resolver
    for ref, module, function, reach, flow in _agent_flow.unrestored_request_runs(state):
        built = [item for item in flow.built if item.how != "component"]
        if not built:
            continue  # AD202 covers teams rebuilt from component config
        conversation = _agent_flow.conversation_evidence(resolver, reach, module, function, flow)
        if conversation is None:
            continue  # a one-shot endpoint: nothing earlier to restore, a fresh agent is right
        # Point at the team when there is one: that is what runs the conversation.
        first = next((item for item in built if item.how == "constructor" and
                      autogen_api.category(resolver.canonical(module, function, item.value.dotted)) == autogen_api.TEAM),
                     built[0])
        classic = any(resolver.canonical(module, function, item.value.dotted).split(".", 1)[0] in ("autogen", "ag2")
                      for item in built)
        inner_steps = []
        if first.wrapper is not None:
            wrapper = first.wrapper
            classic = classic or any(
                resolver.canonical(wrapper.module, method, assign.value.dotted).split(".", 1)[0] in ("autogen", "ag2")
                for method, assign in wrapper.builds)
            method, assign = wrapper.builds[-1]
            inner_steps.append(state.flow.step(wrapper.module, assign.line,
                                               f"`{wrapper.klass.name}` builds `{assign.targets[0]}` with no history"))
        elif first.factory is not None:
            factory_module, factory = first.factory
            inner_steps.append(state.flow.step(factory_module, factory.line,
                                               f"`{factory.qualname}` builds it with no history"))
        run = flow.runs[0]
        detail = ""
        if flow.loaded_history is not None:
            detail = (f"; history is loaded into `{flow.loaded_history[0]}` (line {flow.loaded_history[1]}) "
                      f"but never reaches the agent")
        yield make_finding(
            "AD201", Severity.WARNING, module, first.line, first.col,
            f"`{first.var}` (`{first.class_name}`) is built on a request path ({via(reach)}) and run at line "
            f"{run.line} with no earlier history restored into it{detail} ({conversation})",
            symbol=first.var, fix=fix_for(first.var, classic),
            trace=request_trace(state, reach, module, first.line, f"builds `{first.var}`", *inner_steps,
                                state.flow.step(module, run.line, "runs it with no history restored")))
