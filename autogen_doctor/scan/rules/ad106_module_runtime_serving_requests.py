"""Module-level `SingleThreadedAgentRuntime` serving requests.

## What it does
Finds an `autogen_core.SingleThreadedAgentRuntime` created at module level and used by request
handlers or tasks (`publish_message`, `send_message`, `register`, ...). A message that carries the
whole loaded history (`publish_message(UserTask(context=messages), ...)`) leaves the runtime's
agents with nothing to remember, and is not reported.

## Why is this bad?
The runtime holds its agents, their model contexts and the message queue in process memory.
Behind several workers or replicas each process has a different runtime with different agent
state, so a conversation continues with an agent that never saw its earlier turns. A
distributed runtime (`GrpcWorkerAgentRuntime`) cannot save state either
(`save_state` raises `NotImplementedError`), so history must live in a shared store.

## Example
```python
runtime = SingleThreadedAgentRuntime()

@app.post("/chat")
async def chat(req: ChatRequest):
    await runtime.publish_message(UserMessage(content=req.message), topic_id=TopicId("chat", req.session_id))
```

## Use instead
Keep each session's messages in a shared store (Redis, a database) and have the agents build
their model context from it (`BufferedChatCompletionContext(initial_messages=history)`), or
route every turn of a session to the same process and persist `await runtime.save_state()`.
"""

from __future__ import annotations

from typing import Iterator

from autogen_doctor.scan import autogen_api
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.flow.agents import carries_history
from autogen_doctor.scan.flow.shared import shared_uses
from autogen_doctor.scan.rules._support import request_trace, analysis, make_finding, via, where


def _message_carries_history(module, function, call) -> bool:
    """The message sent to the runtime holds earlier messages (looked up in enclosing functions too:
    a streaming generator nested in the route sends what the route built)."""
    message = call.arg(0, "message")
    scope = function
    while scope is not None:
        if carries_history(scope, message):
            return True
        scope = module.functions.get(scope.parent) if scope.parent else None
    return False


@rule(code="AD106", name="module-runtime-serving-requests", severity=Severity.WARNING,
      summary="Module-level SingleThreadedAgentRuntime holds agent state per process")
def check(project) -> Iterator[Finding]:
    state = analysis(project)
    for module, function, reach, call, definition, category, class_name in shared_uses(
            state, frozenset({autogen_api.RUNTIME})):
        if call.method in ("publish_message", "send_message") and _message_carries_history(module, function, call):
            continue  # the whole history travels in every message: the runtime's agents keep none
        yield make_finding(
            "AD106", Severity.WARNING, module, call.line, call.col,
            f"module-level agent runtime `{definition.name}` (`{class_name}`, "
            f"{where(definition.module, definition.assign.line)}) serves requests ({via(reach)}); its agents and "
            f"their history live in this process only",
            symbol=definition.name, end_line=call.end_line, end_col=call.end_col,
            trace=request_trace(state, reach, module, call.line, f"uses `{definition.name}`",
                                state.flow.step(definition.module, definition.assign.line, f"`{definition.name}` is built once per process")),
            fix=("Persist each session's messages in a shared store and rebuild agent model contexts from it "
                 "(`BufferedChatCompletionContext(initial_messages=history)`), or save and load "
                 "`await runtime.save_state()` per session around each request."))
