"""Pure parts of iterable jobs: the state's wire format, the per-item decisions, definitions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import henchman
from henchman.app import Henchman
from henchman.config import Settings
from henchman.iteration.offload import Manifest, check_names
from henchman.iteration.progress import decode_errors, rows_from_bitmap
from henchman.iteration.state import Checkpoint, Interruption, RunClock, decode


def test_checkpoint_encodes_sidekiq_fields() -> None:
    fields = Checkpoint(executions=3, cursor={"id": 7}, runtime=12.5).encode()
    assert fields == {"ex": "3", "c": '{"id":7}', "rt": "12.5"}
    assert Checkpoint().encode() == {"ex": "0", "c": "null", "rt": "0.0"}


def test_decode_reads_what_sidekiq_writes_and_tolerates_junk() -> None:
    found = decode({b"ex": b"2", b"c": b'[1,"a"]', b"rt": b"3.25", b"cancelled": b"1700000000"})
    assert found == Checkpoint(2, [1, "a"], 3.25, 1700000000)
    assert decode({}) == Checkpoint()
    assert decode({b"ex": b"x", b"c": b"{not json", b"rt": b""}) == Checkpoint()
    assert decode({b"cancelled": b"1700000000"}).cancelled == 1700000000


def test_non_json_cursors_are_refused_by_name() -> None:
    with pytest.raises(TypeError, match="iteration cursor"):
        Checkpoint(cursor=object()).encode()


def test_interruption_reasons_in_order_of_urgency() -> None:
    clock = RunClock(started=100.0, max_runtime=10.0)
    assert clock.interruption(105.0, stopping=False, quieting=False) is None
    assert clock.interruption(110.0, stopping=False, quieting=False) is Interruption.RUNTIME
    assert clock.interruption(105.0, stopping=False, quieting=True) is Interruption.QUIETING
    assert clock.interruption(105.0, stopping=True, quieting=True) is Interruption.STOPPING


def test_only_a_used_time_budget_goes_to_the_tail() -> None:
    assert Interruption.STOPPING.at_head
    assert Interruption.QUIETING.at_head
    assert not Interruption.RUNTIME.at_head


def test_flushes_are_due_every_interval_and_runtime_accumulates() -> None:
    clock = RunClock(started=100.0, prior_runtime=7.0)
    assert not clock.flush_due(104.9)
    assert clock.flush_due(105.0)
    clock.flushed(105.0)
    assert not clock.flush_due(109.0)
    assert clock.runtime(102.5) == 9.5


def test_rows_from_bitmap_reads_redis_bit_order() -> None:
    assert rows_from_bitmap(None) == []
    assert rows_from_bitmap(bytes([0b10000001, 0, 0b01000000])) == [0, 7, 17]


def test_decode_errors_sorts_rows_and_keeps_message_order() -> None:
    raw = {b"10": b'["b","a"]', b"2": b'["x"]', b"zz": b'["?"]', b"3": b"not json"}
    assert decode_errors(raw) == {2: ["x"], 10: ["b", "a"]}


def test_manifest_round_trip_and_junk() -> None:
    manifest = Manifest({"row": 5}, ("a.csv",), 12.0)
    assert Manifest.decode(manifest.encode()) == manifest
    assert Manifest.decode(b"{}") is None
    assert Manifest.decode(None) is None


@pytest.mark.parametrize("names", [("a/b",), ("..",), ("",), ("x", "x")])
def test_temp_file_names_must_be_plain_and_distinct(names: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="temp file"):
        check_names(names)


@pytest.fixture
def offline_app() -> Henchman:
    return Henchman(Settings(redis_url="redis://127.0.0.1:1/0"))


def test_defining_perform_on_an_iterable_job_is_a_type_error(offline_app: Henchman) -> None:
    with pytest.raises(TypeError, match="not perform"):

        class Wrong(henchman.IterableJob, app=offline_app):
            def perform(self) -> None:
                pass


def test_iterable_jobs_register_as_sync_or_async_by_each_iteration(offline_app: Henchman) -> None:
    class SyncOne(henchman.IterableJob, app=offline_app, name="SyncOne"):
        queue = "imports"

        def build_enumerator(self, *, cursor: Any) -> Iterator[Any]:
            return iter(())

        def each_iteration(self, item: Any) -> None:
            pass

    class AsyncOne(SyncOne, name="AsyncOne", app=offline_app):
        async def each_iteration(self, item: Any) -> None:
            pass

    sync_definition = offline_app.registry.get("SyncOne")
    async_definition = offline_app.registry.get("AsyncOne")
    assert (sync_definition.is_async, async_definition.is_async) == (False, True)
    assert sync_definition.options["queue"] == "imports"
    assert "max_iteration_runtime" not in sync_definition.options


def test_abstract_iterable_bases_are_not_registered(offline_app: Henchman) -> None:
    class Base(henchman.IterableJob, abstract=True, app=offline_app):
        pass

    assert len(offline_app.registry) == 0
    assert Base.max_iteration_runtime is None
