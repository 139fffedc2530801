"""One module-level AutoGen agent, team, group chat or memory serving every session.

## What it does
Finds an AutoGen agent, team, group chat, group chat manager or memory created at module level
(`assistant = AssistantAgent(...)`, `team = RoundRobinGroupChat(...)`, `memory = ListMemory()`)
and used by a request handler or task: run, sent messages, given memories, or passed to another
agent's chat. Not reported: classic `generate_reply(messages=[...])` (answers from the messages
it is given, stores none; except `GPTAssistantAgent`, which posts them to its one thread), a
classic `initiate_chat` with a partner built for this request (a fresh message list per
partner), and a Streamlit script's own globals (rebuilt on every rerun).

A module-level classic pair run with `initiate_chat` and the default `clear_history=True`
(`user_proxy.initiate_chat(assistant, message=prompt)` in a route) is not reported here: every
run wipes the pair's message lists first, so no conversation is kept in the process for a
later request or lost on a restart. What is wrong there is that concurrent requests run
through those same lists while they chat — one conversation for every user — and AD602 reports
it. With `clear_history=False`, or any AgentChat agent/team (its model context or thread
carries over), both rules report: the history outlives the request (AD1) and is shared (AD6).

## Why is this bad?
AutoGen objects keep the conversation inside themselves (`chat_messages`, the model context,
`GroupChat.messages`, memory contents). One shared object means every user's turns go into one
history (users see each other's conversation), and each worker process or replica has its own
object, so a conversation forgets whatever another process heard.

## Example
```python
assistant = AssistantAgent("assistant", model_client=client)

@app.post("/chat")
async def chat(req: ChatRequest):
    result = await assistant.run(task=req.message)
```

## Use instead
```python
@app.post("/chat")
async def chat(req: ChatRequest):
    assistant = AssistantAgent("assistant", model_client=client)
    saved = await redis.get(f"agent:{req.session_id}")
    if saved:
        await assistant.load_state(json.loads(saved))
    result = await assistant.run(task=req.message)
    await redis.set(f"agent:{req.session_id}", json.dumps(await assistant.save_state()))
```
"""

from __future__ import annotations

from typing import Iterator

from autogen_doctor.scan import autogen_api
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.flow.shared import clears_history_each_run, keeps_conversation, shared_uses
from autogen_doctor.scan.rules._support import request_trace, analysis, make_finding, via, where

_CATEGORIES = frozenset({autogen_api.AGENT, autogen_api.TEAM, autogen_api.MEMORY})


@rule(code="AD105", name="shared-module-agent", severity=Severity.WARNING,
      summary="One module-level AutoGen agent, team, group chat or memory used by every request")
def check(project) -> Iterator[Finding]:
    state = analysis(project)
    for module, function, reach, call, definition, category, class_name in shared_uses(state, _CATEGORIES):
        if not keeps_conversation(state, module, function, reach, call, definition, class_name):
            continue
        if clears_history_each_run(state, definition, call):
            continue  # nothing is kept from one request to the next: AD602's shared conversation, not AD1
        yield make_finding(
            "AD105", Severity.WARNING, module, call.line, call.col,
            f"module-level {category} `{definition.name}` (`{class_name}`, {where(definition.module, definition.assign.line)}) "
            f"is used on a request path ({via(reach)}); every session shares its conversation state and each "
            f"process has its own copy",
            symbol=definition.name, end_line=call.end_line, end_col=call.end_col,
            trace=request_trace(state, reach, module, call.line, f"uses `{definition.name}`",
                                state.flow.step(definition.module, definition.assign.line, f"`{definition.name}` is built once per process")),
            fix=(f"Build `{definition.name}` per request (or per session) and restore its history from a shared "
                 f"store: AgentChat `await agent.load_state(saved)` / `await agent.save_state()`; classic AutoGen: "
                 f"pass stored messages back (`chat_messages=`, `GroupChat(messages=history)`, or "
                 f"`generate_reply(messages=history)`)."))
