"""The cache's compact form of a Python module's facts: exact round trip, anything else a miss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autogen_doctor.scan.cache import CacheFormatError, decode_outcome, encode_outcome
from autogen_doctor.scan.engine import FileOutcome, _build, _Job
from autogen_doctor.scan.facts import MODULE_BODY

SOURCE = '''\
import os
from fastapi import FastAPI, Depends
from typing import Annotated

app = FastAPI()
SESSIONS: dict = {}
CACHE = None  # noqa
COUNT = 0


class Store:
    limit = 10
    name: str = "store"

    def save(self, key, value, *, ttl=None):
        global CACHE
        if CACHE is None:
            CACHE = {}
        CACHE[key] = value
        with open(f"/tmp/{key}.json", "w") as handle:
            handle.write(value)
        return [key, value]


def get_store() -> Store:
    return Store()


@app.post("/chat/{sid}")
async def chat(sid: str, text: str, store: Annotated[Store, Depends(get_store)], other: Store = Depends(get_store)):
    global COUNT
    COUNT += 1
    history = SESSIONS.setdefault(sid, [])
    history.append(text)
    for turn in history[-3:]:
        store.save(sid, turn, ttl=60)

    def nested():
        return os.environ.get("X", "y")

    SESSIONS[sid] += [await agent.run(task=text, **extra)]
    del SESSIONS[sid]
    return {"reply": nested(), "turns": len(history)}


if __name__ == "__main__":
    import uvicorn  # noqa: F401  # autogen-doctor: ignore[AD101]
    uvicorn.run(app)
'''


def _same(left, right, where: str = "") -> None:
    """Equal values of exactly the same types all the way down (a tuple is not a list)."""
    assert type(left) is type(right), f"{where}: {type(left).__name__} != {type(right).__name__}"
    if isinstance(left, (list, tuple)):
        assert len(left) == len(right), where
        for index, (a, b) in enumerate(zip(left, right)):
            _same(a, b, f"{where}[{index}]")
    elif isinstance(left, dict):
        assert list(left) == list(right), where
        for key in left:
            _same(left[key], right[key], f"{where}.{key}")
    elif hasattr(left, "__dataclass_fields__"):
        for name in left.__dataclass_fields__:
            _same(getattr(left, name), getattr(right, name), f"{where}.{name}")
    else:
        assert left == right, where


def _outcome(tmp_path: Path, text: str = SOURCE) -> FileOutcome:
    source = tmp_path / "service.py"
    source.write_text(text)
    return _build(_Job(str(source), "service.py", "python", "service", False, None), source.read_bytes())


def test_a_module_round_trips_with_the_same_types_and_shared_records(tmp_path):
    outcome = _outcome(tmp_path)
    assert outcome.error is None and outcome.suppressions
    text = encode_outcome(outcome)
    assert text.startswith("[-1,")  # the compact form, not the general tagged one
    decoded = decode_outcome(text.encode())
    _same(outcome, decoded)
    # module-level assignments are the module body's own records, one object each, as built
    body = decoded.facts.functions[MODULE_BODY]
    for records in decoded.facts.assigns.values():
        for record in records:
            assert any(record is candidate for candidate in body.assigns)
    from autogen_doctor.scan.suppress import ALL_CODES

    codes = [item.codes for item in decoded.suppressions]
    assert codes[0] is ALL_CODES and {"AD101"} in codes and {"F401"} in codes


def test_the_scanners_own_source_round_trips_exactly(tmp_path):
    import autogen_doctor

    package = Path(autogen_doctor.__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        outcome = _build(_Job(str(path), path.name, "python", path.stem, False, None), path.read_bytes())
        text = encode_outcome(outcome)
        assert text.startswith("[-1,"), path
        _same(outcome, decode_outcome(text), str(path))


def _variants(document: list) -> list[list]:
    """Well-formed JSON that the scanner never wrote: one field of the right document wrong."""
    facts = document[2]
    functions = facts[6]
    body = functions[MODULE_BODY]
    wrong = []

    def changed(edit) -> list:
        copy = json.loads(json.dumps(document))
        edit(copy)
        return copy

    wrong.append(changed(lambda d: d.__setitem__(0, -2)))
    wrong.append(changed(lambda d: d[2].__setitem__(0, 7)))  # module name not a string
    wrong.append(changed(lambda d: d[2].__setitem__(6, list(d[2][6].values()))))  # functions not an object
    wrong.append(changed(lambda d: d[2][6][MODULE_BODY].pop()))  # a function with a field missing
    wrong.append(changed(lambda d: d[2].__setitem__(5, {"SESSIONS": [10_000]})))  # no such assignment
    wrong.append(changed(lambda d: d[1][0].__setitem__(1, [["*"]])))  # suppression codes not strings
    assert body[10], "the module body has calls"
    wrong.append(changed(lambda d: d[2][6][MODULE_BODY][10][0].__setitem__(5, [["name"]])))  # bad Expr
    wrong.append(changed(lambda d: d[2][6][MODULE_BODY][10][0].__setitem__(12, [1, 2])))  # names not strings
    wrong.append(changed(lambda d: d[2][8].append({"a": 1})))  # defined holds an object
    return wrong


def test_well_formed_json_of_the_wrong_shape_is_refused(tmp_path):
    document = json.loads(encode_outcome(_outcome(tmp_path)))
    variants = _variants(document)
    for number, variant in enumerate(variants):
        with pytest.raises(CacheFormatError):
            decode_outcome(json.dumps(variant))
        assert variant != document, number
    for hostile in ("[-1]", "[-1,[],{}]", '[-1,[],"facts"]', "[-1," + "[" * 100_000 + "]" * 100_001,
                    "[-1,[],[" + ",".join(["null"] * 12) + "]]"):
        with pytest.raises(CacheFormatError):
            decode_outcome(hostile)


def test_outcomes_the_compact_form_does_not_describe_take_the_general_form(tmp_path):
    broken = _outcome(tmp_path, "def broken(:\n")
    assert broken.error is not None
    text = encode_outcome(broken)
    assert not text.startswith("[-1,")
    assert decode_outcome(text) == broken
    odd = _outcome(tmp_path)
    record = odd.facts.assigns["SESSIONS"][0]
    odd.facts.assigns["SESSIONS"] = [type(record).make(("SESSIONS",))]  # not one of the body's records
    text = encode_outcome(odd)
    assert not text.startswith("[-1,")
    _same(odd, decode_outcome(text))


def test_facts_cached_by_pool_workers_give_the_findings_of_an_uncached_scan(tmp_path, monkeypatch):
    """Workers encode each file's entry; a later scan that reads every file back from the pack
    (the remembered result removed) finds exactly what a scan without any cache finds."""
    import os
    import time

    from autogen_doctor.scan.cache import FactsCache
    from autogen_doctor.scan.engine import scan_paths
    from support.files import write_tree

    monkeypatch.chdir(tmp_path)
    files = {"svc/__init__.py": "", "svc/service.py": SOURCE}
    for index in range(40):  # enough files for the process pool; sizes differ, so the order changes
        files[f"svc/handler_{index}.py"] = (
            "from fastapi import APIRouter\nrouter = APIRouter()\n" + f"store_{index} = []\n" * (index + 1)
            + f"\n@router.get('/x{index}')\ndef handler():\n    store_{index}.append(1)\n")
    write_tree(tmp_path, files)
    old = time.time() - 3600  # old enough for the index to trust sizes and mtimes
    for path in (tmp_path / "svc").iterdir():
        os.utime(path, (old, old))
    cache_dir = tmp_path / "cache"
    plain = scan_paths([tmp_path / "svc"], jobs=2, use_cache=False)
    cold = scan_paths([tmp_path / "svc"], jobs=2, cache_dir=cache_dir)
    cache = FactsCache(cache_dir, roots=[str((tmp_path / "svc").resolve())])
    entries = cache.pack_path.read_bytes().split(b"\n")[2:]
    assert sum(b"\t[-1," in entry for entry in entries) == len(files)  # every file, compact form
    cache.result_path.unlink()
    from_pack = scan_paths([tmp_path / "svc"], jobs=2, cache_dir=cache_dir)
    expected = [finding.to_json() for finding in plain.findings]
    assert len(expected) >= 41
    assert [finding.to_json() for finding in cold.findings] == expected
    assert [finding.to_json() for finding in from_pack.findings] == expected
    assert plain.errors == cold.errors == from_pack.errors == []
