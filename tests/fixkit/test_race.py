"""Two real OS processes race turns on one session: the naive store loses updates, the kit's none."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import redis

pytestmark = pytest.mark.services

WORKER = Path(__file__).with_name("race_worker.py")
TURNS = 4
CODEWORD = re.compile(r"adr-[ab]\d{3}-race")


def race(kind: str, redis_url: str, prefix: str) -> None:
    """Start both racers at once and wait for both (bounded)."""
    racers = [
        subprocess.Popen([sys.executable, str(WORKER), kind, redis_url, prefix, "session", name, str(TURNS)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for name in ("a", "b")
    ]
    try:
        for racer in racers:
            output, _ = racer.communicate(timeout=90)
            assert racer.returncode == 0, output
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.wait()


def all_codewords() -> set[str]:
    return {f"adr-{name}{index:03d}-race" for name in "ab" for index in range(TURNS)}


def test_plain_get_set_store_loses_updates_when_two_processes_race(redis_url, key_prefix):
    race("plain", redis_url, key_prefix)
    final_state = redis.Redis.from_url(redis_url).get(key_prefix + "session").decode()
    remembered = set(CODEWORD.findall(final_state))
    assert remembered < all_codewords()  # some turn's update was overwritten by the other process


def test_kit_store_loses_no_update_when_two_processes_race(redis_url, key_prefix):
    race("kit", redis_url, key_prefix)
    record = redis.Redis.from_url(redis_url).hgetall(key_prefix + "session")  # the store's documented key
    remembered = set(CODEWORD.findall(record[b"state"].decode()))
    assert remembered == all_codewords()
    assert int(record[b"version"]) == 2 * TURNS  # one saved version per turn: no save was lost
