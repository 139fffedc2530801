"""S1: whatever sits in the cache folder is data; a planted file is ignored, never run."""

from __future__ import annotations

import json
import os
import pickle
import time
from pathlib import Path

import pytest

from autogen_doctor.scan.cache import CacheFormatError, FactsCache, decode_outcome, encode_outcome
from autogen_doctor.scan.engine import FileOutcome, _build, _Job
from hostile_support import STATEFUL_APP, one_error_line, scan, without_file_permission_override


class _RunsCode:
    """Unpickling this runs a shell command that creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def _plant(cache_dir: Path, root: Path, payload: bytes) -> list[Path]:
    """Write `payload` under every name the cache reads for `root`, and under the old names."""
    cache = FactsCache(cache_dir, roots=[str(root.resolve())])
    targets = [cache.pack_path, cache.result_path,
               cache.pack_path.with_suffix(".pickle"), cache.result_path.with_suffix(".pickle")]
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(payload)
    return targets


def _findings(completed) -> list[tuple[str, str, int]]:
    return [(f["code"], f["path"], f["line"]) for f in json.loads(completed.stdout)["findings"]]


def test_a_planted_pickle_in_the_cache_folder_never_runs(project, tmp_path):
    marker = tmp_path / "pwned"
    cache_dir = project / ".autogen-doctor-cache"  # where a CI job might restore its cache from
    _plant(cache_dir, project, pickle.dumps(_RunsCode(marker)))
    planted = scan(project, "--format", "json", "--cache-dir", str(cache_dir))
    clean = scan(project, "--format", "json", "--no-cache")
    assert not marker.exists()
    assert planted.returncode == clean.returncode == 1, planted.stderr
    assert _findings(planted) == _findings(clean) == [("AD101", "app/main.py", 11)]
    assert planted.stderr == ""


@pytest.mark.parametrize("payload", [
    b"",  # empty
    b"\xff\xfe garbage",  # not text
    b'{"tool": "autogen-doctor"}\n',  # JSON, wrong shape
    b"[" * 200_000 + b"]" * 200_000,  # nested far beyond any limit
], ids=["empty", "binary", "wrong-shape", "deep"])
def test_corrupt_or_hostile_cache_files_are_a_miss_not_a_crash(project, tmp_path, payload):
    cache_dir = tmp_path / "cache"
    _plant(cache_dir, project, payload)
    completed = scan(project, "--format", "json", "--cache-dir", str(cache_dir))
    assert completed.returncode == 1, completed.stderr
    assert _findings(completed) == [("AD101", "app/main.py", 11)]
    # the next scan rewrote the cache in its own format and reads it back
    again = scan(project, "--format", "json", "--cache-dir", str(cache_dir))
    assert _findings(again) == _findings(completed)


def test_a_hand_made_pack_with_the_right_header_cannot_make_other_objects(project, tmp_path):
    cache_dir = tmp_path / "cache"
    old = time.time() - 3600  # old enough for the index and the result to be trusted
    os.utime(project / "app" / "main.py", (old, old))
    assert scan(project, "--cache-dir", str(cache_dir)).returncode == 1
    cache = FactsCache(cache_dir, roots=[str(project.resolve())])
    lines = cache.pack_path.read_bytes().split(b"\n")
    header, index = lines[0], lines[1]
    forged = [b"[9999]", b'[6, {"__class__": "os.system"}]', b"[5, 10]", b'"just a string"', b"[6]",
              # well-formed records of the wrong shape: an outcome whose facts are a string
              encode_outcome(FileOutcome(facts="not facts")).encode(),
              encode_outcome(FileOutcome(facts=None, error=None, suppressions=[])).encode()]
    keys = [line.partition(b"\t")[0] for line in lines[2:] if line]
    assert keys, "the first scan cached its file"
    for entry in forged:
        # keep the header and index, replace every entry with something the build never wrote
        cache.pack_path.write_bytes(b"\n".join([header, index] + [key + b"\t" + entry for key in keys]) + b"\n")
        cache.result_path.unlink(missing_ok=True)
        completed = scan(project, "--format", "json", "--cache-dir", str(cache_dir))
        assert completed.returncode == 1, (entry, completed.stderr)
        assert _findings(completed) == [("AD101", "app/main.py", 11)], entry
        assert json.loads(completed.stdout)["errors"] == [], entry


def test_the_encoding_round_trips_real_facts_and_refuses_anything_else(tmp_path):
    source = tmp_path / "main.py"
    source.write_text(STATEFUL_APP)
    outcome = _build(_Job(str(source), "main.py", "python", "main", False, None), source.read_bytes())
    assert isinstance(outcome, FileOutcome) and outcome.facts is not None
    text = encode_outcome(outcome)
    assert "\n" not in text
    decoded = decode_outcome(text)
    assert type(decoded) is FileOutcome
    assert decoded.facts == outcome.facts
    for hostile in ('[6, {"a": 1}]', "[9999]", "[4, 1]", "[5, 0]", "[" * 100_000 + "]" * 100_000, "nope"):
        with pytest.raises(CacheFormatError):
            decode_outcome(hostile)


def test_project_config_cannot_choose_the_cache_folder(project):
    (project / "pyproject.toml").write_text('[tool.autogen-doctor]\ncache-dir = ".autogen-doctor-cache"\n')
    completed = scan(project)
    assert completed.returncode == 2
    line = one_error_line(completed)
    assert "cache-dir" in line and "--cache-dir" in line
    assert not (project / ".autogen-doctor-cache").exists()


def test_after_one_file_changes_only_that_file_is_read_again(project, tmp_path):
    """The data-only cache keeps the warm path: unchanged files are not even opened.

    The unchanged file is made unreadable after the first scan; had the second scan read it,
    its error would be in the report.
    """
    prefix = without_file_permission_override()
    cache_dir = tmp_path / "cache"
    other = project / "app" / "other.py"
    other.write_text("import redis\n\nstore = redis.Redis()\n")
    old = time.time() - 3600  # older than the racy window: the index trusts size and mtime
    for path in (project / "app" / "main.py", other):
        os.utime(path, (old, old))
    first = scan(project, "--format", "json", "--cache-dir", str(cache_dir))
    assert _findings(first) == [("AD101", "app/main.py", 11)]
    (project / "app" / "main.py").chmod(0)
    try:
        other.write_text(STATEFUL_APP.replace("SESSIONS", "OTHER_SESSIONS"))
        second = scan(project, "--format", "json", "--cache-dir", str(cache_dir), prefix=prefix)
    finally:
        (project / "app" / "main.py").chmod(0o644)
    report = json.loads(second.stdout)
    assert report["errors"] == []
    assert [f["path"] for f in report["findings"]] == ["app/main.py", "app/other.py"]


def test_every_kind_of_fact_the_scanner_makes_can_be_cached(tmp_path):
    """If facts grow a type the cache cannot store, files would silently never be cached:
    round-trip the facts of the scanner's own (varied) source and of each deployment format."""
    import autogen_doctor

    package = Path(autogen_doctor.__file__).resolve().parent
    sources = sorted(package.rglob("*.py"))
    deploy = {
        "k8s.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: chat\nspec:\n  replicas: 3\n"
                    "  template:\n    spec:\n      containers:\n        - name: web\n          image: x\n"
                    "          volumeMounts:\n            - name: scratch\n              mountPath: /data\n"
                    "      volumes:\n        - name: scratch\n          emptyDir: {}\n",
        "Dockerfile": "FROM python:3.12\nCMD [\"uvicorn\", \"app:api\", \"--workers\", \"4\"]\n",
        "compose.yaml": "services:\n  web:\n    image: x\n    deploy:\n      replicas: 2\n    tmpfs:\n      - /tmp/state\n",
        "Procfile": "web: gunicorn app:api -w 4\n",
    }
    for name, text in deploy.items():
        (tmp_path / name).write_text(text)
    jobs = [_Job(str(path), path.name, "python", path.stem, False, None) for path in sources]
    jobs += [_Job(str(tmp_path / name), name, "deploy", "", False, None) for name in deploy]
    for job in jobs:
        outcome = _build(job, Path(job.path).read_bytes())
        assert outcome.error is None, (job.path, outcome.error)
        assert decode_outcome(encode_outcome(outcome)) == outcome, job.path


def test_a_hand_made_result_of_the_wrong_shape_is_a_miss(project, tmp_path):
    """The remembered result is data too: wrong types in it must not reach a reporter."""
    from autogen_doctor.scan.cache import _RESULT_MODULES
    from autogen_doctor.scan.findings import Finding, ScanResult, Severity

    cache_dir = tmp_path / "cache"
    old = time.time() - 3600
    os.utime(project / "app" / "main.py", (old, old))
    assert scan(project, "--cache-dir", str(cache_dir)).returncode == 1
    cache = FactsCache(cache_dir, roots=[str(project.resolve())])
    header, signature, _ = cache.result_path.read_bytes().split(b"\n", 2)
    wrong = [
        ScanResult(findings=["not a finding"]),
        ScanResult(findings=[Finding("AD101", Severity.ERROR, "app/main.py", "eleven", 1, "m")]),
        ScanResult(errors=[("a tuple", "not an error")]),
        ScanResult(files_scanned="many"),
    ]
    for result in wrong:
        cache.result_path.write_bytes(header + b"\n" + signature + b"\n"
                                      + encode_outcome(result, _RESULT_MODULES).encode() + b"\n")
        completed = scan(project, "--format", "json", "--cache-dir", str(cache_dir))
        assert completed.returncode == 1, completed.stderr
        assert _findings(completed) == [("AD101", "app/main.py", 11)]
