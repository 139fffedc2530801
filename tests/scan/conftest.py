from pathlib import Path

import pytest

from autogen_doctor.scan.engine import scan_paths
from support.files import write_tree


@pytest.fixture
def scan_tree(tmp_path, monkeypatch):
    """Write a small project and scan it (no cache, in process); returns the ScanResult."""
    monkeypatch.chdir(tmp_path)

    def run(files: dict[str, str], *, codes: str | None = None, **options):
        write_tree(tmp_path, files)
        options.setdefault("use_cache", False)
        options.setdefault("jobs", 1)
        result = scan_paths([tmp_path], **options)
        if codes is not None:
            result.findings = [f for f in result.findings if f.code.startswith(codes)]
        return result

    return run
