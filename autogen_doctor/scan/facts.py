"""Per-module facts, built in ONE walk over one `ast.parse` tree.

Facts are small picklable records (no AST nodes): what a module imports, defines and assigns
at module level, and for every function what it calls, mutates, rebinds, reads, assigns and
returns. Rules and cross-module resolution work on these facts only, so workers send facts
(not trees) back to the parent, and the cache stores facts.

Dotted texts describe expressions the way they are written: `agent.run`, `sessions[].append`
(`[]` marks a subscript), `redis.json().get` (`()` marks a call result). Resolution of the
first part (local, module-level, import alias) happens later, in `resolve.py`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from operator import itemgetter

MODULE_BODY = "<module>"

# Methods that change the container they are called on.
MUTATING_METHODS = frozenset({
    "append", "extend", "insert", "update", "setdefault", "pop", "popitem", "clear", "add",
    "remove", "discard", "appendleft", "extendleft", "popleft", "__setitem__", "__delitem__",
    "sort", "reverse", "difference_update", "intersection_update", "symmetric_difference_update",
    "move_to_end", "rotate", "set", "incr", "expire",
})
# Methods whose result is an element of the container they are called on.
ELEMENT_METHODS = frozenset({"setdefault", "get", "__getitem__", "pop"})

_MAX_ITEMS = 12  # elements of a literal or arguments of a call kept in a summary
_MAX_COLLECTED = 6  # strings and callees collected from inside an expression
_MAX_DEPTH = 2  # nesting kept in summaries (names, strings and calls are always collected)
_MAX_TEXT = 160
# Functions kept per file. Past this the file is generated code (tables, bindings): it goes to
# `errors` instead of holding hundreds of megabytes of facts (150k tiny functions took ~190 MB of
# facts on top of the syntax tree).
MAX_FUNCTIONS = 50_000
_EMPTY: frozenset[str] = frozenset()


def _compact_reduce(self):
    """Pickle as (class, positional values) with trailing defaults dropped."""
    values = [getattr(self, name) for name in self.__dataclass_fields__]
    defaults = type(self)._defaults
    while values and len(values) > type(self)._required and values[-1] == defaults[len(values) - 1]:
        values.pop()
    return (type(self), tuple(values))


def _compact(cls):
    from dataclasses import MISSING, fields

    defaults = []
    required = 0
    for item in fields(cls):
        if item.default is not MISSING:
            defaults.append(item.default)
        elif item.default_factory is not MISSING:  # type: ignore[misc]
            defaults.append(item.default_factory())  # type: ignore[misc]
        else:
            defaults.append(MISSING)
            required += 1
    cls._defaults = tuple(defaults)
    cls._required = required
    cls.__reduce__ = _compact_reduce
    return cls


_REQUIRED = object()


class _Record(tuple):
    """A small immutable record stored as a plain tuple.

    Facts hold hundreds of thousands of these; as tuple subclasses without a Python
    `__new__`, pickle rebuilds them in C (the NEWOBJ opcode), which keeps cache loads and
    worker-to-parent transfers fast. Fields are read through C-level itemgetter properties.
    """

    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _defaults: tuple = ()
    _index: dict[str, int] = {}

    @classmethod
    def make(cls, *args, **kwargs):
        values = list(args) + list(cls._defaults[len(args):])
        for key, value in kwargs.items():
            values[cls._index[key]] = value
        return tuple.__new__(cls, values)

    def replace(self, **kwargs):
        values = list(self)
        for key, value in kwargs.items():
            values[self._index[key]] = value
        return tuple.__new__(type(self), values)

    # Pickle rebuilds a record from tuple's own (C) __getnewargs__, `(tuple(self),)`: a Python
    # one here was a call per record, hundreds of thousands per cold scan's transfers.
    __getnewargs__ = tuple.__getnewargs__

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, self))
        return f"{type(self).__name__}({inner})"


def _record_fields(*spec: tuple[str, object]):
    def decorate(cls):
        cls._fields = tuple(name for name, _ in spec)
        cls._defaults = tuple(default for _, default in spec)
        cls._index = {name: index for index, name in enumerate(cls._fields)}
        for index, name in enumerate(cls._fields):
            setattr(cls, name, property(itemgetter(index)))
        return cls

    return decorate


@_record_fields(("kind", _REQUIRED), ("dotted", ""), ("text", None), ("names", _EMPTY), ("args", ()),
                ("kwargs", ()), ("strings", ()), ("calls", ()), ("size", 0), ("awaited", False))
class Expr(_Record):
    """A summary of one expression: enough for the rules, no AST.

    kind: name attr call str const list tuple set dict comp fstr binop subscript lambda ifexp boolop other;
    dotted: name/attr/subscript: its dotted text, call: the callee's; text: a str constant or the
    literal start of an f-string; names: every Name read inside; args: call positional args,
    literal elements, binop operands; kwargs: call keywords ("**" for **kwargs); strings and
    calls: string constants and callees inside; size: elements of a literal.
    """

    __slots__ = ()

    def kwarg(self, name: str) -> "Expr | None":
        for key, value in self.kwargs:
            if key == name:
                return value
        return None

    def arg(self, index: int, name: str | None = None) -> "Expr | None":
        """Positional argument `index`, or keyword `name`."""
        if name is not None:
            found = self.kwarg(name)
            if found is not None:
                return found
        return self.args[index] if index < len(self.args) else None


@_record_fields(("func", _REQUIRED), ("line", 0), ("col", 0), ("end_line", 0), ("end_col", 0), ("args", ()),
                ("kwargs", ()), ("awaited", False), ("statement", False), ("target", None), ("withs", ()),
                ("in_loop", False), ("arg_names", _EMPTY), ("receiver_expr", None))
class Call(_Record):
    """One call site inside a function (or the module body).

    statement: its result is discarded; target: the name its result is assigned to; withs:
    enclosing `with` context expressions (dotted); arg_names: every Name read in its arguments;
    receiver_expr: summary of the receiver, kept only for path-writing methods.
    """

    __slots__ = ()

    def kwarg(self, name: str) -> Expr | None:
        for key, value in self.kwargs:
            if key == name:
                return value
        return None

    def arg(self, index: int, name: str | None = None) -> Expr | None:
        if name is not None:
            found = self.kwarg(name)
            if found is not None:
                return found
        return self.args[index] if index < len(self.args) else None

    @property
    def method(self) -> str:
        return self[0].rpartition(".")[2]

    @property
    def receiver(self) -> str:
        return self[0].rpartition(".")[0]


@_record_fields(("base", _REQUIRED), ("how", ""), ("line", 0), ("col", 0), ("end_line", 0), ("end_col", 0),
                ("withs", ()))
class Mutation(_Record):
    """A write into a container or attribute: `base` is the container's dotted text."""

    __slots__ = ()


@_record_fields(("name", _REQUIRED), ("line", 0), ("col", 0), ("lazy_init", False))
class GlobalWrite(_Record):
    """`global NAME` then NAME = ...; lazy_init: inside `if NAME is None:` / `if not NAME:`."""

    __slots__ = ()


@_record_fields(("targets", _REQUIRED), ("value", None), ("line", 0), ("col", 0), ("how", "assign"))
class Assign(_Record):
    """`targets = value` (also `for target in value`, `with value as target`); how: assign, for,
    with, annotated, augmented."""

    __slots__ = ()


@_compact
@dataclass(slots=True)
class Function:
    qualname: str
    name: str
    line: int
    col: int
    end_line: int
    is_async: bool = False
    params: tuple[str, ...] = ()
    decorators: tuple[Expr, ...] = ()
    class_name: str | None = None
    parent: str | None = None
    calls: list[Call] = field(default_factory=list)
    mutations: list[Mutation] = field(default_factory=list)
    assigns: list[Assign] = field(default_factory=list)
    returns: list[Expr] = field(default_factory=list)
    global_decls: set[str] = field(default_factory=set)
    global_writes: list[GlobalWrite] = field(default_factory=list)
    local_names: set[str] = field(default_factory=set)
    reads: set[str] = field(default_factory=set)  # not collected (kept for compatibility)
    imports: dict[str, str] = field(default_factory=dict)
    nested: list[str] = field(default_factory=list)
    # (parameter, annotated type's dotted text, default) for parameters that have either:
    # `manager: ChatManager = Depends(get_manager)`, `Annotated[ChatManager, Depends(...)]`.
    param_info: tuple[tuple[str, str, "Expr | None"], ...] = ()

    def is_local(self, name: str) -> bool:
        return name in self.local_names and name not in self.global_decls


@_compact
@dataclass(slots=True)
class ClassInfo:
    qualname: str
    name: str
    line: int
    col: int
    bases: tuple[str, ...] = ()
    decorators: tuple[Expr, ...] = ()
    attrs: dict[str, Assign] = field(default_factory=dict)
    methods: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ModuleFacts:
    name: str  # dotted module name
    path: str  # absolute path
    is_package: bool = False
    imports: dict[str, str] = field(default_factory=dict)  # local name -> dotted target
    star_imports: list[str] = field(default_factory=list)
    assigns: dict[str, list[Assign]] = field(default_factory=dict)  # module-level names
    functions: dict[str, Function] = field(default_factory=dict)  # includes MODULE_BODY
    classes: dict[str, ClassInfo] = field(default_factory=dict)
    defined: set[str] = field(default_factory=set)  # module-level def/class names
    has_main_guard: bool = False
    lines: int = 0
    display: str = ""  # set by the engine (not part of the cached facts' identity)

    @property
    def body(self) -> Function:
        return self.functions[MODULE_BODY]

    def first_assign(self, name: str) -> Assign | None:
        found = self.assigns.get(name)
        return found[0] if found else None


def module_name_for(path: str, is_package_dir) -> tuple[str, bool]:
    """Dotted module name from the folders above `path` that are packages (have __init__.py)."""
    import os

    directory, filename = os.path.split(path)
    stem = filename[:-3] if filename.endswith(".py") else filename
    is_package = stem == "__init__"
    parts: list[str] = [] if is_package else [stem]
    while is_package_dir(directory):
        directory, package = os.path.split(directory)
        if not package:
            break
        parts.append(package)
    parts.reverse()
    return ".".join(parts) or stem, is_package


def dotted(node: ast.AST) -> str:
    """`a.b.c`, `a[].b`, `f().g`, or '' for anything else at the root."""
    parts: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append("." + node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            parts.append("[]")
            node = node.value
        elif isinstance(node, ast.Call):
            parts.append("()")
            node = node.func
        elif isinstance(node, ast.Name):
            parts.append(node.id)
            break
        elif isinstance(node, ast.Await):
            node = node.value
        else:
            return ""
    parts.reverse()
    return "".join(parts)


def container_base(text: str) -> str:
    """The container a dotted write lands in: `sessions[].x` -> `sessions`,
    `store.setdefault().append` receiver -> `store`; '' when it is a call result we cannot name."""
    cut = len(text)
    for marker in ("[]", "()"):
        index = text.find(marker)
        if index != -1:
            cut = min(cut, index)
    base = text[:cut]
    if cut < len(text) and text[cut:cut + 2] == "()":
        head, _, method = base.rpartition(".")
        if method in ELEMENT_METHODS and head:
            return head
        return ""
    return base


class _Builder:
    """The single walk. Statements are dispatched by type; expressions are summarised
    bottom-up by `expr`, which also records every call it meets."""

    def __init__(self, facts: ModuleFacts, module_package: str) -> None:
        self.facts = facts
        self.package = module_package
        self.scope = Function(MODULE_BODY, MODULE_BODY, 1, 1, 1)
        facts.functions[MODULE_BODY] = self.scope
        self.class_stack: list[ClassInfo] = []
        self.withs: tuple[str, ...] = ()
        self.loop_depth = 0
        self.guarded: frozenset[str] = _EMPTY  # names tested `is None` / `not x` by enclosing ifs
        self.depth = 0

    # ---------- imports ----------
    def _resolve_relative(self, module: str | None, level: int) -> str:
        if not level:
            return module or ""
        parts = self.package.split(".") if self.package else []
        if level > 1:
            parts = parts[: len(parts) - (level - 1)] if len(parts) >= level - 1 else []
        base = ".".join(parts)
        if module:
            return f"{base}.{module}" if base else module
        return base

    def _imports_target(self) -> dict[str, str]:
        return self.facts.imports if self.scope.qualname == MODULE_BODY else self.scope.imports

    def on_import(self, node: ast.Import) -> None:
        table = self._imports_target()
        for alias in node.names:
            if alias.asname:
                table[alias.asname] = alias.name
            else:
                head = alias.name.split(".", 1)[0]
                table.setdefault(head, head)
                if "." in alias.name:  # `import a.b` also makes `a.b` reachable through `a`
                    table.setdefault(alias.name, alias.name)
            self._bind(alias.asname or alias.name.split(".", 1)[0])

    def on_import_from(self, node: ast.ImportFrom) -> None:
        source = self._resolve_relative(node.module, node.level)
        table = self._imports_target()
        for alias in node.names:
            if alias.name == "*":
                if self.scope.qualname == MODULE_BODY:
                    self.facts.star_imports.append(source)
                continue
            table[alias.asname or alias.name] = f"{source}.{alias.name}" if source else alias.name
            self._bind(alias.asname or alias.name)

    def _bind(self, name: str) -> None:
        if self.scope.qualname != MODULE_BODY:
            self.scope.local_names.add(name)

    # ---------- statements ----------
    def body(self, statements: list[ast.stmt]) -> None:
        for statement in statements:
            handler = _STATEMENTS.get(type(statement))
            if handler is not None:
                handler(self, statement)
            else:
                self.generic_statement(statement)

    def generic_statement(self, node: ast.stmt) -> None:
        self._visit_fields(node)

    def generic_child(self, node: ast.AST) -> None:
        # excepthandler, match_case, withitem, ...: summarise expressions, walk statements
        if isinstance(node, ast.ExceptHandler) and node.name:
            self._bind(node.name)
        self._visit_fields(node)

    def _visit_fields(self, node: ast.AST) -> None:
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                if value and isinstance(value[0], ast.stmt):
                    self.body(value)
                else:
                    for item in value:
                        if isinstance(item, ast.expr):
                            self.expr(item)
                        elif isinstance(item, ast.AST):
                            self.generic_child(item)
            elif isinstance(value, ast.expr):
                self.expr(value)
            elif isinstance(value, ast.AST):
                self.generic_child(value)

    def on_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        decorators = tuple(self.expr(item) for item in node.decorator_list)
        outer = self.scope
        if self.class_stack and outer.qualname == MODULE_BODY or (
                self.class_stack and outer.qualname == self._class_scope_name()):
            klass = self.class_stack[-1]
            qualname = f"{klass.qualname}.{node.name}"
            klass.methods.append(qualname)
            class_name: str | None = klass.qualname
            parent = None
        elif outer.qualname == MODULE_BODY:
            qualname, class_name, parent = node.name, None, None
            self.facts.defined.add(node.name)
        else:
            qualname, class_name, parent = f"{outer.qualname}.{node.name}", outer.class_name, outer.qualname
            outer.nested.append(qualname)
            outer.local_names.add(node.name)
        arguments = node.args
        params = tuple(a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs))
        if arguments.vararg:
            params += (arguments.vararg.arg,)
        if arguments.kwarg:
            params += (arguments.kwarg.arg,)
        function = Function(qualname, node.name, node.lineno, node.col_offset + 1,
                            getattr(node, "end_lineno", node.lineno) or node.lineno,
                            isinstance(node, ast.AsyncFunctionDef), params, decorators, class_name, parent)
        function.local_names.update(params)
        function.param_info = self._param_info(arguments)
        if len(self.facts.functions) >= MAX_FUNCTIONS:
            from autogen_doctor.scan.parse import ParseProblem

            raise ParseProblem(f"more than {MAX_FUNCTIONS:,} functions in one file (generated code?); not analysed")
        self.facts.functions.setdefault(qualname, function)
        saved = (self.scope, self.withs, self.loop_depth, self.guarded)
        self.scope, self.withs, self.loop_depth, self.guarded = function, (), 0, _EMPTY
        # Defaults are evaluated once, but `Depends(get_store)` runs per request: keep them here.
        for default in (*arguments.defaults, *arguments.kw_defaults):
            if default is not None:
                self.expr(default)
        self._class_hidden = getattr(self, "_class_hidden", 0) + 1
        stack, self.class_stack = self.class_stack, []
        self.body(node.body)
        self.class_stack = stack
        self._class_hidden -= 1
        self.scope, self.withs, self.loop_depth, self.guarded = saved

    def _param_info(self, arguments: ast.arguments) -> tuple:
        positional = (*arguments.posonlyargs, *arguments.args)
        defaults: dict[str, ast.expr] = {}
        for argument, default in zip(positional[len(positional) - len(arguments.defaults):], arguments.defaults):
            defaults[argument.arg] = default
        for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults):
            if default is not None:
                defaults[argument.arg] = default
        found = []
        for argument in (*positional, *arguments.kwonlyargs):
            annotation = argument.annotation
            default = defaults.get(argument.arg)
            type_text = ""
            if isinstance(annotation, ast.Subscript) and dotted(annotation.value).endswith("Annotated") and \
                    isinstance(annotation.slice, ast.Tuple) and annotation.slice.elts:
                type_text = dotted(annotation.slice.elts[0])
                for extra in annotation.slice.elts[1:]:
                    if isinstance(extra, ast.Call) and default is None:
                        default = extra
            elif annotation is not None:
                type_text = dotted(annotation)
            literal = _literal_text(default)
            if type_text or isinstance(default, ast.Call) or literal is not None:
                summary = None
                if literal is not None:  # `session_id: str = "default"`
                    summary = Expr.make("str", text=literal, strings=(literal,))
                elif isinstance(default, ast.Call):
                    target = dotted(default.func)
                    inner = [dotted(item) for item in default.args[:1]] + [
                        dotted(keyword.value) for keyword in default.keywords if keyword.arg == "dependency"]
                    # `Query("main")`, `Field(default="x")`: the text a missing value becomes
                    given = _literal_text(default.args[0]) if default.args else None
                    for keyword in default.keywords:
                        if keyword.arg == "default":
                            given = _literal_text(keyword.value)
                    summary = Expr.make("call", target, args=tuple(Expr.make("name" if "." not in text else "attr", text)
                                                                   for text in inner if text),
                                        kwargs=(("default", Expr.make("str", text=given, strings=(given,))),)
                                        if given is not None else ())
                found.append((argument.arg, type_text, summary))
        return tuple(found)

    def _class_scope_name(self) -> str:
        return MODULE_BODY

    def on_class(self, node: ast.ClassDef) -> None:
        decorators = tuple(self.expr(item) for item in node.decorator_list)
        bases = tuple(dotted(base) for base in node.bases)
        for keyword in node.keywords:
            self.expr(keyword.value)
        prefix = self.class_stack[-1].qualname + "." if self.class_stack else (
            "" if self.scope.qualname == MODULE_BODY else self.scope.qualname + ".")
        info = ClassInfo(prefix + node.name, node.name, node.lineno, node.col_offset + 1, bases, decorators)
        self.facts.classes.setdefault(info.qualname, info)
        if self.scope.qualname == MODULE_BODY and not self.class_stack:
            self.facts.defined.add(node.name)
        else:
            self._bind(node.name)
        self.class_stack.append(info)
        for statement in node.body:
            if isinstance(statement, (ast.Assign, ast.AnnAssign)):
                targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                value = self.expr(statement.value) if statement.value is not None else Expr.make("other")
                for target in targets:
                    if isinstance(target, ast.Name):
                        info.attrs.setdefault(target.id, Assign.make((target.id,), value, statement.lineno,
                                                                statement.col_offset + 1))
                    else:
                        self.expr(target)
            else:
                handler = _STATEMENTS.get(type(statement))
                if handler is not None:
                    handler(self, statement)
                else:
                    self.generic_statement(statement)
        self.class_stack.pop()

    def _target_texts(self, target: ast.expr, out: list[str]) -> None:
        if isinstance(target, ast.Name):
            out.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._target_texts(element, out)
        elif isinstance(target, ast.Starred):
            self._target_texts(target.value, out)
        else:
            text = dotted(target)
            if text:
                out.append(text)

    def _write_target(self, target: ast.expr, how: str) -> None:
        """Record what assigning to `target` changes: a local/global name, an item, an attribute."""
        if isinstance(target, ast.Name):
            self._assign_name(target)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._write_target(element, how)
        elif isinstance(target, ast.Starred):
            self._write_target(target.value, how)
        elif isinstance(target, ast.Subscript):
            self.expr(target.value)
            self.expr(target.slice)
            base = container_base(dotted(target.value))
            if base:
                self._mutation(base, how, target)
        elif isinstance(target, ast.Attribute):
            self.expr(target.value)
            text = dotted(target)
            if text and "()" not in text:
                self._mutation(text, "attribute assignment", target)

    def _assign_name(self, target: ast.Name) -> None:
        scope = self.scope
        if scope.qualname == MODULE_BODY:
            return
        if target.id in scope.global_decls:
            scope.global_writes.append(GlobalWrite.make(target.id, target.lineno, target.col_offset + 1,
                                                   target.id in self.guarded))
        else:
            scope.local_names.add(target.id)

    def _mutation(self, base: str, how: str, node: ast.AST) -> None:
        self.scope.mutations.append(Mutation.make(
            base, how, node.lineno, node.col_offset + 1,
            getattr(node, "end_lineno", None) or node.lineno, (getattr(node, "end_col_offset", None) or 0) + 1,
            self.withs))

    def _record_assign(self, targets: list[ast.expr], value: Expr, node: ast.stmt, how: str) -> None:
        texts: list[str] = []
        for target in targets:
            self._target_texts(target, texts)
        record = Assign.make(tuple(texts), value, node.lineno, node.col_offset + 1, how)
        if self.scope.qualname == MODULE_BODY and not self.class_stack:
            for text in texts:
                if "." not in text and "[" not in text:
                    self.facts.assigns.setdefault(text, []).append(record)
        self.scope.assigns.append(record)

    def on_assign(self, node: ast.Assign) -> None:
        value = self.expr(node.value)
        self._mark_target(node.value, node.targets)
        for target in node.targets:
            self._write_target(target, "item assignment")
        self._record_assign(node.targets, value, node, "assign")

    def _mark_target(self, value_node: ast.expr, targets: list[ast.expr]) -> None:
        call = value_node.value if isinstance(value_node, ast.Await) else value_node
        if isinstance(call, ast.Call) and len(targets) == 1 and isinstance(targets[0], ast.Name):
            recorded = self._last_call_for.get(id(call))
            if recorded is not None:
                recorded[_TARGET] = targets[0].id

    def on_ann_assign(self, node: ast.AnnAssign) -> None:
        if node.value is None:
            if isinstance(node.target, ast.Name) and self.scope.qualname != MODULE_BODY:
                self.scope.local_names.add(node.target.id)
            return
        value = self.expr(node.value)
        self._mark_target(node.value, [node.target])
        self._write_target(node.target, "item assignment")
        self._record_assign([node.target], value, node, "annotated")

    def on_aug_assign(self, node: ast.AugAssign) -> None:
        value = self.expr(node.value)
        target = node.target
        if isinstance(target, ast.Name):
            if self.scope.qualname != MODULE_BODY:
                if target.id in self.scope.global_decls:
                    self.scope.global_writes.append(GlobalWrite.make(target.id, target.lineno,
                                                                target.col_offset + 1, False))
                else:
                    self.scope.local_names.add(target.id)
            self._record_assign([target], value, node, "augmented")
            if self.scope.qualname != MODULE_BODY and target.id not in self.scope.global_decls:
                # `history += [m]` on a list mutates it in place
                self.scope.mutations.append(Mutation.make(target.id, "augmented assignment", node.lineno,
                                                     node.col_offset + 1, node.lineno, node.col_offset + 1,
                                                     self.withs))
        else:
            self._write_target(target, "augmented item assignment")
            self._record_assign([target], value, node, "augmented")

    def on_delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Subscript):
                self.expr(target.value)
                self.expr(target.slice)
                base = container_base(dotted(target.value))
                if base:
                    self._mutation(base, "del item", target)
            elif isinstance(target, ast.Name):
                self._assign_name(target)
            else:
                self.expr(target)

    def on_expr_statement(self, node: ast.Expr) -> None:
        value = node.value
        self.expr(value)
        call = value.value if isinstance(value, ast.Await) else value
        if isinstance(call, ast.Call):
            recorded = self._last_call_for.get(id(call))
            if recorded is not None:
                recorded[_STATEMENT] = True

    def on_return(self, node: ast.Return) -> None:
        if node.value is not None:
            self.scope.returns.append(self.expr(node.value))

    def on_global(self, node: ast.Global) -> None:
        self.scope.global_decls.update(node.names)

    def on_if(self, node: ast.If) -> None:
        self.expr(node.test)
        if self.scope.qualname == MODULE_BODY and not self.class_stack and _is_main_guard(node.test):
            self.facts.has_main_guard = True
        saved = self.guarded
        tested = _none_tested_names(node.test)
        if tested:
            self.guarded = self.guarded | tested
        self.body(node.body)
        self.guarded = saved
        self.body(node.orelse)

    def on_for(self, node: ast.For | ast.AsyncFor) -> None:
        value = self.expr(node.iter)
        self._write_target(node.target, "item assignment")
        self._record_assign([node.target], value, node, "for")
        self.loop_depth += 1
        self.body(node.body)
        self.loop_depth -= 1
        self.body(node.orelse)

    def on_while(self, node: ast.While) -> None:
        self.expr(node.test)
        self.loop_depth += 1
        self.body(node.body)
        self.loop_depth -= 1
        self.body(node.orelse)

    def on_with(self, node: ast.With | ast.AsyncWith) -> None:
        added: list[str] = []
        for item in node.items:
            value = self.expr(item.context_expr)
            added.append(value.dotted or value.kind)
            if item.optional_vars is not None:
                self._write_target(item.optional_vars, "item assignment")
                self._record_assign([item.optional_vars], value, node, "with")
        saved = self.withs
        self.withs = self.withs + tuple(added)
        self.body(node.body)
        self.withs = saved

    # ---------- expressions ----------
    def expr(self, node: ast.expr, depth: int = 0, awaited: bool = False) -> Expr:
        """Summarise `node`; every call inside is recorded in the current scope."""
        kind = type(node)
        if kind is ast.Name:
            found = self._names.get(node.id)
            if found is None:  # one shared summary per name: pickle writes it once
                found = self._names[node.id] = tuple.__new__(
                    Expr, ("name", node.id, None, frozenset((node.id,)), (), (), (), (), 0, False))
            return found
        if kind is ast.Constant:
            value = node.value
            if isinstance(value, str):
                short = value[:_MAX_TEXT]
                found = self._strings.get(short)
                if found is None:  # shared like names: docstrings and keys repeat
                    found = self._strings[short] = tuple.__new__(
                        Expr, ("str", "", short, _EMPTY, (), (), (short,), (), 0, False))
                return found
            return _CONSTANT
        if kind is ast.Attribute:
            value = node.value
            inner = self.expr(value, depth + 1)
            # The dotted text extends the inner summary's (a name's or an attribute's dotted text
            # is `dotted()` of that node): no second walk down the chain, which made long
            # `a.b.c.d` chains quadratic.
            inner_kind = type(value)
            if inner_kind is ast.Name:
                # `self.x`, `request.app`: one shared summary per text, as for names
                text = value.id + "." + node.attr
                found = self._name_attrs.get(text)
                if found is None:
                    found = self._name_attrs[text] = tuple.__new__(
                        Expr, ("attr", text, None, inner[_NAMES], (), (), (), (), 0, False))
                return found
            text = _extend_dotted(inner_kind, inner[_DOTTED], "." + node.attr)
            if text is None:
                text = dotted(node)
            return tuple.__new__(Expr, ("attr", text, None, inner.names, (), (), inner.strings, inner.calls, 0, False))
        if kind is ast.Call:
            return self._call(node, depth, awaited)
        if kind is ast.Await:
            inner = self.expr(node.value, depth, awaited=True)
            return inner.replace(awaited=True)
        if kind in (ast.List, ast.Tuple, ast.Set):
            parts = [self.expr(element, depth + 1) for element in node.elts]
            label = "list" if kind is ast.List else "tuple" if kind is ast.Tuple else "set"
            return self._combine(label, parts, size=len(parts), keep=parts if depth <= _MAX_DEPTH else ())
        if kind is ast.Dict:
            parts = [self.expr(element, depth + 1) for element in node.values]
            keys = [self.expr(element, depth + 1) for element in node.keys if element is not None]
            return self._combine("dict", parts + keys, size=len(parts), keep=parts if depth <= _MAX_DEPTH else ())
        if kind is ast.JoinedStr:
            parts = [self.expr(value, depth + 1) for value in node.values]
            leading = node.values[0].value if node.values and isinstance(node.values[0], ast.Constant) else None
            return self._combine("fstr", parts, text=leading if isinstance(leading, str) else "")
        if kind is ast.FormattedValue:
            return self.expr(node.value, depth + 1)
        if kind is ast.BinOp:
            parts = [self.expr(node.left, depth + 1), self.expr(node.right, depth + 1)]
            return self._combine("binop", parts, keep=parts if depth <= _MAX_DEPTH else (),
                                 text=type(node.op).__name__)
        if kind is ast.Subscript:
            value = node.value
            inner = self.expr(value, depth + 1)
            index = self.expr(node.slice, depth + 1)
            text = _extend_dotted(type(value), inner[_DOTTED], "[]")
            if text is None:
                text = dotted(node)
            # text "slice" for `messages[:-1]` (many elements); None for `messages[-1]` (one element)
            return self._combine("subscript", [inner, index], keep=[inner, index] if depth <= _MAX_DEPTH else (),
                                 dotted=text, text="slice" if isinstance(node.slice, ast.Slice) else None)
        if kind in (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp):
            parts = []
            for generator in node.generators:
                parts.append(self.expr(generator.iter, depth + 1))
                for condition in generator.ifs:
                    parts.append(self.expr(condition, depth + 1))
            if kind is ast.DictComp:
                parts.append(self.expr(node.key, depth + 1))
                parts.append(self.expr(node.value, depth + 1))
            else:
                parts.append(self.expr(node.elt, depth + 1))
            return self._combine("comp", parts)
        if kind is ast.Lambda:
            return self._combine("lambda", [self.expr(node.body, depth + 1)])
        if kind is ast.Starred:
            return self.expr(node.value, depth)
        if kind is ast.NamedExpr:
            value = self.expr(node.value, depth)
            self._write_target(node.target, "item assignment")
            self._record_assign([node.target], value, node, "assign")  # type: ignore[arg-type]
            return value
        # The common ones first, children in `_fields` order (as the generic branch below).
        if kind is ast.Compare:
            parts = [self.expr(node.left, depth + 1)]
            parts.extend([self.expr(item, depth + 1) for item in node.comparators])
            return self._combine("other", parts)
        if kind is ast.BoolOp:
            parts = [self.expr(item, depth + 1) for item in node.values]
            return self._combine("boolop", parts, keep=parts if depth <= _MAX_DEPTH else ())
        if kind is ast.UnaryOp:
            return self._combine("other", [self.expr(node.operand, depth + 1)])
        # IfExp, Slice, Yield, ...: combine the children
        parts = []
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, ast.expr):
                parts.append(self.expr(value, depth + 1))
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.expr):
                        parts.append(self.expr(item, depth + 1))
        label = "ifexp" if kind is ast.IfExp else "boolop" if kind is ast.BoolOp else "other"
        return self._combine(label, parts, keep=parts if label != "other" and depth <= _MAX_DEPTH else ())

    @staticmethod
    def _combine(kind: str, parts: list[Expr], size: int = 0, keep=(), text: str | None = None,
                 dotted: str = "") -> Expr:
        names, strings, calls = _collect(parts)
        return tuple.__new__(Expr, (kind, dotted, text, names, tuple(keep[:_MAX_ITEMS]), (), strings, calls, size, False))

    def _call(self, node: ast.Call, depth: int, awaited: bool) -> Expr:
        func = node.func
        func_kind = type(func)
        if func_kind is ast.Name:
            func_text = func.id
        else:
            func_text = dotted(func)
            if not func_text and func_kind is ast.Attribute:
                func_text = "<expr>." + func.attr  # `(BASE / name).write_text(...)`
        inner_depth = depth + 1
        expr = self.expr
        if func_text in _UNINTERESTING_CALLS:
            parts = [expr(argument, inner_depth) for argument in node.args]
            parts.extend([expr(keyword.value, inner_depth) for keyword in node.keywords])
            return self._combine("call", parts, dotted=func_text)
        # A draft (list) in Call field order; frozen into Call records when the module is done,
        # because statements set `statement` and `target` after the expression is summarised.
        draft = [func_text, node.lineno, node.col_offset + 1, node.end_lineno or node.lineno,
                 (node.end_col_offset or 0) + 1, (), (), awaited, False, None, self.withs,
                 self.loop_depth > 0, _EMPTY, None]
        self.scope.calls.append(draft)  # type: ignore[arg-type]
        self._last_call_for[id(node)] = draft
        method = func.attr if func_kind is ast.Attribute else None
        if method is not None and method in _PATH_METHODS:
            receiver = expr(func.value, inner_depth)
            draft[_RECEIVER_EXPR] = receiver
            callee = tuple.__new__(Expr, ("attr", func_text, None, receiver[_NAMES], (), (), receiver[_STRINGS],
                                          receiver[_CALLS], 0, False))
        else:
            callee = expr(func, inner_depth) if func_kind is not ast.Name else None
        args = [expr(argument, inner_depth) for argument in node.args]
        if len(args) > _MAX_ITEMS:
            del args[_MAX_ITEMS:]
        kwargs = [(keyword.arg or "**", expr(keyword.value, inner_depth)) for keyword in node.keywords]
        if len(kwargs) > _MAX_ITEMS:
            del kwargs[_MAX_ITEMS:]
        parts = args + [value for _, value in kwargs] if kwargs else list(args)
        last = method if method is not None else func_text.rsplit(".", 1)[-1]
        if not (last[:1].isupper() or last in DETAILED_CALLS):
            # No rule reads these arguments: keep names (call graph, data flow) and drop the rest,
            # which keeps the facts small (they are pickled to the parent and into the cache).
            # String constants stay too: the flow follows them into parameters (`load_history("u1")`).
            args = tuple([arg if arg[0] in _KEPT_KINDS else _OPAQUE for arg in args])
            kwargs = tuple([(key, value if value[0] in _KEPT_KINDS else _OPAQUE) for key, value in kwargs])
        else:
            args = tuple(args)
            kwargs = tuple(kwargs)
        draft[_ARGS] = args
        draft[_KWARGS] = kwargs
        if parts:
            arg_names: set[str] = set()
            for part in parts:
                if part[_NAMES]:
                    arg_names.update(part[_NAMES])
            draft[_ARG_NAMES] = frozenset(arg_names)
        if callee is not None:
            parts.append(callee)
        names, strings, calls = _collect(parts)
        # Keep argument detail only near the top: deep nesting is summarised by names/strings/calls.
        near_top = depth <= _MAX_DEPTH
        combined = tuple.__new__(Expr, (
            "call", func_text, None, names, args if near_top else (), kwargs if near_top else (),
            strings, ((func_text,) + calls)[:_MAX_COLLECTED + 1] if func_text else calls, 0, awaited))
        # A mutating method call writes into its receiver: `sessions[sid].append(m)`.
        if method is not None and method in MUTATING_METHODS:
            # dotted(func.value) is func_text without `.method` ('' when func_text is `<expr>.`)
            base = container_base(func_text[:-len(method) - 1]) if func_text[:1] != "<" else ""
            if base:
                self._mutation(base, f".{method}()", node)
        return combined

    _last_call_for: dict


# Calls whose arguments rules read in detail (besides constructors, i.e. names starting with a capital).
DETAILED_CALLS = frozenset({
    "run", "run_stream", "on_messages", "on_messages_stream", "initiate_chat", "a_initiate_chat",
    "initiate_chats", "a_initiate_chats", "generate_reply", "a_generate_reply", "run_chat", "a_run_chat",
    "initiate_swarm_chat", "a_initiate_swarm_chat", "initiate_group_chat", "a_initiate_group_chat",
    "run_group_chat", "a_run_group_chat", "send_message", "publish_message", "load_state", "save_state",
    "send", "a_send", "resume", "a_resume", "load_component", "open", "write_text", "write_bytes", "to_csv",
    "to_json", "to_parquet", "to_pickle", "connect", "create_engine", "create_async_engine", "save_local",
    "execute", "executemany", "set", "setex", "psetex", "getset", "mset", "hset", "hmset", "get", "hget",
    "hgetall", "json", "dump", "load", "loads", "dumps", "join", "joinpath", "gettempdir", "mkdtemp",
    "add_api_route", "add_api_websocket_route", "add_route", "add_websocket_route", "add_url_rule",
    "add_get", "add_post", "add_put", "add_delete", "add_patch", "add_view", "add_resource", "path",
    "re_path", "url", "route", "api_route", "websocket", "websocket_route", "post", "put", "patch",
    "delete", "head", "options", "view", "task", "on", "event", "ws", "click", "submit", "change",
    "lock", "watch", "getenv", "abspath", "normpath", "fspath", "expanduser", "resolve", "str",
})
_OPAQUE = tuple.__new__(Expr, ("other", "", None, _EMPTY, (), (), (), (), 0, False))
_CONSTANT = tuple.__new__(Expr, ("const", "", None, _EMPTY, (), (), (), (), 0, False))  # numbers, None, bools

_ARGS, _KWARGS, _STATEMENT, _TARGET, _ARG_NAMES, _RECEIVER_EXPR = 5, 6, 8, 9, 12, 13
_DOTTED, _NAMES, _STRINGS, _CALLS = 1, 3, 6, 7  # Expr fields, read by index in the hot paths
_KEPT_KINDS = frozenset({"name", "attr", "str"})


def _extend_dotted(inner_kind: type, inner_dotted: str, suffix: str) -> str | None:
    """`dotted()` of an attribute or subscript node from its value's summary, without walking
    the chain again; None when the value's kind does not say (then walk it).

    A name's, attribute's or subscript's summary carries `dotted()` of its node; a call's
    carries its callee's text, which is `<expr>.method` when the callee has no dotted text.
    """
    if inner_kind is ast.Name:
        return inner_dotted + suffix
    if inner_kind is ast.Attribute or inner_kind is ast.Subscript:
        return inner_dotted + suffix if inner_dotted else ""
    if inner_kind is ast.Call:
        return inner_dotted + "()" + suffix if inner_dotted and inner_dotted[0] != "<" else ""
    return None


def _collect(parts: list[Expr]) -> tuple[frozenset[str], tuple[str, ...], tuple[str, ...]]:
    """Every name, and the first strings and callees, read inside `parts` (in order)."""
    names: set[str] = set()
    strings: list[str] = []
    calls: list[str] = []
    for part in parts:
        if part[_NAMES]:
            names.update(part[_NAMES])
        if part[_STRINGS] and len(strings) < _MAX_COLLECTED:
            strings.extend(part[_STRINGS])
        if part[_CALLS] and len(calls) < _MAX_COLLECTED:
            calls.extend(part[_CALLS])
    return frozenset(names), tuple(strings[:_MAX_COLLECTED]), tuple(calls[:_MAX_COLLECTED])

# Methods whose receiver is a path or file worth summarising (`(DIR / name).write_text(...)`).
_PATH_METHODS = frozenset({"write_text", "write_bytes", "open", "touch", "save_local", "to_csv", "to_json",
                           "to_parquet", "to_pickle"})

# Builtins whose calls tell no rule anything (their arguments are still summarised).
_UNINTERESTING_CALLS = frozenset({
    "len", "isinstance", "issubclass", "str", "int", "float", "bool", "repr", "print", "range",
    "enumerate", "zip", "getattr", "hasattr", "setattr", "super", "type", "id", "hash", "min", "max",
    "sum", "abs", "round", "sorted", "reversed", "any", "all", "iter", "next", "format", "callable",
    "map", "filter", "ord", "chr", "hex", "bytes", "bytearray", "divmod", "vars", "dir",
})


def _literal_text(node: ast.expr | None) -> str | None:
    """The (shortened) text of a string constant, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value[:_MAX_TEXT]
    return None


def _is_main_guard(test: ast.expr) -> bool:
    if isinstance(test, ast.Compare) and len(test.comparators) == 1:
        left, right = test.left, test.comparators[0]
        names = {getattr(left, "id", None), getattr(right, "id", None)}
        values = {getattr(left, "value", None), getattr(right, "value", None)}
        return "__name__" in names and "__main__" in values
    return False


def _none_tested_names(test: ast.expr) -> frozenset[str]:
    """Names an `if` checks for being unset: `x is None`, `not x`, `x is None or ...`."""
    found: set[str] = set()
    stack = [test]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.BoolOp):
            stack.extend(node.values)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and isinstance(node.operand, ast.Name):
            found.add(node.operand.id)
        elif (isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and len(node.ops) == 1
              and isinstance(node.ops[0], (ast.Is, ast.Eq))
              and isinstance(node.comparators[0], ast.Constant) and node.comparators[0].value is None):
            found.add(node.left.id)
    return frozenset(found)


_STATEMENTS = {
    ast.FunctionDef: _Builder.on_function,
    ast.AsyncFunctionDef: _Builder.on_function,
    ast.ClassDef: _Builder.on_class,
    ast.Assign: _Builder.on_assign,
    ast.AnnAssign: _Builder.on_ann_assign,
    ast.AugAssign: _Builder.on_aug_assign,
    ast.Delete: _Builder.on_delete,
    ast.Expr: _Builder.on_expr_statement,
    ast.Return: _Builder.on_return,
    ast.Global: _Builder.on_global,
    ast.Nonlocal: _Builder.on_global,
    ast.If: _Builder.on_if,
    ast.For: _Builder.on_for,
    ast.AsyncFor: _Builder.on_for,
    ast.While: _Builder.on_while,
    ast.With: _Builder.on_with,
    ast.AsyncWith: _Builder.on_with,
    ast.Import: _Builder.on_import,
    ast.ImportFrom: _Builder.on_import_from,
}


def build_module_facts(tree: ast.Module, name: str, path: str, is_package: bool, lines: int = 0) -> ModuleFacts:
    """Facts of one parsed module. May raise RecursionError on absurdly deep trees."""
    facts = ModuleFacts(name=name, path=path, is_package=is_package, lines=lines)
    package = name if is_package else name.rpartition(".")[0]
    builder = _Builder(facts, package)
    builder._last_call_for = {}
    builder._names = {}
    builder._strings = {}
    builder._name_attrs = {}
    builder.body(tree.body)
    shared_empty_dict: dict = {}
    for function in facts.functions.values():
        function.calls = [tuple.__new__(Call, draft) for draft in function.calls] if function.calls else ()
        # Empty collections become the shared empty tuple (pickled without allocating anything):
        # most functions write nothing, rebind nothing and nest nothing.
        for name in ("mutations", "assigns", "returns", "global_writes", "nested", "global_decls",
                     "local_names", "reads"):
            if not getattr(function, name):
                setattr(function, name, ())
        if not function.imports:
            function.imports = shared_empty_dict
    return facts
