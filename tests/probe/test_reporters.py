"""Reporters render verdicts and transcripts to strings: text (with and without colour), JSON,
JUnit XML, Markdown and a self-contained HTML file that escapes what the server sent."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from test_analysis_builders import round_robin, simulate

from autogen_doctor.exit_codes import UserError
from autogen_doctor.probe.analysis import analyse
from autogen_doctor.probe.reporters import FORMATS, render
from autogen_doctor.probe.reporters.session_map import build_map, tag_for
from autogen_doctor.probe.transcript import Backend

A, B, C = "pod-a/17", "pod-b/41", "pod-c/9"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def process_local_run():
    """Three workers with an in-process dict; session 1 has an error and session 2 a foreign word."""
    transcript = simulate(round_robin(4, 4, [A, B, C]), "process", errors=frozenset({(1, 2)}),
                          leak_into=frozenset({(2, 3)}))
    return analyse(transcript), transcript


def map_row(text: str, session: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.strip().startswith(session))
    return line.split()[1:]


# --- session map -----------------------------------------------------------------------------

def test_map_tags_backends_by_first_appearance_and_marks_each_turn():
    verdict, transcript = process_local_run()
    session_map = build_map(transcript)
    assert [entry.tag for entry in session_map.legend] == ["A", "B", "C"]
    assert [entry.label for entry in session_map.legend] == ["pod-a/pid 17", "pod-b/pid 41", "pod-c/pid 9"]
    row0 = [cell.text for cell in session_map.rows[0].cells]
    assert row0 == ["A·", "B✗1", "C✗2", "A✗2"]  # turn 4 back on A still lost B's and C's words
    row1 = [cell.text for cell in session_map.rows[1].cells]
    assert row1[1] == "E"
    assert session_map.rows[2].cells[2].text.endswith("!")


def test_tags_go_past_z():
    assert [tag_for(i) for i in (0, 25, 26, 27, 51, 52)] == ["A", "Z", "AA", "AB", "AZ", "BA"]


def test_map_of_a_shared_store_shows_every_turn_recalled():
    transcript = simulate(round_robin(2, 3, [A, B]), "shared")
    cells = [cell.text for row in build_map(transcript).rows for cell in row.cells]
    assert cells == ["A·", "B✓", "A✓", "B·", "A✓", "B✓"]


def test_unknown_backend_gets_a_question_mark_and_a_legend_line():
    transcript = simulate(round_robin(2, 3, [A, B]), "shared", hide_identity=True)
    session_map = build_map(transcript)
    assert all(cell.tag == "?" for row in session_map.rows for cell in row.cells)
    assert session_map.legend[-1].tag == "?"


# --- text ------------------------------------------------------------------------------------

def test_text_without_colour_is_plain_and_readable():
    verdict, transcript = process_local_run()
    text = render(verdict, transcript, "text", color=False)
    assert not ANSI.search(text)
    assert "verdict: STATE-LOSS" in text and "cause: cross-session-leak" in text
    assert verdict.cause_report("process-local-state").evidence[0] in text
    assert map_row(text, "adr-s0-test") == ["A·", "B✗1", "C✗2", "A✗2"]
    assert map_row(text, "adr-s1-test")[1] == "E"
    assert "A  pod-a/pid 17" in text and "C  pod-c/pid 9" in text
    assert "recall: " in text and "same backend 4/4" in text


def test_text_with_colour_paints_cells_by_backend():
    verdict, transcript = process_local_run()
    text = render(verdict, transcript, "text", color=True)
    assert ANSI.search(text)
    plain = ANSI.sub("", text)
    assert map_row(plain, "adr-s0-test") == ["A·", "B✗1", "C✗2", "A✗2"]
    # Each backend keeps one colour: the codes before every "A" cell are the same.
    codes_before_a = set(re.findall(r"(\x1b\[[0-9;]*m) A[·✓✗]", text))
    codes_before_b = set(re.findall(r"(\x1b\[[0-9;]*m) B[·✓✗]", text))
    assert len(codes_before_a) >= 1 and codes_before_a.isdisjoint(codes_before_b)


def test_text_of_an_inconclusive_run_gives_the_reason():
    transcript = simulate(round_robin(3, 3, ["5"]), "shared")
    text = render(analyse(transcript), transcript, "text")
    assert "verdict: INCONCLUSIVE" in text and "only one backend" in text


def test_text_shows_linked_findings_when_present():
    verdict, transcript = process_local_run()
    verdict.linked_findings = [{"cause": "process-local-state", "code": "AD101", "path": "app.py", "line": 12,
                                "message": "module-level dict written on a request path"}]
    text = render(verdict, transcript, "text")
    assert "[process-local-state] AD101 app.py:12: module-level dict written on a request path" in text


# --- json ------------------------------------------------------------------------------------

def test_json_is_the_verdict_object():
    verdict, transcript = process_local_run()
    data = json.loads(render(verdict, transcript, "json"))
    assert data == json.loads(json.dumps(verdict.to_json()))
    assert data["verdict"] == "state-loss" and data["cause"] == "cross-session-leak"
    assert [c["cause"] for c in data["causes"]] == ["cross-session-leak", "process-local-state"]
    assert data["errors"] == 1


# --- junit -----------------------------------------------------------------------------------

def test_junit_has_a_case_per_session_and_one_for_the_verdict():
    verdict, transcript = process_local_run()
    root = ET.fromstring(render(verdict, transcript, "junit"))
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert [case.get("name") for case in cases] == [f"adr-s{i}-test" for i in range(4)] + ["verdict"]
    failed = [case.get("name") for case in cases if case.find("failure") is not None]
    assert failed == [f"adr-s{i}-test" for i in range(4)] + ["verdict"]
    assert int(suite.get("failures")) == 5 and int(suite.get("tests")) == 5
    assert "forgot" in cases[0].find("failure").text


def test_junit_of_a_passing_run_has_no_failure_and_inconclusive_is_skipped():
    transcript = simulate(round_robin(3, 3, [A, B]), "shared")
    root = ET.fromstring(render(analyse(transcript), transcript, "junit"))
    assert root.find("testsuite").get("failures") == "0"
    assert not list(root.iter("failure"))
    transcript = simulate(round_robin(3, 3, ["1"]), "shared")
    root = ET.fromstring(render(analyse(transcript), transcript, "junit"))
    skipped = list(root.iter("skipped"))
    assert len(skipped) == 1 and "only one backend" in skipped[0].get("message")


def test_junit_stays_valid_xml_with_control_characters_from_the_server():
    transcript = simulate(round_robin(3, 3, [A, B]), "process")
    for record in transcript.records:
        record.backend = Backend(pod="pod\x01<&>\"", pid=record.backend.pid)
    verdict = analyse(transcript)
    ET.fromstring(render(verdict, transcript, "junit"))  # raises on invalid XML


# --- markdown --------------------------------------------------------------------------------

def test_markdown_has_verdict_causes_and_map_table():
    verdict, transcript = process_local_run()
    text = render(verdict, transcript, "markdown")
    assert text.startswith("### ❌ autogen-doctor probe: state-loss (cross-session-leak)")
    assert "| session | 1 | 2 | 3 | 4 |" in text
    assert "| **adr-s0-test** | A· | B✗1 | C✗2 | A✗2 |" in text
    assert "**A** = pod-a/pid 17" in text


def test_markdown_escapes_table_breaking_and_html_text_from_the_server():
    transcript = simulate(round_robin(2, 3, [A, B]), "process")
    for record in transcript.records:
        record.backend = Backend(pod="evil|<img src=x>", pid=record.backend.pid)
    text = render(analyse(transcript), transcript, "markdown")
    assert "<img" not in text
    assert "evil\\|&lt;img src=x&gt;" in text



def test_markdown_shows_terminal_escapes_from_the_server_instead_of_passing_them_on():
    transcript = simulate(round_robin(2, 3, [A, B]), "process")
    for record in transcript.records:
        record.backend = Backend(pod="pod\x1b[2J\x00x", pid=record.backend.pid)
    text = render(analyse(transcript), transcript, "markdown")
    assert "\x1b" not in text and "\x00" not in text
    assert "pod\\x1b\\[2J\\x00x" in text  # visible, with the bracket escaped as Markdown

# --- html ------------------------------------------------------------------------------------

MALICIOUS = '</pre><script>alert("x")</script><img src=x onerror=alert(1)><a href="http://evil.test/">'


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_html_escapes_reply_text_labels_and_errors_from_an_untrusted_server():
    transcript = simulate(round_robin(2, 3, [A, B]), "process", errors=frozenset({(1, 3)}))
    for record in transcript.records:
        record.reply_text = MALICIOUS
        record.backend = Backend(pod='pod"><script>x</script>', pid=record.backend.pid)
        if not record.ok:
            record.error = "<b>boom</b>"
    html = render(analyse(transcript), transcript, "html")
    parser = _TagCollector()
    parser.feed(html)
    tags = {tag for tag, _ in parser.tags}
    assert "script" not in tags and "img" not in tags and "a" not in tags and "b" not in tags
    assert not any(name.startswith("on") for _, attrs in parser.tags for name in attrs)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_html_is_self_contained():
    verdict, transcript = process_local_run()
    html = render(verdict, transcript, "html")
    parser = _TagCollector()
    parser.feed(html)
    tags = [tag for tag, _ in parser.tags]
    assert tags[0] == "html" and "style" in tags
    assert not {"script", "link", "img", "iframe", "object"} & set(tags)
    assert not any(key in ("src", "href") for _, attrs in parser.tags for key in attrs)
    assert "url(" not in html and "@import" not in html
    assert "default-src 'none'" in html


def test_html_shows_the_same_map_and_evidence():
    verdict, transcript = process_local_run()
    html = render(verdict, transcript, "html")
    for report in verdict.causes:
        for line in report.evidence:
            assert line.replace('"', "&quot;").replace("'", "&#x27;") in html
    cells = re.findall(r'<td class="cell ([^"]*)" title="[^"]*">([^<]*)</td>', html)
    first_row = [text for _, text in cells[:4]]
    assert first_row == ["A·", "B✗1", "C✗2", "A✗2"]
    colour = [classes.split()[0] for classes, _ in cells[:4]]
    assert colour[0] == colour[3] == "b0"  # turn 1 and turn 4 share backend A's colour class
    assert colour[1] == "b1" and colour[2] == "b2"
    assert "lost" in cells[1][0].split() and "lost" not in cells[0][0].split()


# --- dispatch --------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_a_replay_without_turns(fmt):
    from autogen_doctor.probe.transcript import Transcript

    transcript = Transcript(url="http://x", sessions=0, turns=0)
    assert render(analyse(transcript), transcript, fmt)


def test_unknown_format_is_a_user_error():
    verdict, transcript = process_local_run()
    with pytest.raises(UserError):
        render(verdict, transcript, "yaml")


def test_every_format_says_what_to_do_about_the_cause():
    verdict, transcript = process_local_run()
    fix = verdict.cause_report("process-local-state").fix
    assert "shared store" in fix
    for fmt in ("text", "markdown", "html"):
        assert "keep conversation state in a shared store" in render(verdict, transcript, fmt)
    assert json.loads(render(verdict, transcript, "json"))["causes"][1]["fix"] == fix


def test_text_never_passes_terminal_escapes_from_the_server_through():
    transcript = simulate(round_robin(2, 3, [A, B]), "process")
    for record in transcript.records:
        record.backend = Backend(pod="[red]x[/red]\x1b]0;owned\x07\x1b[2J", pid=record.backend.pid)
    verdict = analyse(transcript)
    for color in (False, True):
        text = render(verdict, transcript, "text", color=color)
        assert "\x1b]0;" not in text and "\x1b[2J" not in text and "\x07" not in text
        assert "[red]x[/red]\\x1b]0;owned" in text  # shown, not obeyed, and not taken as markup
