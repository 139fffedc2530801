"""History read from a shared store, changed in Python, and written back without protection.

## What it does
Finds request handlers and tasks that read a value from a shared store, change it in Python
and write it back, with nothing that makes the round trip atomic:
- Redis `get`/`hget`/`json().get` -> `json.loads` -> `append` -> `set`/`hset`/`json().set`;
- a JSON/pickle file read, changed and rewritten;
- SQL `SELECT` of a serialized column followed by an `UPDATE` of it.

It stays silent when the round trip is protected: a lock around it (`redis.lock(...)`,
`asyncio.Lock`, `filelock.FileLock`, `fcntl.flock`), `WATCH`/`MULTI` transactions,
`set(..., nx=True/xx=True)`, `SELECT ... FOR UPDATE`, or a `version` column compared in the
`UPDATE`. It also stays silent on a UI framework's per-connection session map (Chainlit
`cl.user_session.get/set`, Streamlit `st.session_state`, a Gradio `gr.State` value): that map
belongs to one browser session in one process and its callbacks run in turn, so a get -> change
-> set there is not a racy write-back of a shared store. (Whether keeping the conversation there
survives a restart is a separate question.) One write-back is one finding, however many values
read before it flow into it. Atomic list operations (`RPUSH`/`LPUSH`/`LRANGE`) and SQL `INSERT` of one row per
message never read-modify-write and are not reported.

## Why is this bad?
Two turns of one conversation processed at the same time (a double click, a retry, two tabs,
several workers) both read the same old history, each appends its own message, and the second
write silently drops the first one's message: a lost update. The probe's `lost-update` cause.

## Example
```python
raw = await redis.get(key)
history = json.loads(raw) if raw else []
history.append({"role": "user", "content": message})
await redis.set(key, json.dumps(history))
```

## Use instead
```python
await redis.rpush(key, json.dumps({"role": "user", "content": message}))
history = [json.loads(item) for item in await redis.lrange(key, 0, -1)]
```
or wrap the round trip in `async with redis.lock(f"lock:{key}", timeout=10):`.
"""

from __future__ import annotations

import re

from typing import Iterator

from autogen_doctor.scan.facts import Call, Function
from autogen_doctor.scan.findings import Finding, Severity
from autogen_doctor.scan.flow.stores import DB, FILE, READ, WRITE, is_state_like
from autogen_doctor.scan.registry import rule
from autogen_doctor.scan.rules._support import analysis, make_finding, via

_KV_READS = {"get": ("set", "setex", "psetex", "getset", "mset"), "hget": ("hset", "hmset"),
             "hgetall": ("hset", "hmset")}
_FILE_READS = ("json.load", "pickle.load", "yaml.safe_load", "yaml.load", "tomllib.load")
_FILE_READ_METHODS = ("read_text", "read_bytes", "read")
_FILE_WRITES = ("json.dump", "pickle.dump", "yaml.dump", "yaml.safe_dump")
_FILE_WRITE_METHODS = ("write_text", "write_bytes", "write")
_LOCK_METHODS = frozenset({"lock", "acquire", "watch", "multi", "flock", "lockf", "transaction", "with_for_update"})


# Per-connection maps a UI framework keeps in the server process for one browser session
# (Chainlit `cl.user_session`, Streamlit `st.session_state`): one user's session, one socket,
# handled in order; a get -> change -> set there races with nothing.
_FRAMEWORK_SESSIONS = frozenset({"user_session", "session_state"})
_FRAMEWORK_ROOTS = ("chainlit", "streamlit", "gradio")


def is_framework_session(state, module, function: Function, receiver: str) -> bool:
    """Is `receiver` a UI framework's per-session map (`cl.user_session`, `st.session_state`,
    a `gr.State` value), not a store shared between processes or sessions?"""
    if not receiver:
        return False
    if receiver.rsplit(".", 1)[-1] in _FRAMEWORK_SESSIONS:
        return True
    canonical = state.resolver.canonical(module, function, receiver)
    return canonical.split(".", 1)[0] in _FRAMEWORK_ROOTS


def _derived(function: Function, start: str, after_line: int) -> set[str]:
    """Names whose value comes from `start`: assigned from it, or objects it was loaded into
    (`agent.load_state(json.loads(saved))` makes `agent` carry the stored value)."""
    names = {start}
    for _ in range(4):
        grew = False
        for assign in function.assigns:
            if assign.line >= after_line and names & assign.value.names:
                for target in assign.targets:
                    if target.isidentifier() and target not in names:
                        names.add(target)
                        grew = True
        for call in function.calls:
            receiver = call.receiver
            if call.line >= after_line and receiver.isidentifier() and receiver not in names \
                    and call.arg_names & names:
                names.add(receiver)
                grew = True
        if not grew:
            break
    return names


def _protected(function: Function, write: Call) -> bool:
    if any("lock" in context.lower() for context in write.withs):
        return True
    if write.kwarg("nx") is not None or write.kwarg("xx") is not None:
        return True
    for call in function.calls:
        method = call.method
        if method in _LOCK_METHODS or call.func.endswith(("FileLock", "SoftFileLock", "Lock")):
            return True
        for argument in call.args[:1]:
            text = (argument.text or "").lower()
            if "for update" in text:
                return True
    return False


def _reads(function: Function):
    """(var, kind, receiver, line) for values read from a store into a local name."""
    for assign in function.assigns:
        if len(assign.targets) != 1 or not assign.targets[0].isidentifier():
            continue
        value = assign.value
        calls = value.calls if value.calls else ((value.dotted,) if value.kind == "call" else ())
        for text in calls:
            receiver, _, method = text.rpartition(".")
            if method in _KV_READS and receiver and "[]" not in receiver:
                yield assign.targets[0], ("kv", method), receiver, assign.line
                break
            if text in _FILE_READS or method in _FILE_READ_METHODS:
                yield assign.targets[0], ("file", ""), "", assign.line
                break
        else:
            if any(text.lstrip().lower().startswith("select") for text in value.strings):
                yield assign.targets[0], ("sql", ""), "", assign.line
        if assign.how == "with":
            continue


def _is_write(call: Call, kind: tuple[str, str], receiver: str) -> bool:
    family, read_method = kind
    if family == "kv":
        return call.receiver == receiver and call.method in _KV_READS[read_method]
    if family == "file":
        return call.func in _FILE_WRITES or call.method in _FILE_WRITE_METHODS
    if family == "sql" and call.method in ("execute", "executemany") and call.args:
        text = (call.args[0].text or "").lstrip().lower()
        return text.startswith("update") and "version" not in text
    return False


@rule(code="AD501", name="racy-history-read-modify-write", severity=Severity.WARNING,
      summary="History read, changed in Python and written back with no lock, transaction or atomic op")
def check(project) -> Iterator[Finding]:
    state = analysis(project)
    places: set[tuple[str, int]] = set()  # one finding per write-back, not one per variable read
    for ref, module, function, reach in state.entry_points.request_functions():
        reported: set[str] = set()
        reads = [(var, kind, receiver, line, None) for var, kind, receiver, line in _reads(function)
                 if not is_framework_session(state, module, function, receiver)]
        reads += list(_helper_reads(state, module, function))
        reads.sort(key=lambda item: item[3])
        for var, kind, receiver, line, helper in reads:
            if var in reported:
                continue
            derived = _derived(function, var, line)
            for call in function.calls:
                if call.line <= line:
                    continue
                written_by = None
                if helper is None:
                    if not _is_write(call, kind, receiver):
                        continue
                else:
                    written_by = _helper_write(state, module, function, call, helper)
                    if written_by is None:
                        continue
                if not (call.arg_names & derived):
                    continue
                if _protected(function, call) or (helper is not None and _protected(helper[0][1], call)):
                    break
                if (module.path, call.line) in places:
                    reported.add(var)
                    break
                places.add((module.path, call.line))
                if helper is None:
                    store = {"kv": f"`{receiver}`", "file": "a file", "sql": "the database"}[kind[0]]
                else:
                    where_from = {"file": "a file", "db": "the database"}.get(kind[0], "the store")
                    store = f"{where_from} by `{helper[0][1].qualname}()`"
                steps = [state.flow.step(module, line, f"reads `{var}`")]
                if helper is not None:
                    (helper_module, helper_function), operation = helper
                    steps.append(state.flow.step(helper_module, operation.call.line,
                                                 f"`{helper_function.qualname}` reads it with `{operation.call.func}`"))
                steps.append(state.flow.step(module, call.line, f"writes it back with `{call.func}`"))
                if written_by is not None and written_by[0] is not None:
                    steps.append(written_by[0])
                yield make_finding(
                    "AD501", Severity.WARNING, module, call.line, call.col,
                    f"`{var}` is read from {store} (line {line}), changed in Python and written back by "
                    f"`{call.func}` with no lock, transaction or version check ({via(reach)}); concurrent turns "
                    f"of one session overwrite each other",
                    symbol=var, end_line=call.end_line, end_col=call.end_col,
                    trace=state.flow.request_trace(reach, *steps),
                    fix=("Append atomically instead (Redis `RPUSH` + `LRANGE`, or SQL `INSERT` one row per message), "
                         "or guard the read-modify-write: `async with redis.lock(f\"lock:{key}\", timeout=10):`, "
                         "a WATCH/MULTI transaction, or `SELECT ... FOR UPDATE`."))
                reported.add(var)
                break
        yield from _orm_write_backs(state, module, function, reach, places)


# `conversation = await get_conversation(db, chat_id)`: a getter handed the session loads a row.
_GETTER = re.compile(r"^a?(get|load|fetch|find|read)_\w+")


def _orm_write_backs(state, module, function: Function, reach, places: set):
    """A row loaded through a SQLAlchemy/SQLModel session, its state column used for the turn
    (`agent.load_state(conversation.agent_state)`), then set whole (`conversation.agent_state =
    await agent.save_state()`) and committed: two turns of one conversation load the same row
    and the later commit drops the other's turn."""
    stores = state.flow.stores
    # (row variable, session, line): the store layer's database reads (`db.get(...)`,
    # `db.execute(select(...))`), then getters handed a session
    loads = [(operation.target, operation.call.receiver, operation.call.line)
             for operation in stores.operations(module, function)
             if operation.kind == DB and operation.op == READ and operation.target]
    for assign in function.assigns:
        if len(assign.targets) == 1 and assign.value.kind == "call" and \
                _GETTER.match(assign.value.dotted.rpartition(".")[2]):
            session = next((argument.dotted for argument in assign.value.args if argument.kind == "name"
                            and stores.is_db_session(module, function, argument.dotted)), None)
            if session is not None:
                loads.append((assign.targets[0], session, assign.line))
    for row, session, load_line in loads:
        if not row.isidentifier():
            continue
        for mutation in function.mutations:
            head, _, column = mutation.base.partition(".")
            if head != row or not column or "." in column or mutation.how != "attribute assignment" or \
                    mutation.line <= load_line or not is_state_like(column):
                continue
            used = any(argument.dotted == mutation.base for call in function.calls
                       if load_line < call.line <= mutation.line for argument in (*call.args, *(v for _, v in call.kwargs))) \
                or any(other.value is not None and other.value.dotted == mutation.base
                       for other in function.assigns if load_line < other.line < mutation.line)
            commit = next((call for call in function.calls if call.receiver == session
                           and call.method in ("commit", "flush") and call.line >= mutation.line), None)
            if not used or commit is None or _protected(function, commit) or (module.path, mutation.line) in places:
                continue
            places.add((module.path, mutation.line))
            yield make_finding(
                "AD501", Severity.WARNING, module, mutation.line, mutation.col,
                f"`{mutation.base}` is loaded with the row (line {load_line}), used for this turn and set whole again, "
                f"then committed by `{commit.func}` with no lock or version check ({via(reach)}); two turns of one "
                f"conversation load the same row and the later commit drops the other's turn",
                symbol=mutation.base, trace=state.flow.request_trace(
                    reach, state.flow.step(module, load_line, f"loads `{row}` through `{session}`"),
                    state.flow.step(module, mutation.line, f"sets `{mutation.base}` whole"),
                    state.flow.step(module, commit.line, f"commits with `{commit.func}`")),
                fix=("Lock the row for the turn (`select(...).with_for_update()`), or keep a version column and "
                     "update `WHERE version = :loaded` (SQLAlchemy `version_id_col`), or store one row per message."))
            break


def _helper_reads(state, module, function: Function):
    """(var, kind, '', line, ((helper module, helper), read op)) for `var = load_history(sid)` where
    the helper reads a file or a Redis-like store and returns what it read."""
    resolver = state.resolver
    for assign in function.assigns:
        if len(assign.targets) != 1 or not assign.targets[0].isidentifier() or assign.value.kind != "call":
            continue
        target = resolver.call_target(module, function, assign.value.dotted)
        if target is None:
            continue
        helper_module, helper = resolver.function(target)
        if not helper.returns:
            continue
        for read_module, operation in state.flow.stores.reaching(helper_module, helper):
            if operation.op != READ:
                continue
            if operation.kind == DB and not is_state_like(assign.targets[0], helper.qualname,
                                                          *(call.func for call in function.calls)):
                continue  # a row read and saved is only history when something says so
            yield (assign.targets[0], (operation.kind, "helper"), "", assign.line,
                   ((read_module, helper), operation))


def _helper_write(state, module, function: Function, call: Call, helper):
    """(step or None,) when `call` writes back to the store the helper read from: a write on the
    same kind of store here (to the same place when both are known), or a saving helper."""
    (helper_module, _), read = helper
    stores = state.flow.stores
    operations = stores.operations(module, function)
    if read.kind == FILE and (call.func in _FILE_WRITES or call.method in _FILE_WRITE_METHODS):
        opened = [operation for operation in operations if operation.op == WRITE and operation.kind == FILE
                  and operation.call.line <= call.line
                  and (operation.target is None or operation.target == call.receiver
                       or operation.call is call or call.receiver == "")]
        if not opened:
            return None
        if _different_places(read.key, opened[-1].key):
            return None
        return (None,)
    for operation in operations:
        if operation.call is call and operation.op == WRITE and operation.kind == read.kind:
            return None if _different_places(read.key, operation.key) else (None,)
    target = state.resolver.call_target(module, function, call.func)
    if target is None:
        return None
    saver_module, saver = state.resolver.function(target)
    for write_module, operation in stores.reaching(saver_module, saver, 1):
        if operation.op == WRITE and operation.kind == read.kind:
            if read.kind == DB and not is_state_like(saver.qualname, *call.arg_names):
                continue
            return (state.flow.step(write_module, operation.call.line,
                                    f"`{saver.qualname}` writes it with `{operation.call.func}`"),)
    return None


def _different_places(read_key, write_key) -> bool:
    return read_key.constant is not None and write_key.constant is not None and read_key.constant != write_key.constant
