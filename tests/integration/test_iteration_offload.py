"""Temporary files kept across interruptions, in a local directory and in an
S3-compatible store (moto's server, started by the test on a free local port)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import henchman
from henchman import keys
from henchman.app import Henchman
from henchman.iteration import enumerators
from henchman.iteration.stores import FileStore, LocalFileStore, S3FileStore, store_from_url
from henchman.testing import IterationHarness
from tests.conftest import RedisDB

BUCKET = "henchman-offload-test"
S3_OPTIONS = {
    "aws_access_key_id": "test",
    "aws_secret_access_key": "test",
    "region_name": "us-east-1",
}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    pytest.importorskip("boto3")
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_store(s3_endpoint: str) -> S3FileStore:
    store = S3FileStore(BUCKET, f"t{time.monotonic_ns()}/", endpoint_url=s3_endpoint, **S3_OPTIONS)
    with contextlib.suppress(store.client.exceptions.BucketAlreadyOwnedByYou):
        store.client.create_bucket(Bucket=BUCKET)
    return store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> FileStore:
    if request.param == "local":
        return LocalFileStore(tmp_path / "offload")
    s3: FileStore = request.getfixturevalue("s3_store")
    return s3


def test_a_store_keeps_a_file_until_deleted(store: FileStore, tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    source.write_bytes(b"a,b\n" * 1000)
    store.upload("jid1/export.csv", source, ttl=60)
    target = tmp_path / "restored" / "export.csv"
    assert store.download("jid1/export.csv", target)
    assert target.read_bytes() == source.read_bytes()
    store.delete("jid1/export.csv")
    assert not store.download("jid1/export.csv", tmp_path / "again.csv")
    store.delete("jid1/export.csv")  # deleting twice is fine


def test_an_expired_file_counts_as_missing_and_is_removed(store: FileStore, tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    source.write_text("x")
    now = [1_000_000.0]
    store.clock = lambda: now[0]  # type: ignore[attr-defined]
    store.upload("jid2/export.csv", source, ttl=60)
    now[0] += 61
    assert not store.download("jid2/export.csv", tmp_path / "out.csv")
    now[0] -= 61
    assert not store.download("jid2/export.csv", tmp_path / "out.csv")  # it is gone for good


def test_the_local_store_sweeps_expired_files_on_upload(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = LocalFileStore(tmp_path / "offload", clock=lambda: now[0])
    source = tmp_path / "f"
    source.write_text("x")
    store.upload("old/f", source, ttl=10)
    now[0] += 11
    store.upload("new/f", source, ttl=10)
    assert not (tmp_path / "offload" / "old").exists()
    assert (tmp_path / "offload" / "new" / "f").exists()
    with pytest.raises(ValueError, match="leaves"):
        store.upload("../escape", source, ttl=10)


def test_the_s3_store_can_install_an_expiry_lifecycle_rule(s3_store: S3FileStore) -> None:
    s3_store.install_lifecycle_rule(3)
    s3_store.install_lifecycle_rule(7)  # replaces its own rule
    rules = s3_store.client.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    ours = [rule for rule in rules if rule["ID"] == "henchman-offload"]
    assert len(ours) == 1
    assert ours[0]["Expiration"] == {"Days": 7}
    assert ours[0]["Filter"] == {"Prefix": s3_store.prefix}


def test_store_from_url(tmp_path: Path, s3_endpoint: str) -> None:
    default = store_from_url(None, tmp_path)
    assert isinstance(default, LocalFileStore)
    assert default.root == tmp_path / "offload"
    local = store_from_url(f"file://{tmp_path}/files", tmp_path)
    assert isinstance(local, LocalFileStore)
    assert local.root == tmp_path / "files"
    s3 = store_from_url(f"s3://{BUCKET}/exports?endpoint_url={s3_endpoint}", tmp_path)
    assert isinstance(s3, S3FileStore)
    assert (s3.bucket, s3.prefix) == (BUCKET, "exports/")
    with pytest.raises(ValueError, match="use file"):
        store_from_url("ftp://x", tmp_path)


def export_job(app: Henchman, store: FileStore, results: dict[str, Any]) -> type[Any]:
    """Writes one line per number to a temp file; on completion keeps a copy of it."""

    class Export(henchman.IterableJob, app=app):
        temp_files = ("export.csv",)
        file_store = store

        def build_enumerator(self, *, cursor: int | None) -> Iterator[Any]:
            results.setdefault("cursors", []).append(cursor)
            return enumerators.number_range(0, 20, cursor)

        def on_start(self) -> None:
            results["starts"] = results.get("starts", 0) + 1

        def each_iteration(self, number: int) -> None:
            with self.temp_file("export.csv").open("a") as out:
                out.write(f"{number}\n")

        def on_complete(self) -> None:
            results["export"] = self.temp_file("export.csv").read_text()
            results["directory"] = self.temp_file("export.csv").parent

    return Export


def test_an_interrupted_export_uploads_its_file_and_the_resumed_run_continues_it(
    app: Henchman, redis_db: RedisDB, store: FileStore
) -> None:
    results: dict[str, Any] = {}
    harness = IterationHarness(export_job(app, store, results))
    harness.run(interrupt_after=7)
    assert redis_db.client.exists(keys.iteration_files(harness.jid))
    harness.run(interrupt_after=5)
    harness.run()
    assert results["cursors"] == [None, 7, 12]
    assert results["export"] == "".join(f"{n}\n" for n in range(20))
    assert not results["directory"].exists()  # local copy removed
    assert not redis_db.client.exists(keys.iteration_files(harness.jid))
    assert not store.download(f"{harness.jid}/export.csv", Path(results["directory"], "x"))


def test_a_cursor_without_its_file_starts_over(
    app: Henchman, redis_db: RedisDB, store: FileStore
) -> None:
    results: dict[str, Any] = {}
    harness = IterationHarness(export_job(app, store, results))
    harness.run(interrupt_after=7)
    store.delete(f"{harness.jid}/export.csv")  # expired or lost
    harness.run()
    assert results["cursors"] == [None, None]
    assert results["starts"] == 2  # starting over is a start
    assert results["export"] == "".join(f"{n}\n" for n in range(20))


def test_after_a_crash_the_job_resumes_at_the_cursor_its_file_matches(
    app: Henchman, redis_db: RedisDB, tmp_path: Path
) -> None:
    results: dict[str, Any] = {}
    harness = IterationHarness(export_job(app, LocalFileStore(tmp_path), results))
    harness.run(interrupt_after=4)
    # a later run got further, wrote the state, and was SIGKILLed before it could upload
    redis_db.client.hset(keys.iteration_state(harness.jid), "c", "9")
    harness.run()
    assert results["cursors"] == [None, 4]
    assert results["export"] == "".join(f"{n}\n" for n in range(20))


def test_a_failed_run_offloads_its_file_for_the_retry(
    app: Henchman, redis_db: RedisDB, tmp_path: Path
) -> None:
    results: dict[str, Any] = {}
    base = export_job(app, LocalFileStore(tmp_path), results)
    failures = {11}

    class Failing(base, app=app):  # type: ignore[misc, valid-type]
        def each_iteration(self, number: int) -> None:
            if number in failures:
                failures.clear()
                raise RuntimeError("disk full")
            super().each_iteration(number)

    harness = IterationHarness(Failing)
    with pytest.raises(RuntimeError):
        harness.run()
    harness.run()
    assert results["cursors"] == [None, 11]
    assert results["export"] == "".join(f"{n}\n" for n in range(20))


def test_temp_files_use_the_configured_offload_url(redis_db: RedisDB, tmp_path: Path) -> None:
    app = Henchman(redis_db.settings(offload_url=f"file://{tmp_path}/store"))
    try:
        results: dict[str, Any] = {}

        class Export(henchman.IterableJob, app=app):
            temp_files = ("out.txt",)

            def build_enumerator(self, *, cursor: int | None) -> Iterator[Any]:
                return enumerators.number_range(0, 5, cursor)

            def each_iteration(self, number: int) -> None:
                self.temp_file("out.txt").write_text(str(number))

        harness = IterationHarness(Export)
        harness.run(interrupt_after=2)
        assert (tmp_path / "store" / harness.jid / "out.txt").read_text() == "1"
        harness.run()
        assert results == {}
        assert not (tmp_path / "store" / harness.jid).exists()
    finally:
        app.close()
