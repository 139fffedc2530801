"""`--serve` comparison report: one run per worker count, a verdict line each, and the conclusion."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from autogen_doctor.exit_codes import ExitCode, UserError
from autogen_doctor.probe.redact import redact_assignments
from autogen_doctor.textsafe import escape_text


@dataclass
class ServedRun:
    """One worker count's outcome: a verdict with its transcript, or the error that stopped it."""

    workers: int
    command: str
    verdict: Any = None
    transcript: Any = None
    error: str | None = None
    exit_code: int = 0


def workers_label(workers: int) -> str:
    return f"{workers} worker" if workers == 1 else f"{workers} workers"


def summarize_run(run: ServedRun) -> str:
    """One short phrase per run: `state-loss (process-local-state)`, `no loss seen (inconclusive: one backend)`."""
    if run.error is not None:
        return f"error: {run.error}"
    verdict = run.verdict
    name = getattr(verdict, "verdict", "?")
    backends = list(getattr(verdict, "backends", None) or [])
    if name == "state-loss":
        return f"state-loss ({getattr(verdict, 'cause', None) or 'unknown cause'})"
    if name == "pass":
        return f"pass (memory held across {len(backends)} backends)"
    if name == "inconclusive":
        if len(backends) <= 1:
            why = "one backend"
        else:
            why = getattr(verdict, "reason", None) or "no session changed backend"
        return f"no loss seen (inconclusive: {why})"
    return str(name)


def serve_exit_code(runs: Sequence[ServedRun]) -> int:
    """The exit code of a --serve comparison. See docs/demo.md.

    State loss in any run fails (1): it is proof. Otherwise a run that could not be probed
    gives 2. Otherwise the multi-worker runs decide (inconclusive 3, else pass 0); a
    single-worker run is expected to be inconclusive and only decides when it is the only run.
    """
    if any(run.error is None and run.exit_code == ExitCode.FINDINGS for run in runs):
        return int(ExitCode.FINDINGS)
    if any(run.error is not None for run in runs):
        return int(ExitCode.USAGE)
    deciding = [run for run in runs if run.workers > 1] or list(runs)
    if any(run.exit_code == ExitCode.INCONCLUSIVE for run in deciding):
        return int(ExitCode.INCONCLUSIVE)
    return max((run.exit_code for run in deciding), default=int(ExitCode.OK))



def _suffixed(path: str | os.PathLike[str] | None, workers: int) -> str | None:
    """`run.jsonl` -> `run.4w.jsonl`: one file per worker count."""
    if path in (None, "", "-"):
        return path  # type: ignore[return-value]
    target = Path(path)
    return str(target.with_name(f"{target.stem}.{workers}w{target.suffix}"))



def comparison_lines(runs: Sequence[ServedRun], *, align: bool = True) -> list[str]:
    """`1 worker: no loss seen (inconclusive: one backend)` and so on, one line per run."""
    width = max((len(workers_label(run.workers)) for run in runs), default=0) + 1 if align else 0
    return [f"{(workers_label(run.workers) + ':').ljust(width)} {summarize_run(run)}" for run in runs]


def conclusion(runs: Sequence[ServedRun]) -> str | None:
    """The sentence a person draws from the comparison, when there is one to draw."""
    single = [run for run in runs if run.workers == 1 and run.error is None]
    multi_loss = [run for run in runs if run.workers > 1 and run.error is None
                  and getattr(run.verdict, "verdict", None) == "state-loss"]
    single_ok = single and all(getattr(run.verdict, "verdict", None) != "state-loss" for run in single)
    if single_ok and multi_loss:
        first = multi_loss[0]
        return (f"Works with one worker, loses memory with {first.workers}: conversation state lives "
                "in each worker's memory (see `autogen-doctor scan`, rules AD1/AD4).")
    if any(getattr(run.verdict, "verdict", None) == "state-loss" for run in single):
        return "Memory is lost even with one worker: state is not restored between turns."
    multi = [run for run in runs if run.workers > 1]
    if multi and all(run.error is None and getattr(run.verdict, "verdict", None) == "pass" for run in multi):
        return "Memory held across workers: state survives a change of backend."
    return None


def _render(verdict: Any, transcript: Any, fmt: str, color: bool) -> str:
    from autogen_doctor.probe.reporters import render  # D1's

    return render(verdict, transcript, fmt, color=color)


def _report(runs: Sequence[ServedRun], options: Any, fmt: str) -> None:
    output = getattr(options, "output", None)
    color = bool(getattr(options, "color", None)) if getattr(options, "color", None) is not None else (
        output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    )
    quiet = bool(getattr(options, "quiet", False))
    if fmt == "json":
        from autogen_doctor.probe.reporters.json import dumps_strict

        _write(dumps_strict(_json_document(runs, options)) + "\n", output, "comparison (JSON)", quiet)
        return
    if fmt == "html":
        # One self-contained page per worker count: FILE.1w.html, FILE.4w.html.
        for run in runs:
            if run.error is None:
                target = _suffixed(output, run.workers) if output else None
                _write(_render(run.verdict, run.transcript, "html", False), target,
                       f"report of {workers_label(run.workers)}", quiet)
        _print_comparison(runs, sys.stderr if output is None else sys.stdout)
        return
    if fmt == "junit":
        _write(_junit_document(runs, options), output, "comparison (JUnit)", quiet)
        return
    parts: list[str] = []
    heading = "## {label}: {command}\n" if fmt == "markdown" else "=== {label}: {command} ===\n"
    for run in runs:
        if fmt == "markdown":
            from autogen_doctor.probe.reporters.markdown import md

            shown = md(run.command)
        else:
            shown = escape_text(run.command)
        parts.append(heading.format(label=workers_label(run.workers), command=shown))
        if run.error is not None:
            parts.append(f"error: {escape_text(run.error)}\n")
        else:
            parts.append(_render(run.verdict, run.transcript, fmt, color and fmt == "text").rstrip() + "\n")
        parts.append("\n")
    lines = comparison_lines(runs)
    summary = conclusion(runs)
    if fmt == "markdown":
        parts.append("## Comparison\n\n" + "".join(f"- {line}\n" for line in lines))
        if summary:
            parts.append(f"\n{summary}\n")
    else:
        parts.append(f"Comparison ({command_label(runs)}):\n" + "".join(f"  {line}\n" for line in lines))
        if summary:
            parts.append(summary + "\n")
    _write("".join(parts), output, f"comparison ({fmt})", quiet)


def command_label(runs: Sequence[ServedRun]) -> str:
    return escape_text(runs[0].command) if runs else ""


def _print_comparison(runs: Sequence[ServedRun], stream: Any) -> None:
    print("Comparison:", file=stream)
    for line in comparison_lines(runs):
        print(f"  {line}", file=stream)
    summary = conclusion(runs)
    if summary:
        print(summary, file=stream)


def _json_document(runs: Sequence[ServedRun], options: Any) -> dict[str, Any]:
    from autogen_doctor import __version__

    items: list[dict[str, Any]] = []
    for run in runs:
        item: dict[str, Any] = {"workers": run.workers, "summary": summarize_run(run), "exit_code": run.exit_code}
        if run.error is not None:
            item["error"] = run.error
        else:
            item["result"] = run.verdict.to_json() if callable(getattr(run.verdict, "to_json", None)) else None
        items.append(item)
    return {
        "serve": redact_assignments(options.serve) if getattr(options, "serve", None) else None,
        "runs": items,
        "comparison": "; ".join(comparison_lines(runs, align=False)),
        "exit_code": serve_exit_code(runs),
        "version": __version__,
    }


def _junit_document(runs: Sequence[ServedRun], options: Any) -> str:
    """One <testsuites> holding each run's suites, renamed after its worker count."""
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.Element("testsuites", name="autogen-doctor probe --serve")
    for run in runs:
        label = workers_label(run.workers)
        if run.error is not None:
            suite = ElementTree.SubElement(root, "testsuite", name=f"probe ({label})", tests="1", errors="1")
            case = ElementTree.SubElement(suite, "testcase", name=f"state survives ({label})")
            ElementTree.SubElement(case, "error", message=escape_text(run.error))
            continue
        rendered = ElementTree.fromstring(_render(run.verdict, run.transcript, "junit", False))
        suites = [rendered] if rendered.tag == "testsuite" else list(rendered.iter("testsuite"))
        for suite in suites:
            suite.set("name", f"{suite.get('name', 'probe')} ({label})")
            root.append(suite)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _write(text: str, output: str | os.PathLike[str] | None, what: str = "report", quiet: bool = False) -> None:
    """Write to stdout, or to `output` and say on stderr where the report went."""
    if output in (None, "", "-"):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot write {escape_text(output)}: {error.strerror or error}") from error
    if not quiet:
        print(f"autogen-doctor: wrote the {what} to {escape_text(output)}", file=sys.stderr, flush=True)
