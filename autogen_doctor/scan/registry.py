"""Rule registry (bandit-style plugins, ruff-style docs).

Every rule lives in its own module under `autogen_doctor.scan.rules`, named after what it
detects. The module docstring is the rule's documentation, written in four sections:

    ## What it does
    ## Why is this bad?
    ## Example
    ## Use instead

and the module's check function is registered with `@rule(...)`:

    @rule(code="AD101", name="module-state-written-on-request", severity=Severity.WARNING,
          summary="Conversation state kept in a module-level container")
    def check(project: Project) -> Iterator[Finding]: ...

A check receives the whole project (all module facts and deployment facts, cross-module
references already resolved) and yields findings.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

from autogen_doctor.scan.findings import Finding, Severity

if TYPE_CHECKING:
    from autogen_doctor.scan.project import Project

CheckFunction = Callable[["Project"], Iterable[Finding]]

FAMILIES: dict[str, str] = {
    "AD1": "process-local state",
    "AD2": "not rehydrated",
    "AD3": "ephemeral storage",
    "AD4": "scaled deployment",
    "AD5": "racy read-modify-write",
    "AD6": "shared conversation",
}

_CODE = re.compile(r"^AD[1-6]\d\d$")
_SECTION = re.compile(r"^##\s+(.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class RuleDoc:
    what_it_does: str = ""
    why_bad: str = ""
    example: str = ""
    use_instead: str = ""

    def as_markdown(self) -> str:
        parts = [
            ("What it does", self.what_it_does),
            ("Why is this bad?", self.why_bad),
            ("Example", self.example),
            ("Use instead", self.use_instead),
        ]
        return "\n\n".join(f"## {title}\n{body}" for title, body in parts if body)


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str
    check: CheckFunction = field(compare=False, repr=False)
    doc: RuleDoc = RuleDoc()

    @property
    def family(self) -> str:
        return self.code[:3]

    @property
    def family_name(self) -> str:
        return FAMILIES[self.family]


REGISTRY: dict[str, Rule] = {}


def parse_rule_doc(text: str | None) -> RuleDoc:
    """Split a rule module's docstring into its four documented sections."""
    if not text:
        return RuleDoc()
    sections: dict[str, str] = {}
    matches = list(_SECTION.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        sections[match.group(1).lower().rstrip("?")] = text[match.end():end].strip("\n").rstrip()
    return RuleDoc(
        what_it_does=sections.get("what it does", ""),
        why_bad=sections.get("why is this bad", ""),
        example=sections.get("example", ""),
        use_instead=sections.get("use instead", ""),
    )


def rule(*, code: str, name: str, severity: Severity, summary: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check function as rule `code`; its module docstring is the documentation."""
    if not _CODE.match(code):
        raise ValueError(f"rule code {code!r} must look like AD101")

    def decorate(check: CheckFunction) -> CheckFunction:
        if code in REGISTRY:
            raise ValueError(f"rule code {code} registered twice")
        module_doc = sys.modules[check.__module__].__doc__
        REGISTRY[code] = Rule(code=code, name=name, severity=severity, summary=summary,
                              check=check, doc=parse_rule_doc(module_doc))
        return check

    return decorate


def load_rules() -> dict[str, Rule]:
    """Import every module in `autogen_doctor.scan.rules` once; return the registry by code."""
    from autogen_doctor.scan import rules as package

    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{module.name}")
    return dict(sorted(REGISTRY.items()))
