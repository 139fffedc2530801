"""`escape_text`, the one function that makes outside text safe to print."""

from __future__ import annotations

import pytest

from autogen_doctor.textsafe import escape_text, has_unsafe_text


@pytest.mark.parametrize("raw, shown", [
    ("a\nb", "a\\nb"),
    ("a\r\nb", "a\\r\\nb"),
    ("tab\there", "tab\\there"),
    ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
    ("\x1b[2J", "\\x1b[2J"),
    ("nul\x00", "nul\\x00"),
    ("del\x7f", "del\\x7f"),
    ("c1\x9bcsi", "c1\\x9bcsi"),
    ("line\u2028sep\u2029", "line\\u2028sep\\u2029"),
    ("bidi\u202eevil\u2066x\u2069", "bidi\\u202eevil\\u2066x\\u2069"),
    ("\ufeffbom", "\\ufeffbom"),
    ("marks\u200e\u200f", "marks\\u200e\\u200f"),
])
def test_controls_separators_and_bidi_become_visible_escapes(raw, shown):
    assert escape_text(raw) == shown
    assert has_unsafe_text(raw)
    assert not has_unsafe_text(escape_text(raw))


@pytest.mark.parametrize("text", ["plain", "Grüße, 你好, مرحبا", "emoji 🚀", "a\\nb (already escaped)", ""])
def test_printable_text_in_any_script_is_unchanged(text):
    assert escape_text(text) == text
    assert not has_unsafe_text(text)


def test_every_control_character_is_escaped_and_the_result_is_one_line():
    everything = "".join(chr(code) for code in range(0x00, 0xA0))
    escaped = escape_text(everything)
    assert len(escaped.splitlines()) == 1
    assert all(char.isprintable() for char in escaped)


def test_non_strings_are_converted_first():
    assert escape_text(ValueError("bad\nthing")) == "bad\\nthing"
    assert escape_text(42) == "42"
