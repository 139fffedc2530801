"""Module-level AutoGen objects used on a request path (shared by AD105 and AD106)."""

from __future__ import annotations

from typing import Iterator

from autogen_doctor.scan.flow.objects import autogen_category


def shared_uses(state, categories: frozenset[str]) -> Iterator[tuple]:
    """(module, function, reach, call, definition, category, class name), once per function and object."""
    resolver = state.resolver
    for ref, module, function, reach in state.entry_points.request_functions():
        seen: set[tuple[str, str]] = set()
        for call in function.calls:
            texts = []
            if call.receiver:
                texts.append(call.receiver)
            texts.extend(argument.dotted for argument in (*call.args, *(v for _, v in call.kwargs))
                         if argument.kind in ("name", "attr"))
            for text in texts:
                if "(" in text or "[" in text or function.is_local(text.split(".", 1)[0]):
                    continue
                found = resolver.module_value(module, function, text)
                if found is None:
                    continue
                definition, value = found
                if value.kind != "call":
                    continue
                category = autogen_category(resolver, definition.module, None, value.dotted)
                if category is None or category[0] not in categories:
                    continue
                marker = (definition.module.name, definition.name)
                if marker in seen:
                    continue
                seen.add(marker)
                yield module, function, reach, call, definition, category[0], category[1]
