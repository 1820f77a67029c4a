"""The ``shards`` setting from every source, and its bad lines (one line each, nothing echoed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from henchman.config import Settings
from henchman.config_loader import load_settings
from henchman.errors import ConfigError


def config_error(tmp_path: Path, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(cwd=tmp_path, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


def write(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_shards_are_read_from_a_pyproject_table(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.henchman.shards]\nreports = "redis://r:6379/1"\n')
    assert load_settings(cwd=tmp_path).shards == {"reports": "redis://r:6379/1"}


def test_shards_are_read_from_a_yaml_mapping(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "shards:\n  reports: redis://r:6379/1\n")
    assert load_settings(cwd=tmp_path).shards == {"reports": "redis://r:6379/1"}


def test_shards_are_read_from_the_environment_as_queue_equals_url_entries(
    tmp_path: Path,
) -> None:
    env = {"HENCHMAN_SHARDS": "reports=redis://r/1; exports=redis+sentinel://s1,s2/svc"}
    assert load_settings(cwd=tmp_path, env=env).shards == {
        "reports": "redis://r/1",
        "exports": "redis+sentinel://s1,s2/svc",
    }


def test_the_star_entry_becomes_the_default_server(tmp_path: Path) -> None:
    settings = Settings(shards={"reports": "redis://r/1", "*": "redis://main/0"})
    assert settings.redis_url == "redis://main/0"
    assert settings.shards == {"reports": "redis://r/1"}


def test_a_star_entry_that_disagrees_with_redis_url_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "shards:\n  '*': redis://a/0\n")
    message = config_error(tmp_path, env={"REDIS_URL": "redis://b/0"})
    assert "'*' entry and redis_url name different servers" in message


def test_a_bad_shard_url_is_one_line_naming_the_queue_without_its_password(
    tmp_path: Path,
) -> None:
    write(tmp_path, "config/henchman.yml", "shards:\n  reports: http://:hunter2@r/1\n")
    message = config_error(tmp_path)
    assert message.startswith(
        "setting 'shards' in config/henchman.yml: the URL of queue 'reports' must start with"
    )
    assert "hunter2" not in message


def test_a_shard_url_with_a_bad_port_is_refused(tmp_path: Path) -> None:
    message = config_error(tmp_path, env={"HENCHMAN_SHARDS": "reports=redis://:pw@r:x/1"})
    assert "the URL of queue 'reports' is not a valid Redis URL" in message
    assert "pw" not in message


def test_a_shard_with_an_invalid_queue_name_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "shards:\n  'big reports': redis://r/1\n")
    assert "invalid queue name 'big reports'" in config_error(tmp_path)


def test_shards_that_are_not_a_mapping_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "shards: [redis://r/1]\n")
    assert "must be a mapping of queue name to Redis URL" in config_error(tmp_path)


def test_an_environment_entry_without_an_equals_sign_is_refused(tmp_path: Path) -> None:
    message = config_error(tmp_path, env={"HENCHMAN_SHARDS": "redis://r/1"})
    assert message == (
        "setting 'shards' in HENCHMAN_SHARDS: expected QUEUE=URL entries separated by ';'"
    )


def test_shards_built_in_python_are_checked_like_file_ones() -> None:
    with pytest.raises(ConfigError, match="the URL of queue 'reports' must start with"):
        Settings(shards={"reports": "mysql://r"})


def test_shard_urls_never_appear_in_a_settings_repr() -> None:
    assert "hunter2" not in repr(Settings(shards={"reports": "redis://:hunter2@r/1"}))


def test_a_bad_shard_url_makes_the_worker_exit_2_with_one_line(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "shards:\n  reports: redis://:hunter2@r:99999/1\n")
    done = subprocess.run(
        [sys.executable, "-m", "henchman", "run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "the URL of queue 'reports'" in lines[0]
    assert "hunter2" not in done.stderr


def test_shards_together_with_cluster_mode_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "shards:\n  reports: redis://r:6379/1\n")
    message = config_error(tmp_path, env={"REDIS_URL": "redis+cluster://h1:7000,h2:7001"})
    assert message.startswith("setting 'shards' is not available in cluster mode")


def test_a_cluster_url_as_a_shard_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "config/henchman.yml", "shards:\n  reports: redis+cluster://:pw@h1:7000\n")
    message = config_error(tmp_path)
    assert "the URL of queue 'reports' is a Redis Cluster URL" in message
    assert "pw" not in message
