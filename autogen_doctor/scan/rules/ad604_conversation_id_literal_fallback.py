"""A conversation id that falls back to a fixed value when the request does not send one.

## What it does
Finds request handlers that take the conversation's id from the request but put a fixed
text in its place when the id is missing, and then use it:

- `conversation_id = body.get("conversation_id", "conv_id")` (also `request.args.get`,
  `request.headers.get`, `query_params.get`, any `.get(key, "text")`);
- `session_id = payload.get("session_id") or "default"`;
- a route parameter `session_id: str = "default"` (also `Query("default")`, `Form(...)`,
  `Header(...)`, `Cookie(...)`);
- a field of the request model a route takes: `session_id: str = "default"`,
  `Field(default="default")`.

Only names that say they identify a conversation are read (`conversation_id`, `conv_id`,
`session_id`, `thread_id`, `chat_id`, `dialog_id`, `room_id`, `sessionId`, ...), and only when the
handler goes on to use the id. An empty default (`""`) or `None` is left to the code that checks it.

## Why is this bad?
Every client that does not send an id (a first visit, a client that forgot the field, a curl
test, another team's integration) lands in the same conversation: the same history file, the
same Redis key, the same agent topic. They read each other's words and overwrite each other's
state, whatever the number of workers. The probe shows it as a `cross-session-leak` when it
sends no session id.

## Example
```python
@app.post("/chat/completions")
async def chat(request: Request):
    body = await request.json()
    conversation_id = body.get("conversation_id", "conv_id")
    history_file = f"chat_history/history-{conversation_id}.json"
```

## Use instead
```python
@app.post("/chat/completions")
async def chat(request: Request):
    body = await request.json()
    conversation_id = body.get("conversation_id")
    if not conversation_id:
        raise HTTPException(400, "conversation_id is required")  # or: str(uuid.uuid4()), returned to the client
```
"""

from __future__ import annotations

import re
from typing import Iterator

from autogen_doctor.scan.facts import Expr, Function, ModuleFacts
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.rules._support import analysis, make_finding, via

# Names that say "this identifies one conversation" (snake_case, camelCase, kebab-case headers).
CONVERSATION_ID = re.compile(
    r"^(?:x[-_])?(?:conversation|convo|conv|session|chat|thread|dialog(?:ue)?|room|chat[-_]?session)"
    r"[-_]?(?:id|key|uuid)$", re.IGNORECASE)
_CONFIG_LOOKUPS = frozenset({"os.getenv", "os.environ.get"})
# What the request sent, reached without a parameter (Flask/Quart globals, Streamlit's session).
_REQUEST_GLOBALS = ("flask.request", "flask.session", "quart.request", "quart.session", "streamlit.session_state")
# FastAPI/Starlette parameter markers whose first argument (or `default=`) is the default value.
_PARAM_MARKERS = frozenset({"Query", "Form", "Header", "Cookie", "Body", "Path", "Field"})
_FIX = ("Do not invent an id: answer 400 when the request has none, or start a new conversation with a "
        "fresh id (`str(uuid.uuid4())`) and return it to the client so it sends it with the next turn.")


def _literal(value: Expr | None) -> str | None:
    """The non-empty text of a string constant, else None."""
    if value is not None and value.kind == "str" and value.text:
        return value.text
    return None


def _marker_default(value: Expr | None) -> str | None:
    """`"x"`, or `Query("x")` / `Field(default="x")` and friends: the default text, else None."""
    text = _literal(value)
    if text is not None or value is None or value.kind != "call":
        return text
    if value.dotted.rsplit(".", 1)[-1] not in _PARAM_MARKERS:
        return None
    return _literal(value.kwarg("default")) or _literal(value.args[0] if value.args else None)


def _lookup_fallback(state, module: ModuleFacts, function: Function, value: Expr,
                     line: int) -> tuple[str, str] | None:
    """(key read, fixed fallback) for `x.get("key", "text")` or `x.get("key") or "text"`, where
    `x` holds what the request sent."""
    if value.kind == "boolop" and len(value.args) >= 2:
        fallback = _literal(value.args[-1])
        first = value.args[0]
        if fallback is None or not _from_request(state, module, function, first, line):
            return None
        if first.kind == "call" and first.dotted.endswith(".get") and first.args:
            return (_literal(first.args[0]) or "", fallback)
        return ("", fallback) if first.kind in ("name", "attr", "subscript") else None
    if value.kind != "call" or not value.dotted.endswith(".get") or len(value.args) + len(value.kwargs) < 2:
        return None
    fallback = _literal(value.arg(1, "default"))
    if fallback is None or not _from_request(state, module, function, value, line):
        return None
    return (_literal(value.args[0]) or "", fallback)


def _from_request(state, module: ModuleFacts, function: Function, value: Expr, line: int, depth: int = 0) -> bool:
    """Does `value` (a lookup, an attribute, a name) read what the request sent: a parameter of a
    function on the request path, Flask's `request`/`session`, or a local made from one of those
    (`body = await request.json()`, `data = json.loads(raw)`)? Rows read back from a store
    (`for row in rows: row.get(...)`) are not the request."""
    if depth > 3:
        return False
    head = value.dotted.split(".", 1)[0].split("[", 1)[0] if value.dotted else ""
    if not head:
        return False
    if head in function.params:
        return head not in ("self", "cls")
    canonical = state.resolver.canonical(module, function, value.dotted)
    if canonical in _CONFIG_LOOKUPS:
        return False  # configuration, not the request
    if canonical.split("(", 1)[0].startswith(_REQUEST_GLOBALS):
        return True
    if not function.is_local(head):
        return False
    for assign in reversed(function.assigns):
        if assign.line <= line and assign.targets == (head,) and assign.how in ("assign", "annotated") \
                and assign.value is not None:
            made = assign.value.args[0] if assign.value.kind == "boolop" and assign.value.args else assign.value
            if _from_request(state, module, function, made, assign.line - 1, depth + 1):
                return True
            # `json.loads(raw)`: the request reaches it through an argument
            return made.kind == "call" and any(
                argument.kind == "name" and _from_request(state, module, function, argument, assign.line - 1, depth + 1)
                for argument in made.args)
    return False


def _uses(function: Function, name: str, after_line: int = 0) -> bool:
    """Is local or parameter `name` read by the function (past `after_line`)?"""
    for call in function.calls:
        if call.line > after_line and (name in call.arg_names or call.func.split(".", 1)[0] == name):
            return True
    for assign in function.assigns:
        if assign.line > after_line and assign.value is not None and name in assign.value.names \
                and name not in assign.targets:
            return True
    return any(name in value.names for value in function.returns)


def _request_model_fields(state, module: ModuleFacts, function: Function) -> Iterator[tuple[str, ModuleFacts, object, str, str]]:
    """(parameter, class module, class attribute assign, field, fixed default) for each
    conversation-id field with a fixed default in a project class a route takes as a parameter."""
    resolver = state.resolver
    for param, type_text, _default in function.param_info:
        if not type_text or param in ("self", "cls"):
            continue
        definition = resolver.definition(resolver.canonical(module, function, type_text.split("[", 1)[0]), module)
        klass = definition.klass if definition is not None and not definition.rest else None
        if klass is None:
            continue
        for field, assign in klass.attrs.items():
            if not CONVERSATION_ID.match(field):
                continue
            fixed = _marker_default(assign.value)
            if fixed is not None:
                yield param, definition.module, assign, field, fixed


@rule(code="AD604", name="conversation-id-literal-fallback", severity=Severity.ERROR,
      summary="Conversation id that falls back to a fixed value: clients that send none share one conversation")
def check(project) -> Iterator[Finding]:
    state = analysis(project)
    entries = state.entry_points.entries
    reported: set[tuple[str, int]] = set()

    def report(where: ModuleFacts, line: int, col: int, name: str, fixed: str, reach, note: str) -> Finding | None:
        if (where.path, line) in reported:
            return None
        reported.add((where.path, line))
        return make_finding(
            "AD604", Severity.ERROR, where, line, col,
            f"`{name}` falls back to the fixed value {fixed!r} when a request sends none ({via(reach)}): "
            f"every such client shares one conversation and sees the others' history",
            symbol=name, fix=_FIX,
            trace=state.flow.request_trace(reach, state.flow.step(where, line, note)))

    for ref, module, function, reach in state.entry_points.request_functions():
        for assign in function.assigns:
            if len(assign.targets) != 1 or assign.value is None:
                continue
            name = assign.targets[0]
            found = _lookup_fallback(state, module, function, assign.value, assign.line)
            if found is None:
                continue
            key, fixed = found
            if not (CONVERSATION_ID.match(name) or CONVERSATION_ID.match(key)):
                continue
            if "." in name or "[" in name or not _uses(function, name, assign.line):
                continue
            finding = report(module, assign.line, assign.col, name, fixed, reach,
                             f"`{name}` is {fixed!r} whenever the request has no {key or name}")
            if finding is not None:
                yield finding
        if ref not in entries:
            continue  # parameter defaults only matter where the framework fills the parameters
        for param, _type_text, default in function.param_info:
            fixed = _marker_default(default)
            if fixed is None or not CONVERSATION_ID.match(param) or not _uses(function, param):
                continue
            finding = report(module, function.line, function.col, param, fixed, reach,
                             f"parameter `{param}` defaults to {fixed!r}")
            if finding is not None:
                yield finding
        for param, where, assign, field, fixed in _request_model_fields(state, module, function):
            if not _uses(function, param):
                continue
            finding = report(where, assign.line, assign.col, f"{param}.{field}", fixed, reach,
                             f"request field `{field}` defaults to {fixed!r}")
            if finding is not None:
                yield finding
