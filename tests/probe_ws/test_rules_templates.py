"""Rules, templates, presets and URL checks: pure functions, no server."""

import json
import uuid

import pytest

from autogen_doctor.exit_codes import UserError
from autogen_doctor.probe.ws.command import check_ws_url
from autogen_doctor.probe.ws.options import WsFlags, build_ws_options, parse_connection
from autogen_doctor.probe.ws.presets import PRESETS
from autogen_doctor.probe.ws.rules import parse_rule
from autogen_doctor.probe.ws.templates import Template, Values, load_template, render_url


def matches(rule, frame):
    document = json.loads(frame) if frame.startswith(("{", "[")) else None
    return parse_rule(rule, "--ws-until").matches(frame, document)


@pytest.mark.parametrize("rule,frame,expected", [
    ("type=UserInputRequestedEvent", '{"type":"UserInputRequestedEvent"}', True),
    ("type=UserInputRequestedEvent", '{"type":"TextMessage"}', False),
    ("type=completion,status=error", '{"type":"completion","status":"error"}', True),
    ("type=completion,status=error", '{"type":"completion","status":"cancelled"}', False),
    ("data.source=llm_call_event", '{"data":{"source":"llm_call_event"}}', True),
    ("data.isError=true", '{"data":{"isError":true}}', True),
    ("data.isError=true", '{"data":{"isError":"true"}}', True),
    ("data.models_usage", '{"data":{"models_usage":{"tokens":1}}}', True),
    ("data.models_usage", '{"data":{"models_usage":null}}', False),
    ("type!=error", '{"type":"message"}', True),
    ("type!=error", '{"type":"error"}', False),
    ("items.0.kind=a", '{"items":[{"kind":"a"}]}', True),
    ("text~Press enter to skip", "Replying as user. Press enter to skip and use auto-reply", True),
    ("text~Press enter to skip", "user_proxy (to assistant):", False),
    ("content~a\\,b", '{"content":"x a,b y"}', True),
    ("type=x", "plain text, not JSON", False),
])
def test_rule_matching(rule, frame, expected):
    assert matches(rule, frame) is expected


@pytest.mark.parametrize("rule", ["", "=x", "a b=c", "content~(unclosed"])
def test_bad_rules_are_one_line_usage_errors(rule):
    with pytest.raises(UserError) as raised:
        parse_rule(rule, "--ws-until")
    assert "--ws-until" in str(raised.value) and "\n" not in str(raised.value)


def test_close_is_only_a_turn_end():
    assert parse_rule("close", "--ws-final", allow_close=True).is_close
    with pytest.raises(UserError):
        parse_rule("close", "--ws-error")


def test_json_templates_escape_values_and_leave_unknown_braces_alone():
    template = load_template('{"task": "{message}", "team": {"prompt": "{roles} {history}"}, "t": {turn}}',
                             "--ws-start", text=False)
    frame = json.loads(template.render(Values(session="s", message='say "hi"\n', turn=3)))
    assert frame == {"task": 'say "hi"\n', "team": {"prompt": "{roles} {history}"}, "t": 3}


def test_text_templates_insert_verbatim_and_uuid_is_fresh_per_occurrence():
    frame = Template("{message} {uuid} {uuid} {now}", text=True).render(Values(session="s", message='a "b"'))
    message_a, message_b, first, second, now = frame.split(" ")[0:2] + frame.split(" ")[2:]
    assert f"{message_a} {message_b}" == 'a "b"'
    assert first != second and uuid.UUID(first).version == 4 and now.endswith("Z")


def test_setup_team_is_inserted_as_json():
    template = load_template(PRESETS["studio"]["start"], "--ws-start", text=False)
    frame = template.render(Values(session="s", message="hi", setup={"team": '{"provider": "x"}'}))
    assert json.loads(frame)["team_config"] == {"provider": "x"}


def test_url_placeholders_are_percent_encoded():
    url = render_url("ws://h/ws/{session}?id={session}", Values(session="a b/c"))
    assert url == "ws://h/ws/a%20b%2Fc?id=a%20b%2Fc"


def test_invalid_json_template_is_a_usage_error():
    with pytest.raises(UserError) as raised:
        load_template('{"content": {message}}', "--body", text=False)
    assert "not valid JSON once its placeholders are filled" in str(raised.value)


def test_preset_fills_only_what_was_not_given():
    options = build_ws_options(WsFlags(preset="agentchat-team", until=["type=Done"]), body=None, reply_path=None)
    assert [rule.source for rule in options.until] == ["type=Done"]
    assert [rule.source for rule in options.reply_skip] == ["source=user"]
    assert options.reply_path == "content"
    assert json.loads(options.body.render(Values(session="s", message="m"))) == {"content": "m", "source": "user"}


def test_every_preset_builds():
    for name in PRESETS:
        options = build_ws_options(WsFlags(preset=name), body=None, reply_path=None)
        assert "message" in options.body.names, name


@pytest.mark.parametrize("flags,fragment", [
    (WsFlags(preset="nope"), "--preset must be one of"),
    (WsFlags(connection="zero"), "--ws-connection must be turn, session"),
    (WsFlags(framing="sse"), "--ws-framing must be raw or socketio"),
    (WsFlags(auth="{}"), "--ws-auth is the Socket.IO CONNECT payload"),
    (WsFlags(framing="socketio", body_text="{message}"), "must be a JSON array"),
    (WsFlags(idle=-1), "--ws-idle must be a positive"),
    (WsFlags(body_text="no placeholder"), "{message}"),
])
def test_bad_flags_are_usage_errors(flags, fragment):
    with pytest.raises(UserError) as raised:
        build_ws_options(flags, body=None, reply_path=None)
    assert fragment in str(raised.value)


def test_connection_modes():
    assert parse_connection("turn") == (1, "turn")
    assert parse_connection("session") == (None, "session")
    assert parse_connection("3") == (3, "3")


def test_a_url_without_path_takes_the_preset_path():
    assert check_ws_url("ws://127.0.0.1:8000", "agentchat-team") == "ws://127.0.0.1:8000/ws/chat"
    assert check_ws_url("ws://127.0.0.1:8000/custom", "agentchat-team") == "ws://127.0.0.1:8000/custom"
    with pytest.raises(UserError):
        check_ws_url("ws://:80/x", None)
