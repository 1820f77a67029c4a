"""Cluster mode in configuration: the setting, the URL, and one-line refusals of what fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from henchman.cluster_url import ClusterTarget, is_cluster_url, parse_cluster_url
from henchman.config import Settings
from henchman.config_loader import load_settings
from henchman.errors import ConfigError
from henchman.urls import mask_url


def config_error(tmp_path: Path, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(cwd=tmp_path, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


def test_cluster_mode_is_off_by_default() -> None:
    assert Settings().cluster is False
    assert Settings(redis_url="redis://h1:6379").cluster is False


def test_a_cluster_url_is_parsed_into_seed_nodes_and_credentials() -> None:
    target = parse_cluster_url("rediss+cluster://app:s%40cret@h1:7000,h2,[::1]:7002")
    assert target == ClusterTarget(
        nodes=(("h1", 7000), ("h2", 6379), ("::1", 7002)),
        username="app",
        password="s@cret",
        ssl=True,
    )


def test_a_plain_redis_url_names_one_seed_node_when_cluster_is_set() -> None:
    assert parse_cluster_url("redis://:pw@h1:7000").nodes == (("h1", 7000),)
    assert Settings(cluster=True, redis_url="redis://h1:7000").cluster is True


def test_only_the_cluster_schemes_are_cluster_urls() -> None:
    assert is_cluster_url("REDIS+CLUSTER://h:1")
    assert is_cluster_url("rediss+cluster://h:1")
    assert not is_cluster_url("redis://h:1")
    assert not is_cluster_url("redis+sentinel://h:1/svc")


def test_a_database_number_in_a_cluster_url_is_refused(tmp_path: Path) -> None:
    message = config_error(tmp_path, env={"REDIS_URL": "redis+cluster://:hunter2@h1:7000/3"})
    assert message == (
        "setting 'redis_url' in REDIS_URL: cluster URL: Redis Cluster has only database 0, "
        "got '/3' (remove it from the URL)"
    )


def test_database_zero_in_a_cluster_url_is_accepted() -> None:
    assert Settings(redis_url="redis+cluster://h1:7000/0").cluster is True


def test_a_database_in_the_seed_url_of_cluster_mode_is_refused(tmp_path: Path) -> None:
    env = {"HENCHMAN_CLUSTER": "yes", "REDIS_URL": "redis://:hunter2@h1:7000/2"}
    message = config_error(tmp_path, env=env)
    assert message.startswith("setting 'cluster' is true but redis_url does not fit")
    assert "only database 0" in message
    assert "hunter2" not in message


def test_a_cluster_url_with_a_bad_node_is_refused_without_its_password(tmp_path: Path) -> None:
    message = config_error(tmp_path, env={"REDIS_URL": "redis+cluster://:hunter2@h1:7000,h2:x"})
    assert message == "setting 'redis_url' in REDIS_URL: cluster URL: 'h2:x' is not host:port"


def test_a_cluster_url_with_a_query_option_is_refused() -> None:
    with pytest.raises(ConfigError, match="query options are not supported"):
        Settings(redis_url="redis+cluster://h1:7000?socket_timeout=3")


def test_cluster_mode_without_a_url_is_refused_because_the_embedded_server_is_no_cluster(
    tmp_path: Path,
) -> None:
    message = config_error(tmp_path, env={"HENCHMAN_CLUSTER": "1"})
    assert message.startswith("setting 'cluster' is true but no redis_url names a cluster node")
    assert "embedded server is not a cluster" in message


def test_cluster_mode_with_a_sentinel_url_is_refused() -> None:
    with pytest.raises(ConfigError, match="redis_url is a Sentinel URL: use one or the other"):
        Settings(cluster=True, redis_url="redis+sentinel://h1:26379/svc")


def test_cluster_mode_with_a_unix_socket_is_refused() -> None:
    with pytest.raises(ConfigError, match="needs TCP nodes"):
        Settings(cluster=True, redis_url="unix:///tmp/valkey.sock")


def test_a_bad_cluster_environment_value_is_refused(tmp_path: Path) -> None:
    message = config_error(tmp_path, env={"HENCHMAN_CLUSTER": "maybe"})
    assert message == "setting 'cluster' in HENCHMAN_CLUSTER must be true or false, got 'maybe'"


def test_passwords_of_a_cluster_url_are_masked() -> None:
    assert mask_url("redis+cluster://app:pw@h1:1,h2:2") == "redis+cluster://app:***@h1:1,h2:2"


def test_waiting_for_replicas_after_pushes_is_refused_in_cluster_mode(tmp_path: Path) -> None:
    env = {"REDIS_URL": "redis+cluster://h1:7000", "HENCHMAN_PUSH_WAIT_REPLICAS": "1"}
    message = config_error(tmp_path, env=env)
    assert message.startswith(
        "setting 'push_wait_replicas' is not available in cluster mode: WAIT covers"
    )
