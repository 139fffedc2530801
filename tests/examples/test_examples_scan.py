"""`autogen-doctor scan` on each example: the broken ones show their rule, the fixed ones nothing."""

import pytest
from example_table import EXAMPLES, Example, run_cli


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.rule_family], ids=lambda e: e.name)
def test_scan_reports_the_rule_that_explains_each_broken_example(example: Example):
    code, report, _ = run_cli("scan", f"examples/{example.name}", "--no-cache")
    codes = sorted({finding["code"] for finding in report["findings"]})
    assert any(code_.startswith(example.rule_family) for code_ in codes), codes
    assert code == 1
    assert report["errors"] == []
    assert all(finding["path"].startswith(f"examples/{example.name}/") for finding in report["findings"])


@pytest.mark.parametrize("example", [e for e in EXAMPLES if not e.rule_family], ids=lambda e: e.name)
def test_scan_finds_nothing_in_each_fixed_example(example: Example):
    code, report, _ = run_cli("scan", f"examples/{example.name}", "--no-cache", "--fail-on", "info")
    assert report["findings"] == []
    assert report["errors"] == []
    assert code == 0


def test_scan_of_the_shared_model_modules_finds_nothing():
    code, report, _ = run_cli("scan", "examples/codeword_model.py", "examples/codewords.py",
                              "examples/classic_codeword.py", "--no-cache", "--fail-on", "info")
    assert report["findings"] == [] and code == 0
