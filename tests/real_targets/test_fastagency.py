"""FastAgency as a real target: our workflow behind FastAgency's FastAPI adapter, probed with `--preset fastagency`.

fastagency[fastapi] 0.10.2 and ag2 0.10.2 from PyPI, in their own venv; the workflow
(apps/fastagency_app.py) is ours, since FastAgency's documented example asks the user only once.
Its model is a fake: a registered AG2 reply function lists the codewords the agent holds, since
no LLM can run here. Everything else is real: uvicorn with several workers, sockets, the adapter.

The workflow, its agent and its history live in a thread that lives as long as the WebSocket
(shared WEBSOCKET.md section 4), so:
- one connection held per session: everything is recalled, but a WebSocket never changes worker,
  so per-process state cannot show -> `inconclusive`;
- a new connection per turn: every reconnect starts a new workflow, on whichever worker, the same
  one included -> `not-rehydrated`.
Each set-up runs three times in a row. One more run lets the probe start the service itself
(`--serve`), so the operating system names the worker of every connection and the evidence shows
codewords forgotten on the very worker that received them.
"""

from __future__ import annotations

import os

import pytest

from .chainlit_support import describe, run_probe
from .fastagency_support import APP, APPS, SERVICE_PYTHONPATH, fastagency_service
from .pins import FASTAGENCY_REQUIREMENTS
from .venvs import target_python

RUNS = 3
WORKERS = 2
SIZE = ["--sessions", "6", "--turns", "4", "--timeout", "15"]


@pytest.fixture(scope="module")
def python():
    return target_python("fastagency", FASTAGENCY_REQUIREMENTS)


@pytest.fixture(scope="module")
def service(python):
    with fastagency_service(python, workers=WORKERS) as running:
        yield running


def _socket_url(service) -> str:
    return service.url.replace("http://", "ws://") + "/fastagency/ws"


def _show(setup: str, index: int, run) -> None:
    """One line per run (seen with `pytest -s`): the evidence the report and docs quote."""
    report = run.report
    print(f"\n{setup} run {index + 1}: {report['verdict']} {report['cause'] or ''} exit={run.exit_code} "
          f"recall={report['recall'].get('rate')} checks={report.get('checks')}\n  reason: {report['reason']}")


def test_reconnect_per_turn_is_not_rehydrated(service):
    for index in range(RUNS):
        run = run_probe(_socket_url(service), "--preset", "fastagency", *SIZE)
        _show(f"{WORKERS} workers, turn", index, run)
        report = run.report
        assert (report["verdict"], report["cause"]) == ("state-loss", "not-rehydrated"), describe(run)
        assert run.exit_code == 1
        assert report["errors"] == 0 and report["recall"]["recalled"] == 0, describe(run)
        assert "tied to the WebSocket connection" in report["reason"]


def test_held_connection_is_inconclusive(service):
    for index in range(RUNS):
        run = run_probe(_socket_url(service), "--preset", "fastagency", "--ws-connection", "session", *SIZE)
        _show(f"{WORKERS} workers, session", index, run)
        report = run.report
        assert report["verdict"] == "inconclusive", describe(run)
        assert run.exit_code == 3
        # Within one connection the workflow remembers everything.
        assert report["errors"] == 0 and report["recall"]["rate"] == 1.0, describe(run)


def test_serve_names_the_workers_and_shows_loss_on_the_same_worker(python):
    # The probe starts `uvicorn --workers 1` and then `--workers 2` itself, as a user would; the
    # FastAgency venv's python serves. The served command inherits the probe's environment.
    paths = [SERVICE_PYTHONPATH, os.environ.get("PYTHONPATH", "")]
    run = run_probe("/fastagency/ws", "--serve", f"{python} -m uvicorn {APP}", "--workers", f"1,{WORKERS}",
                    "--preset", "fastagency", *SIZE, cwd=APPS, env={"PYTHONPATH": os.pathsep.join(filter(None, paths))})
    assert run.exit_code == 1, describe(run)
    assert [each["workers"] for each in run.report["runs"]] == [1, WORKERS]
    for each in (entry["result"] for entry in run.report["runs"]):
        print(f"\n--serve, {len(each['backends'])} worker(s): {each['verdict']} {each['cause']} "
              f"identity={each['identity_source']} checks={each['checks']}")
        assert (each["verdict"], each["cause"]) == ("state-loss", "not-rehydrated"), describe(run)
        assert each["identity_source"].startswith("os"), describe(run)
        # Lost on the very worker that received the codeword: tied to the connection, not the process.
        assert each["checks"]["same"]["expected"] > 0 and each["checks"]["same"]["recalled"] == 0, describe(run)
