"""Sentinel and cluster URLs in configuration: accepted, parsed, masked, or refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from henchman.config import Settings
from henchman.config_loader import load_settings
from henchman.errors import ConfigError
from henchman.sentinel_url import SentinelTarget, parse_sentinel_url
from henchman.urls import mask_url


def config_error(tmp_path: Path, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(cwd=tmp_path, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_sentinel_url_is_accepted_from_the_environment(tmp_path: Path) -> None:
    url = "redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2:26380/mymaster/2"
    assert load_settings(cwd=tmp_path, env={"REDIS_URL": url}).redis_url == url


def test_a_sentinel_url_is_parsed_into_sentinels_service_db_and_credentials() -> None:
    target = parse_sentinel_url(
        "rediss+sentinel://app:s%40cret@h1:26379,h2/orders/4?sentinel_password=x"
    )
    assert target == SentinelTarget(
        sentinels=(("h1", 26379), ("h2", 26379)),
        service="orders",
        db=4,
        username="app",
        password="s@cret",
        sentinel_password="x",
        ssl=True,
    )


def test_a_sentinel_url_without_a_service_name_is_refused(tmp_path: Path) -> None:
    message = config_error(tmp_path, env={"REDIS_URL": "redis+sentinel://:hunter2@h1:26379"})
    assert "must end with /service_name" in message
    assert "hunter2" not in message


def test_a_sentinel_url_with_an_unknown_option_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown option socket_timeout"):
        Settings(redis_url="redis+sentinel://h1:26379/svc?socket_timeout=3")


def test_a_sentinel_url_with_a_bad_port_is_refused() -> None:
    with pytest.raises(ConfigError, match="'h1:x' is not host:port"):
        Settings(redis_url="redis+sentinel://h1:x/svc")


def test_passwords_of_a_sentinel_url_are_masked() -> None:
    url = "redis+sentinel://:pw@h1:1,h2:2/svc/3?sentinel_password=zz"
    assert mask_url(url) == "redis+sentinel://:***@h1:1,h2:2/svc/3?sentinel_password=***"


def test_a_cluster_url_turns_cluster_mode_on(tmp_path: Path) -> None:
    url = "redis+cluster://:hunter2@h1:7000,h2:7001"
    settings = load_settings(cwd=tmp_path, env={"REDIS_URL": url})
    assert settings.redis_url == url
    assert settings.cluster is True


def test_the_cluster_setting_is_read_from_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "henchman.yml").write_text("cluster: true\nredis_url: redis://h1:7000\n")
    assert load_settings(cwd=tmp_path).cluster is True


def test_the_cluster_environment_variable_turns_cluster_mode_on(tmp_path: Path) -> None:
    env = {"HENCHMAN_CLUSTER": "true", "REDIS_URL": "redis://h1:7000"}
    assert load_settings(cwd=tmp_path, env=env).cluster is True


def test_sentinel_and_cluster_urls_read_their_hosts_the_same_way() -> None:
    from henchman.cluster_url import parse_cluster_url

    sentinel = parse_sentinel_url("redis+sentinel://u:p%40ss@[::1]:26380,h2,::2/mymaster")
    assert sentinel.sentinels == (("::1", 26380), ("h2", 26379), ("::2", 26379))
    assert (sentinel.username, sentinel.password) == ("u", "p@ss")
    cluster = parse_cluster_url("redis+cluster://u:p%40ss@[::1]:7000,h2,::2")
    assert cluster.nodes == (("::1", 7000), ("h2", 6379), ("::2", 6379))
    assert (cluster.username, cluster.password) == ("u", "p@ss")
