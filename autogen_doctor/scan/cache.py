"""Content-hash cache of per-file facts (and parse errors), stored as data only.

Layout under the cache folder (platformdirs' user cache dir, or `--cache-dir`):

    v<format>-<tool version>-<code hash>/pack-<roots hash>.jsonl
    v<format>-<tool version>-<code hash>/result-<roots hash>.json

The cache is never executable: it is JSON, and the only objects it can make are the scan's
own fact, finding and suppression records, named in a fixed list (`_allowed_classes`) and
built field by field without running any of their code. A Python module's outcome (most
entries) has its own compact form (`_ModuleForm`: untagged arrays whose layout the decoder
knows); everything else uses the general tagged form. A planted, truncated or hand-edited
file is a cache miss, never a crash and never code that runs (docs/security.md). The scanned
project's config cannot choose the folder either (`cache-dir` is refused there).

The pack holds two things: `index` (path -> size, mtime, identity, key) and one line per entry
(content key -> encoded outcome). Entries are decoded only when asked for, and a saved pack
copies the still-used lines as they are. The key of an entry is a hash of the file's bytes
plus what its facts depend on besides the bytes (kind, module name, package flag). The folder
name carries the tool version and a hash of the scan code, so an upgrade or an edited rule
starts from a clean cache.

The index lets a warm scan skip reading unchanged files; it trusts a file's size and mtime only
when the mtime is comfortably older than the scan that recorded it (as git does for "racily
clean" files), so a file rewritten within the same clock tick is re-read and re-hashed.
Cross-module rules stay correct because resolution and rules always re-run over the facts.

`result-…json` remembers the last scan's whole result under a signature of the tree (every
file's path, kind, size and mtime, the scanned PATHs and the working directory). Findings are
a pure function of those files and the scan code, so when nothing at all changed the result is
reused without loading any facts; any change falls back to the pack.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

from autogen_doctor import __version__

FORMAT = 4
# A pack or result file larger than this is not read (a planted file must not exhaust memory).
MAX_CACHE_FILE_BYTES = 512 * 1024 * 1024
_RACY_NS = 2_000_000_000


def default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("autogen-doctor"))


@lru_cache(maxsize=1)
def code_hash() -> str:
    """Hash of the scan package's own source: facts, parsers, deployment parsers, rules."""
    digest = hashlib.blake2b(digest_size=10)
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        try:
            digest.update(path.read_bytes())
        except OSError:
            pass
    return digest.hexdigest()


def tree_signature(files: Iterable[tuple[str, str, str]], context: Iterable[str]) -> str | None:
    """A hash of every (path, display, kind) file's size and mtime plus `context` strings, or
    None when a file changed too recently for its mtime to be trusted (or vanished)."""
    digest = hashlib.blake2b(digest_size=20)
    for item in context:
        digest.update(item.encode("utf-8", "surrogateescape") + b"\0")
    trusted_before = _now_ns() - _RACY_NS
    for path, display, kind in files:
        try:
            stat = os.stat(path)
        except OSError:
            return None
        if stat.st_mtime_ns >= trusted_before:
            return None
        digest.update(f"{path}\0{display}\0{kind}\0{stat.st_size}\0{stat.st_mtime_ns}\n"
                      .encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _now_ns() -> int:
    import time

    return time.time_ns()


def entry_key(data: bytes, kind: str, module_name: str, is_package: bool) -> str:
    digest = hashlib.blake2b(data, digest_size=20)
    digest.update(f"\0{kind}\0{module_name}\0{int(is_package)}".encode())
    return digest.hexdigest()


class CacheFormatError(ValueError):
    """An encoded value that this build did not write (planted, corrupt or from another build)."""


class Unencodable(TypeError):
    """A value of a type the cache does not store; the outcome is simply not cached."""


# Leading tag of every encoded container; a record of class N in `_allowed_classes()` is
# tagged _FIRST_CLASS + N. Strings, numbers, booleans and None are stored as themselves.
# (The empty tuple is written as a bare `[]`.)
_TUPLE, _LIST, _FROZENSET, _SET, _DICT, _REF = range(6)
_FIRST_CLASS = 6

# Modules whose records a pack may hold: facts, deployment facts, findings, suppressions and
# the engine's per-file outcome. Nothing else can come out of a cache file.
_RECORD_MODULES = (
    "autogen_doctor.scan.facts",
    "autogen_doctor.scan.deploy.facts",
    "autogen_doctor.scan.deploy.commands",
    "autogen_doctor.scan.findings",
    "autogen_doctor.scan.suppress",
    "autogen_doctor.scan.engine",
)
# A remembered result holds findings and suppressions only; its smaller table keeps a warm
# scan from importing the fact and deployment modules at all.
_RESULT_MODULES = ("autogen_doctor.scan.findings", "autogen_doctor.scan.suppress")


def _is_record_class(value: Any) -> bool:
    if not isinstance(value, type):
        return False
    if issubclass(value, enum.Enum):
        return True
    if dataclasses.is_dataclass(value):
        return True
    return issubclass(value, tuple) and isinstance(getattr(value, "_fields", None), tuple)


@lru_cache(maxsize=None)
def _allowed_classes(modules: tuple[str, ...] = _RECORD_MODULES) -> tuple[type, ...]:
    """Every class a cache file may name, in a fixed order (their tags)."""
    import importlib

    found: dict[str, type] = {}
    for module_name in modules:
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if _is_record_class(value) and value.__module__ == module_name:
                found[f"{module_name}.{value.__qualname__}"] = value
    return tuple(found[name] for name in sorted(found))


@lru_cache(maxsize=None)
def _class_tags(modules: tuple[str, ...] = _RECORD_MODULES) -> dict[type, int]:
    return {cls: _FIRST_CLASS + position for position, cls in enumerate(_allowed_classes(modules))}


@lru_cache(maxsize=None)
def _class_table_id(modules: tuple[str, ...] = _RECORD_MODULES) -> str:
    """A hash of the class list and their fields: a file written by another layout is ignored."""
    digest = hashlib.blake2b(digest_size=10)
    for cls in _allowed_classes(modules):
        digest.update(f"{cls.__module__}.{cls.__qualname__}:{','.join(_field_names(cls))}\n".encode())
    return digest.hexdigest()


def _field_names(cls: type) -> tuple[str, ...]:
    if issubclass(cls, enum.Enum):
        return ("value",)
    if dataclasses.is_dataclass(cls):
        return tuple(item.name for item in dataclasses.fields(cls))
    return tuple(cls._fields)


_SCALARS = frozenset({str, int, bool, float, type(None)})


def _encoder(modules: tuple[str, ...] = _RECORD_MODULES) -> Callable[[Any], Any]:
    """A function that turns an outcome into JSON-ready lists; Unencodable for a type the cache
    does not store. A record met twice is written once (`_REF`). (A closure over locals: it
    runs once per container of every file a cold scan parses.)"""
    from operator import attrgetter

    shapes: dict[type, tuple[int, str, Any]] = {}
    for cls, tag in _class_tags(modules).items():
        names = _field_names(cls)
        if issubclass(cls, enum.Enum):
            shapes[cls] = (tag, "enum", None)
        elif issubclass(cls, tuple):
            shapes[cls] = (tag, "tuple", None)
        else:  # attrgetter of several names returns a tuple; of one, the bare value
            getter = attrgetter(*names) if len(names) > 1 else (lambda value, name=names[0]: (getattr(value, name),))
            shapes[cls] = (tag, "object", getter)
    scalars = _SCALARS
    empty = ()  # CPython's one empty tuple: most containers in facts are it
    seen: dict[int, int] = {}
    count = 0

    def encode(value: Any) -> Any:
        nonlocal count
        kind = type(value)
        if kind is tuple:
            # The empty tuple is most of all containers in facts: `[]` stands for it, and the
            # decoder makes it without a call.
            if not value:
                return []
            return [_TUPLE, *[item if type(item) in scalars else [] if item is empty else encode(item)
                              for item in value]]
        if kind in scalars:
            return value  # NaN and infinities are refused later by json.dumps(allow_nan=False)
        shape = shapes.get(kind)
        if shape is not None:
            known = seen.get(id(value))
            if known is not None:
                return [_REF, known]
            tag, how, fields = shape
            if how == "tuple":
                encoded = [tag, *[item if type(item) in scalars else [] if item is empty else encode(item)
                                  for item in value]]
            elif how == "enum":
                encoded = [tag, encode(value.value)]
            else:
                encoded = [tag, *[item if type(item) in scalars else [] if item is empty else encode(item)
                                  for item in fields(value)]]
            seen[id(value)] = count
            count += 1
            return encoded
        if kind is list:
            return [_LIST, *[item if type(item) in scalars else [] if item is empty else encode(item)
                             for item in value]]
        if kind is frozenset or kind is set:
            return [_FROZENSET if kind is frozenset else _SET,
                    *[item if type(item) in scalars else [] if item is empty else encode(item)
                      for item in value]]
        if kind is dict:
            flat: list[Any] = [_DICT]
            for key, item in value.items():
                flat.append(key if type(key) in scalars else encode(key))
                flat.append(item if type(item) in scalars else [] if item is empty else encode(item))
            return flat
        raise Unencodable(f"{kind.__module__}.{kind.__qualname__}")

    return encode


@lru_cache(maxsize=None)
def _class_shapes(modules: tuple[str, ...] = _RECORD_MODULES) -> tuple[tuple[type, int, str, tuple[str, ...]], ...]:
    """Per tag offset: (class, field count, how it is built, field names)."""
    shapes = []
    for cls in _allowed_classes(modules):
        names = _field_names(cls)
        how = "enum" if issubclass(cls, enum.Enum) else "tuple" if issubclass(cls, tuple) else "object"
        shapes.append((cls, len(names), how, names))
    return tuple(shapes)


def _decoder(modules: tuple[str, ...] = _RECORD_MODULES) -> Callable[[list], Any]:
    """A function that rebuilds what `_encoder` wrote, accepting nothing else (CacheFormatError).

    Records are made with `tuple.__new__` or `object.__new__` plus attribute stores: no
    constructor, `__post_init__`, `__setstate__` or other code of theirs runs. (A closure over
    locals: this runs once per container of every cached file, so attribute lookups count.)
    """
    shapes = _class_shapes(modules)
    shape_count = len(shapes)
    records: list[Any] = []
    remember = records.append
    new_tuple = tuple.__new__
    new_object = object.__new__
    set_attribute = object.__setattr__

    def record(position: int, values: list[Any]) -> Any:
        if position >= shape_count:
            raise CacheFormatError("unknown record class")
        cls, count, how, names = shapes[position]
        if len(values) != count:
            raise CacheFormatError(f"{cls.__qualname__}: wrong number of fields")
        if how == "tuple":
            made = new_tuple(cls, values)
        elif how == "enum":
            try:
                made = cls(values[0])  # a lookup among the members; never creates one
            except (ValueError, TypeError):
                raise CacheFormatError("unknown enum value") from None
        else:
            made = new_object(cls)
            for name, value in zip(names, values):
                set_attribute(made, name, value)
        remember(made)
        return made

    def decode(node: list) -> Any:
        # Scalars never come here (callers test for list); `[]` is the empty tuple.
        tag = node[0]
        if type(tag) is not int:
            raise CacheFormatError("untagged list")
        values = [(decode(item) if item else ()) if type(item) is list else item for item in node[1:]]
        if tag >= _FIRST_CLASS:
            position = tag - _FIRST_CLASS
            if position < shape_count:
                cls, count, how, _ = shapes[position]
                if how == "tuple" and len(values) == count:
                    made = new_tuple(cls, values)
                    remember(made)
                    return made
            return record(position, values)
        if tag == _TUPLE:
            return tuple(values)
        if tag == _LIST:
            return values
        if tag == _FROZENSET:
            return frozenset(values)
        if tag == _REF:
            if len(values) != 1 or type(values[0]) is not int or not 0 <= values[0] < len(records):
                raise CacheFormatError("bad reference")
            return records[values[0]]
        if tag == _SET:
            return set(values)
        if tag == _DICT:
            if len(values) % 2:
                raise CacheFormatError("odd dict")
            return dict(zip(values[::2], values[1::2]))
        raise CacheFormatError("unknown tag")

    return decode


# The compact module form: `[-1, suppressions, facts]`, each record a JSON array of its fields
# in a fixed order, written and parsed by orjson (the general form's Python walk over every
# record was most of a cold scan's cache cost; orjson writes it in half the time of the stdlib's
# C encoder) and read back field by field by a decoder that
# knows each field's type (so records need no tags). JSON objects appear only where the facts
# hold dicts of names; nothing in the form names a class.
_MODULE_FORM = -1
_MODULE_FORM_START = b"[-1,"
_MODULE_FORM_START_TEXT = "[-1,"


# orjson's `default` hook for the compact form. orjson writes lists, exact tuples, dicts and
# scalars itself and hands everything else here; `tuple` (a C call, no Python frame per value)
# turns the fact records (tuple subclasses) and name sets into arrays. Anything the form does
# not describe is not iterable, or is a dataclass (passed through to here, then refused),
# and raises TypeError: then the general form is used.
_as_array = tuple


@lru_cache(maxsize=1)
def _orjson() -> Any:
    import orjson

    return orjson


class _ModuleForm:
    """Encoder and decoder of the compact form of a Python module's `FileOutcome`."""

    def __init__(self) -> None:
        from operator import attrgetter

        from autogen_doctor.scan import facts as facts_module
        from autogen_doctor.scan import suppress as suppress_module
        from autogen_doctor.scan.engine import FileOutcome

        self.facts = facts_module
        self.outcome_class = FileOutcome
        self.suppression_class = suppress_module.Suppression
        self.all_codes = suppress_module.ALL_CODES
        self.function_fields = tuple(item.name for item in dataclasses.fields(facts_module.Function))
        self.class_fields = tuple(item.name for item in dataclasses.fields(facts_module.ClassInfo))
        self.function_values = attrgetter(*self.function_fields)
        self.class_values = attrgetter(*self.class_fields)
        # The decoder below is written against these layouts; a change to a record's fields
        # must change it too (the class-table hash in the header already retires old packs).
        expected = {
            facts_module.Expr: ("kind", "dotted", "text", "names", "args", "kwargs", "strings", "calls",
                                "size", "awaited"),
            facts_module.Call: ("func", "line", "col", "end_line", "end_col", "args", "kwargs", "awaited",
                                "statement", "target", "withs", "in_loop", "arg_names", "receiver_expr"),
            facts_module.Mutation: ("base", "how", "line", "col", "end_line", "end_col", "withs"),
            facts_module.GlobalWrite: ("name", "line", "col", "lazy_init"),
            facts_module.Assign: ("targets", "value", "line", "col", "how"),
        }
        for cls, names in expected.items():
            if cls._fields != names:
                raise RuntimeError(f"the cache's module form does not describe {cls.__qualname__}")
        if self.function_fields != ("qualname", "name", "line", "col", "end_line", "is_async", "params",
                                    "decorators", "class_name", "parent", "calls", "mutations", "assigns",
                                    "returns", "global_decls", "global_writes", "local_names", "reads",
                                    "imports", "nested", "param_info") or \
                self.class_fields != ("qualname", "name", "line", "col", "bases", "decorators", "attrs",
                                      "methods"):
            raise RuntimeError("the cache's module form does not describe Function or ClassInfo")

    def applies(self, value: Any) -> bool:
        return (type(value) is self.outcome_class and value.error is None
                and type(value.facts) is self.facts.ModuleFacts and type(value.suppressions) is list)

    # ---------- encoding ----------
    def encode(self, outcome: Any) -> bytes:
        facts = outcome.facts
        body = facts.functions.get(self.facts.MODULE_BODY)
        # Module-level assignments are the module body's own records: stored as positions in
        # its list, which keeps them one object each when read back (as the builder made them).
        position_of = {id(record): index for index, record in enumerate(body.assigns)} if body else {}
        assigns = {}
        for name, records in facts.assigns.items():
            positions = [position_of.get(id(record)) for record in records]
            if None in positions or type(records) is not list:
                raise Unencodable("module-level assignment outside the module body")
            assigns[name] = positions
        suppression_class = self.suppression_class
        suppressions = []
        for item in outcome.suppressions:
            if type(item) is not suppression_class:
                raise Unencodable(type(item).__qualname__)
            suppressions.append((item.line, item.codes, item.kind, item.column))
        function_values, class_values = self.function_values, self.class_values
        document = (_MODULE_FORM, suppressions, (
            facts.name, facts.path, facts.is_package, facts.imports, facts.star_imports, assigns,
            {key: function_values(function) for key, function in facts.functions.items()},
            {key: class_values(info) for key, info in facts.classes.items()},
            facts.defined, facts.has_main_guard, facts.lines, facts.display))
        for function in facts.functions.values():
            if type(function) is not self.facts.Function:
                raise Unencodable(type(function).__qualname__)
        for info in facts.classes.values():
            if type(info) is not self.facts.ClassInfo:
                raise Unencodable(type(info).__qualname__)
        try:
            return _orjson().dumps(document, default=_as_array, option=_orjson().OPT_PASSTHROUGH_DATACLASS)
        except TypeError as error:  # a dict key that is not a string, a type the form lacks, ...
            raise Unencodable(str(error)) from None

    # ---------- decoding ----------
    def decode(self, document: Any) -> Any:
        """The outcome a compact document describes; CacheFormatError (or TypeError/ValueError,
        which decode_outcome turns into it) for any other shape."""
        if type(document) is not list or len(document) != 3 or document[0] != _MODULE_FORM:
            raise CacheFormatError("not a module entry")
        _, suppressions, facts = document
        outcome = object.__new__(self.outcome_class)
        outcome.facts = self._module(facts)
        outcome.error = None
        outcome.suppressions = [self._suppression(item) for item in _array(suppressions)]
        return outcome

    def _suppression(self, value: Any) -> Any:
        line, codes, kind, column = _fields(value, 4)
        codes = frozenset(_strings(codes))
        if codes == self.all_codes:
            codes = self.all_codes
        made = object.__new__(self.suppression_class)
        for name, item in (("line", _integer(line)), ("codes", codes), ("kind", _string(kind)),
                           ("column", _integer(column))):
            object.__setattr__(made, name, item)
        return made

    def _module(self, value: Any) -> Any:
        (name, path, is_package, imports, star_imports, assigns, functions, classes, defined,
         has_main_guard, lines, display) = _fields(value, 12)
        facts_module = self.facts
        made = object.__new__(facts_module.ModuleFacts)
        made.name, made.path, made.display = _string(name), _string(path), _string(display)
        made.is_package, made.has_main_guard = bool(is_package), bool(has_main_guard)
        made.lines = _integer(lines)
        made.imports = _string_map(imports)
        made.star_imports = list(_strings(star_imports))
        made.defined = set(_strings(defined))
        expr = _expr_decoder(facts_module)
        function_of = self._function_decoder(expr)
        made.functions = {_string(key): function_of(item) for key, item in _object(functions).items()}
        made.classes = {_string(key): self._class(item, expr) for key, item in _object(classes).items()}
        body = made.functions.get(facts_module.MODULE_BODY)
        body_assigns = body.assigns if body is not None else ()
        count = len(body_assigns)

        def record(position: Any) -> Any:
            if type(position) is not int or not 0 <= position < count:
                raise CacheFormatError("no such module-level assignment")
            return body_assigns[position]

        made.assigns = {_string(key): [record(position) for position in _array(positions)]
                        for key, positions in _object(assigns).items()}
        return made

    def _class(self, value: Any, expr: Callable[[Any], Any]) -> Any:
        qualname, name, line, col, bases, decorators, attrs, methods = _fields(value, 8)
        assign = _assign_decoder(self.facts, expr)
        made = object.__new__(self.facts.ClassInfo)
        made.qualname, made.name = _string(qualname), _string(name)
        made.line, made.col = _integer(line), _integer(col)
        made.bases = tuple(_strings(bases))
        made.decorators = tuple([expr(item) for item in _array(decorators)])
        made.attrs = {_string(key): assign(item) for key, item in _object(attrs).items()}
        made.methods = list(_strings(methods))
        return made

    def _function_decoder(self, expr: Callable[[Any], Any]) -> Callable[[Any], Any]:
        facts_module = self.facts
        function_class = facts_module.Function
        new_object = object.__new__
        new_tuple = tuple.__new__
        call_class, mutation_class, write_class = facts_module.Call, facts_module.Mutation, facts_module.GlobalWrite
        assign = _assign_decoder(facts_module, expr)
        empty_names = facts_module._EMPTY

        def pairs(value: list) -> tuple:
            return tuple([(_string(key), expr(item)) for key, item in map(_pair, value)]) if value else ()

        def call(value: Any) -> Any:
            (func, line, col, end_line, end_col, args, kwargs, awaited, statement, target, withs,
             in_loop, arg_names, receiver) = _fields(value, 14)
            return new_tuple(call_class, (
                func, line, col, end_line, end_col, tuple([expr(item) for item in args]) if args else (),
                pairs(kwargs), awaited, statement, target, tuple(_strings(withs)) if withs else (), in_loop,
                frozenset(_strings(arg_names)) if arg_names else empty_names,
                None if receiver is None else expr(receiver)))

        def mutation(value: Any) -> Any:
            base, how, line, col, end_line, end_col, withs = _fields(value, 7)
            return new_tuple(mutation_class, (base, how, line, col, end_line, end_col,
                                              tuple(_strings(withs)) if withs else ()))

        def global_write(value: Any) -> Any:
            return new_tuple(write_class, tuple(_fields(value, 4)))

        def records(value: Any, decode: Callable[[Any], Any]) -> Any:
            return [decode(item) for item in _array(value)] if value else ()

        def names(value: Any) -> Any:
            return set(_strings(value)) if value else ()

        def parameter(value: Any) -> tuple:
            name, type_text, default = _fields(value, 3)
            return (_string(name), _string(type_text), None if default is None else expr(default))

        def function(value: Any) -> Any:
            (qualname, name, line, col, end_line, is_async, params, decorators, class_name, parent, calls,
             mutations, assigns, returns, global_decls, global_writes, local_names, reads, imports, nested,
             param_info) = _fields(value, 21)
            made = new_object(function_class)
            made.qualname, made.name = _string(qualname), _string(name)
            made.line, made.col, made.end_line = _integer(line), _integer(col), _integer(end_line)
            made.is_async = bool(is_async)
            made.params = tuple(_strings(params))
            made.decorators = tuple([expr(item) for item in _array(decorators)])
            made.class_name = _optional_string(class_name)
            made.parent = _optional_string(parent)
            made.calls = records(calls, call)
            made.mutations = records(mutations, mutation)
            made.assigns = records(assigns, assign)
            made.returns = records(returns, expr)
            made.global_decls = names(global_decls)
            made.global_writes = records(global_writes, global_write)
            made.local_names = names(local_names)
            made.reads = names(reads)
            made.imports = _string_map(imports)
            made.nested = list(_strings(nested)) if nested else ()
            made.param_info = tuple([parameter(item) for item in _array(param_info)])
            return made

        return function


def _expr_decoder(facts_module: Any) -> Callable[[Any], Any]:
    """Decoder of one `Expr` array (recursive through its arguments)."""
    expr_class = facts_module.Expr
    new_tuple = tuple.__new__
    empty_names = facts_module._EMPTY

    def expr(value: Any) -> Any:
        kind, dotted, text, names, args, kwargs, strings, calls, size, awaited = _fields(value, 10)
        if type(kind) is not str or type(dotted) is not str:
            raise CacheFormatError("expected a string")
        return new_tuple(expr_class, (
            kind, dotted, text, frozenset(_strings(names)) if names else empty_names,
            tuple([expr(item) for item in args]) if args else (),
            tuple([(_string(key), expr(item)) for key, item in map(_pair, kwargs)]) if kwargs else (),
            tuple(_strings(strings)) if strings else (), tuple(_strings(calls)) if calls else (), size, awaited))

    return expr


def _assign_decoder(facts_module: Any, expr: Callable[[Any], Any]) -> Callable[[Any], Any]:
    assign_class = facts_module.Assign
    new_tuple = tuple.__new__

    def assign(value: Any) -> Any:
        targets, assigned, line, col, how = _fields(value, 5)
        return new_tuple(assign_class, (tuple(_strings(targets)), None if assigned is None else expr(assigned),
                                        line, col, how))

    return assign


# Shape checks of the compact form: the decoder builds only the scanner's own records, and a
# value of the wrong shape makes the whole entry a miss (CacheFormatError).
def _fields(value: Any, count: int) -> list:
    if type(value) is not list or len(value) != count:
        raise CacheFormatError("wrong record shape")
    return value


def _typed(value: Any, kind: type, what: str) -> Any:
    if type(value) is not kind:
        raise CacheFormatError(f"expected {what}")
    return value


def _array(value: Any) -> list:
    return _typed(value, list, "an array")


def _object(value: Any) -> dict:
    return _typed(value, dict, "an object")


def _pair(value: Any) -> list:
    return _fields(value, 2)


def _strings(value: Any) -> list:
    if type(value) is not list or not all(type(item) is str for item in value):
        raise CacheFormatError("expected an array of strings")
    return value


def _string_map(value: Any) -> dict:
    if type(value) is not dict or not all(type(item) is str for item in value.values()):
        raise CacheFormatError("expected an object of strings")
    return value


def _string(value: Any) -> str:
    return _typed(value, str, "a string")


def _optional_string(value: Any) -> str | None:
    if value is not None and type(value) is not str:
        raise CacheFormatError("expected a string or null")
    return value


def _integer(value: Any) -> int:
    if type(value) is not int:
        raise CacheFormatError("expected an integer")
    return value


@lru_cache(maxsize=1)
def _module_form() -> _ModuleForm:
    return _ModuleForm()


def _no_objects(pairs: list) -> Any:
    raise CacheFormatError("the cache never holds JSON objects")


def encode_entry(value: Any, modules: tuple[str, ...] = _RECORD_MODULES) -> bytes:
    """`value` as one line of UTF-8 JSON; Unencodable when it holds a type the cache does not
    store.

    A Python module's outcome (most entries) takes the compact module form; anything else
    (deployment files, errors, remembered results) the general tagged form.
    """
    if modules == _RECORD_MODULES:
        compact = _module_form()
        if compact.applies(value):
            try:
                return compact.encode(value)
            except Unencodable:
                pass  # something the compact form does not describe: the general form does
    return json.dumps(_encoder(modules)(value), separators=(",", ":"), allow_nan=False).encode()


def encode_outcome(value: Any, modules: tuple[str, ...] = _RECORD_MODULES) -> str:
    """`encode_entry` as text."""
    return encode_entry(value, modules).decode()


def decode_outcome(text: str | bytes, modules: tuple[str, ...] = _RECORD_MODULES) -> Any:
    """The value `encode_outcome` wrote; CacheFormatError for anything else."""
    try:
        if modules == _RECORD_MODULES and text[:len(_MODULE_FORM_START)] in (_MODULE_FORM_START,
                                                                            _MODULE_FORM_START_TEXT):
            return _module_form().decode(_orjson().loads(text))
        document = json.loads(text, object_pairs_hook=_no_objects)
        if type(document) is not list:
            return document
        return _decoder(modules)(document) if document else ()
    except CacheFormatError:
        raise
    except (ValueError, TypeError, RecursionError, MemoryError, AttributeError) as error:
        raise CacheFormatError(f"not a cache entry ({type(error).__name__})") from None


def _read_limited(path: Path) -> bytes:
    """A cache file's bytes; OSError for anything but a regular file under the size limit."""
    import stat as stat_module

    handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    try:
        info = os.fstat(handle)
        if not stat_module.S_ISREG(info.st_mode) or info.st_size > MAX_CACHE_FILE_BYTES:
            raise OSError("not a regular cache file")
        chunks = []
        remaining = info.st_size + 1
        while remaining > 0:
            chunk = os.read(handle, min(remaining, 1 << 24))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > MAX_CACHE_FILE_BYTES:
            raise OSError("cache file too large")
        return data
    finally:
        os.close(handle)


def _atomic_write(directory: Path, final: Path, prefix: str, data: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=prefix)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, final)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


class FactsCache:
    """Reads and writes the pack; every failure degrades to a cache miss."""

    def __init__(self, directory: Path | None = None, roots: Iterable[Path | str] = ()) -> None:
        base = Path(directory) if directory is not None else default_cache_dir()
        self.root = base / f"v{FORMAT}-{__version__}-{code_hash()}"
        roots_id = hashlib.blake2b("\0".join(sorted(str(root) for root in roots)).encode(),
                                   digest_size=8).hexdigest()
        self.pack_path = self.root / f"pack-{roots_id}.jsonl"
        # key -> the entry's encoded line (decoded only when asked for)
        self._entries: dict[str, bytes] | None = None
        self._index: dict[str, tuple] | None = None
        self._new_entries: dict[str, bytes] = {}
        self._writing: Any = None  # the thread writing the pack, until `wait`

    def _header(self, modules: tuple[str, ...] = _RECORD_MODULES) -> bytes:
        return json.dumps({"tool": "autogen-doctor", "format": FORMAT, "classes": _class_table_id(modules)},
                          separators=(",", ":")).encode()

    def _load(self) -> None:
        if self._entries is not None:
            return
        self._entries, self._index = {}, {}
        try:
            lines = _read_limited(self.pack_path).split(b"\n")
            if len(lines) < 2 or lines[0] != self._header():
                return
            index = json.loads(lines[1])
            if not isinstance(index, dict):
                return
            checked: dict[str, tuple] = {}
            for path, found in index.items():
                if (isinstance(found, list) and len(found) == 6 and type(found[0]) is int
                        and type(found[1]) is int and type(found[2]) is str and type(found[3]) is str
                        and type(found[4]) is bool and type(found[5]) is str):
                    size, mtime, kind, module_name, is_package, key = found
                    checked[path] = (size, mtime, (kind, module_name, is_package), key)
            entries: dict[str, bytes] = {}
            for line in lines[2:]:
                key, tab, encoded = line.partition(b"\t")
                if tab and len(key) == 40:
                    entries[key.decode("ascii", "replace")] = encoded
            self._index = checked
            self._entries = entries
        except (OSError, ValueError, RecursionError, MemoryError, UnicodeDecodeError):
            self._entries, self._index = {}, {}

    def get(self, key: str) -> Any | None:
        self._load()
        data = self._new_entries.get(key) or self._entries.get(key)  # type: ignore[union-attr]
        if data is None:
            return None
        try:
            return decode_outcome(data)
        except CacheFormatError:
            return None

    def has(self, key: str) -> bool:
        """True when the pack (or this scan) holds an entry for `key`."""
        self._load()
        return key in self._new_entries or key in self._entries  # type: ignore[operator]

    def put(self, key: str, value: Any) -> None:
        try:
            self.put_encoded(key, encode_entry(value))
        except (Unencodable, ValueError, RecursionError):
            pass  # not cached: the file is simply parsed again next time

    def put_encoded(self, key: str, text: str | bytes) -> None:
        """Remember an entry already encoded by `encode_entry`; written by `save`."""
        self._new_entries[key] = text.encode() if isinstance(text, str) else text

    def lookup(self, path: str, size: int, mtime_ns: int, identity: tuple) -> str | None:
        """The entry key recorded for an unchanged file, or None."""
        self._load()
        found = self._index.get(path)  # type: ignore[union-attr]
        if found is None:
            return None
        recorded_size, recorded_mtime, recorded_identity, key = found
        if recorded_size == size and recorded_mtime == mtime_ns and tuple(recorded_identity) == tuple(identity):
            return key
        return None

    @property
    def result_path(self) -> Path:
        return self.pack_path.with_name("result-" + self.pack_path.name[len("pack-"):-len(".jsonl")] + ".json")

    def load_result(self, signature: str) -> Any | None:
        """The result remembered for exactly this tree, or None."""
        try:
            header, _, rest = _read_limited(self.result_path).partition(b"\n")
            if header != self._header(_RESULT_MODULES):
                return None
            recorded, _, encoded = rest.partition(b"\n")
            if recorded.decode("ascii", "replace") != signature:
                return None
            return decode_outcome(encoded, _RESULT_MODULES)
        except (OSError, CacheFormatError):
            return None

    def save_result(self, signature: str, result: Any) -> None:
        try:
            encoded = encode_entry(result, _RESULT_MODULES)
        except (Unencodable, ValueError, RecursionError):
            return
        try:
            _atomic_write(self.root, self.result_path, ".tmp-result-",
                          self._header(_RESULT_MODULES) + b"\n" + signature.encode() + b"\n" + encoded + b"\n")
        except OSError:
            pass

    def save(self, entries_in_use: dict[str, tuple], scan_started_ns: int, background: bool = False) -> None:
        """Write the pack: the entries this scan used, and the index of files not racily new.

        `entries_in_use` maps path -> (size, mtime_ns, identity, key) for every file analysed.
        With `background`, the file is written by a thread (the write releases the GIL, so the
        scan's rules run meanwhile); `wait` returns when it is done.
        """
        self.wait()
        self._load()
        used_keys = {entry[3] for entry in entries_in_use.values()}
        entries = {key: data for key, data in self._entries.items() if key in used_keys}  # type: ignore[union-attr]
        entries.update((key, data) for key, data in self._new_entries.items() if key in used_keys)
        index = {path: entry for path, entry in entries_in_use.items()
                 if entry[1] < scan_started_ns - _RACY_NS and entry[3] in entries}
        if entries == self._entries and index == self._index:
            return
        stats = {path: [size, mtime, identity[0], identity[1], bool(identity[2]), key]
                 for path, (size, mtime, identity, key) in index.items()}
        # The pieces are joined by the writer: one copy of the pack, made (like the write)
        # without holding the GIL, so in the background it overlaps the rules.
        pieces = [self._header(), b"\n", json.dumps(stats, separators=(",", ":")).encode(), b"\n"]
        for key, data in entries.items():
            pieces += (key.encode(), b"\t", data, b"\n")
        self._entries, self._index, self._new_entries = entries, index, {}
        if background:
            import threading

            self._writing = threading.Thread(target=self._write_pack, args=(pieces,), name="autogen-doctor-cache")
            self._writing.start()
        else:
            self._write_pack(pieces)

    def _write_pack(self, pieces: list[bytes]) -> None:
        try:
            _atomic_write(self.root, self.pack_path, ".tmp-pack-", b"".join(pieces))
        except OSError:
            pass  # a read-only or full disk only makes the next scan slower

    def wait(self) -> None:
        """Return once a pack `save(background=True)` started is on disk (or has failed)."""
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.join()
