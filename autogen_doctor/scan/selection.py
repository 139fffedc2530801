"""Which findings count: rule selection (`--select`/`--ignore`), per-file ignores, `--fail-on`.

Selectors work like ruff's: a full code (`AD101`), a prefix (`AD1` for a family, `AD10`,
`AD`), or `ALL`. When a code matches both a select and an ignore selector, the more specific
(longer) selector wins; on a tie, ignore wins. So `--select AD1 --ignore AD102` keeps every
AD1 rule except AD102, and `--ignore AD1 --select AD101` keeps only AD101 of that family.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Iterable, Sequence

from autogen_doctor.exit_codes import UserError
from autogen_doctor.scan.findings import Finding, Severity

if TYPE_CHECKING:  # imported when there is a pattern to check (it is slow to import)
    import pathspec

ALL = "ALL"
_SELECTOR = re.compile(r"^(?:ALL|AD(?:[1-6](?:\d\d?)?)?)$")


def split_codes(values: Iterable[str] | None) -> list[str]:
    """Flatten repeatable, comma-separated values (`--select AD1,AD2 --select AD401`)."""
    codes: list[str] = []
    for value in values or ():
        codes.extend(part.strip().upper() for part in value.replace(" ", ",").split(",") if part.strip())
    return codes


def validate_selectors(selectors: Sequence[str], known_codes: Iterable[str], where: str) -> list[str]:
    """Upper-case `selectors` and reject anything that is not a code, a prefix or ALL.

    A full five-character code must name a registered rule; a prefix may match none yet.
    """
    known = set(known_codes)
    checked = []
    for selector in selectors:
        selector = selector.strip().upper()
        if not _SELECTOR.match(selector):
            raise UserError(f"{where}: {selector!r} is not a rule code or prefix (expected e.g. AD101, AD1 or ALL)")
        if len(selector) == 5 and known and selector not in known:
            raise UserError(f"{where}: unknown rule code {selector!r}; `autogen-doctor rules` lists them")
        checked.append(selector)
    return checked


def _specificity(selectors: Sequence[str], code: str) -> int:
    """Length of the longest selector that matches `code`; -1 when none does (ALL counts as 0)."""
    best = -1
    for selector in selectors:
        if selector == ALL:
            best = max(best, 0)
        elif code.startswith(selector):
            best = max(best, len(selector))
    return best


@dataclass(frozen=True)
class RuleSelection:
    """The enabled rules, from select (default: all) and ignore selectors."""

    select: tuple[str, ...] = (ALL,)
    ignore: tuple[str, ...] = ()

    def enabled(self, code: str) -> bool:
        return _specificity(self.select, code) > _specificity(self.ignore, code)


def codes_match(selectors: Sequence[str], code: str) -> bool:
    """True when any selector (code, prefix or ALL) matches `code`."""
    return _specificity(selectors, code) >= 0


def check_pattern(pattern: str, where: str) -> str:
    """`pattern` when it is a valid gitignore-style pattern, else a one-line UserError."""
    import pathspec

    try:
        pathspec.GitIgnoreSpec.from_lines([pattern])
    except Exception as error:  # pathspec raises its own GitIgnorePatternError (and ValueError)
        from autogen_doctor.textsafe import escape_text

        reason = " ".join(str(error).split()) or type(error).__name__
        raise UserError(f"{where}: {pattern!r} is not a valid gitignore-style pattern "
                        f"({escape_text(reason)})") from None
    return pattern


@dataclass(frozen=True)
class PerFileIgnore:
    """Ignore `codes` (selectors) in files matching the gitignore-style `pattern`.

    A pattern without `/` matches a file name at any depth (`test_*.py`); one with `/` is
    anchored at `base_dir` (the config file's directory, or the current one for the flag).
    """

    pattern: str
    codes: tuple[str, ...]
    base_dir: Path

    def __post_init__(self) -> None:
        import pathspec

        object.__setattr__(self, "_spec", pathspec.GitIgnoreSpec.from_lines([self.pattern]))

    def matches(self, path: Path) -> bool:
        """`path` is absolute."""
        spec: pathspec.GitIgnoreSpec = getattr(self, "_spec")
        try:
            relative = PurePosixPath(path.relative_to(self.base_dir).as_posix())
        except ValueError:
            if "/" in self.pattern.rstrip("/"):
                return spec.match_file(path.as_posix().lstrip("/"))
            relative = PurePosixPath(path.name)
        return spec.match_file(str(relative))

    def ignores(self, path: Path, code: str) -> bool:
        return codes_match(self.codes, code) and self.matches(path)


def parse_per_file_ignore_flag(value: str, known_codes: Iterable[str], base_dir: Path) -> PerFileIgnore:
    """`PATTERN:CODES` as given to `--per-file-ignores`, e.g. `tests/**:AD101,AD2`."""
    pattern, sep, codes = value.rpartition(":")
    if not sep or not pattern.strip() or not codes.strip():
        raise UserError(f"--per-file-ignores: expected PATTERN:CODES such as 'tests/**:AD101', got {value!r}")
    selectors = validate_selectors(split_codes([codes]), known_codes, "--per-file-ignores")
    return PerFileIgnore(pattern=check_pattern(pattern.strip(), "--per-file-ignores"), codes=tuple(selectors),
                         base_dir=base_dir)


def at_or_above(finding: Finding, threshold: Severity) -> bool:
    """Does `finding` count towards a failing exit with `--fail-on threshold`?"""
    return finding.severity.rank >= threshold.rank
