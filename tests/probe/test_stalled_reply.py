"""A service that answers its status line and then never finishes the reply was reached: the probe
must say so, not "cannot reach" (found on the autogen-core handoffs sample, whose streaming handler
answers 200 and then waits forever when the model call fails)."""

import time

import pytest

from autogen_doctor.exit_codes import ExitCode, UserError
from autogen_doctor.probe.command import run_probe
from autogen_doctor.probe.options import ProbeOptions
from support.services import uvicorn_service

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def target():
    with uvicorn_service("tests.probe.targets.misbehaving:app", workers=1) as service:
        yield service.url


def failure_line(url: str) -> str:
    started = time.monotonic()
    with pytest.raises(UserError) as raised:
        run_probe(ProbeOptions(url=url, sessions=2, turns=2, seed=3, timeout=0.5, retries=0))
    assert raised.value.exit_code == ExitCode.USAGE and time.monotonic() - started < 5
    return str(raised.value)


@pytest.mark.parametrize("path", ["/headers-then-silence", "/stream-forever"])
def test_a_reply_that_never_finishes_after_its_status_line_is_not_called_unreachable(target, path):
    line = failure_line(target + path)
    assert line.startswith(f"no complete reply from {target}{path}: ")
    assert "answered HTTP 200, but its reply did not finish within 0.5s (timed out)" in line
    assert "cannot reach" not in line


def test_a_server_that_sends_nothing_at_all_is_still_unreachable(target):
    line = failure_line(target + "/hang")
    assert line.startswith("cannot reach") and "no complete reply within 0.5s (timed out)" in line
