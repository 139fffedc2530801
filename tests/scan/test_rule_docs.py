"""Every registered rule is documented where users read about it: its docstring has ruff's
four sections (What it does, Why is this bad?, Example, Use instead), and a docs table names its
code (Python rules: docs/scan-rules.md; deployment rules: docs/scan-deploy.md)."""

import importlib
import pkgutil
from pathlib import Path

import pytest

from autogen_doctor.scan import rules
from autogen_doctor.scan.registry import REGISTRY

DOCS = Path(__file__).resolve().parents[2] / "docs"
SECTIONS = ("what_it_does", "why_bad", "example", "use_instead")  # ruff's four headings, parsed


def registered() -> dict:
    for module in pkgutil.iter_modules(rules.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{rules.__name__}.{module.name}")
    return dict(sorted(REGISTRY.items()))


@pytest.mark.parametrize("code", sorted(registered()))
def test_rule_is_documented(code):
    rule = REGISTRY[code]
    python_rules = (DOCS / "scan-rules.md").read_text()
    deploy_rules = (DOCS / "scan-deploy.md").read_text()
    if f"| {code} `" in deploy_rules:
        return  # deployment rules: one table row each, their reference is that page
    assert f"| {code} |" in python_rules, f"{code} is missing from docs/scan-rules.md"
    doc = rule.doc
    missing = [name for name in SECTIONS if not getattr(doc, name, "").strip()]
    assert not missing, f"{code}'s docstring lacks {missing}"
