"""Cluster mode at startup, through the real CLI: what cannot work is one line and exit 2."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from henchman.config import Settings
from henchman.errors import ConfigError
from henchman.redis.connection import Connector
from henchman.server import startup
from tests.conftest import ClusterDB
from tests.support.cluster import ClusterTopology
from tests.support.worker_process import fast_env, henchman_bin


def run_cli(directory: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [henchman_bin(), *args],
        cwd=directory,
        env=env,
        capture_output=True,
        check=False,
        timeout=60,
    )


def one_error_line(done: subprocess.CompletedProcess[bytes]) -> str:
    assert done.returncode == 2, (done.stdout + done.stderr).decode()[-2000:]
    err = done.stderr.decode().strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_a_cluster_url_pointing_at_a_single_server_is_one_line_and_exit_2(
    cluster_topology: ClusterTopology, tmp_path: Path
) -> None:
    single = cluster_topology.standalone(f"single-{tmp_path.name}")
    try:
        env = fast_env(f"redis+cluster://:s3cret@127.0.0.1:{single.port}")
        err = one_error_line(run_cli(tmp_path, env, "stats"))
    finally:
        single.kill()
    assert f"127.0.0.1:{single.port} is not a Redis Cluster node" in err
    assert "use a redis:// URL and cluster = false" in err
    assert "s3cret" not in err


def test_a_worker_on_a_cluster_holding_sidekiq_layout_keys_exits_2_saying_how_to_migrate(
    cluster: ClusterDB, tmp_path: Path
) -> None:
    client = cluster.topology.client()
    try:
        client.lpush("queue:default", '{"jid":"abc"}')
        client.sadd("queues", "default")
    finally:
        client.close()
    (tmp_path / "cluster_jobs.py").write_text(
        "import henchman\n\n@henchman.job\ndef noop():\n    pass\n"
    )
    err = one_error_line(run_cli(tmp_path, fast_env(cluster.url), "run", "-r", "cluster_jobs"))
    assert "holds keys of the Sidekiq layout (queue:default, queues)" in err
    assert "drain them first with workers in the default mode (cluster = false)" in err
    assert "point redis_url at an empty cluster" in err


def test_an_admin_command_on_a_cluster_holding_sidekiq_layout_keys_exits_2(
    cluster: ClusterDB, tmp_path: Path
) -> None:
    client = cluster.topology.client()
    try:
        client.zadd("retry", {"{}": 1.0})
    finally:
        client.close()
    err = one_error_line(run_cli(tmp_path, fast_env(cluster.url), "stats"))
    assert "holds keys of the Sidekiq layout (retry)" in err


def test_a_plain_url_pointing_at_a_cluster_node_without_cluster_mode_exits_2(
    cluster: ClusterDB, tmp_path: Path
) -> None:
    port = cluster.topology.nodes[0].port
    err = one_error_line(run_cli(tmp_path, fast_env(f"redis://127.0.0.1:{port}"), "stats"))
    assert f"redis://127.0.0.1:{port} is a Redis Cluster node: set cluster = true" in err


def test_cluster_mode_without_a_redis_url_exits_2(tmp_path: Path) -> None:
    env = fast_env("", HENCHMAN_CLUSTER="true")
    del env["HENCHMAN_REDIS_URL"]
    err = one_error_line(run_cli(tmp_path, env, "stats"))
    assert "setting 'cluster' is true but no redis_url names a cluster node" in err


def test_connectors_in_cluster_mode_reach_every_master_sync_and_async(cluster: ClusterDB) -> None:
    import asyncio

    connector = Connector(cluster.settings())
    assert connector.cluster is True
    client = connector.check()
    try:
        for i in range(30):
            client.set(f"k:{{{i}}}", i)
        assert all(node.client().dbsize() > 0 for node in cluster.topology.master_nodes())
    finally:
        client.close()

    async def read() -> list[bytes | None]:
        aclient = connector.asyncio()
        try:
            return [await aclient.get(f"k:{{{i}}}") for i in range(30)]
        finally:
            await aclient.aclose()

    assert asyncio.run(read()) == [str(i).encode() for i in range(30)]


def test_a_standalone_connector_is_not_in_cluster_mode() -> None:
    assert Connector(Settings(redis_url="redis://127.0.0.1:1")).cluster is False


def test_the_cluster_startup_line_says_it_is_not_sidekiq_compatible(
    cluster: ClusterDB, caplog: pytest.LogCaptureFixture
) -> None:
    client = Connector(cluster.settings()).check()
    try:
        with caplog.at_level(logging.INFO, logger="henchman"):
            startup.log_cluster_mode(client)
    finally:
        client.close()
    assert caplog.messages == [
        "Redis Cluster mode, 3 masters: keys use the cluster layout, which is not "
        "Sidekiq-compatible (Sidekiq and its Web UI cannot see these jobs)"
    ]


def test_a_cluster_whose_nodes_are_all_unreachable_is_unavailable(tmp_path: Path) -> None:
    from henchman.errors import RedisUnavailable
    from tests.scale.topology import free_port

    settings = Settings(redis_url=f"redis+cluster://127.0.0.1:{free_port()}", redis_timeout=1.0)
    with pytest.raises((RedisUnavailable, ConfigError)) as info:
        Connector(settings).check()
    assert "cannot reach the Redis Cluster via 127.0.0.1:" in str(info.value)
