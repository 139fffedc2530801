"""The plan: codewords, session ids, messages, bursts and the body template."""

import json
import re

import pytest

from autogen_doctor.exit_codes import UserError
from autogen_doctor.probe.plan import burst_size, check_body_template, make_plan, render_body

SHAPE = re.compile(r"^adr-[a-z0-9]{4}-[a-z0-9]{4}$")


def all_words(plan):
    return [word for words in plan.codewords_by_session.values() for word in words]


def test_codewords_are_unique_and_never_substrings_of_each_other_or_of_session_ids():
    plan = make_plan(50, 8, seed=7)
    words = all_words(plan)
    assert len(words) == len(set(words)) == 400
    assert all(SHAPE.match(word) for word in words)
    sessions = [session.session for session in plan.sessions]
    assert len(set(sessions)) == 50 and all(session.startswith("adr-s") for session in sessions)
    for word in words:
        assert not any(word in other for other in words if other != word)
        assert not any(word in session or session in word for session in sessions)


def test_same_seed_gives_the_same_plan_and_another_seed_a_different_one():
    first, again, other = make_plan(4, 3, seed=11), make_plan(4, 3, seed=11), make_plan(4, 3, seed=12)
    assert first.codewords_by_session == again.codewords_by_session
    assert [s.session for s in first.sessions] == [s.session for s in again.sessions]
    assert set(all_words(first)).isdisjoint(all_words(other))


def test_without_a_seed_a_seed_is_chosen_and_reported():
    plan = make_plan(2, 2)
    assert make_plan(2, 2, seed=plan.seed).codewords_by_session == plan.codewords_by_session


def test_each_message_plants_only_its_own_codeword_and_asks_for_all_of_them():
    plan = make_plan(3, 4, seed=1)
    words = set(all_words(plan))
    for session in plan.sessions:
        for turn in session.turns:
            found = set(re.findall(r"adr-[a-z0-9]{4}-[a-z0-9]{4}", turn.message))
            assert found == {turn.codeword} and found <= words
            assert "list every codeword" in turn.message and "so far" in turn.message


@pytest.mark.parametrize("turns, burst", [(3, 2), (4, 2), (6, 4), (10, 8)])
def test_concurrent_turns_burst_leaves_recall_turns_after_it(turns, burst):
    plan = make_plan(2, turns, seed=3, concurrent_turns=True)
    assert burst_size(turns) == burst
    for session in plan.sessions:
        assert [t.turn for t in session.burst] == list(range(1, burst + 1))
        assert len(session.after_burst) == turns - burst >= 1


def test_concurrent_turns_with_two_turns_is_a_usage_error():
    with pytest.raises(UserError, match="--turns 3"):
        make_plan(2, 2, concurrent_turns=True)


def test_body_values_are_json_escaped():
    body = render_body('{"s": "{session}", "m": "{message}", "t": {turn}}',
                       session='a"b', message='line "one"\nback\\slash', turn=3)
    assert json.loads(body) == {"s": 'a"b', "m": 'line "one"\nback\\slash', "t": 3}


def test_default_and_nested_templates_are_accepted():
    check_body_template('{"session_id": "{session}", "message": "{message}"}')
    check_body_template('{"messages": [{"role": "user", "content": "{message}"}], "user": "{session}", "n": {turn}}')


@pytest.mark.parametrize("template, message", [
    ('{"session_id": "{session}", "message": "{msg}"}', "unknown placeholder {msg}"),
    ('{"session_id": "{session}", "message": "{message}"', "not valid JSON"),
    ('{"message": {message}}', "not valid JSON"),
    ('{"session_id": "{session}"}', "{message} placeholder"),
])
def test_malformed_body_templates_fail_with_one_line(template, message):
    with pytest.raises(UserError) as error:
        check_body_template(template)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_lazy_plan_knows_the_owner_of_every_codeword_without_building_the_rest():
    plan = make_plan(1_000_000, 10_000, seed=3)  # built on demand: costs nothing up front
    late = plan.session(999_999)
    assert late.session.startswith("adr-s1000000-")
    for session in (plan.session(0), plan.session(12_345), late):
        for turn in session.turns[:3] + session.turns[-2:]:
            assert plan.owner(turn.codeword) == session.session
            assert plan.owner(turn.codeword.upper()) == session.session
    assert plan.owner("not-a-codeword") is None and plan.owner("adr-0000-oooo") is None  # letters outside the alphabet
    # A small plan owns its own words and (but for a 1-in-10^9 chance) none of another run's.
    small, other = make_plan(2, 2, seed=3), make_plan(50, 2, seed=4)
    assert {small.owner(word) for words in small.codewords_by_session.values() for word in words} == {
        session.session for session in small.sessions}
    assert all(small.owner(word) is None for words in other.codewords_by_session.values() for word in words)


def test_the_same_seed_with_another_turn_count_reaches_no_session_of_the_earlier_run():
    # Codewords are numbered index*turns + t: a durable service still holding the first run's
    # sessions would otherwise hand this run codewords that map to other sessions (a false leak).
    first = make_plan(6, 4, seed=7)
    second = make_plan(6, 5, seed=7)
    assert not {plan.session for plan in first.sessions} & {plan.session for plan in second.sessions}
    assert [plan.session for plan in make_plan(6, 4, seed=7).sessions] == [plan.session for plan in first.sessions]
