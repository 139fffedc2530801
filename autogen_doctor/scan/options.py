"""The settings of one scan run: flags over config over defaults, validated once, here.

Each flag given on the command line replaces the config value for the same key (the
config's `ignore` list is not merged with `--ignore`), as with ruff's `--select`/`--exclude`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from autogen_doctor.exit_codes import UserError
from autogen_doctor.scan.config import FORMATS, ProjectConfig
from autogen_doctor.scan.findings import Severity
from autogen_doctor.scan.selection import (
    ALL,
    PerFileIgnore,
    RuleSelection,
    check_pattern,
    parse_per_file_ignore_flag,
    split_codes,
    validate_selectors,
)


@dataclass(frozen=True)
class ScanOptions:
    """Everything the scan pipeline needs after flags and config are merged."""

    paths: tuple[Path, ...] = (Path("."),)
    format: str = "text"
    output: Path | None = None
    fail_on: Severity = Severity.WARNING
    selection: RuleSelection = RuleSelection()
    exclude: tuple[str, ...] = ()
    per_file_ignores: tuple[PerFileIgnore, ...] = ()
    baseline: Path | None = None
    write_baseline: Path | None = None
    jobs: int | None = None
    use_cache: bool = True
    cache_dir: Path | None = None
    report_unused_suppressions: bool = False
    quiet: bool = False
    config_path: Path | None = None
    cwd: Path = field(default_factory=Path.cwd)


@dataclass
class CommandLine:
    """Raw flag values; None (or empty) means "not given", so the config may supply it."""

    paths: list[Path] = field(default_factory=list)
    format: str | None = None
    output: Path | None = None
    fail_on: str | None = None
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    per_file_ignores: list[str] = field(default_factory=list)
    baseline: Path | None = None
    write_baseline: Path | None = None
    jobs: int | None = None
    cache: bool | None = None
    cache_dir: Path | None = None
    report_unused_suppressions: bool | None = None
    quiet: bool = False


def _pick(flag: Any, config: ProjectConfig, key: str, default: Any) -> Any:
    if flag is not None and flag != []:
        return flag
    return config.values.get(key, default)


def _absolute(path: Path | None, cwd: Path) -> Path | None:
    return None if path is None else (cwd / path).resolve()


def _check_named_file_readable(full: Path, given: Path) -> None:
    """A file named on the command line that cannot be opened is a usage error, said once."""
    if not full.is_file():
        return
    try:
        os.close(os.open(full, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)))
    except PermissionError:
        raise UserError(f"{given}: cannot read file: permission denied") from None
    except OSError as error:
        raise UserError(f"{given}: cannot read file: {error.strerror or error}") from None


def check_cache_dir(folder: Path, given: Path | None = None) -> None:
    """`--cache-dir` must be a folder the scan can write to; a missing one is created.

    A file, /dev/null or /proc/self would silently turn the cache off: say so instead.
    """
    import tempfile

    shown = given if given is not None else folder
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--cache-dir {shown} is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".write-test-")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise UserError(f"--cache-dir {shown} cannot be used: {error.strerror or error}") from None


def build_options(cli: CommandLine, config: ProjectConfig, known_codes: Iterable[str],
                  cwd: Path | None = None) -> ScanOptions:
    """Merge flags over `config` over defaults, validating every value (UserError, exit 2)."""
    cwd = cwd or Path.cwd()
    known_codes = tuple(known_codes)
    where = f"{config.path}: [tool.autogen-doctor]" if config.path else "config"

    output_format = (cli.format or config.values.get("format") or "text").lower()
    if output_format not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, got {cli.format!r}")

    if cli.fail_on is not None:
        try:
            fail_on = Severity.parse(cli.fail_on)
        except ValueError:
            raise UserError(f"--fail-on must be info, warning or error, got {cli.fail_on!r}") from None
    else:
        fail_on = config.values.get("fail_on", Severity.WARNING)

    if cli.select:
        select = validate_selectors(split_codes(cli.select), known_codes, "--select")
        if not select:
            # `--select "$CODES"` with CODES unset would otherwise switch every rule off and pass CI.
            raise UserError("--select was given no rule codes; name some (e.g. AD1,AD401) or use ALL")
    else:
        select = validate_selectors(split_codes(config.values.get("select", [ALL])), known_codes, f"{where} select")
        if not select:
            # The same mistake as an empty --select: every rule off and a green CI run.
            raise UserError(f"{where} select names no rule codes; name some (e.g. AD1, AD401) or use ALL")
    if cli.ignore:
        ignore = validate_selectors(split_codes(cli.ignore), known_codes, "--ignore")
    else:
        ignore = validate_selectors(split_codes(config.values.get("ignore", [])), known_codes, f"{where} ignore")

    if cli.per_file_ignores:
        per_file = tuple(parse_per_file_ignore_flag(value, known_codes, cwd) for value in cli.per_file_ignores)
    else:
        per_file = tuple(
            PerFileIgnore(
                pattern=check_pattern(pattern, f"{where} per-file-ignores"),
                codes=tuple(validate_selectors(split_codes(codes), known_codes, f"{where} per-file-ignores")),
                base_dir=config.base_dir or cwd,
            )
            for pattern, codes in config.values.get("per_file_ignores", [])
        )

    exclude = tuple(_pick(cli.exclude, config, "exclude", []))
    for pattern in exclude:
        check_pattern(pattern, "--exclude" if cli.exclude else f"{where} exclude")

    jobs = cli.jobs if cli.jobs is not None else config.values.get("jobs")
    if jobs is not None and jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {jobs}")

    use_cache = bool(_pick(cli.cache, config, "cache", True))
    # Only the command line chooses the cache folder (config.py refuses `cache-dir`).
    cache_dir = _absolute(cli.cache_dir, cwd)
    if cache_dir is not None and use_cache:
        check_cache_dir(cache_dir, cli.cache_dir)

    paths = tuple(cli.paths) or (Path("."),)
    for path in paths:
        if not (cwd / path).exists():
            raise UserError(f"{path}: no such file or directory")
        _check_named_file_readable(cwd / path, path)

    return ScanOptions(
        paths=paths,
        format=output_format,
        output=_absolute(cli.output, cwd) or config.values.get("output"),
        fail_on=fail_on,
        selection=RuleSelection(select=tuple(select), ignore=tuple(ignore)),
        exclude=exclude,
        per_file_ignores=per_file,
        baseline=_absolute(cli.baseline, cwd) or config.values.get("baseline"),
        write_baseline=_absolute(cli.write_baseline, cwd),
        jobs=jobs,
        use_cache=use_cache,
        cache_dir=cache_dir,
        report_unused_suppressions=bool(_pick(cli.report_unused_suppressions, config,
                                              "report_unused_suppressions", False)),
        quiet=cli.quiet,
        config_path=config.path,
        cwd=cwd,
    )

