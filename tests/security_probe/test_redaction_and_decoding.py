"""The one redaction mechanism and the bounded decoder, on real values (REPORT S4, S5)."""

from __future__ import annotations

import base64
import gzip
import json
import zlib

import pytest

from autogen_doctor.probe.decode import BoundedDecoder, TooLarge, UnsupportedEncoding
from autogen_doctor.probe.redact import (REDACTED, Secrets, is_secret_name, redact_assignments, redact_body,
                                         redact_url)


@pytest.mark.parametrize("name", ["X-Api-Pass", "pass", "bearer", "passphrase", "X-Private-Token", "jwt",
                                  "api_keys", "Authorization", "client_secret"])
def test_secret_names_match_the_documented_pattern(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["session_id", "message", "keep-alive", "passage", "X-Backend-Pid", "turn"])
def test_plain_names_stay_visible(name):
    assert not is_secret_name(name)


def test_every_value_under_a_secret_key_is_redacted_lists_and_objects_included():
    body = json.dumps({"session_id": "s1", "api_keys": ["A1", ["A2"]], "credentials": {"user": "u", "pw": "p"},
                       "pass": 1234, "message": "hi"})
    redacted = json.loads(redact_body(body))
    assert redacted["api_keys"] == [REDACTED, [REDACTED]]
    assert redacted["credentials"] == {"user": REDACTED, "pw": REDACTED}
    assert redacted["pass"] == REDACTED and redacted["session_id"] == "s1" and redacted["message"] == "hi"


def test_serve_assignments_are_redacted_by_name_and_url_credentials_dropped():
    shown = redact_assignments("OPENAI_API_KEY=sk-SECRET REDIS_URL=redis://:SECRETREDIS@127.0.0.1:6379/0 "
                               "FAKE_MODE=ok uvicorn app:api --api-key=SECRETFLAG")
    assert "SECRET" not in shown
    assert shown.startswith("OPENAI_API_KEY=[redacted] ") and "FAKE_MODE=ok" in shown and "uvicorn app:api" in shown


def test_broken_urls_still_lose_their_password():
    assert "SECRETPW" not in redact_url("http://user:SECRETPW@[::1/chat")


def test_secrets_sent_are_scrubbed_from_echoes_including_the_basic_header_a_url_becomes():
    secrets = Secrets()
    secrets.add_headers([("Authorization", "Bearer TOKEN123"), ("X-Api-Pass", "HUNTER22"), ("Accept", "*/*")])
    secrets.add_url("http://alice:S3CRETPW@127.0.0.1/chat?token=QTOKEN9")
    secrets.add_body('{"session_id": "{session}", "password": "BODYPW77", "message": "{message}"}')
    basic = base64.b64encode(b"alice:S3CRETPW").decode()
    echo = f"got Bearer TOKEN123 and TOKEN123, HUNTER22, S3CRETPW, Basic {basic}, QTOKEN9, BODYPW77, */*"
    scrubbed = secrets.scrub(echo)
    for secret in ("TOKEN123", "HUNTER22", "S3CRETPW", basic, "QTOKEN9", "BODYPW77"):
        assert secret not in scrubbed
    assert scrubbed.endswith("*/*")  # not a secret, not touched


def test_each_decoding_layer_stops_at_the_cap():
    inflater = zlib.compressobj(9, zlib.DEFLATED, 31)
    inner = b"".join(inflater.compress(b"\0" * (1 << 20)) for _ in range(64)) + inflater.flush()
    decoder = BoundedDecoder("gzip, gzip", 1 << 20)
    with pytest.raises(TooLarge):
        decoder.feed(gzip.compress(inner))
        decoder.finish()


@pytest.mark.parametrize("encoding, encode", [
    ("gzip", gzip.compress), ("x-gzip", gzip.compress), ("deflate", zlib.compress),
    ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
    ("gzip, gzip", lambda data: gzip.compress(gzip.compress(data))), ("identity", lambda data: data),
], ids=["gzip", "x-gzip", "zlib-deflate", "raw-deflate", "stacked", "identity"])
def test_small_bodies_decode_in_any_chunking(encoding, encode):
    body = json.dumps({"reply": "adr-aaaa-bbbb " * 50}).encode()
    data = encode(body)
    decoder = BoundedDecoder(encoding, 1 << 20)
    out = b"".join(decoder.feed(data[index:index + 7]) for index in range(0, len(data), 7)) + decoder.finish()
    assert out == body


def test_an_unknown_encoding_is_refused():
    with pytest.raises(UnsupportedEncoding):
        BoundedDecoder("br", 100)
