"""Cross-module resolution, done once per scan over every module's facts.

Turns a dotted text written in some function (`sessions`, `state.sessions`, `ag.AssistantAgent`,
`self.save`) into a canonical dotted name (`app.state.sessions`, `autogen.AssistantAgent`),
follows re-exports between project modules, finds which project function a call lands in,
and builds the call graph the request-path analysis walks.
"""

from __future__ import annotations

import builtins
import os
from dataclasses import dataclass
from functools import lru_cache

from autogen_doctor.scan.facts import MODULE_BODY, Assign, ClassInfo, Expr, Function, ModuleFacts

_BUILTINS = frozenset(dir(builtins))
LOCAL = "<local>"


@dataclass(frozen=True, slots=True)
class Definition:
    """Where a canonical name is defined in the project."""

    module: ModuleFacts
    name: str  # module-level name (or class qualname)
    rest: str  # what follows it, e.g. ".sessions" for Klass.sessions

    @property
    def assign(self) -> Assign | None:
        return self.module.first_assign(self.name)

    @property
    def function(self) -> Function | None:
        return self.module.functions.get(self.name + self.rest) or (
            self.module.functions.get(self.name) if not self.rest else None)

    @property
    def klass(self) -> ClassInfo | None:
        return self.module.classes.get(self.name)


FunctionRef = tuple[str, str]  # (module key, function qualname)


def class_assigns(module: ModuleFacts, info: ClassInfo):
    """(method, assignment) for every assignment in the methods of class `info` (its own, not its
    bases'): where `self.x = ...` is set."""
    for method in info.methods:
        function = module.functions.get(method)
        if function is not None:
            for assign in function.assigns:
                yield function, assign


class Resolver:
    """Name resolution over the whole project (modules keyed as in Project.modules)."""

    def __init__(self, modules: dict[str, ModuleFacts]) -> None:
        self.modules = modules
        self.key_of: dict[int, str] = {id(module): key for key, module in modules.items()}
        self.by_name: dict[str, list[ModuleFacts]] = {}
        for module in modules.values():
            self.by_name.setdefault(module.name, []).append(module)
        self._callees: dict[FunctionRef, list[tuple[FunctionRef, int]]] = {}
        self._canonical_memo: dict[tuple, str] = {}
        self._bases_memo: dict[tuple, list[str]] = {}
        self._folder_memo: dict[tuple[str, str], ModuleFacts | None] = {}
        self._attribute_memo: dict[tuple[int, str, str], tuple[ModuleFacts, ClassInfo] | None] = {}
        self.by_path: dict[str, ModuleFacts] = {module.path: module for module in modules.values()}
        # Every folder name and module file stem of the project, for a quick "not ours" answer.
        self._path_parts: set[str] = set()
        self._stems: set[str] = set()  # module names as files say them (a package: its folder)
        for module in modules.values():
            directory, filename = os.path.split(module.path)
            stem = filename[:-3] if filename.endswith(".py") else filename
            self._path_parts.add(stem)
            self._stems.add(os.path.basename(directory) if stem == "__init__" else stem)
            self._path_parts.update(part for part in directory.split(os.sep)[-6:] if part)

    # ---------- modules ----------
    def module_named(self, name: str, near: ModuleFacts | None = None) -> ModuleFacts | None:
        candidates = self.by_name.get(name)
        if not candidates:
            return self._by_folder(name, near)
        if len(candidates) == 1 or near is None:
            return candidates[0]
        # Several top-level modules with one name (scripts in sibling folders): the closest wins,
        # the way Python finds the script's own folder first on sys.path.
        return max(candidates, key=lambda other: len(os.path.commonpath([other.path, near.path])))

    def _by_folder(self, name: str, near: ModuleFacts | None) -> ModuleFacts | None:
        """`autogen_server` or `handlers.chat` imported from a script's folder (or a folder above
        it: the one the service is started from), where our dotted names, made from __init__.py
        packages, differ: app/autogen_server.py is `app.autogen_server` here, and a folder with no
        __init__.py is a namespace package."""
        if near is None or name.rsplit(".", 1)[-1] not in self._stems or name.split(".", 1)[0] not in self._path_parts:
            return None  # `os`, `typing.List`: no module file of the project has that name
        memo_key = (name, os.path.dirname(near.path))
        if memo_key in self._folder_memo:
            return self._folder_memo[memo_key]
        found = None
        relative = os.path.join(*name.split("."))
        directory = os.path.dirname(near.path)
        for _ in range(6):
            found = self.by_path.get(os.path.join(directory, relative + ".py")) or self.by_path.get(
                os.path.join(directory, relative, "__init__.py"))
            if found is not None:
                break
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
        self._folder_memo[memo_key] = found
        return found

    def split_module(self, canonical: str, near: ModuleFacts | None = None) -> tuple[ModuleFacts, str] | None:
        """(module, rest) for the longest project module prefix of `canonical`."""
        parts = canonical.split(".")
        for index in range(len(parts), 0, -1):
            module = self.module_named(".".join(parts[:index]), near)
            if module is not None:
                rest = ".".join(parts[index:])
                return module, rest
        return None

    # ---------- names ----------
    def canonical(self, module: ModuleFacts, function: Function | None, text: str) -> str:
        """Canonical dotted name of `text` as seen from `function` in `module`.

        LOCAL + text for a local variable; '?' + text when nothing is known about it.
        """
        memo_key = (id(module), function.qualname if function is not None else None, text)
        found = self._canonical_memo.get(memo_key)
        if found is None:
            found = self._canonical(module, function, text)
            self._canonical_memo[memo_key] = found
        return found

    def _canonical(self, module: ModuleFacts, function: Function | None, text: str) -> str:
        if not text:
            return "?"
        head, rest = _split_head(text)
        scope = function
        while scope is not None and scope.qualname != MODULE_BODY:
            if head in scope.imports:
                return self.follow(scope.imports[head] + rest, module)
            if scope.is_local(head):
                return LOCAL + text
            scope = module.functions.get(scope.parent) if scope.parent else None
        if head in module.imports:
            return self.follow(module.imports[head] + rest, module)
        if head in module.defined or head in module.assigns:
            return self.follow(f"{module.name}.{head}{rest}", module)
        for star in module.star_imports:
            target = self.module_named(star, module)
            if target is not None and (head in target.defined or head in target.assigns or head in target.imports):
                return self.follow(f"{target.name}.{head}{rest}", target)
        if head in _BUILTINS:
            return f"builtins.{text}"
        return "?" + text

    def follow(self, canonical: str, near: ModuleFacts | None = None) -> str:
        """Follow re-exports (`from .state import sessions` in a package __init__) to the definition."""
        for _ in range(12):
            split = self.split_module(_plain(canonical), near)
            if split is None:
                return canonical
            module, rest = split
            if not rest:
                return canonical
            head = rest.split(".", 1)[0]
            if head in module.defined or head in module.assigns:
                return canonical
            target = module.imports.get(head)
            if target is None:
                return canonical
            # The module's part of `canonical` (it may be spelled differently from module.name
            # when imported from a script's folder), then `.head`.
            prefix_len = len(_plain(canonical)) - len(rest) + len(head)
            replaced = target + canonical[prefix_len:]
            if replaced == canonical:
                return canonical
            canonical, near = replaced, module
        return canonical

    def definition(self, canonical: str, near: ModuleFacts | None = None) -> Definition | None:
        """The project module-level name (or class) a canonical name refers to."""
        if not canonical or canonical[0] in "?<":
            return None
        split = self.split_module(_plain(canonical), near)
        if split is None:
            return None
        module, rest = split
        if not rest:
            return None
        head, _, tail = rest.partition(".")
        if head not in module.defined and head not in module.assigns:
            return None
        return Definition(module, head, "." + tail if tail else "")

    def module_value(self, module: ModuleFacts, function: Function | None, text: str) -> tuple[Definition, Expr] | None:
        """The module-level assignment a name refers to, wherever it was defined."""
        definition = self.definition(self.canonical(module, function, text), module)
        if definition is None or definition.rest:
            return None
        assign = definition.assign
        if assign is None:
            return None
        return definition, assign.value

    # ---------- classes ----------
    def class_canonical_bases(self, module: ModuleFacts, info: ClassInfo, depth: int = 0) -> list[str]:
        """Canonical names of a class's bases, project bases expanded transitively."""
        memo_key = (id(module), info.qualname)
        if memo_key in self._bases_memo:
            return self._bases_memo[memo_key]
        self._bases_memo[memo_key] = []  # a cycle of bases ends here
        found: list[str] = []
        for base in info.bases:
            canonical = self.canonical(module, None, base)
            found.append(canonical)
            definition = self.definition(canonical, module)
            if definition is not None and definition.klass is not None and depth < 8:
                found.extend(self.class_canonical_bases(definition.module, definition.klass, depth + 1))
        self._bases_memo[memo_key] = found
        return found

    # ---------- calls ----------
    def call_target(self, module: ModuleFacts, function: Function, text: str) -> FunctionRef | None:
        """The project function that calling `text` from `function` runs, if known."""
        if not text or "[]" in text:
            return None
        key = self.key_of[id(module)]
        head, rest = _split_head(text)
        if head in ("self", "cls") and function.class_name and rest.count(".") == 1 and "()" not in rest:
            method = rest[1:]
            found = self._method(module, function.class_name, method)
            if found is not None:
                return found
            return None
        if head == "self" and function.class_name and rest.count(".") == 2 and "(" not in rest and "[" not in rest:
            # `self.provider.load_team(...)` where the class keeps `self.provider = Provider()`
            attribute, method = rest[1:].split(".")
            holder = self.attribute_class(module, function.class_name, attribute)
            return self._method(holder[0], holder[1].qualname, method) if holder is not None else None
        if not rest:
            for nested in function.nested:
                if nested.rsplit(".", 1)[-1] == head:
                    return key, nested
            parent = module.functions.get(function.parent) if function.parent else None
            while parent is not None:
                for nested in parent.nested:
                    if nested.rsplit(".", 1)[-1] == head:
                        return key, nested
                parent = module.functions.get(parent.parent) if parent.parent else None
        if rest.count(".") == 1 and (rest.startswith("().") or "(" not in rest):
            # `Klass().method()` or `obj.method()` where `obj = Klass(...)` in this function.
            method = rest.rsplit(".", 1)[1]
            class_text = head if rest.startswith("().") else None
            if class_text is None and function.is_local(head):
                for assign in function.assigns:
                    if assign.targets == (head,) and assign.value.kind == "call":
                        class_text = assign.value.dotted
            if class_text is None and not function.is_local(head) and not rest.startswith("()."):
                # `service.method()` where `service = ChatService()` at module level (here or imported)
                found = self.module_value(module, function, head)
                if found is not None and found[1].kind == "call" and found[1].dotted:
                    definition = self.definition(self.canonical(found[0].module, None, found[1].dotted), found[0].module)
                    if definition is not None and definition.klass is not None and not definition.rest:
                        return self._method(definition.module, definition.klass.qualname, method)
            if class_text is not None:
                definition = self.definition(self.canonical(module, function, class_text), module)
                if definition is not None and definition.klass is not None and not definition.rest:
                    return self._method(definition.module, definition.klass.qualname, method)
                if rest.startswith("()."):
                    return None
        canonical = self.canonical(module, function, text)
        definition = self.definition(canonical, module)
        if definition is None:
            return None
        target = definition.module
        target_key = self.key_of[id(target)]
        qualname = definition.name + definition.rest
        if qualname in target.functions:
            return target_key, qualname
        klass = target.classes.get(definition.name)
        if klass is not None:
            if not definition.rest:
                return self._method(target, klass.qualname, "__init__")
            return self._method(target, klass.qualname, definition.rest[1:])
        return None

    def attribute_class(self, module: ModuleFacts, class_qualname: str, attribute: str,
                        depth: int = 0) -> tuple[ModuleFacts, ClassInfo] | None:
        """The project class whose instance `self.<attribute>` holds in `class_qualname`: set in one
        of its methods (or a project base class's) from a constructor call, `self.store =
        Store(...)`, or from a parameter annotated with a project class, `def __init__(self,
        store: Store)` then `self.store = store`. None when the methods disagree or nothing says."""
        memo_key = (id(module), class_qualname, attribute)
        if memo_key in self._attribute_memo:
            return self._attribute_memo[memo_key]
        self._attribute_memo[memo_key] = None  # a cycle of bases ends here
        info = module.classes.get(class_qualname)
        if info is None or depth > 6:
            return None
        target = "self." + attribute
        found: list[tuple[ModuleFacts, ClassInfo]] = []
        for function, assign in class_assigns(module, info):
            if assign.targets != (target,) or assign.how not in ("assign", "annotated") or assign.value is None:
                continue
            value = assign.value
            type_text = ""
            if value.kind == "call":
                type_text = value.dotted
            elif value.kind == "name" and value.dotted in function.params:
                type_text = next((text for name, text, _ in function.param_info if name == value.dotted), "")
            definition = self.definition(self.canonical(module, function, type_text), module) if type_text else None
            if definition is not None and definition.klass is not None and not definition.rest:
                found.append((definition.module, definition.klass))
            elif value.kind not in ("const", "other"):  # `= None` first, then the object
                return None
        if not found:
            for base in info.bases:
                definition = self.definition(self.canonical(module, None, base), module)
                if definition is not None and definition.klass is not None:
                    inherited = self.attribute_class(definition.module, definition.klass.qualname, attribute, depth + 1)
                    if inherited is not None:
                        found.append(inherited)
                        break
        answer = found[0] if found and all(klass is found[0][1] for _, klass in found) else None
        self._attribute_memo[memo_key] = answer
        return answer

    def method(self, module: ModuleFacts, class_qualname: str, method: str) -> FunctionRef | None:
        """The function `Klass.method` runs, looked up through the project's base classes."""
        return self._method(module, class_qualname, method)

    def _method(self, module: ModuleFacts, class_qualname: str, method: str, depth: int = 0) -> FunctionRef | None:
        key = self.key_of[id(module)]
        qualname = f"{class_qualname}.{method}"
        if qualname in module.functions:
            return key, qualname
        info = module.classes.get(class_qualname)
        if info is None or depth > 6:
            return None
        for base in info.bases:
            definition = self.definition(self.canonical(module, None, base), module)
            if definition is not None and definition.klass is not None:
                found = self._method(definition.module, definition.klass.qualname, method, depth + 1)
                if found is not None:
                    return found
        return None

    def callees(self, ref: FunctionRef) -> list[tuple[FunctionRef, int]]:
        """Project functions `ref` calls (or hands over as a callback), with the line."""
        cached = self._callees.get(ref)
        if cached is not None:
            return cached
        module = self.modules[ref[0]]
        function = module.functions[ref[1]]
        found: list[tuple[FunctionRef, int]] = []
        seen: set[FunctionRef] = set()
        for call in function.calls:
            target = self.call_target(module, function, call.func)
            if target is not None and target not in seen:
                seen.add(target)
                found.append((target, call.line))
            # Functions passed along (callbacks, BackgroundTasks.add_task, Depends, to_thread).
            for argument in (*call.args, *(value for _, value in call.kwargs)):
                if argument.kind in ("name", "attr") and argument.dotted:
                    passed = self.call_target(module, function, argument.dotted)
                    if passed is not None and passed not in seen:
                        seen.add(passed)
                        found.append((passed, call.line))
        # Functions put in a dispatch table here (`handlers = {"gpt": serve_gpt}` ... `handlers[m](x)`).
        for assign in function.assigns:
            if assign.value.kind in ("dict", "list", "tuple"):
                for element in assign.value.args:
                    if element.kind in ("name", "attr") and element.dotted:
                        passed = self.call_target(module, function, element.dotted)
                        if passed is not None and passed not in seen:
                            seen.add(passed)
                            found.append((passed, assign.line))
        for nested in function.nested:  # a nested def usually runs when its parent does
            ref_nested = (ref[0], nested)
            if ref_nested not in seen:
                seen.add(ref_nested)
                found.append((ref_nested, module.functions[nested].line))
        self._callees[ref] = found
        return found

    def function(self, ref: FunctionRef) -> tuple[ModuleFacts, Function]:
        module = self.modules[ref[0]]
        return module, module.functions[ref[1]]


def _split_head(text: str) -> tuple[str, str]:
    for index, char in enumerate(text):
        if char in ".[(":
            return text[:index], text[index:]
    return text, ""


@lru_cache(maxsize=4096)
def _plain(canonical: str) -> str:
    """Drop call/subscript markers and what follows them: `a.b().c` -> `a.b`."""
    cut = len(canonical)
    for marker in ("()", "[]"):
        index = canonical.find(marker)
        if index != -1:
            cut = min(cut, index)
    return canonical[:cut]
