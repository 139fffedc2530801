"""Baselines: adopt the scanner on old code by recording today's findings and reporting only new ones.

A finding is identified by a fingerprint of its code, its path, its symbol and its source
line with whitespace normalised: never its line or column, so inserting or deleting lines
elsewhere in the file does not turn old findings into new ones. Identical fingerprints (the
same statement twice in one file) are counted, so a third copy of a baselined pair is new.

File format (JSON, sorted, stable so it diffs well in review):

    {"tool": "autogen-doctor", "version": 1,
     "findings": [{"fingerprint": "...", "code": "AD101", "path": "app/main.py",
                   "symbol": "SESSIONS", "context": "SESSIONS[sid] = history", "count": 1}]}

Paths are stored relative to the baseline file's directory, so the scan may run from any
directory of the checkout.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from autogen_doctor.exit_codes import UserError
from autogen_doctor.scan.findings import Finding

FORMAT_VERSION = 1


def normalise_context(text: str) -> str:
    """Whitespace-insensitive form of a source line (re-indenting must not change identity)."""
    return " ".join(text.split())


def fingerprint(finding: Finding, path: str) -> str:
    """Stable identity of `finding` reported at `path` (a posix path chosen by the caller)."""
    anchor = normalise_context(finding.context) or normalise_context(finding.message)
    material = "\0".join((finding.code, path, finding.symbol or "", anchor))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def path_relative_to(display_path: str, cwd: Path, base_dir: Path) -> str:
    """`display_path` (relative to `cwd`, or absolute) re-expressed relative to `base_dir`."""
    absolute = (cwd / display_path).resolve()
    try:
        return absolute.relative_to(base_dir.resolve()).as_posix()
    except ValueError:
        return absolute.as_posix()


@dataclass(frozen=True)
class BaselineEntry:
    fingerprint: str
    code: str
    path: str
    symbol: str | None
    context: str
    count: int

    def to_json(self) -> dict:
        return {"fingerprint": self.fingerprint, "code": self.code, "path": self.path,
                "symbol": self.symbol, "context": self.context, "count": self.count}


@dataclass(frozen=True)
class Baseline:
    entries: tuple[BaselineEntry, ...]
    base_dir: Path

    def split(self, findings: Sequence[Finding], cwd: Path) -> tuple[list[Finding], list[Finding]]:
        """(new findings, findings already in the baseline). Deterministic for a given input."""
        remaining = Counter({entry.fingerprint: entry.count for entry in self.entries})
        new: list[Finding] = []
        known: list[Finding] = []
        for finding in sorted(findings, key=Finding.sort_key):
            key = fingerprint(finding, path_relative_to(finding.path, cwd, self.base_dir))
            if remaining[key] > 0:
                remaining[key] -= 1
                known.append(finding)
            else:
                new.append(finding)
        return new, known


def build_baseline(findings: Iterable[Finding], cwd: Path, base_dir: Path) -> Baseline:
    """Group `findings` by fingerprint (paths relative to `base_dir`)."""
    counts: Counter[str] = Counter()
    first: dict[str, tuple[Finding, str]] = {}
    for finding in sorted(findings, key=Finding.sort_key):
        path = path_relative_to(finding.path, cwd, base_dir)
        key = fingerprint(finding, path)
        counts[key] += 1
        first.setdefault(key, (finding, path))
    entries = [
        BaselineEntry(fingerprint=key, code=finding.code, path=path, symbol=finding.symbol,
                      context=normalise_context(finding.context), count=counts[key])
        for key, (finding, path) in first.items()
    ]
    entries.sort(key=lambda entry: (entry.path, entry.code, entry.symbol or "", entry.fingerprint))
    return Baseline(entries=tuple(entries), base_dir=base_dir)


def write_baseline(path: Path, findings: Iterable[Finding], cwd: Path) -> Baseline:
    """Record `findings` in `path` (created or replaced); returns what was written."""
    baseline = build_baseline(findings, cwd, path.resolve().parent)
    document = {"tool": "autogen-doctor", "version": FORMAT_VERSION,
                "findings": [entry.to_json() for entry in baseline.entries]}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot write baseline {path}: {error.strerror or error}") from None
    return baseline


MAX_BASELINE_BYTES = 64 * 1024 * 1024
# A count no real baseline reaches; also keeps `Counter` arithmetic small.
MAX_COUNT = 1_000_000


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def read_baseline(path: Path) -> Baseline:
    """Load a file written by `--write-baseline`; anything else is a one-line error (exit 2).

    A baseline may come from the scanned repository, so it is read as untrusted: a regular
    file of at most MAX_BASELINE_BYTES, nesting bounded, counts whole numbers in range.
    """
    from autogen_doctor.files import read_regular_file

    if not path.exists() and not path.is_symlink():
        raise UserError(f"baseline {path} does not exist (create it with --write-baseline)")
    data = read_regular_file(path, "baseline", MAX_BASELINE_BYTES)
    try:
        document = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as error:
        raise UserError(f"cannot read baseline {path}: not UTF-8 text (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise UserError(f"baseline {path} is not valid JSON: {error}") from None
    except ValueError as error:  # NaN / Infinity
        raise UserError(f"baseline {path} is not valid JSON: {error}") from None
    except (RecursionError, MemoryError):
        raise UserError(f"baseline {path} is nested too deeply to be a baseline") from None
    not_ours = f"baseline {path} was not written by `autogen-doctor scan --write-baseline`"
    if not isinstance(document, dict) or not isinstance(document.get("findings"), list):
        raise UserError(not_ours)
    if document.get("version") != FORMAT_VERSION:
        raise UserError(f"baseline {path} has format version {document.get('version')!r}; "
                        f"this autogen-doctor reads version {FORMAT_VERSION}")
    entries = []
    for item in document["findings"]:
        try:
            count = item.get("count", 1)
            if type(count) is not int or not 1 <= count <= MAX_COUNT:
                raise UserError(f"baseline {path}: a finding's count must be a whole number from 1 to "
                                f"{MAX_COUNT}, got {str(count)[:40]}")
            symbol = item.get("symbol")
            if symbol is not None and not isinstance(symbol, str):
                raise TypeError("symbol")
            if not all(isinstance(item.get(key, ""), str) for key in ("fingerprint", "code", "path", "context")):
                raise TypeError("text field")
            entries.append(BaselineEntry(
                fingerprint=item["fingerprint"], code=item["code"], path=item["path"],
                symbol=symbol, context=item.get("context", ""), count=count,
            ))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise UserError(not_ours) from None
    return Baseline(entries=tuple(entries), base_dir=path.resolve().parent)
