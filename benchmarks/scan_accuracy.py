"""How accurate is `autogen-doctor scan` on real AutoGen services? Precision and recall per repo.

    python benchmarks/scan_accuracy.py --print-fetch ~/src/corpus   # git commands to fetch the corpus
    python benchmarks/scan_accuracy.py --checkouts ~/src/corpus --show-misses
    python benchmarks/scan_accuracy.py --json > accuracy.json     # repos from /work/.mirror git dirs

The corpus (`benchmarks/accuracy/corpus.toml`) lists public repositories by name and commit,
the folder of each service to scan, and what a careful reader found there: *labels* (a state-loss
problem: path, line, family, one-line reason) and *clean places* (code that looks suspicious but
is fine). The repositories' code is never copied into this tree; the user fetches them.
Services marked `holdout = true` were labelled after the analysis had been tuned on the others
and before any scan was run on them: `--holdout-only` measures them alone, `--no-holdout` leaves
them out, and the table and JSON (`summary.sets`) always add them up apart from the rest.

Where the repositories come from (first that applies):
  * `--checkouts DIR`: `DIR/<owner>__<name>/` is a checkout; it is scanned in place and its
    `HEAD` is compared with the corpus commit (a warning when they differ).
  * `--mirrors DIR` (default `/work/.mirror`): `DIR/<owner>+<name>/repo` (or `.../<owner>+<name>`)
    is a bare git directory; the corpus commit (or `HEAD`, with a warning, when that commit is
    not in it) is exported to a temporary folder, only the service's folder, blobs missing from
    a partial snapshot skipped.

Each service is scanned with `python -m autogen_doctor scan <subdir> --format json --no-cache
--no-config` (plus the service's `--exclude` globs) in a subprocess whose working directory is
the repository root, so finding paths are repository-relative like the labels, and PYTHONPATH
(default: the checkout this script is in) picks the tree under test.

Matching rules (`match_findings`, pure and unit-tested):
  * A finding's family is the first three characters of its code (`AD101` -> `AD1`), unless
    `[code_families]` in the corpus or `--code-family CODE=FAMILY` names it (the rule for history
    that cannot be saved, `json.dumps(msg.model_dump())`, is family `DUMP` in the labels).
    Deployment findings (AD35x/AD4xx) are matched like all others, by their own family.
  * A finding matches a label when the path is the same, the family is the same (and the symbol,
    when both the label and the finding name one), and the line is
    within the label's tolerance (default 3) of the label's line or of one of its `also`
    locations (other lines where a reader could equally put that finding, e.g. the build line
    and the run line of the same agent). Pairs are taken closest first; each label is matched
    at most once and each finding matches at most one label.
  * A matched label is a true positive (TP). A label left unmatched is a false negative (FN).
  * A finding left unmatched that sits at another accepted location of an already matched label
    (same path and family) is a *duplicate*: the same problem reported twice. Duplicates are
    counted and listed, but are neither TP nor FP.
  * Every other finding is a false positive (FP). When it falls on a labelled clean place
    (same path, line within tolerance, any family) the clean place's reason is shown with it.
  * precision = TP / (TP + FP), recall = TP / (TP + FN); a ratio with a zero denominator is
    shown as `-`. Family and total rows add the counts first, then divide.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from autogen_doctor.textsafe import escape_text

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE / "accuracy" / "corpus.toml"
DEFAULT_MIRRORS = Path("/work/.mirror")
DEFAULT_TOLERANCE = 3
SCAN_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Location:
    path: str
    line: int


@dataclass
class Label:
    """A problem a careful reader found: where, which family, why, and where else it may be reported."""

    path: str
    line: int
    family: str
    reason: str
    tolerance: int = DEFAULT_TOLERANCE
    also: tuple[Location, ...] = ()
    symbol: str | None = None

    def locations(self) -> list[Location]:
        return [Location(self.path, self.line), *self.also]

    def distance(self, path: str, line: int) -> int | None:
        """Smallest line distance to any accepted location in `path`, or None when none is in range."""
        best = None
        for where in self.locations():
            if where.path != path:
                continue
            gap = abs(where.line - line)
            if gap <= self.tolerance and (best is None or gap < best):
                best = gap
        return best


@dataclass(frozen=True)
class Clean:
    """A place that looks suspicious but is fine; only used to explain false positives."""

    path: str
    line: int
    reason: str
    tolerance: int = DEFAULT_TOLERANCE


@dataclass(frozen=True)
class Finding:
    """The part of a scan finding the matcher needs."""

    code: str
    path: str
    line: int
    message: str = ""
    symbol: str | None = None


@dataclass
class MatchResult:
    """One service's labels and findings sorted into TP, FN, FP and duplicates."""

    true_positives: list[tuple[Label, Finding]] = field(default_factory=list)
    false_negatives: list[Label] = field(default_factory=list)
    false_positives: list[tuple[Finding, Clean | None]] = field(default_factory=list)
    duplicates: list[tuple[Finding, Label]] = field(default_factory=list)


def family_of(code: str, code_families: dict[str, str]) -> str:
    """The family a finding code counts in: an explicit mapping, else its first three characters."""
    return code_families.get(code, code[:3])


def _symbols_agree(label: Label, finding: Finding) -> bool:
    """A label's `symbol` (e.g. the store's name) must equal the finding's when both are given."""
    return not (label.symbol and finding.symbol) or label.symbol == finding.symbol


def match_findings(labels: list[Label], findings: list[Finding], cleans: list[Clean] = (),
                   code_families: dict[str, str] | None = None) -> MatchResult:
    """Match scan findings to labels with the rules in the module docstring."""
    code_families = code_families or {}
    families = [family_of(finding.code, code_families) for finding in findings]
    pairs = []
    for label_index, label in enumerate(labels):
        for finding_index, finding in enumerate(findings):
            if families[finding_index] != label.family or not _symbols_agree(label, finding):
                continue
            gap = label.distance(finding.path, finding.line)
            if gap is not None:
                # On equal distance the label's own line wins over its `also` locations.
                off_primary = not (finding.path == label.path and abs(finding.line - label.line) == gap)
                pairs.append((gap, off_primary, label_index, finding_index))
    pairs.sort()
    label_taken: dict[int, int] = {}
    finding_taken: set[int] = set()
    for _gap, _off_primary, label_index, finding_index in pairs:
        if label_index in label_taken or finding_index in finding_taken:
            continue
        label_taken[label_index] = finding_index
        finding_taken.add(finding_index)

    result = MatchResult()
    for label_index, label in enumerate(labels):
        if label_index in label_taken:
            result.true_positives.append((label, findings[label_taken[label_index]]))
        else:
            result.false_negatives.append(label)
    for finding_index, finding in enumerate(findings):
        if finding_index in finding_taken:
            continue
        duplicate_of = None
        closest = None
        for label_index in label_taken:
            label = labels[label_index]
            if label.family != families[finding_index] or not _symbols_agree(label, finding):
                continue
            gap = label.distance(finding.path, finding.line)
            if gap is not None and (closest is None or gap < closest):
                duplicate_of, closest = label, gap
        if duplicate_of is not None:
            result.duplicates.append((finding, duplicate_of))
            continue
        clean_hit = next((clean for clean in cleans if clean.path == finding.path
                          and abs(clean.line - finding.line) <= clean.tolerance), None)
        result.false_positives.append((finding, clean_hit))
    return result


# ----------------------------------------------------------------------------- corpus


@dataclass
class Service:
    """One service of the corpus: where it lives, what to scan, what a reader found there."""

    repo: str
    commit: str
    subdir: str
    labels: list[Label]
    cleans: list[Clean]
    note: str = ""
    exclude: tuple[str, ...] = ()
    # Held out: labelled after the analysis was tuned on the other services, never tuned on.
    holdout: bool = False

    @property
    def key(self) -> str:
        return self.repo if self.subdir in ("", ".") else f"{self.repo}:{self.subdir}"


def _location(text: str) -> Location:
    path, _, line = text.rpartition(":")
    if not path or not line.isdigit():
        raise ValueError(f"`also` entries are path:line, got {text!r}")
    return Location(path, int(line))


def load_corpus(path: Path) -> tuple[list[Service], dict[str, str]]:
    """Read the corpus file: the services to scan and the code-to-family overrides."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    services = []
    for entry in data.get("service", []):
        labels = [Label(path=item["path"], line=int(item["line"]), family=item["family"],
                        reason=item["reason"], tolerance=int(item.get("tolerance", DEFAULT_TOLERANCE)),
                        also=tuple(_location(text) for text in item.get("also", [])),
                        symbol=item.get("symbol"))
                  for item in entry.get("label", [])]
        cleans = [Clean(path=item["path"], line=int(item["line"]), reason=item["reason"],
                        tolerance=int(item.get("tolerance", DEFAULT_TOLERANCE)))
                  for item in entry.get("clean", [])]
        holdout = entry.get("holdout", False)
        if not isinstance(holdout, bool):
            raise ValueError(f"{entry['repo']}: `holdout` is true or false, got {holdout!r}")
        services.append(Service(repo=entry["repo"], commit=entry["commit"],
                                subdir=entry.get("subdir", "."), labels=labels, cleans=cleans,
                                note=entry.get("note", ""), exclude=tuple(entry.get("exclude", [])),
                                holdout=holdout))
    return services, dict(data.get("code_families", {}))


# ----------------------------------------------------------------------------- checkouts


def _git(git_dir: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True, **kwargs)


def _mirror_git_dir(mirrors: Path, repo: str) -> Path | None:
    base = mirrors / repo.replace("/", "+")
    for candidate in (base / "repo", base):
        if (candidate / "HEAD").is_file():
            return candidate
    return None


def export_service(git_dir: Path, service: Service, target: Path, warn) -> None:
    """Write the files of `service.subdir` at the corpus commit (else HEAD) under `target`."""
    revision = service.commit
    if _git(git_dir, "cat-file", "-e", f"{revision}^{{commit}}").returncode != 0:
        head = _git(git_dir, "rev-parse", "HEAD", text=True).stdout.strip()
        warn(f"{service.repo}: commit {service.commit[:12]} is not in {git_dir}; using HEAD {head[:12]}")
        revision = "HEAD"
    listing = _git(git_dir, "ls-tree", "-r", "-z", revision, "--",
                   *([] if service.subdir in ("", ".") else [service.subdir]))
    if listing.returncode != 0:
        raise RuntimeError(listing.stderr.decode(errors="replace").strip())
    entries = []
    for record in listing.stdout.split(b"\0"):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        mode, kind, sha = meta.split()
        if kind == b"blob" and mode != b"120000":
            entries.append((sha.decode(), name.decode(errors="surrogateescape")))
    # One `cat-file --batch` process for all blobs; blobs a partial snapshot lacks come back
    # as "missing" and are skipped (large binaries, LFS content).
    request = "".join(f"{sha}\n" for sha, _ in entries).encode()
    batch = _git(git_dir, "cat-file", "--batch", input=request)
    stream = batch.stdout
    offset = 0
    for _sha, name in entries:
        end = stream.index(b"\n", offset)
        header = stream[offset:end].split()
        offset = end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        content = stream[offset:offset + size]
        offset += size + 1
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(content)


def checkout_head(folder: Path) -> str | None:
    done = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


# ----------------------------------------------------------------------------- scanning


def run_scan(root: Path, subdir: str, exclude: tuple[str, ...] = ()) -> tuple[list[Finding], list[str]]:
    """Scan `root/subdir` with the tree on PYTHONPATH; findings with repository-relative paths.

    `exclude` globs (gitignore syntax, relative to the subdir) keep vendored copies of libraries
    out of the measurement.
    """
    command = [sys.executable, "-m", "autogen_doctor", "scan", subdir or ".", "--format", "json",
               "--no-cache", "--no-config"]
    for pattern in exclude:
        command += ["--exclude", pattern]
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(HERE.parent))
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, env=env,
                          timeout=SCAN_TIMEOUT_SECONDS)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        return [], [f"scan exited {done.returncode}: {done.stderr.strip()[:300]}"]
    findings = [Finding(code=item["code"], path=_relative(item["path"], root), line=int(item["line"]),
                        message=item.get("message", ""), symbol=item.get("symbol"))
                for item in report.get("findings", [])]
    errors = [f"{_relative(item['path'], root)}: {item['message']}" for item in report.get("errors", [])]
    return findings, errors


def _relative(path: str, root: Path) -> str:
    candidate = Path(path)
    if candidate.is_absolute():
        try:
            return candidate.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return candidate.as_posix()
    return candidate.as_posix()


# ----------------------------------------------------------------------------- report


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def summarise(results: dict[str, MatchResult], code_families: dict[str, str],
              holdout_keys: frozenset[str] | set[str] = frozenset()) -> dict:
    """Counts and ratios per service, per family and in total.

    `holdout_keys` names the held-out services: their counts are also added up on their own
    (`sets.held_out`) next to the services the analysis was tuned on (`sets.tuned`), so a
    flattering total over tuned services cannot hide a drop on unseen code.
    """
    def counts(tp: int, fp: int, fn: int, dup: int) -> dict:
        return {"tp": tp, "fp": fp, "fn": fn, "duplicates": dup,
                "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn)}

    per_service = {}
    per_family: dict[str, list[int]] = {}
    totals = [0, 0, 0, 0]
    set_totals = {"tuned": [0, 0, 0, 0], "held_out": [0, 0, 0, 0]}
    set_sizes = {"tuned": 0, "held_out": 0}
    for key, result in results.items():
        row = [len(result.true_positives), len(result.false_positives),
               len(result.false_negatives), len(result.duplicates)]
        per_service[key] = counts(*row)
        totals = [a + b for a, b in zip(totals, row)]
        which = "held_out" if key in holdout_keys else "tuned"
        set_totals[which] = [a + b for a, b in zip(set_totals[which], row)]
        set_sizes[which] += 1
        for label, _finding in result.true_positives:
            per_family.setdefault(label.family, [0, 0, 0, 0])[0] += 1
        for finding, _clean in result.false_positives:
            per_family.setdefault(family_of(finding.code, code_families), [0, 0, 0, 0])[1] += 1
        for label in result.false_negatives:
            per_family.setdefault(label.family, [0, 0, 0, 0])[2] += 1
        for _finding, label in result.duplicates:
            per_family.setdefault(label.family, [0, 0, 0, 0])[3] += 1
    return {"services": per_service,
            "families": {family: counts(*row) for family, row in sorted(per_family.items())},
            "total": counts(*totals),
            "sets": {name: {"services": set_sizes[name], **counts(*row)}
                     for name, row in set_totals.items()},
            "held_out_services": sorted(key for key in results if key in holdout_keys)}


def print_table(summary: dict, out) -> None:
    width = max([len("service"), *(len(key) for key in summary["services"])]) + 2
    header = f"{'service':<{width}}{'TP':>5}{'FP':>5}{'FN':>5}{'dup':>5}{'prec':>7}{'recall':>8}"

    def line(name: str, row: dict) -> str:
        return (f"{name:<{width}}{row['tp']:>5}{row['fp']:>5}{row['fn']:>5}{row['duplicates']:>5}"
                f"{_fmt(row['precision']):>7}{_fmt(row['recall']):>8}")

    held_out = set(summary.get("held_out_services", ()))
    print(header, file=out)
    for key, row in summary["services"].items():
        print(line(f"{key} *" if key in held_out else key, row), file=out)
    print("-" * len(header), file=out)
    for family, row in summary["families"].items():
        print(line(f"family {family}", row), file=out)
    print("-" * len(header), file=out)
    sets = summary.get("sets", {})
    # Both subtotals only when both sets were measured; one set alone is the TOTAL row.
    if all(sets.get(name, {}).get("services") for name in ("tuned", "held_out")):
        print(line(f"tuned ({sets['tuned']['services']} services)", sets["tuned"]), file=out)
        print(line(f"held-out * ({sets['held_out']['services']} services)", sets["held_out"]), file=out)
    print(line("TOTAL", summary["total"]), file=out)
    if held_out:
        print("* held-out service: labelled before any scan, never tuned on", file=out)


def print_misses(results: dict[str, MatchResult], out) -> None:
    for key, result in results.items():
        if not (result.false_negatives or result.false_positives or result.duplicates):
            continue
        print(f"\n## {key}", file=out)
        for label in result.false_negatives:
            print(f"  FN  {label.family:<5} {label.path}:{label.line}  {label.reason}", file=out)
        for finding, clean in result.false_positives:
            # Finding text comes from scanned repositories: escape it before it reaches a terminal.
            why = f"  [clean: {clean.reason}]" if clean else ""
            print(f"  FP  {escape_text(finding.code):<5} {escape_text(finding.path)}:{finding.line}  "
                  f"{escape_text(finding.message[:160])}{why}", file=out)
        for finding, label in result.duplicates:
            print(f"  dup {escape_text(finding.code):<5} {escape_text(finding.path)}:{finding.line}  "
                  f"(same problem as {label.path}:{label.line})", file=out)


def build_report(summary: dict, results: dict[str, MatchResult], scan_errors: dict[str, list[str]],
                 skipped: list[str]) -> dict:
    """The `--json` document: the summary plus every miss, so two runs can be compared."""
    def label_json(label: Label) -> dict:
        return {"path": label.path, "line": label.line, "family": label.family, "reason": label.reason}

    def finding_json(finding: Finding) -> dict:
        return {"code": finding.code, "path": finding.path, "line": finding.line, "message": finding.message}

    misses = {key: {"false_negatives": [label_json(label) for label in result.false_negatives],
                    "false_positives": [{**finding_json(finding), "clean": clean.reason if clean else None}
                                        for finding, clean in result.false_positives],
                    "duplicates": [{**finding_json(finding), "of": label_json(label)}
                                   for finding, label in result.duplicates]}
              for key, result in results.items()}
    return {"summary": summary, "misses": misses, "scan_errors": scan_errors, "skipped": skipped}


def compare_reports(previous: dict, current: dict) -> dict:
    """What changed between two `--json` reports: totals, labels found or lost, false alarms."""
    def label_keys(report: dict, key: str) -> set[str]:
        return {f"{label['family']} {label['path']}:{label['line']}"
                for label in report.get("misses", {}).get(key, {}).get("false_negatives", [])}

    def alarm_keys(report: dict, key: str) -> set[str]:
        return {f"{finding['code']} {finding['path']}:{finding['line']}"
                for finding in report.get("misses", {}).get(key, {}).get("false_positives", [])}

    services = {}
    for key in sorted(set(previous.get("misses", {})) | set(current.get("misses", {}))):
        if key not in previous.get("misses", {}) or key not in current.get("misses", {}):
            continue  # a service measured only once has nothing to compare
        entry = {"now_found": sorted(label_keys(previous, key) - label_keys(current, key)),
                 "now_missed": sorted(label_keys(current, key) - label_keys(previous, key)),
                 "new_false_positives": sorted(alarm_keys(current, key) - alarm_keys(previous, key)),
                 "gone_false_positives": sorted(alarm_keys(previous, key) - alarm_keys(current, key))}
        if any(entry.values()):
            services[key] = entry
    before, after = previous.get("summary", {}).get("total", {}), current["summary"]["total"]
    return {"total_before": before, "total_after": after, "services": services}


def print_changes(changes: dict, out) -> None:
    before, after = changes["total_before"], changes["total_after"]
    print(f"\nchanges against the previous report: precision {_fmt(before.get('precision'))} -> "
          f"{_fmt(after['precision'])}, recall {_fmt(before.get('recall'))} -> {_fmt(after['recall'])}",
          file=out)
    for key, entry in changes["services"].items():
        print(f"  {key}", file=out)
        for title, field_name in (("found now", "now_found"), ("missed now", "now_missed"),
                                  ("new FP", "new_false_positives"), ("FP gone", "gone_false_positives")):
            for item in entry[field_name]:
                print(f"    {title:<10} {escape_text(item)}", file=out)


def print_fetch_commands(services: list[Service], folder: Path, out) -> None:
    """Shell commands that clone each corpus repository once and check out its labelled commit."""
    seen: dict[str, str] = {}
    for service in services:
        seen.setdefault(service.repo, service.commit)
    for repo, commit in seen.items():
        target = folder / repo.replace("/", "__")
        print(f"git clone --filter=blob:none https://github.com/{repo}.git {target} && "
              f"git -C {target} checkout --quiet {commit}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--checkouts", type=Path, help="folder with <owner>__<name> checkouts")
    parser.add_argument("--mirrors", type=Path, default=DEFAULT_MIRRORS,
                        help="folder with <owner>+<name>[/repo] bare git dirs (default: %(default)s)")
    parser.add_argument("--only", action="append", default=[], help="only services whose key contains this")
    held_out = parser.add_mutually_exclusive_group()
    held_out.add_argument("--holdout-only", action="store_true",
                          help="only the held-out services (holdout = true): code the analysis was never tuned on")
    held_out.add_argument("--no-holdout", action="store_true",
                          help="only the services the analysis was tuned on (leave the held-out ones out)")
    parser.add_argument("--code-family", action="append", default=[], metavar="CODE=FAMILY",
                        help="count findings of CODE in FAMILY (e.g. the unsaveable-history rule in DUMP)")
    parser.add_argument("--json", action="store_true", help="print the summary and misses as JSON")
    parser.add_argument("--show-misses", action="store_true", help="list every FN, FP and duplicate")
    parser.add_argument("--compare", metavar="JSON", type=Path,
                        help="a previous --json report: also list the labels found or lost and the "
                             "false positives added or removed since then")
    parser.add_argument("--print-fetch", metavar="DIR", type=Path,
                        help="print the git commands that check every corpus repository out under DIR "
                             "(for --checkouts DIR) and exit; nothing is run")
    args = parser.parse_args(argv)

    try:
        services, code_families = load_corpus(args.corpus)
    except (OSError, tomllib.TOMLDecodeError, KeyError, ValueError) as error:
        print(f"scan_accuracy: error: cannot read corpus {args.corpus}: {error}", file=sys.stderr)
        return 2
    for item in args.code_family:
        code, _, family = item.partition("=")
        code_families[code.strip()] = family.strip()
    if args.only:
        services = [s for s in services if any(word in s.key for word in args.only)]
    if args.holdout_only:
        services = [s for s in services if s.holdout]
    elif args.no_holdout:
        services = [s for s in services if not s.holdout]
    if not services:
        print("scan_accuracy: error: no corpus service matches the selection "
              "(--only / --holdout-only / --no-holdout)", file=sys.stderr)
        return 2
    if args.print_fetch:
        print_fetch_commands(services, args.print_fetch, sys.stdout)
        return 0

    def warn(text: str) -> None:
        print(f"warning: {text}", file=sys.stderr)

    results: dict[str, MatchResult] = {}
    scan_errors: dict[str, list[str]] = {}
    skipped: list[str] = []
    workspace = Path(tempfile.mkdtemp(prefix="scan-accuracy-"))
    try:
        for service in services:
            root = None
            if args.checkouts:
                folder = args.checkouts / service.repo.replace("/", "__")
                if folder.is_dir():
                    head = checkout_head(folder)
                    if head and head != service.commit:
                        warn(f"{service.repo}: checkout is at {head[:12]}, corpus labels {service.commit[:12]}")
                    root = folder
            if root is None:
                git_dir = _mirror_git_dir(args.mirrors, service.repo)
                if git_dir is not None:
                    root = workspace / service.key.replace("/", "__").replace(":", "__")
                    root.mkdir(parents=True)
                    try:
                        export_service(git_dir, service, root, warn)
                    except (RuntimeError, ValueError, OSError) as error:
                        warn(f"{service.repo}: cannot export {service.subdir}: {error}; skipped")
                        skipped.append(service.key)
                        continue
            if root is None:
                warn(f"{service.repo}: no checkout or mirror found; skipped")
                skipped.append(service.key)
                continue
            findings, errors = run_scan(root, service.subdir, service.exclude)
            if errors:
                scan_errors[service.key] = errors
            results[service.key] = match_findings(service.labels, findings, service.cleans, code_families)
            if root.is_relative_to(workspace):
                shutil.rmtree(root, ignore_errors=True)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)

    if not results:
        print("scan_accuracy: error: none of the corpus repositories was found; fetch them first "
              "(see benchmarks/accuracy/README.md) and pass --checkouts or --mirrors", file=sys.stderr)
        return 2
    summary = summarise(results, code_families,
                        holdout_keys={service.key for service in services if service.holdout})
    report = build_report(summary, results, scan_errors, skipped)
    changes = None
    if args.compare:
        try:
            previous = json.loads(args.compare.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            print(f"scan_accuracy: error: cannot read {args.compare}: {error}", file=sys.stderr)
            return 2
        changes = compare_reports(previous, report)
    if args.json:
        if changes is not None:
            report["changes"] = changes
        print(json.dumps(report, indent=2))
        return 0
    print_table(summary, sys.stdout)
    if skipped:
        print(f"\nskipped (not fetched): {', '.join(skipped)}")
    if scan_errors:
        print("\nfiles the scan could not read:")
        for key, errors in scan_errors.items():
            for error in errors:
                print(f"  {key}: {escape_text(error)}")
    if changes is not None:
        print_changes(changes, sys.stdout)
    if args.show_misses:
        print_misses(results, sys.stdout)
    return 0

if __name__ == "__main__":
    sys.exit(main())
