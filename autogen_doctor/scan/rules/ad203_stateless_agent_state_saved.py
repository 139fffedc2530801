"""`save_state()` of an agent that keeps no history in its state.

## What it does
Finds `save_state()` called on a `CodeExecutorAgent`, `FileSurfer` or `MultimodalWebSurfer`
(AgentChat), whose saved state is relied on to bring a conversation back.

## Why is this bad?
These agents inherit `BaseChatAgent.save_state`, which saves nothing of the conversation.
Loading that state later restores nothing, so the session silently starts over while the code
looks like it persists and restores history.

## Example
```python
executor = CodeExecutorAgent("executor", code_executor=LocalCommandLineCodeExecutor())
await redis.set(key, json.dumps(await executor.save_state()))
```

## Use instead
Save the state of the team that contains the agent (`await team.save_state()` keeps the
group chat's message thread), or store the conversation's messages yourself and pass them back
as the task.
"""

from __future__ import annotations

from typing import Iterator

from autogen_doctor.scan import autogen_api
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.flow.objects import autogen_category
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.rules._support import analysis, make_finding


@rule(code="AD203", name="stateless-agent-state-saved", severity=Severity.WARNING,
      summary="save_state of CodeExecutorAgent / FileSurfer / MultimodalWebSurfer keeps no history")
def check(project) -> Iterator[Finding]:
    state = analysis(project)
    resolver = state.resolver
    for key, module in project.modules.items():
        for function in module.functions.values():
            for call in function.calls:
                if not call.func.endswith(".save_state") or "(" in call.receiver:
                    continue
                receiver = call.receiver
                values = [assign.value for assign in function.assigns if assign.targets == (receiver,)]
                if not values:
                    found = resolver.module_value(module, function, receiver)
                    if found is not None:
                        values = [found[1]]
                for value in values:
                    if value.kind != "call":
                        continue
                    category = autogen_category(resolver, module, function, value.dotted)
                    if category is None or category[1] not in autogen_api.NO_HISTORY_STATE:
                        continue
                    yield make_finding(
                        "AD203", Severity.WARNING, module, call.line, call.col,
                        f"`{receiver}.save_state()` saves no conversation: `{category[1]}` inherits the empty "
                        f"`BaseChatAgent.save_state`, so loading it later restores nothing",
                        symbol=receiver, end_line=call.end_line, end_col=call.end_col,
                        fix=("Save the state of the team that runs this agent (`await team.save_state()`), or store "
                             "the session's messages yourself and pass them back as the task."))
                    break
