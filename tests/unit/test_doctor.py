"""The pure decisions behind ``henchman doctor`` and URL masking: no Redis needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from henchman.cli.doctor_cmd import (
    Check,
    configured_redis_url,
    exit_code,
    judge_clock_skew,
    judge_eviction_policy,
    judge_persistence,
    judge_version,
)
from henchman.redis.embedded import MAX_SOCKET_PATH_BYTES, socket_path_for
from henchman.urls import mask_url


@pytest.mark.parametrize(
    ("version", "level"),
    [
        ("5.0.14", "FAIL"),
        ("6.0.20", "FAIL"),
        ("6.2.14", "WARN"),
        ("7.0.0", "OK"),
        ("7.2.4", "OK"),
        ("8.0.2", "OK"),
        ("255.255.255", "OK"),
        ("unknown", "WARN"),
    ],
)
def test_judge_version_levels(version: str, level: str) -> None:
    assert judge_version(version)[0] == level


def test_judge_version_message_names_the_version() -> None:
    assert "6.0.9" in judge_version("6.0.9")[1]


def test_only_noeviction_policy_is_ok() -> None:
    assert judge_eviction_policy("noeviction")[0] == "OK"
    assert judge_eviction_policy("allkeys-lru")[0] == "WARN"
    assert judge_eviction_policy("volatile-lru")[0] == "WARN"


@pytest.mark.parametrize(
    ("aof", "save", "level"),
    [
        (True, "", "OK"),
        (True, None, "OK"),
        (False, "3600 1 300 100", "OK"),
        (False, "", "WARN"),
        (False, None, "WARN"),
    ],
)
def test_judge_persistence(aof: bool, save: str | None, level: str) -> None:
    assert judge_persistence(aof, save)[0] == level


@pytest.mark.parametrize(
    ("skew", "level"), [(0.0, "OK"), (0.999, "OK"), (-1.0, "OK"), (1.5, "WARN"), (-30.0, "WARN")]
)
def test_judge_clock_skew(skew: float, level: str) -> None:
    assert judge_clock_skew(skew)[0] == level


def test_clock_skew_message_says_which_clock_is_behind() -> None:
    assert "behind" in judge_clock_skew(2.0)[1]
    assert "ahead" in judge_clock_skew(-2.0)[1]


def test_exit_code_is_1_only_with_a_failure() -> None:
    ok, warn, fail = Check("OK", "a", ""), Check("WARN", "b", ""), Check("FAIL", "c", "")

    assert exit_code([ok, warn]) == 0
    assert exit_code([ok, fail, warn]) == 1
    assert exit_code([]) == 0


def test_check_format_is_one_aligned_line() -> None:
    assert Check("OK", "clock", "fine").format() == "OK   clock        fine"


def test_henchman_redis_url_wins_over_redis_url() -> None:
    env = {"HENCHMAN_REDIS_URL": "redis://a", "REDIS_URL": "redis://b"}

    assert configured_redis_url(env) == "redis://a"
    assert configured_redis_url({"REDIS_URL": "redis://b"}) == "redis://b"
    assert configured_redis_url({"HENCHMAN_REDIS_URL": "", "REDIS_URL": ""}) is None


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://user:secret@host:6379/0", "redis://user:***@host:6379/0"),
        ("redis://:secret@host", "redis://:***@host"),
        ("rediss://u:p@ss@host", "rediss://u:***@host"),
        ("unix://:secret@/tmp/r.sock?db=2", "unix://:***@/tmp/r.sock?db=2"),
        ("redis://host?password=secret&db=1", "redis://host?password=***&db=1"),
        ("redis://user@host", "redis://user@host"),
        ("unix:///tmp/r.sock", "unix:///tmp/r.sock"),
        ("redis://host:6379", "redis://host:6379"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_socket_path_is_inside_a_short_home() -> None:
    assert socket_path_for(Path("/srv/app/.henchman")) == Path("/srv/app/.henchman/valkey.sock")


def test_socket_path_for_a_long_home_is_short_and_stable() -> None:
    home = Path("/") / ("x" * 120)

    path = socket_path_for(home)

    assert len(str(path)) <= MAX_SOCKET_PATH_BYTES
    assert path == socket_path_for(home)
    assert path != socket_path_for(home / "other")
