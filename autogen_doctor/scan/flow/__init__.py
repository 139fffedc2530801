"""The value-flow layer between resolution and the rules.

`resolve.py` says what a dotted name *is* (which module-level name, which function a call lands
in); this layer says what a name, attribute, return value or argument may *hold*: an AutoGen
agent or team (also a `(user_proxy, manager)` pair), a project object and whether it is one
object for the whole process, a store client, a path and where it points, a container, a key
derived from the request or a constant one. It reads facts only (which are cached per file),
solves across modules once per scan (memoised in `FlowModel`), and hands every answer's witness
to the rules as a trace: `Step(path, line, note)` from the request path down to the state.

Rules ask it short questions; they do not walk facts for meaning themselves.
"""

from __future__ import annotations

from autogen_doctor.scan.entrypoints import EntryPoints, Reach
from autogen_doctor.scan.facts import ModuleFacts
from autogen_doctor.scan.findings import Step  # a finding's witness; defined with findings so caches hold it
from autogen_doctor.scan.flow.objects import Instance, Objects
from autogen_doctor.scan.flow.stores import Stores
from autogen_doctor.scan.resolve import Resolver


def display(module: ModuleFacts) -> str:
    return module.display or module.path


class FlowModel:
    """Answers "what may this hold" for one scanned project; built once, memoised."""

    def __init__(self, resolver: Resolver, entry_points: EntryPoints) -> None:
        self.resolver = resolver
        self.entry_points = entry_points
        self.objects = Objects(resolver)
        self.stores = Stores(resolver, self.objects)
        self._callers: dict = {}
        self._calls_by_name: dict | None = None
        self.stores.arguments = self.argument_values

    # ---------- arguments: what a parameter may hold ----------
    def callers(self, ref) -> list:
        """(caller module, caller function, call) for every project call that lands in `ref`,
        also through objects the flow knows (`self.manager.get_or_create(...)`). Calls are indexed
        by the name they use, so only calls spelled like `ref` are resolved."""
        found = self._callers.get(ref)
        if found is not None:
            return found
        if self._calls_by_name is None:
            self._calls_by_name = {}
            for module in self.resolver.modules.values():
                for function in module.functions.values():
                    for call in function.calls:
                        self._calls_by_name.setdefault(call.method, []).append((module, function, call))
        module, function = self.resolver.function(ref)
        name = function.name
        if name == "__init__" and function.class_name:
            name = function.class_name.rsplit(".", 1)[-1]
        found = []
        resolver = self.resolver
        for caller_module, caller, call in self._calls_by_name.get(name, ()):
            target = resolver.call_target(caller_module, caller, call.func)
            if target is None and call.receiver and "(" not in call.receiver and "[" not in call.receiver \
                    and call.receiver not in ("self", "cls"):
                instance = self.objects.instance_of(caller_module, caller, call.receiver)
                if instance is not None:
                    target = resolver.method(instance.module, instance.klass.qualname, call.method)
            if target == ref:
                found.append((caller_module, caller, call))
        self._callers[ref] = found
        return found

    def argument_values(self, module: ModuleFacts, function, param: str) -> list:
        """(caller module, caller function, argument, call line) for each call site's value of `param`."""
        if param not in function.params:
            return []
        ref = (self.resolver.key_of[id(module)], function.qualname)
        index = function.params.index(param)
        if function.class_name and function.params[:1] in (("self",), ("cls",)):
            index -= 1
        found = []
        for caller_module, caller, call in self.callers(ref):
            value = call.kwarg(param)
            if value is None and 0 <= index < len(call.args):
                value = call.args[index]
            if value is not None:
                found.append((caller_module, caller, value, call.line))
        return found

    def step(self, module: ModuleFacts, line: int, note: str) -> Step:
        return Step(display(module), line, note)

    def request_trace(self, reach: Reach, *final: Step) -> tuple[Step, ...]:
        """The entry point, each call down to the function, then `final` (the state's lines)."""
        steps: list[Step] = []
        previous = None
        for ref, line in reach.hops:
            if previous is None:
                module = self.resolver.modules[ref[0]]
                steps.append(Step(display(module), line, reach.entry.description))
            else:
                caller = self.resolver.modules[previous[0]]
                steps.append(Step(display(caller), line, f"calls {ref[1]}"))
            previous = ref
        for item in final:
            if not steps or (steps[-1].path, steps[-1].line) != (item.path, item.line):
                steps.append(item)
        return tuple(steps)

    def instance_step(self, instance: Instance) -> Step | None:
        if instance.shared is None or instance.origin is None:
            return None
        return Step(display(instance.origin), instance.line, f"one `{instance.klass.name}` per process: {instance.shared}")


__all__ = ["FlowModel", "Step", "Instance", "display"]
