"""Reply text, backend identity and redaction: pure functions on real byte strings."""

import json

import httpx
import pytest

from autogen_doctor.probe.extract import ExtractError, extract_reply
from autogen_doctor.probe.identity import identify
from autogen_doctor.probe.redact import REDACTED, is_secret_name, redact_body, redact_headers, redact_url
from autogen_doctor.probe.transcript import Backend


def js(value):
    return json.dumps(value).encode()


def test_reply_path_follows_dicts_and_list_indices():
    body = js({"choices": [{"message": {"content": "adr-aaaa-bbbb"}}], "reply": "decoy"})
    assert extract_reply(body, "application/json", "choices.0.message.content").text == "adr-aaaa-bbbb"


def test_missing_reply_path_is_an_error_naming_the_path():
    with pytest.raises(ExtractError, match="'data.text' not found"):
        extract_reply(js({"data": {"answer": "x"}}), "application/json", "data.text")


def test_non_json_reply_with_a_reply_path_is_an_error():
    with pytest.raises(ExtractError, match="not JSON"):
        extract_reply(b"hello there", "text/plain", "reply")


@pytest.mark.parametrize("document, expected", [
    ({"answer": "A", "meta": {"reply": "deeper"}}, "A"),
    ({"message": {"role": "assistant", "content": "nested"}}, "nested"),
    ({"choices": [{"message": {"content": "openai"}}]}, "openai"),
    ({"id": 3, "output": [{"text": "in a list"}]}, "in a list"),
])
def test_common_keys_find_the_reply_text(document, expected):
    assert extract_reply(js(document), "application/json").text == expected


def test_json_without_common_keys_falls_back_to_the_whole_body():
    body = js({"weird": ["adr-aaaa-bbbb"]})
    assert "adr-aaaa-bbbb" in extract_reply(body, "application/json").text


def test_reply_declared_json_that_does_not_parse_is_an_error_not_text():
    for media in ("application/json", "application/json; charset=utf-8", "application/problem+json"):
        with pytest.raises(ExtractError, match="is not valid JSON"):
            extract_reply(b"codewords: adr-aaaa-bbbb {oops", media)
    # Undeclared or plain text stays readable as text.
    assert "adr-aaaa-bbbb" in extract_reply(b"codewords: adr-aaaa-bbbb {oops", "").text


def test_plain_text_reply_is_used_as_is():
    assert extract_reply(b"codewords: adr-aaaa-bbbb", "text/plain").text == "codewords: adr-aaaa-bbbb"


@pytest.mark.parametrize("body", [b"", b"   \n", js({"reply": ""})])
def test_empty_replies_are_errors(body):
    with pytest.raises(ExtractError, match="empty"):
        extract_reply(body, "application/json")


def test_event_stream_tokens_are_joined_so_split_codewords_survive():
    events = [{"choices": [{"delta": {"content": piece}}]} for piece in ("adr-a", "aaa-bb", "bb, adr-cccc-dddd")]
    stream = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    reply = extract_reply(stream.encode(), "text/event-stream; charset=utf-8")
    assert reply.text == "adr-aaaa-bbbb, adr-cccc-dddd"
    assert len(reply.documents) == 3


def test_event_stream_of_plain_text_events():
    stream = b"event: token\ndata: adr-aaaa\n\ndata: -bbbb\n\n"
    assert extract_reply(stream, "text/event-stream").text == "adr-aaaa-bbbb"


def test_identity_from_common_headers_and_flags():
    headers = httpx.Headers({"X-Worker-Pid": "41", "X-Pod-Name": "web-7d9", "X-Node": "n1"})
    assert identify(headers, []) == (Backend(pod="web-7d9", pid="41"), "header X-Worker-Pid, header X-Pod-Name")
    backend, _ = identify(headers, [], pid_header="X-Node")
    assert backend == Backend(pod="web-7d9", pid="n1")


def test_identity_flag_never_falls_back_to_a_common_header():
    headers = httpx.Headers({"X-Pid": "41"})
    assert identify(headers, [], pid_header="X-Misspelt") == (Backend(), None)


def test_identity_from_json_paths():
    document = {"reply": "x", "served_by": {"pid": 1, "pod": "pod-b"}}
    backend, source = identify(httpx.Headers(), [document], pid_path="served_by.pid", pod_path="served_by.pod")
    assert backend == Backend(pod="pod-b", pid="1") and source == "json served_by.pid, json served_by.pod"


def test_no_identity_gives_an_unknown_backend():
    backend, source = identify(httpx.Headers({"Server": "uvicorn"}), [{"reply": "x"}])
    assert not backend.known and source is None


@pytest.mark.parametrize("name", ["Authorization", "Cookie", "set-cookie", "X-Api-Key", "X-Auth-Token",
                                  "client_secret", "Password", "Proxy-Authorization"])
def test_secret_header_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["Content-Type", "X-Backend-Pid", "Accept", "Keep-Alive", "X-Session-Id"])
def test_plain_header_names_are_kept(name):
    assert not is_secret_name(name)


def test_redaction_of_headers_url_and_body():
    headers = redact_headers([("Authorization", "Bearer sk-live-123"), ("X-Trace", "t1"),
                              ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
    assert headers == {"Authorization": REDACTED, "X-Trace": "t1", "Set-Cookie": f"{REDACTED}, {REDACTED}"}
    url = redact_url("https://user:pw@api.example.com/chat?api_key=sk-1&lang=en")
    assert "pw" not in url and "sk-1" not in url and "lang=en" in url and "api.example.com" in url
    body = json.loads(redact_body('{"message": "hi", "auth": {"token": "sk-9"}, "api_key": "sk-2"}'))
    assert body == {"message": "hi", "auth": {"token": REDACTED}, "api_key": REDACTED}


def test_an_html_page_is_not_taken_for_a_chat_reply():
    with pytest.raises(ExtractError, match="web page"):
        extract_reply(b"<html><body>Welcome</body></html>", "text/html; charset=utf-8")
