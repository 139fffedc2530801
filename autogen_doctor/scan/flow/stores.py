"""Where a function reads and writes state, and at which key or path.

A *store operation* is a file opened for reading or writing (`open`, `aiofiles.open`,
`Path.open/read_text/write_text`) or a Redis-like client's `get`/`set` family (the client is
recognised by the flow: `redis.Redis(...)`, `redis.from_url(...)`, through module names, `self`
attributes and factories). Each operation carries its key: a *constant* (the same for every
request: a string, a module constant, an `os.getenv` default, `os.path.join`/`Path` of those,
an f-string with no variable part) or *per request* (something a parameter reaches).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from autogen_doctor.scan.facts import MODULE_BODY, Call, Expr, Function, ModuleFacts
from autogen_doctor.scan.flow.objects import Objects
from autogen_doctor.scan.resolve import Resolver

FILE = "file"
KV = "kv"
DB = "db"  # a SQLAlchemy/SQLModel session: SELECT ... then commit/flush of changed rows
READ = "read"
WRITE = "write"
APPEND = "append"  # `open(p, "a")`, RPUSH: adds without reading back

_KV_READ_METHODS = frozenset({"get", "hget", "hgetall", "lrange", "getdel", "mget"})
_KV_WRITE_METHODS = frozenset({"set", "setex", "psetex", "getset", "mset", "hset", "hmset"})
_KV_APPEND_METHODS = frozenset({"rpush", "lpush", "xadd", "sadd", "zadd"})
_DB_READ_METHODS = frozenset({"get", "scalars", "scalar", "query", "exec", "execute", "get_one"})
_DB_WRITE_METHODS = frozenset({"commit", "flush"})
_DB_TYPES = ("sqlalchemy.", "sqlmodel.")
_OPEN_CALLS = frozenset({"builtins.open", "io.open", "aiofiles.open", "codecs.open", "anyio.open_file"})
_PATH_READ_METHODS = frozenset({"read_text", "read_bytes"})
_PATH_WRITE_METHODS = frozenset({"write_text", "write_bytes"})
_JOIN_CALLS = frozenset({"os.path.join", "pathlib.Path", "pathlib.PurePath", "os.path.abspath", "os.path.normpath",
                         "os.path.expanduser", "os.fspath", "builtins.str", "anyio.Path"})
_GETENV_CALLS = frozenset({"os.getenv", "os.environ.get", "os.environ.setdefault"})
# What a conversation's state is called in a path or key (a config file or a log is not state).
STATE_WORDS = re.compile(r"(state|histor|memor|messages|conversation|convo|chat|session|thread|context|"
                         r"transcript|dialog|turns)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Key:
    """What a store operation's key or path is: `constant` text, or `per_request`."""

    constant: str | None = None
    per_request: bool = False
    origin: tuple[ModuleFacts, int] | None = None  # where the constant is written

    @property
    def known(self) -> bool:
        return self.constant is not None or self.per_request


UNKNOWN = Key()


@dataclass(frozen=True, slots=True)
class StoreOp:
    kind: str  # FILE or KV
    op: str  # READ or WRITE
    call: Call
    key: Key
    target: str | None = None  # the local the read lands in (`with open(p) as f` -> f; `raw = r.get(k)` -> raw)


def _mode(call: Call) -> str:
    mode = call.arg(1, "mode")
    if mode is not None and mode.kind == "str" and mode.text is not None:
        return mode.text
    return "r" if mode is None else "?"


class Stores:
    """Store operations and their keys, memoised for one scan."""

    def __init__(self, resolver: Resolver, objects: Objects) -> None:
        self.resolver = resolver
        self.objects = objects
        self._ops: dict[tuple[int, str], list[StoreOp]] = {}
        # (module, function, param) -> [(caller module, caller, argument)], set by the FlowModel
        self.arguments = None

    def operations(self, module: ModuleFacts, function: Function) -> list[StoreOp]:
        key = (id(module), function.qualname)
        found = self._ops.get(key)
        if found is None:
            found = self._operations(module, function)
            self._ops[key] = found
        return found

    def _operations(self, module: ModuleFacts, function: Function) -> list[StoreOp]:
        resolver = self.resolver
        with_targets = {assign.line: assign.targets[0] for assign in function.assigns
                        if assign.how == "with" and len(assign.targets) == 1}
        plain_targets = {assign.line: assign.targets[0] for assign in function.assigns
                         if assign.how in ("assign", "annotated") and len(assign.targets) == 1}
        found: list[StoreOp] = []
        for call in function.calls:
            method = call.method
            if method == "open" or method == "open_file":
                canonical = resolver.canonical(module, function, call.func)
                if canonical in _OPEN_CALLS or canonical.endswith("aiofiles.open"):
                    path = call.arg(0, "file")
                elif call.receiver and call.func.count(".") >= 1:  # `Path(p).open("w")`, `p.open()`
                    path = call.receiver_expr if call.receiver_expr is not None else Expr.make(
                        "name" if "." not in call.receiver else "attr", call.receiver)
                    mode = call.arg(0, "mode")
                    call_mode = mode.text if mode is not None and mode.kind == "str" and mode.text else (
                        "r" if mode is None else "?")
                    found.append(self._file_op(module, function, call, path, call_mode, with_targets))
                    continue
                else:
                    continue
                found.append(self._file_op(module, function, call, path, _mode(call), with_targets))
            elif method in _PATH_READ_METHODS or method in _PATH_WRITE_METHODS:
                path = call.receiver_expr if call.receiver_expr is not None else (
                    Expr.make("name" if "." not in call.receiver else "attr", call.receiver) if call.receiver else None)
                if path is None:
                    continue
                op = READ if method in _PATH_READ_METHODS else WRITE
                found.append(StoreOp(FILE, op, call, self.key_of(module, function, path),
                                     plain_targets.get(call.line)))
            elif (method in _DB_READ_METHODS or method in _DB_WRITE_METHODS) and call.receiver and \
                    self.is_db_session(module, function, call.receiver):
                if method in _DB_WRITE_METHODS:
                    found.append(StoreOp(DB, WRITE, call, UNKNOWN))
                elif method != "execute" or _selects(call):
                    found.append(StoreOp(DB, READ, call, UNKNOWN, plain_targets.get(call.line)))
            elif (method in _KV_READ_METHODS or method in _KV_WRITE_METHODS or method in _KV_APPEND_METHODS) \
                    and call.receiver and call.args:
                if not self.objects.is_store_client(module, function, call.receiver):
                    continue
                op = READ if method in _KV_READ_METHODS else APPEND if method in _KV_APPEND_METHODS else WRITE
                found.append(StoreOp(KV, op, call, self.key_of(module, function, call.args[0]),
                                     plain_targets.get(call.line)))
        return [op for op in found if op is not None]

    def reaching(self, module: ModuleFacts, function: Function, depth: int = 2) -> list[tuple[ModuleFacts, StoreOp]]:
        """Store operations of `function` and of the project functions it calls (`depth` levels):
        what a helper like `get_agent(session_id, db)` reads through the services it uses."""
        found = [(module, operation) for operation in self.operations(module, function)]
        if depth > 0:
            for call in function.calls:
                target = self.resolver.call_target(module, function, call.func)
                if target is None or target == (self.resolver.key_of[id(module)], function.qualname):
                    continue
                callee_module, callee = self.resolver.function(target)
                found.extend(self.reaching(callee_module, callee, depth - 1))
        return found

    def is_db_session(self, module: ModuleFacts, function: Function, text: str) -> bool:
        """A SQLAlchemy/SQLModel session: a parameter typed so (also kept on `self` by `__init__`)."""
        head, _, rest = text.partition(".")
        if head == "self" and rest and "." not in rest and function.class_name:
            info = module.classes.get(function.class_name)
            init = module.functions.get(f"{info.qualname}.__init__") if info else None
            if init is None:
                return False
            for assign in init.assigns:
                if assign.targets == (text,) and assign.value.kind == "name":
                    return self._typed_db(module, init, assign.value.dotted)
            return False
        if rest:
            return False
        return self._typed_db(module, function, head) or self._opened_db(module, function, head)

    def _opened_db(self, module, function, name) -> bool:
        """A session this function opens: `async with AsyncSessionLocal() as db:` (a sessionmaker
        made at module level), `with Session(engine) as session:`, `db = SessionLocal()`."""
        if function.qualname == MODULE_BODY or not function.is_local(name):
            return False
        for assign in function.assigns:
            if assign.targets != (name,) or assign.how not in ("with", "assign") or assign.value.kind != "call":
                continue
            callee = assign.value.dotted
            if self.resolver.canonical(module, function, callee).startswith(_DB_TYPES):
                return True
            found = self.resolver.module_value(module, function, callee)
            if found is not None and found[1].kind == "call" and self.resolver.canonical(
                    found[0].module, None, found[1].dotted).startswith(_DB_TYPES):
                return True  # `SessionLocal = sessionmaker(bind=engine)` then `SessionLocal()`
        return False

    def _typed_db(self, module, function, name) -> bool:
        for param, type_text, default in function.param_info:
            if param != name:
                continue
            if type_text and self.resolver.canonical(module, function, type_text).startswith(_DB_TYPES):
                return True
            return default is not None and default.dotted.rsplit(".", 1)[-1] == "Depends" and any(
                "db" in argument.dotted.lower() or "session" in argument.dotted.lower() for argument in default.args)
        return False

    def _file_op(self, module, function, call: Call, path: Expr | None, mode: str, with_targets) -> StoreOp | None:
        if path is None or mode == "?":
            return None
        op = APPEND if "a" in mode and "+" not in mode else WRITE if any(flag in mode for flag in "wx+") else READ
        return StoreOp(FILE, op, call, self.key_of(module, function, path), with_targets.get(call.line))

    # ---------- keys ----------
    def key_of(self, module: ModuleFacts, function: Function | None, value: Expr | None, depth: int = 0) -> Key:
        """Constant text, per request, or unknown, for a key/path expression."""
        if value is None or depth > 6:
            return UNKNOWN
        kind = value.kind
        if kind == "str":
            return Key(constant=value.text or "")
        if kind == "const":
            return UNKNOWN
        if kind in ("fstr", "binop"):
            parts = list(value.args) if value.args else []
            if kind == "fstr" and not value.names:
                return Key(constant=(value.text or "") + "".join(value.strings))
            names = [Expr.make("name", name) for name in sorted(value.names)] if not parts else parts
            keys = [self.key_of(module, function, part, depth + 1) for part in names]
            if any(key.per_request for key in keys):
                return Key(per_request=True)
            if keys and all(key.constant is not None for key in keys):
                if kind == "binop":
                    text = "/".join(key.constant or "" for key in keys)
                else:
                    text = (value.text or "") + "{" + ",".join(key.constant or "" for key in keys) + "}"
                return Key(constant=text, origin=next((key.origin for key in keys if key.origin), None))
            return UNKNOWN
        if kind == "call":
            canonical = self.resolver.canonical(module, function, value.dotted)
            if canonical in _GETENV_CALLS:
                default = value.arg(1, "default")
                found = self.key_of(module, function, default, depth + 1) if default is not None else UNKNOWN
                return Key(constant=found.constant, origin=found.origin) if found.constant is not None else UNKNOWN
            if canonical in _JOIN_CALLS or value.dotted.endswith((".joinpath", ".resolve", ".with_suffix")):
                parts = list(value.args)
                if value.dotted.endswith((".joinpath", ".resolve", ".with_suffix")) and "." in value.dotted:
                    receiver = value.dotted.rsplit(".", 1)[0]
                    if "(" not in receiver:
                        parts.insert(0, Expr.make("name" if "." not in receiver else "attr", receiver))
                keys = [self.key_of(module, function, part, depth + 1) for part in parts]
                if any(key.per_request for key in keys):
                    return Key(per_request=True)
                if keys and all(key.constant is not None for key in keys):
                    return Key(constant="/".join(key.constant or "" for key in keys),
                               origin=next((key.origin for key in keys if key.origin), None))
                return UNKNOWN
            if value.names & set(function.params if function is not None else ()):
                return Key(per_request=True)
            return UNKNOWN
        if kind in ("name", "attr", "subscript"):
            text = value.dotted
            head = text.split(".", 1)[0].split("[", 1)[0]
            if function is not None and function.qualname != MODULE_BODY:
                if head in function.params and head not in ("self", "cls"):
                    return self._param_key(module, function, head, depth) if kind == "name" else Key(per_request=True)
                if head == "self" and kind == "attr" and text.count(".") == 1:
                    return self._self_attr_key(module, function, text, depth)
                if function.is_local(head):
                    if kind != "name":
                        return Key(per_request=True) if value.names & set(function.params) else UNKNOWN
                    for assign in reversed(function.assigns):
                        if assign.targets == (head,) and assign.how in ("assign", "annotated"):
                            return self.key_of(module, function, assign.value, depth + 1)
                    return UNKNOWN
            if kind != "name":
                return UNKNOWN
            found = self.resolver.module_value(module, function, head)
            if found is None:
                return UNKNOWN
            definition, assigned = found
            key = self.key_of(definition.module, None, assigned, depth + 1)
            if key.constant is not None:
                assign = definition.assign
                return Key(constant=key.constant, origin=(definition.module, assign.line if assign else 0))
            return key
        return UNKNOWN

    def _param_key(self, module, function, param: str, depth: int) -> Key:
        """A parameter is per request unless every caller passes the same constant
        (`load_history("138626")`: a hard-coded conversation id)."""
        if self.arguments is None or depth > 4:
            return Key(per_request=True)
        values = self.arguments(module, function, param)[:12]
        if not values:
            return Key(per_request=True)
        keys = [self.key_of(caller_module, caller, value, depth + 1) for caller_module, caller, value, _ in values]
        constants = {key.constant for key in keys}
        if len(constants) == 1 and None not in constants:
            return Key(constant=keys[0].constant, origin=(values[0][0], values[0][3]))
        return Key(per_request=True)

    def _self_attr_key(self, module, function, text, depth) -> Key:
        info = module.classes.get(function.class_name) if function.class_name else None
        for method in info.methods if info else ():
            method_function = module.functions.get(method)
            for assign in method_function.assigns if method_function else ():
                if text in assign.targets:
                    return self.key_of(module, method_function, assign.value, depth + 1)
        return UNKNOWN


def _selects(call: Call) -> bool:
    first = call.arg(0, "statement")
    if first is None:
        return False
    texts = [first.dotted or "", *(first.calls or ()), first.text or ""]
    return any(text.split("(", 1)[0].rsplit(".", 1)[-1] == "select" or text.lstrip().lower().startswith("select")
               for text in texts)


def is_state_like(*texts: str | None) -> bool:
    return any(text and STATE_WORDS.search(text) for text in texts)
