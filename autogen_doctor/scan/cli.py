"""`scan`, `rules` and `explain` commands.

`scan` is config -> options -> engine -> filtering (select/ignore, per-file ignores,
suppressions, baseline) -> reporter -> exit code. The engine finds everything; this layer
decides what the user sees and whether the CI step fails.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, List, Mapping, Optional

import typer

from autogen_doctor.exit_codes import ExitCode, UserError
from autogen_doctor.scan.findings import Finding, ScanResult, Severity
from autogen_doctor.scan.suppress import Suppression, find_suppression, parse_suppressions
from autogen_doctor.textsafe import escape_text

# Start-up is most of a small scan: what only `scan` needs (options, config, the engine) is
# imported inside it, and what only some scans need (the baseline, the rules' code, reporters
# other than the one asked for) where it is used. tests/scan_cli/test_startup_imports.py
# checks that a warm scan stays clear of the deployment parsers and rich.
if TYPE_CHECKING:
    from autogen_doctor.scan.options import ScanOptions

_AD_CODE_LENGTH = 5


def scan_command(
    # readable=False: an unreadable file is our one-line error (options.py), not click's usage text.
    paths: Optional[List[Path]] = typer.Argument(None, help="Files or folders to scan (default: .)",
                                                 readable=False),
    output_format: Optional[str] = typer.Option(
        None, "--format", help="Output format: text, json, sarif or github. (default: text)"),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Write the report to FILE instead of stdout."),
    fail_on: Optional[str] = typer.Option(
        None, "--fail-on", help="Exit 1 when a finding is at or above: info, warning or error. (default: warning)"),
    select: Optional[List[str]] = typer.Option(
        None, "--select", help="Only these codes or prefixes (comma-separated, repeatable), e.g. AD1,AD401."),
    ignore: Optional[List[str]] = typer.Option(
        None, "--ignore", help="Skip these codes or prefixes (comma-separated, repeatable)."),
    exclude: Optional[List[str]] = typer.Option(
        None, "--exclude", help="Skip files matching this gitignore-style GLOB (repeatable)."),
    per_file_ignores: Optional[List[str]] = typer.Option(
        None, "--per-file-ignores", help="PATTERN:CODES, e.g. 'tests/**:AD101,AD2' (repeatable)."),
    baseline: Optional[Path] = typer.Option(
        None, "--baseline", help="Report only findings that are not in this baseline FILE."),
    write_baseline: Optional[Path] = typer.Option(
        None, "--write-baseline", help="Record today's findings in FILE and exit 0."),
    jobs: Optional[int] = typer.Option(
        None, "--jobs", "-j", help="Parallel workers. (default: all cores)"),
    cache: Optional[bool] = typer.Option(
        None, "--cache/--no-cache", help="Reuse results for unchanged files. (default: cache)"),
    cache_dir: Optional[Path] = typer.Option(
        None, "--cache-dir", help="Where the cache lives. (default: the user's cache directory)"),
    report_unused_suppressions: Optional[bool] = typer.Option(
        None, "--report-unused-suppressions/--no-report-unused-suppressions",
        help="Report suppression comments that hide nothing (they count as warnings)."),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Print findings only: no summary line."),
    config: Optional[Path] = typer.Option(
        None, "--config", help="Read settings from this TOML file instead of the nearest pyproject.toml."),
    no_config: bool = typer.Option(
        False, "--no-config", help="Ignore pyproject.toml settings."),
) -> None:
    """Find shared-state loss in code and deployment files (never imports or runs them).

    Exit 0: nothing at or above --fail-on; 1: findings at or above it; 2: usage error or
    nothing could be scanned.
    """
    from autogen_doctor.scan.config import discover_config
    from autogen_doctor.scan.options import CommandLine, build_options
    from autogen_doctor.scan.registry import load_rules

    if config is not None and no_config:
        raise UserError("--config and --no-config cannot be used together")
    cwd = Path.cwd()
    rules = _LazyRules(load_rules)
    settings = discover_config(cwd, explicit=config, enabled=not no_config)
    command_line = CommandLine(
        paths=list(paths or []), format=output_format, output=output, fail_on=fail_on,
        select=list(select or []), ignore=list(ignore or []), exclude=list(exclude or []),
        per_file_ignores=list(per_file_ignores or []), baseline=baseline, write_baseline=write_baseline,
        jobs=jobs, cache=cache, cache_dir=cache_dir, report_unused_suppressions=report_unused_suppressions,
        quiet=quiet,
    )
    options = build_options(command_line, settings, rule_codes(), cwd)
    raise typer.Exit(run_scan(options, rules))


def rule_codes() -> list[str]:
    """Every rule code, read from the rule modules' names (`ad101_….py` is AD101) without
    importing them: a warm scan whose result is remembered never needs the rules' code."""
    import pkgutil

    from autogen_doctor.scan import rules as package

    return sorted(module.name[:5].upper() for module in pkgutil.iter_modules(package.__path__)
                  if module.name[:2] == "ad" and module.name[2:5].isdigit())


class _LazyRules(Mapping):
    """The rule registry, imported on first use (SARIF descriptors need it; text output does not)."""

    def __init__(self, load) -> None:
        self._load = load
        self._rules: dict | None = None

    def _loaded(self) -> dict:
        if self._rules is None:
            self._rules = self._load()
        return self._rules

    def __getitem__(self, code: str):
        return self._loaded()[code]

    def __iter__(self):
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


@dataclass
class Filtered:
    """Findings left to report, and what was taken away on the way."""

    findings: list[Finding]
    deselected: int = 0
    suppressed: int = 0
    baselined: int = 0
    # Per display path: suppression -> codes it actually hid.
    used: dict[str, dict[Suppression, set[str]]] = field(default_factory=dict)


def _suppressions_for(result: ScanResult, paths: set[str], cwd: Path) -> dict[str, list[Suppression]]:
    """Suppressions by display path: from the engine when it collected them, else read here."""
    collected = getattr(result, "suppressions", None)
    if isinstance(collected, Mapping):
        return {path: list(items) for path, items in collected.items()}
    found: dict[str, list[Suppression]] = {}
    for path in paths:
        try:
            found[path] = parse_suppressions((cwd / path).read_text(encoding="utf-8", errors="replace"))
        except OSError:
            found[path] = []
    return found


def filter_findings(result: ScanResult, options: ScanOptions,
                    suppressions: Mapping[str, list[Suppression]]) -> Filtered:
    """Apply select/ignore, per-file ignores and suppression comments (not the baseline)."""
    kept: list[Finding] = []
    filtered = Filtered(findings=kept)
    for finding in sorted(result.findings, key=Finding.sort_key):
        if not options.selection.enabled(finding.code):
            filtered.deselected += 1
            continue
        if options.per_file_ignores:
            absolute = (options.cwd / finding.path).resolve()
            if any(rule.ignores(absolute, finding.code) for rule in options.per_file_ignores):
                filtered.deselected += 1
                continue
        hit = find_suppression(list(suppressions.get(finding.path, ())), finding.code, finding.line)
        if hit is not None:
            filtered.suppressed += 1
            filtered.used.setdefault(finding.path, {}).setdefault(hit, set()).add(finding.code)
            continue
        kept.append(finding)
    return filtered


def unused_suppressions(suppressions: Mapping[str, list[Suppression]], filtered: Filtered,
                        options: ScanOptions) -> list:
    """Suppression comments that hid nothing, like ruff's unused-noqa (RUF100).

    A bare `# noqa` and `# noqa` codes of other tools (E501...) are left alone: they may be
    meant for another linter. Codes of rules switched off by --select/--ignore are not
    reported either, so a narrowed run does not ask to delete comments a full run needs.
    """
    from autogen_doctor.scan.reporters import UnusedSuppression

    unused = []
    for path in sorted(suppressions):
        used_here = filtered.used.get(path, {})
        for suppression in suppressions[path]:
            hid = used_here.get(suppression, set())
            if suppression.names_all:
                if suppression.kind == "noqa" or hid:
                    continue
                unused.append(UnusedSuppression(path, suppression.line, suppression.column, suppression.text()))
                continue
            ours = [code for code in sorted(suppression.codes)
                    if code.startswith("AD") and len(code) == _AD_CODE_LENGTH]
            idle = tuple(code for code in ours if code not in hid and options.selection.enabled(code))
            if idle:
                unused.append(UnusedSuppression(path, suppression.line, suppression.column,
                                                suppression.text(), idle))
    return unused


def scannable_paths(paths: tuple[Path, ...], cwd: Path) -> list[Path]:
    """`paths` without explicitly named files that scan does not read (a workflow YAML, a README).

    pre-commit and editors pass single files; folders are always kept.
    """
    from autogen_doctor.scan.discover import classify_named

    return [path for path in paths if (cwd / path).is_dir() or classify_named(cwd / path) is not None]


@contextmanager
def _without_cyclic_gc():
    """Pause the cyclic garbage collector while the engine runs.

    A scan builds millions of long-lived objects (every file's facts) and frees few; the
    collector re-traverses them again and again, which measured at about half of a warm
    scan of stdlib + site-packages. Reference counting still frees everything acyclic, and
    the process is short-lived.

    On the way out the objects made meanwhile are frozen (moved out of the collector's sight)
    before it is switched back on: otherwise its first pass walks every fact of the scan once
    more (0.3-0.4 s on a few hundred files), just before the process exits.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()


def _use_color(stream) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def _nothing_scanned(result: ScanResult) -> str | None:
    """Why the scan is a usage failure (exit 2), or None when something was scanned.

    `files_scanned` counts the files that were read and parsed; errored files are not in it.
    """
    if result.files_scanned > 0:
        return None
    if not result.errors:
        return "no Python or deployment files to scan"
    return "no file could be scanned"


def _write_report(report, options: ScanOptions, quiet: bool) -> None:
    """The report to `--output` (with the summary on stderr) or to stdout."""
    from autogen_doctor.scan.reporters import render
    from autogen_doctor.scan.reporters.text import render_text, summary_line

    if options.output is not None:
        text = render(report, options.format, color=False)
        try:
            options.output.parent.mkdir(parents=True, exist_ok=True)
            options.output.write_text(text, encoding="utf-8")
        except OSError as error:
            raise UserError(f"cannot write {options.output}: {error.strerror or error}") from None
        if not quiet:
            typer.echo(summary_line(report), err=True)
    elif options.format == "text":
        sys.stdout.write(render_text(report, color=_use_color(sys.stdout), with_summary=not quiet))
    else:
        sys.stdout.write(render(report, options.format))
    sys.stdout.flush()


def run_scan(options: ScanOptions, rules: Mapping) -> int:
    """Scan, filter, report; return the exit code."""
    from autogen_doctor import __version__
    from autogen_doctor.scan.engine import scan_paths
    from autogen_doctor.scan.reporters import Report

    baseline = None
    if options.baseline is not None:
        from autogen_doctor.scan.baseline import read_baseline

        baseline = read_baseline(options.baseline)
    paths = scannable_paths(options.paths, options.cwd)
    if not paths:
        # Only named files, none of them code or deployment files: nothing to check, not a
        # misconfiguration (pre-commit runs the hook on whatever changed).
        if not options.quiet:
            typer.echo("Nothing to scan: none of the given files is Python or a deployment file.", err=True)
        return int(ExitCode.OK)
    with _without_cyclic_gc():
        result = scan_paths(paths, exclude=list(options.exclude), jobs=options.jobs,
                            use_cache=options.use_cache, cache_dir=options.cache_dir)
    nothing = _nothing_scanned(result)
    if nothing is not None and not result.errors:
        problem = f"{nothing} under {', '.join(str(path) for path in options.paths)}"
        if options.format == "sarif":
            # A SARIF upload step runs whatever the scan's exit code: give it a valid file that
            # says the run failed, rather than no file at all.
            _write_report(Report(version=__version__, findings=[], errors=[], files_scanned=0, rules=rules,
                                 fail_on=options.fail_on, cwd=options.cwd, exit_code=int(ExitCode.USAGE),
                                 problem=problem), options, quiet=True)
        raise UserError(problem)

    suppressions = _suppressions_for(result, {finding.path for finding in result.findings}, options.cwd)
    filtered = filter_findings(result, options, suppressions)

    if options.write_baseline is not None:
        from autogen_doctor.scan.baseline import write_baseline

        written = write_baseline(options.write_baseline, filtered.findings, options.cwd)
        if not options.quiet:
            total = sum(entry.count for entry in written.entries)
            where = os.path.relpath(options.write_baseline, options.cwd)
            where = where if not where.startswith("..") else str(options.write_baseline)
            typer.echo(f"Wrote {total} finding{'s' if total != 1 else ''} to baseline {escape_text(where)}", err=True)
        return int(ExitCode.OK)

    findings = filtered.findings
    if baseline is not None:
        findings, known = baseline.split(findings, options.cwd)
        filtered.baselined = len(known)
    unused = unused_suppressions(suppressions, filtered, options) if options.report_unused_suppressions else []

    failing = sum(1 for finding in findings if finding.severity.rank >= options.fail_on.rank)
    if options.fail_on.rank <= Severity.WARNING.rank:
        failing += len(unused)  # an unused suppression is a warning, like ruff's RUF100
    if nothing is not None:
        exit_code = ExitCode.USAGE
    else:
        exit_code = ExitCode.FINDINGS if failing else ExitCode.OK

    report = Report(
        version=__version__, findings=findings, errors=sorted(result.errors, key=lambda e: e.path),
        files_scanned=result.files_scanned, rules=rules, fail_on=options.fail_on,
        suppressed=filtered.suppressed, baselined=filtered.baselined, deselected=filtered.deselected,
        unused_suppressions=unused, cwd=options.cwd, failing=failing, exit_code=int(exit_code),
    )

    _write_report(report, options, quiet=options.quiet)

    if nothing is not None:
        raise UserError(nothing)
    return int(exit_code)


def rules_command(
    output_format: str = typer.Option("text", "--format", help="text or json"),
) -> None:
    """List every rule: code, default severity, name and summary."""
    from autogen_doctor.scan.registry import load_rules

    rules = load_rules()
    output_format = output_format.strip().lower()  # `--format JSON` works for scan and probe too
    if output_format == "json":
        listing = [{"code": rule.code, "name": rule.name, "family": rule.family,
                    "family_name": rule.family_name, "severity": rule.severity.value,
                    "summary": rule.summary} for rule in rules.values()]
        typer.echo(json.dumps(listing, indent=2))
        return
    if output_format != "text":
        raise UserError(f"--format must be text or json, got {output_format!r}")
    for code, rule in rules.items():
        typer.echo(f"{code}  {rule.severity.value:<7}  {rule.name:<40}  {rule.summary}")


def explain_command(code: str = typer.Argument(..., help="A rule code such as AD101")) -> None:
    """Print one rule's documentation: what it does, why it is bad, example, fix."""
    from autogen_doctor.scan.registry import load_rules

    rules = load_rules()
    found = rules.get(code.strip().upper())
    if found is None:
        raise UserError(f"unknown rule code {code!r}; `autogen-doctor rules` lists them")
    typer.echo(f"# {found.code} {found.name}\n")
    typer.echo(f"{found.summary}. Family {found.family} ({found.family_name}); "
               f"default severity {found.severity.value}.\n")
    typer.echo(found.doc.as_markdown())
    raise typer.Exit(int(ExitCode.OK))
