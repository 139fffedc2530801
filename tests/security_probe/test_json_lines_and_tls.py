"""Issue 12 items 5 and 6: JSON-lines streams from a real multi-worker uvicorn service, and https
services with a self-signed certificate (--insecure, --ca-bundle) against a real TLS socket."""

from __future__ import annotations

import json
import ssl

import pytest

from security_probe.tls_support import self_signed
from security_probe.hostile_server import Memory, hostile, json_response, one_line_error, probe
from support.services import uvicorn_service

APP = "tests.serve_targets.ndjson_app:app"


@pytest.mark.services
@pytest.mark.parametrize("media, shape, extra", [
    ("application/x-ndjson", "content", []),
    ("application/jsonl", "delta", ["--reply-path", "delta.text"]),
    ("text/plain; charset=utf-8", "content", []),
], ids=["x-ndjson", "jsonl-reply-path", "text-plain"])
def test_json_lines_replies_are_joined_before_codewords_are_looked_for(tmp_path, media, shape, extra):
    env = {"NDJSON_DB": str(tmp_path / "memory.db"), "NDJSON_TYPE": media, "NDJSON_SHAPE": shape}
    record = tmp_path / "run.jsonl"
    with uvicorn_service(APP, workers=3, env=env) as service:
        done = probe(f"{service.url}/chat", "--sessions", 6, "--turns", 4, "--format", "json",
                     "--record", record, *extra)
    result = json.loads(done.stdout)
    # Shared memory: every codeword comes back, only split across lines.
    assert result["recall"]["recalled"] == result["recall"]["expected"] > 0, done.stdout
    assert result["errors"] == 0 and len(result["backends"]) >= 2
    assert done.returncode == 0, done.stderr
    turns = [json.loads(line) for line in record.read_text().splitlines()[1:]]
    assert all(turn["reply_stream"] == "json-lines" for turn in turns)
    # The recording says which codewords only the joined text held.
    assert any(turn["joined_codewords"] for turn in turns)
    assert all(set(turn["joined_codewords"]) <= set(turn["recalled"]) for turn in turns)


def test_an_event_stream_applies_the_reply_path_to_every_event():
    memory = Memory()

    def reply(request):
        text = ", ".join(memory.remember(request))
        events = b"".join(b"data: " + json.dumps({"delta": {"text": text[i:i + 4]}}).encode() + b"\n\n"
                          for i in range(0, len(text), 4))
        from security_probe.hostile_server import http_response

        return http_response("200 OK", [("Content-Type", "text/event-stream"), ("X-Backend-Pid", "1")],
                             events + b"data: [DONE]\n\n")

    with hostile(reply) as server:
        done = probe(server.url, "--sessions", 2, "--turns", 3, "--reply-path", "delta.text", "--format", "json")
    result = json.loads(done.stdout)
    assert result["recall"]["recalled"] == result["recall"]["expected"] == 6


# --- --insecure and --ca-bundle ---------------------------------------------------------------

def remembering():
    memory = Memory()
    return lambda request: json_response({"reply": ", ".join(memory.remember(request))}, [("X-Backend-Pid", "1")])


def test_a_self_signed_service_fails_verification_by_default(tmp_path):
    context, _ = self_signed(tmp_path)
    with hostile(remembering(), tls=context) as server:
        line = one_line_error(probe(server.url, "--sessions", 1, "--turns", 2, "--retries", 0))
    assert "TLS error" in line and "certificate" in line


@pytest.mark.parametrize("how", ["insecure", "ca-bundle"])
def test_insecure_or_a_ca_bundle_reaches_a_self_signed_service(tmp_path, how):
    context, cert_path = self_signed(tmp_path)
    flags = ["--insecure"] if how == "insecure" else ["--ca-bundle", cert_path]
    with hostile(remembering(), tls=context) as server:
        done = probe(server.url, "--sessions", 2, "--turns", 3, "--format", "json", *flags)
    result = json.loads(done.stdout)
    assert result["recall"]["recalled"] == result["recall"]["expected"] == 6


def test_a_missing_ca_bundle_is_a_usage_error(tmp_path):
    line = one_line_error(probe("https://127.0.0.1:9/chat", "--ca-bundle", tmp_path / "nope.pem"))
    assert "--ca-bundle" in line and "no such file" in line
