"""The hardened probe interfaces on the WebSocket path: wss:// with a self-signed certificate
(--insecure, --ca-bundle) against a real TLS `websockets` server, secrets a service echoes back
scrubbed from frames, records and reports, outside text escaped in error lines, output paths and
replay files checked as for HTTP."""

import json
import os
import subprocess
import sys

from security_probe.tls_support import self_signed
from ws_scripts import CODEWORD, keyed_memory
from ws_support import scripted_server

TOKEN = "Bearer s3cret-probe-token-9f2c"
BODY = '{"session": "{session}", "text": "{message}"}'


def cli(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "autogen_doctor", "probe", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def one_line_error(done):
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autogen-doctor: error: "), lines
    return lines[0]


def session_memory():
    """One reply per connection, then a normal close; the conversation is kept per session id
    (shared by every connection), so nothing is lost on reconnect."""
    store: dict[str, list[str]] = {}

    async def handler(ws):
        message = json.loads(await ws.recv())
        await ws.send(json.dumps({"text": keyed_memory(store, message["session"], message["text"])}))
        await ws.close(1000)

    return handler


def echoing_secret():
    """Remembers per session and echoes the Authorization header it received into every reply."""
    store: dict[str, list[str]] = {}

    async def handler(ws):
        auth = ws.request.headers.get("Authorization", "")
        message = json.loads(await ws.recv())
        reply = keyed_memory(store, message["session"], message["text"])
        await ws.send(json.dumps({"text": f"{reply} (you sent {auth})"}))
        await ws.close(1000)

    return handler


def test_wss_with_a_self_signed_certificate_fails_verification_by_default(tmp_path):
    context, _ = self_signed(tmp_path)
    with scripted_server(session_memory(), tls=context) as url:
        assert url.startswith("wss://")
        line = one_line_error(cli(url + "/ws", "--body", BODY, "--sessions", 1, "--turns", 2, "--retries", 0))
    assert "TLS error" in line and "certificate" in line


def test_wss_reaches_a_self_signed_service_with_insecure_or_a_ca_bundle(tmp_path):
    context, cert_path = self_signed(tmp_path)
    for flags in (["--insecure"], ["--ca-bundle", cert_path]):
        with scripted_server(session_memory(), tls=context) as url:
            done = cli(url + "/ws", "--body", BODY, "--sessions", 2, "--turns", 3, "--format", "json", *flags)
        assert done.returncode in (0, 3), done.stderr  # pass, or inconclusive (one backend)
        result = json.loads(done.stdout)
        assert result["recall"]["recalled"] == result["recall"]["expected"] == 6, result["recall"]


def test_a_secret_the_service_echoes_is_scrubbed_from_frames_records_and_reports(tmp_path):
    recording, report = tmp_path / "ws.jsonl", tmp_path / "report.json"
    with scripted_server(echoing_secret()) as url:
        done = cli(url + "/ws", "--body", BODY, "-H", f"Authorization: {TOKEN}", "--sessions", 2, "--turns", 3,
                   "--format", "json", "--record", recording, "--output", report)
    assert done.returncode in (0, 3), done.stderr
    secret = TOKEN.split()[1]
    for text in (recording.read_text(), report.read_text(), done.stdout, done.stderr):
        assert secret not in text
    records = [json.loads(line) for line in recording.read_text().splitlines()[1:]]
    replies = [record for record in records if record.get("reply_text")]
    assert replies and all("[redacted]" in record["reply_text"] for record in replies)
    frames = [frame["text"] for record in records for frame in record["ws"]["frames"] if frame["dir"] == "in"]
    assert frames and all(secret not in text and "[redacted]" in text for text in frames)
    # The echo did not hide the codewords: recall is still complete.
    recall = json.loads(report.read_text())["recall"]
    assert recall["recalled"] == recall["expected"] == 6


def test_an_error_frame_with_terminal_escapes_is_escaped_in_the_error_line(tmp_path):
    async def hostile(ws):
        await ws.recv()
        await ws.send(json.dumps({"type": "error", "text": "boom\x1b]0;owned\x07\nverdict: PASS"}))
        await ws.close(1000)

    with scripted_server(hostile) as url:
        line = one_line_error(cli(url + "/ws", "--body", BODY, "--ws-error", "type=error", "--reply-path", "text",
                                  "--sessions", 1, "--turns", 2, "--retries", 0))
    assert "\x1b" not in line and "\x07" not in line and "boom" in line
    assert "\\x1b" in line or "\\u001b" in line


def test_a_bad_record_path_is_refused_before_any_connection(tmp_path):
    connections = []

    async def counting(ws):
        connections.append(1)
        await ws.recv()
        await ws.close(1000)

    (tmp_path / "folder").mkdir()
    with scripted_server(counting) as url:
        line = one_line_error(cli(url + "/ws", "--body", BODY, "--record", tmp_path / "folder"))
        same = one_line_error(cli(url + "/ws", "--body", BODY, "--record", tmp_path / "x.jsonl",
                                  "--output", tmp_path / "x.jsonl"))
    assert "--record" in line and "folder" in line
    assert "same file" in same
    assert connections == []


def test_replay_of_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "recording.jsonl"
    os.mkfifo(fifo)
    line = one_line_error(cli("--replay", fifo, timeout=30))
    assert "not a regular file" in line


def test_a_ws_recording_replays_through_the_ws_explanations(tmp_path):
    recording = tmp_path / "ws.jsonl"

    async def per_connection(ws):  # the conversation lives in the connection only
        words: list[str] = []
        async for raw in ws:
            words += CODEWORD.findall(json.loads(raw)["text"])
            await ws.send(json.dumps({"text": "I remember: " + ", ".join(words)}))
            await ws.close(1000)

    with scripted_server(per_connection) as url:
        live = cli(url + "/ws", "--body", BODY, "--sessions", 3, "--turns", 3, "--record", recording)
    replayed = cli("--replay", recording)
    assert live.returncode == replayed.returncode == 1, (live.stderr, replayed.stderr)
    assert "reconnect" in replayed.stdout


def test_reply_frames_are_pieces_joined_before_codewords_are_looked_for(tmp_path):
    """A service that streams its reply in small frames that split every codeword: with
    --ws-join '' the joined text holds them, recall is complete, and the record says which
    codewords only the joining showed."""
    recording = tmp_path / "ws.jsonl"
    store: dict[str, list[str]] = {}

    async def streaming(ws):
        message = json.loads(await ws.recv())
        reply = keyed_memory(store, message["session"], message["text"])
        for start in range(0, len(reply), 5):
            await ws.send(json.dumps({"type": "chunk", "text": reply[start:start + 5]}))
        await ws.send(json.dumps({"type": "done"}))
        await ws.close(1000)

    with scripted_server(streaming) as url:
        done = cli(url + "/ws", "--body", BODY, "--ws-until", "type=done", "--reply-path", "text", "--ws-join", "",
                   "--sessions", 2, "--turns", 3, "--format", "json", "--record", recording)
    assert done.returncode in (0, 3), done.stderr
    recall = json.loads(done.stdout)["recall"]
    assert recall["recalled"] == recall["expected"] == 6
    records = [json.loads(line) for line in recording.read_text().splitlines()[1:]]
    later = [record for record in records if record["turn"] > 1]
    assert all(record["reply_stream"] == "ws-frames" for record in records)
    assert all(record["joined_codewords"] == record["recalled"] and record["recalled"] for record in later)
