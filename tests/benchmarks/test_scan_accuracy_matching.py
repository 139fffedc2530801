"""The matching rules of benchmarks/scan_accuracy.py, on made-up findings and labels."""

import importlib.util
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "scan_accuracy.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("scan_accuracy", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("scan_accuracy", module)
    spec.loader.exec_module(module)
    return module


bench = load_benchmark()
Label, Finding, Clean, Location = bench.Label, bench.Finding, bench.Clean, bench.Location


def test_same_path_family_and_near_line_is_a_true_positive():
    labels = [Label("app.py", 10, "AD1", "sessions dict")]
    result = bench.match_findings(labels, [Finding("AD101", "app.py", 12)])
    assert len(result.true_positives) == 1
    assert not result.false_positives and not result.false_negatives


def test_line_outside_tolerance_is_one_miss_and_one_false_alarm():
    labels = [Label("app.py", 10, "AD1", "sessions dict", tolerance=1)]
    result = bench.match_findings(labels, [Finding("AD101", "app.py", 12)])
    assert len(result.false_negatives) == 1
    assert len(result.false_positives) == 1


def test_other_family_or_other_path_does_not_match():
    labels = [Label("app.py", 10, "AD1", "sessions dict")]
    findings = [Finding("AD301", "app.py", 10), Finding("AD101", "other.py", 10)]
    result = bench.match_findings(labels, findings)
    assert len(result.false_negatives) == 1
    assert len(result.false_positives) == 2


def test_each_label_matches_once_and_the_closest_finding_wins():
    labels = [Label("app.py", 10, "AD1", "a"), Label("app.py", 14, "AD1", "b")]
    findings = [Finding("AD101", "app.py", 13), Finding("AD101", "app.py", 11), Finding("AD102", "app.py", 12),
                Finding("AD101", "app.py", 30)]
    result = bench.match_findings(labels, findings)
    matched = {label.reason: finding.line for label, finding in result.true_positives}
    assert matched == {"a": 11, "b": 13}
    # A third report next to an already matched problem is a duplicate, one far away a false alarm.
    assert [finding.line for finding, _label in result.duplicates] == [12]
    assert [finding.line for finding, _clean in result.false_positives] == [30]


def test_also_locations_accept_the_finding_and_extra_reports_are_duplicates():
    label = Label("routes.py", 5, "AD2", "team built per request",
                  also=(Location("team.py", 40), Location("team.py", 55)))
    findings = [Finding("AD201", "team.py", 41), Finding("AD201", "team.py", 55)]
    result = bench.match_findings([label], findings)
    assert len(result.true_positives) == 1
    # The exact location is taken first; the other report of the same problem is a duplicate.
    assert result.true_positives[0][1].line == 55
    assert [finding.line for finding, _ in result.duplicates] == [41]
    assert not result.false_positives


def test_false_positive_on_a_clean_place_carries_its_reason():
    cleans = [Clean("ws.py", 20, "per-connection state")]
    result = bench.match_findings([], [Finding("AD101", "ws.py", 21), Finding("AD101", "ws.py", 90)], cleans)
    reasons = [clean.reason if clean else None for _finding, clean in result.false_positives]
    assert reasons == ["per-connection state", None]


def test_code_family_override_moves_a_code_to_another_family():
    labels = [Label("app.py", 7, "DUMP", "json.dumps(model_dump())")]
    findings = [Finding("AD299", "app.py", 7)]
    assert not bench.match_findings(labels, findings).true_positives
    result = bench.match_findings(labels, findings, code_families={"AD299": "DUMP"})
    assert len(result.true_positives) == 1


def test_summary_adds_counts_before_dividing():
    good = bench.match_findings([Label("a.py", 1, "AD1", "x")], [Finding("AD101", "a.py", 1)])
    bad = bench.match_findings([Label("b.py", 1, "AD5", "y")], [Finding("AD301", "b.py", 50)])
    summary = bench.summarise({"good": good, "bad": bad}, {})
    assert summary["total"] == {"tp": 1, "fp": 1, "fn": 1, "duplicates": 0, "precision": 0.5, "recall": 0.5}
    assert summary["families"]["AD3"]["fp"] == 1 and summary["families"]["AD5"]["fn"] == 1
    assert summary["services"]["bad"]["precision"] == 0.0
    assert summary["services"]["bad"]["recall"] == 0.0


def test_corpus_file_loads_and_every_label_names_a_known_family(tmp_path):
    services, _codes = bench.load_corpus(bench.DEFAULT_CORPUS)
    assert services
    known = {"AD1", "AD2", "AD3", "AD4", "AD5", "AD6", "DUMP"}
    keys = [service.key for service in services]
    assert len(keys) == len(set(keys)), "each service (repo + subdir) is listed once"
    for service in services:
        assert len(service.commit) == 40
        places = [(label.path, label.line, label.family) for label in service.labels]
        assert len(places) == len(set(places)), f"{service.key}: one label per place and family"
        for label in service.labels:
            assert label.family in known, (service.key, label)
            assert label.reason and label.line > 0
            # Labels point into the scanned folder, where the scan can report them.
            folder = "" if service.subdir in ("", ".") else service.subdir.rstrip("/") + "/"
            assert label.path.startswith(folder), (service.key, label.path)


def test_symbol_keeps_two_adjacent_stores_apart():
    labels = [Label("r.py", 90, "AD1", "orchestrators", symbol="active_orchestrators"),
              Label("r.py", 93, "AD1", "session data", symbol="session_storage")]
    findings = [Finding("AD101", "r.py", 93, symbol="session_storage"),
                Finding("AD101", "r.py", 91, symbol="active_orchestrators")]
    result = bench.match_findings(labels, findings)
    assert {label.symbol: finding.line for label, finding in result.true_positives} == {
        "active_orchestrators": 91, "session_storage": 93}


SERVICE_CODE = '''from fastapi import FastAPI

app = FastAPI()
sessions = {}


@app.post("/chat")
async def chat(session_id: str, message: str):
    sessions.setdefault(session_id, []).append(message)
    return {"turns": len(sessions[session_id])}
'''


def _git(*args, cwd):
    import subprocess
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
                        "HOME": str(cwd), "PATH": __import__("os").environ["PATH"]})


def _make_repo(folder):
    folder.mkdir(parents=True)
    (folder / "svc").mkdir()
    (folder / "svc" / "main.py").write_text(SERVICE_CODE)
    (folder / "README.md").write_text("not scanned\n")
    _git("init", "-q", cwd=folder)
    _git("add", ".", cwd=folder)
    _git("commit", "-q", "-m", "service", cwd=folder)
    import subprocess
    return subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()


def test_export_service_writes_only_the_service_folder_at_the_commit(tmp_path):
    commit = _make_repo(tmp_path / "src")
    service = bench.Service("me/demo", commit, "svc", [], [])
    target = tmp_path / "out"
    target.mkdir()
    bench.export_service(tmp_path / "src" / ".git", service, target, warn=lambda text: None)
    assert (target / "svc" / "main.py").read_text() == SERVICE_CODE
    assert not (target / "README.md").exists()


def test_end_to_end_counts_a_real_scan_finding_against_the_labels(tmp_path, capsys):
    checkouts = tmp_path / "checkouts"
    commit = _make_repo(checkouts / "me__demo")
    corpus = tmp_path / "corpus.toml"
    corpus.write_text(
        "[[service]]\n"
        f'repo = "me/demo"\ncommit = "{commit}"\nsubdir = "svc"\n'
        "[[service.label]]\n"
        'path = "svc/main.py"\nline = 10\nfamily = "AD1"\nreason = "sessions dict written per request"\n'
        "[[service.label]]\n"
        'path = "svc/main.py"\nline = 10\nfamily = "AD5"\nreason = "made-up label the scan cannot match"\n'
    )
    assert bench.main(["--corpus", str(corpus), "--checkouts", str(checkouts), "--json"]) == 0
    report = __import__("json").loads(capsys.readouterr().out)
    total = report["summary"]["total"]
    assert (total["tp"], total["fn"]) == (1, 1)
    assert report["misses"]["me/demo:svc"]["false_negatives"][0]["family"] == "AD5"


def test_compare_lists_labels_found_and_lost_and_false_alarms_added_and_gone():
    label_a = Label("a.py", 1, "AD1", "a")
    label_b = Label("a.py", 9, "AD5", "b")
    before = bench.match_findings([label_a, label_b], [Finding("AD301", "a.py", 40)])
    after = bench.match_findings([label_a, label_b], [Finding("AD101", "a.py", 1), Finding("AD105", "a.py", 60)])
    previous = bench.build_report(bench.summarise({"svc": before}, {}), {"svc": before}, {}, [])
    current = bench.build_report(bench.summarise({"svc": after}, {}), {"svc": after}, {}, [])
    changes = bench.compare_reports(previous, current)
    entry = changes["services"]["svc"]
    assert entry["now_found"] == ["AD1 a.py:1"]
    assert entry["now_missed"] == []
    assert entry["new_false_positives"] == ["AD105 a.py:60"]
    assert entry["gone_false_positives"] == ["AD301 a.py:40"]
    assert (changes["total_before"]["tp"], changes["total_after"]["tp"]) == (0, 1)


def test_summary_adds_held_out_services_up_apart_from_the_tuned_ones():
    tuned = bench.match_findings([Label("a.py", 1, "AD1", "x")], [Finding("AD101", "a.py", 1)])
    unseen = bench.match_findings([Label("b.py", 1, "AD5", "y"), Label("b.py", 9, "AD1", "z")],
                                  [Finding("AD101", "b.py", 9), Finding("AD301", "b.py", 50)])
    summary = bench.summarise({"tuned": tuned, "unseen": unseen}, {}, holdout_keys={"unseen"})
    assert summary["held_out_services"] == ["unseen"]
    held_out, rest = summary["sets"]["held_out"], summary["sets"]["tuned"]
    assert (held_out["services"], held_out["tp"], held_out["fp"], held_out["fn"]) == (1, 1, 1, 1)
    assert held_out["precision"] == 0.5 and held_out["recall"] == 0.5
    assert (rest["services"], rest["tp"], rest["precision"], rest["recall"]) == (1, 1, 1.0, 1.0)
    # The overall total still counts both sets together.
    assert (summary["total"]["tp"], summary["total"]["fn"]) == (2, 1)


def test_the_corpus_holds_held_out_services_with_labels_and_clean_places():
    services, _codes = bench.load_corpus(bench.DEFAULT_CORPUS)
    held_out = [service for service in services if service.holdout]
    assert len(held_out) >= 6
    assert any(service.labels for service in held_out) and any(service.cleans for service in held_out)
    # A held-out repository is not also a tuned one (its other folders could have shaped the rules).
    tuned_repos = {service.repo for service in services if not service.holdout}
    assert not tuned_repos & {service.repo for service in held_out}


def test_holdout_must_be_true_or_false(tmp_path):
    corpus = tmp_path / "corpus.toml"
    corpus.write_text('[[service]]\nrepo = "me/demo"\ncommit = "%s"\nholdout = "yes"\n' % ("0" * 40))
    try:
        bench.load_corpus(corpus)
    except ValueError as error:
        assert "holdout" in str(error)
    else:
        raise AssertionError("a non-boolean holdout value was accepted")


def _two_service_corpus(tmp_path, commit):
    corpus = tmp_path / "corpus.toml"
    corpus.write_text(
        "[[service]]\n"
        f'repo = "me/demo"\ncommit = "{commit}"\nsubdir = "svc"\n'
        "[[service.label]]\n"
        'path = "svc/main.py"\nline = 10\nfamily = "AD1"\nreason = "sessions dict written per request"\n'
        "[[service]]\n"
        f'repo = "me/demo"\ncommit = "{commit}"\nsubdir = "."\nholdout = true\n'
        "[[service.label]]\n"
        'path = "svc/main.py"\nline = 10\nfamily = "AD5"\nreason = "made-up label the scan cannot match"\n'
    )
    return corpus


def test_holdout_switches_pick_the_services_and_the_json_keeps_the_sets_apart(tmp_path, capsys):
    import json
    checkouts = tmp_path / "checkouts"
    corpus = _two_service_corpus(tmp_path, _make_repo(checkouts / "me__demo"))
    common = ["--corpus", str(corpus), "--checkouts", str(checkouts), "--json"]

    assert bench.main([*common, "--holdout-only"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["summary"]["services"]) == ["me/demo"]
    assert report["summary"]["sets"]["held_out"]["fn"] == 1
    assert report["summary"]["sets"]["tuned"]["services"] == 0

    assert bench.main([*common, "--no-holdout"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["summary"]["services"]) == ["me/demo:svc"]
    assert report["summary"]["held_out_services"] == []

    assert bench.main(common) == 0
    report = json.loads(capsys.readouterr().out)
    sets = report["summary"]["sets"]
    assert (sets["tuned"]["tp"], sets["held_out"]["tp"], sets["held_out"]["fn"]) == (1, 0, 1)


def test_table_marks_held_out_services_and_prints_both_subtotals(tmp_path, capsys):
    checkouts = tmp_path / "checkouts"
    corpus = _two_service_corpus(tmp_path, _make_repo(checkouts / "me__demo"))
    assert bench.main(["--corpus", str(corpus), "--checkouts", str(checkouts)]) == 0
    table = capsys.readouterr().out
    assert "me/demo *" in table
    assert any(row.startswith("held-out * (1 services)") for row in table.splitlines())
    assert any(row.startswith("tuned (1 services)") for row in table.splitlines())


def test_holdout_switches_exclude_each_other_and_an_empty_selection_is_an_error(tmp_path, capsys):
    import pytest
    with pytest.raises(SystemExit) as stopped:
        bench.main(["--holdout-only", "--no-holdout"])
    assert stopped.value.code == 2
    corpus = tmp_path / "corpus.toml"
    corpus.write_text('[[service]]\nrepo = "me/demo"\ncommit = "%s"\n' % ("0" * 40))
    capsys.readouterr()
    assert bench.main(["--corpus", str(corpus), "--holdout-only"]) == 2
    assert "no corpus service matches" in capsys.readouterr().err
