"""The scan pipeline: discover -> parse + facts (in parallel, cached) -> resolve -> rules.

`scan_paths` is the one entry point the CLI and the probe use. Workers parse files and send
back facts only (never ASTs); resolution and rules run once, in the parent, over all facts.
"""

from __future__ import annotations

import gc
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from autogen_doctor.scan.cache import FactsCache, Unencodable, encode_entry, entry_key, tree_signature
from autogen_doctor.scan.discover import DEPLOY, PYTHON, SourceFile, discover
from autogen_doctor.scan.findings import Finding, ScanError, ScanResult, Severity
from autogen_doctor.scan.suppress import parse_suppressions

# The fact builder, the parser, the project model and the process pool are imported where a
# file is analysed: a warm scan whose result is remembered (scan_paths) needs none of them,
# and `autogen-doctor scan` on a small project is mostly start-up.
if TYPE_CHECKING:
    from autogen_doctor.scan.project import Project

# Below this many files to parse, a process pool costs more than it saves.
_POOL_THRESHOLD = 24


@dataclass(slots=True)
class FileOutcome:
    """What one file gave: facts (module or deployment file) or an error, and its suppressions."""

    facts: Any = None
    error: str | None = None
    suppressions: list = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Job:
    path: str
    display: str
    kind: str
    module_name: str
    is_package: bool
    cache_dir: str | None


# The parent's cache, inherited by forked workers so they can look entries up without reloading.
_CACHES: dict[str, FactsCache] = {}


def _analyze(job: _Job) -> tuple[FileOutcome, tuple | None, bytes | None]:
    """Read, parse and build facts for one file, through the cache when there is one.

    Returns the outcome, the index entry (size, mtime_ns, identity, key) and, for a newly
    built outcome that should be cached, its cache encoding (data only, see cache.py).
    """
    from autogen_doctor.scan.parse import ParseProblem, read_bytes

    cache = _CACHES.get(job.cache_dir) if job.cache_dir is not None else None
    try:
        stat = os.stat(job.path)
        data = read_bytes(Path(job.path))
    except ParseProblem as problem:
        return FileOutcome(error=str(problem)), None, None
    except OSError as error:
        return FileOutcome(error=f"cannot read file: {error.strerror or error}"), None, None
    key = entry_key(data, job.kind, job.module_name, job.is_package)
    entry = (stat.st_size, stat.st_mtime_ns, (job.kind, job.module_name, job.is_package), key)
    if cache is not None:
        cached = cache.get(key)
        if _is_outcome_for(cached, job.kind):
            return cached, entry, None
    outcome = _build(job, data)
    encoded = None
    if job.cache_dir is not None:
        try:
            encoded = encode_entry(outcome)
        except (Unencodable, ValueError, RecursionError):
            encoded = None  # not cached: parsed again next time
    return outcome, entry, encoded


def _is_outcome_for(value: Any, kind: str) -> bool:
    """Is a cache entry shaped like an outcome for a file of `kind`? Anything else is a miss
    (the cache is data from disk: see cache.py)."""
    if type(value) is not FileOutcome or not isinstance(value.suppressions, list):
        return False
    if value.error is not None:
        return isinstance(value.error, str) and value.facts is None
    if kind == PYTHON:
        from autogen_doctor.scan.facts import ModuleFacts

        return isinstance(value.facts, ModuleFacts)
    from autogen_doctor.scan.deploy.facts import DeployFile

    return isinstance(value.facts, DeployFile)


# A helper sends its results in batches of about this many bytes of pickles, so the parent
# reads them between its own files instead of all at the end.
_BATCH_BYTES = 256 * 1024
_END = b""  # a helper's last message: everything it claimed has been sent


def _helper_main(jobs: Sequence[_Job], claims: Any, slot: int, results: Any) -> None:
    """A helper process of `_analyze_together`: analyse the jobs it claims until none are left,
    sending the results to the parent in batches, then `_END`.

    Pickle is only the pipe between this process and its parent; the cache on disk is never
    pickle.
    """
    import pickle

    gc.disable()  # facts are acyclic: the collector would only rescan them (see scan_paths)
    batch: list[bytes] = []
    size = 0
    try:
        for number in _claimed(claims, slot, len(jobs)):
            outcome, entry, encoded = _analyze(jobs[number])
            blob = pickle.dumps((number, outcome, entry, encoded), protocol=pickle.HIGHEST_PROTOCOL)
            batch.append(blob)
            size += len(blob)
            if size >= _BATCH_BYTES:
                results.send_bytes(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
                batch, size = [], 0
        if batch:
            results.send_bytes(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
        results.send_bytes(_END)
    finally:
        results.close()


def _claimed(claims: Any, slot: int, count: int):
    """Job numbers taken one at a time from the shared counter `claims[0]`, largest files first;
    `claims[1 + slot]` says which one this process is on (the parent names it if we die)."""
    lock = claims.get_lock()
    while True:
        with lock:
            number = claims[0]
            if number >= count:
                claims[1 + slot] = -1
                return
            claims[0] = number + 1
            claims[1 + slot] = number
        yield number


def _start_method() -> str:
    """fork is the fastest start, but forking a process that runs other threads can deadlock (a
    lock held by another thread stays locked in the child): then start clean helpers."""
    import threading

    return "fork" if os.name == "posix" and threading.active_count() == 1 else "spawn"


def _widen_pipe(connection: Any) -> None:
    """Let a pipe hold a few batches (Linux: up to the unprivileged 1 MiB), so a helper rarely
    waits for the parent to finish a file before it can send."""
    try:
        import fcntl

        fcntl.fcntl(connection.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError, ValueError):
        pass  # another system, or a lower limit: batches then wait a little longer


def _analyze_together(jobs: list[_Job], workers: int, while_waiting: Callable[[], object] | None) -> list:
    """Results of `_analyze` for `jobs` (in order) from this process and `workers - 1` helpers.

    The processes take jobs from one shared counter, so they finish together whatever the file
    sizes. This process's own results are never pickled; it reads the helpers' batches between
    its own files. A helper that dies (a file that crashes the interpreter, or a kill) costs
    only the file it was on, which is reported as an error; its other files are analysed here.
    """
    import multiprocessing
    import pickle

    context = multiprocessing.get_context(_start_method())
    helpers = workers - 1
    claims = context.Array("q", [0] + [-1] * (helpers + 1))  # next job; then each process's current one
    results: list = [None] * len(jobs)
    running: dict[int, tuple[Any, Any]] = {}  # slot -> (process, receiving end) until its _END
    lost: dict[int, str] = {}

    def take(slot: int, message: bytes) -> None:
        if message == _END:
            running.pop(slot)[1].close()
            return
        for blob in pickle.loads(message):
            number, outcome, entry, encoded = pickle.loads(blob)
            results[number] = (outcome, entry, encoded)

    def stopped(slot: int) -> None:
        process, receiving = running.pop(slot)
        receiving.close()
        process.join(5)
        culprit = claims[1 + slot]
        if culprit >= 0:
            lost[culprit] = (f"the process analysing this file stopped (exit code {process.exitcode}); "
                             "this is a bug, please report it")

    def read_ready(wait: bool) -> None:
        for slot, (_, receiving) in list(running.items()):
            try:
                while slot in running and (wait or receiving.poll()):
                    take(slot, receiving.recv_bytes())
            except (EOFError, OSError, pickle.UnpicklingError):
                stopped(slot)

    try:
        for slot in range(helpers):
            receiving, sending = context.Pipe(duplex=False)
            _widen_pipe(sending)
            process = context.Process(target=_helper_main, args=(jobs, claims, slot, sending), daemon=True)
            process.start()
            sending.close()  # the helper holds the only writing end: its death is an EOF here
            running[slot] = (process, receiving)
        if while_waiting is not None:
            while_waiting()
        for number in _claimed(claims, helpers, len(jobs)):
            results[number] = _analyze(jobs[number])
            read_ready(wait=False)
        read_ready(wait=True)
    finally:
        for process, receiving in running.values():
            process.terminate()
            receiving.close()
    for number, job in enumerate(jobs):
        if results[number] is None:
            results[number] = ((FileOutcome(error=lost[number]), None, None) if number in lost
                               else _analyze(job))  # claimed by a helper that died later: done here
    return results


def _build(job: _Job, data: bytes) -> FileOutcome:
    from autogen_doctor.scan.facts import build_module_facts
    from autogen_doctor.scan.parse import ParseProblem, decode_python, decode_text, parse_python

    try:
        if job.kind == PYTHON:
            text = decode_python(data)
            suppressions = parse_suppressions(text)
            tree = parse_python(text, job.path)
            try:
                facts = build_module_facts(tree, job.module_name, job.path, job.is_package,
                                           lines=text.count("\n") + 1)
            except RecursionError:
                raise ParseProblem("expression nesting too deep to analyse") from None
            return FileOutcome(facts=facts, suppressions=suppressions)
        text = decode_text(data)
        suppressions = parse_suppressions(text)
        from autogen_doctor.scan.deploy import DeployParseError, parse_deploy_file

        try:
            facts = parse_deploy_file(Path(job.path), job.display, text)
        except DeployParseError as error:
            return FileOutcome(error=str(error) or "cannot parse deployment file", suppressions=suppressions)
        return FileOutcome(facts=facts, suppressions=suppressions)
    except ParseProblem as problem:
        return FileOutcome(error=str(problem))
    except ImportError:
        return FileOutcome(error="deployment file support is not available")
    except Exception as error:  # a bug in autogen-doctor: report it for this file, keep scanning
        return FileOutcome(error=f"internal error while analysing ({type(error).__name__}: {error}); "
                                 "this is a bug, please report it")


def _module_names(files: Sequence[SourceFile]) -> dict[Path, tuple[str, bool]]:
    from autogen_doctor.scan.facts import module_name_for

    package_dirs: dict[str, bool] = {}

    def is_package_dir(directory: str) -> bool:
        known = package_dirs.get(directory)
        if known is None:
            known = os.path.isfile(os.path.join(directory, "__init__.py"))
            package_dirs[directory] = known
        return known

    return {source.path: module_name_for(str(source.path), is_package_dir)
            for source in files if source.kind == PYTHON}


def _default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def worker_count(jobs: int | None, pending: int) -> int:
    """Processes to parse `pending` files with: `--jobs` (default: the usable cores), never more
    than there are files nor more than four per core (`--jobs 10000` must not fork 10000
    processes and exhaust memory or file descriptors)."""
    cores = _default_jobs()
    wanted = jobs if jobs and jobs > 0 else cores
    return max(1, min(wanted, pending, 4 * cores))


def analyze_files(files: Sequence[SourceFile], *, jobs: int | None, cache: FactsCache | None,
                  while_waiting: Callable[[], object] | None = None,
                  save_in_background: bool = False) -> list[FileOutcome]:
    """Outcomes for `files`, in the same order, parsed in parallel when it pays.

    `while_waiting` runs in this process once the workers have started (work that does not
    need the outcomes, such as importing the rules, overlaps with theirs). With
    `save_in_background` the cache's pack is still being written on return: the caller's
    next work overlaps with it, and `cache.wait()` says when it is on disk.
    """
    started_ns = time.time_ns()
    names = _module_names(files)
    outcomes: list[FileOutcome | None] = [None] * len(files)
    pending: list[tuple[int, _Job]] = []
    sizes: dict[int, int] = {}  # position -> bytes, to hand out the largest files first
    index_updates: dict[str, tuple] = {}
    for position, source in enumerate(files):
        module_name, is_package = names.get(source.path, ("", False))
        job = _Job(str(source.path), source.display, source.kind, module_name, is_package,
                   str(cache.pack_path) if cache is not None else None)
        try:
            stat = os.stat(source.path)
        except OSError:
            stat = None  # _analyze reports it
        if cache is not None and stat is not None:
            key = cache.lookup(job.path, stat.st_size, stat.st_mtime_ns, (job.kind, module_name, is_package))
            if key is not None:
                cached = cache.get(key)
                if _is_outcome_for(cached, job.kind):
                    outcomes[position] = cached
                    index_updates[job.path] = (stat.st_size, stat.st_mtime_ns, (job.kind, module_name, is_package), key)
                    continue
        sizes[position] = stat.st_size if stat is not None else 0
        pending.append((position, job))
    if cache is not None:
        _CACHES[str(cache.pack_path)] = cache
    workers = worker_count(jobs, len(pending))
    if workers > 1 and len(pending) >= _POOL_THRESHOLD:
        # Largest files first: the processes then finish together instead of one parsing a
        # big file alone at the end.
        pending.sort(key=lambda item: -sizes[item[0]])
        results = _analyze_together([job for _, job in pending], workers, while_waiting)
    else:
        results = [_analyze(job) for _, job in pending]
    for (position, job), (outcome, entry, encoded) in zip(pending, results):
        outcomes[position] = outcome
        if entry is not None and cache is not None:
            if encoded is not None:
                cache.put_encoded(entry[3], encoded)
                index_updates[job.path] = entry
            elif cache.has(entry[3]):
                index_updates[job.path] = entry
    if cache is not None:
        cache.save(index_updates, started_ns, background=save_in_background)
        _CACHES.pop(str(cache.pack_path), None)
    return [outcome if outcome is not None else FileOutcome(error="not analysed") for outcome in outcomes]


def build_project(paths: Sequence[Path], files: Sequence[SourceFile], outcomes: Sequence[FileOutcome]) -> tuple[Project, list[ScanError]]:
    """Assemble the project from the outcomes; module keys are module names (unique)."""
    from autogen_doctor.scan.facts import ModuleFacts
    from autogen_doctor.scan.project import Project

    project = Project(roots=[Path(path) for path in paths])
    errors: list[ScanError] = []
    for source, outcome in zip(files, outcomes):
        if outcome.error is not None:
            errors.append(ScanError(source.display, outcome.error))
            continue
        if source.kind == PYTHON and isinstance(outcome.facts, ModuleFacts):
            facts = outcome.facts
            facts.display = source.display
            facts.path = str(source.path)
            key = facts.name
            if key in project.modules:
                key = f"{facts.name}@{source.display}"
            project.modules[key] = facts
        elif source.kind == DEPLOY and outcome.facts is not None:
            project.deploy_files.append(outcome.facts)
    return project, errors


def _load_rules_tolerantly(errors: list[ScanError]) -> dict:
    """The registry, importing each rule module on its own so one broken module is an error
    entry instead of a failed scan."""
    import importlib
    import pkgutil

    from autogen_doctor.scan import rules as package
    from autogen_doctor.scan.registry import REGISTRY

    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("_"):
            continue
        try:
            importlib.import_module(f"{package.__name__}.{module.name}")
        except Exception as error:
            errors.append(ScanError(f"<rule module {module.name}>",
                                    f"cannot load rule module ({type(error).__name__}: {error}); this is a bug"))
    return dict(sorted(REGISTRY.items()))


def _import_rules() -> None:
    """Import the rule modules ahead of `run_rules` (which reports any that fail to load)."""
    _load_rules_tolerantly([])


def run_rules(project: Project) -> tuple[list[Finding], list[ScanError]]:
    """Every registered rule over the project, at default severity."""
    findings: list[Finding] = []
    errors: list[ScanError] = []
    for code, rule in _load_rules_tolerantly(errors).items():
        try:
            findings.extend(rule.check(project))
        except Exception as error:  # one broken rule must not hide the others' findings
            errors.append(ScanError(f"<rule {code}>", f"internal error in rule {code} "
                                                      f"({type(error).__name__}: {error}); this is a bug, please report it"))
    return findings, errors


def escalate_for_scaling(project: Project, findings: list[Finding]) -> list[Finding]:
    """AD4: when the deployment runs several processes, AD1/AD3 warnings become errors."""
    try:
        from autogen_doctor.scan.deploy import scaling_evidence
    except ImportError:
        return findings
    try:
        evidence = scaling_evidence(project)
    except Exception:
        return findings
    if not evidence:
        return findings
    reason = f" (the service runs several processes: {evidence[0]})"
    changed: list[Finding] = []
    for finding in findings:
        if finding.family in ("AD1", "AD3") and finding.severity == Severity.WARNING:
            from dataclasses import replace

            finding = replace(finding, severity=Severity.ERROR, message=finding.message + reason)
        changed.append(finding)
    return changed


def _fill_context(findings: list[Finding], files: Sequence[SourceFile]) -> list[Finding]:
    from dataclasses import replace

    by_display = {source.display: source.path for source in files}
    lines_of: dict[str, list[str]] = {}
    filled: list[Finding] = []
    for finding in findings:
        if not finding.context and finding.path in by_display:
            lines = lines_of.get(finding.path)
            if lines is None:
                try:
                    lines = by_display[finding.path].read_text(encoding="utf-8", errors="replace").splitlines()
                except OSError:
                    lines = []
                lines_of[finding.path] = lines
            if 0 < finding.line <= len(lines):
                finding = replace(finding, context=lines[finding.line - 1].strip()[:200])
        filled.append(finding)
    return filled


def _is_plausible_result(value: Any) -> bool:
    """Is a remembered result made of what reporters expect? A hand-made result file (the
    cache is data from disk) must be a miss, not a crash in a reporter."""
    def optional_int(item: Any) -> bool:
        return item is None or type(item) is int

    if type(value) is not ScanResult or type(value.files_scanned) is not int:
        return False
    if not isinstance(value.findings, list) or not isinstance(value.errors, list):
        return False
    for finding in value.findings:
        if type(finding) is not Finding or type(finding.severity) is not Severity:
            return False
        if not all(type(text) is str for text in (finding.code, finding.path, finding.message,
                                                  finding.fix, finding.context)):
            return False
        if type(finding.line) is not int or type(finding.column) is not int:
            return False
        if not (optional_int(finding.end_line) and optional_int(finding.end_column)
                and (finding.symbol is None or type(finding.symbol) is str)):
            return False
    if not all(type(error) is ScanError and type(error.path) is str and type(error.message) is str
               for error in value.errors):
        return False
    if not isinstance(value.suppressions, dict):
        return False
    from autogen_doctor.scan.suppress import Suppression

    for path, items in value.suppressions.items():
        if type(path) is not str or not isinstance(items, list):
            return False
        for item in items:
            if (type(item) is not Suppression or type(item.line) is not int or type(item.column) is not int
                    or type(item.kind) is not str or not isinstance(item.codes, frozenset)
                    or not all(type(code) is str for code in item.codes)):
                return False
    return True


def scan_paths(paths: Sequence[Path], *, exclude: Sequence[str] = (), jobs: int | None = None,
               use_cache: bool = True, cache_dir: Path | None = None) -> ScanResult:
    """Scan `paths` (files or folders; default the working directory).

    Returns every finding of every registered rule at its default severity (after AD4
    escalation), sorted; files that could not be read or parsed are in `errors`.
    Raises UserError for a PATH that does not exist.
    """
    paths = list(paths) or [Path(".")]
    problems: list[tuple[str, str]] = []  # folders that could not be listed
    files = discover(paths, exclude, problems)
    cache = FactsCache(cache_dir, roots=[str(Path(path).resolve()) for path in paths]) if use_cache else None
    signature = None
    if cache is not None:
        # Nothing changed since the last scan of these PATHs: its result is still the answer.
        signature = tree_signature(((str(source.path), source.display, source.kind) for source in files),
                                   [os.getcwd(), *(str(path) for path in paths),
                                    *(f"{where}\0{message}" for where, message in problems)])
        remembered = cache.load_result(signature) if signature is not None else None
        if _is_plausible_result(remembered):
            return remembered
    # Facts are many small acyclic objects: the cyclic garbage collector would rescan them
    # again and again while they load (most of a warm scan's time), and finds nothing to free.
    collecting = gc.isenabled()
    gc.disable()
    try:
        outcomes = analyze_files(files, jobs=jobs, cache=cache, while_waiting=_import_rules,
                                 save_in_background=True)
        project, errors = build_project(paths, files, outcomes)
        findings, rule_errors = run_rules(project)
    finally:
        if cache is not None:
            cache.wait()
        if collecting:
            # Move what exists now out of the collector's sight before re-enabling it, or its
            # first pass would walk every fact just loaded. They are freed by refcount as usual.
            gc.freeze()
            gc.enable()
    findings = escalate_for_scaling(project, findings)
    findings = _fill_context(findings, files)
    unique = {(f.code, f.path, f.line, f.column, f.symbol): f for f in findings}
    result = ScanResult(findings=sorted(unique.values(), key=Finding.sort_key),
                        errors=sorted(errors + rule_errors + [ScanError(where, message) for where, message in problems],
                                      key=lambda error: error.path),
                        files_scanned=sum(1 for outcome in outcomes if outcome.error is None))
    result.suppressions = {source.display: outcome.suppressions
                           for source, outcome in zip(files, outcomes) if outcome.suppressions}
    if cache is not None and signature is not None:
        cache.save_result(signature, result)
    return result
