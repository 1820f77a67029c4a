"""Periodic jobs on a real server: the lease, the atomic tick step, the leader's decisions with a
controlled clock, registration in code and config, and the admin API."""

from __future__ import annotations

import logging
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner, Result

from henchman import keys
from henchman.api import PeriodicSet, ProcessSet
from henchman.app import Henchman
from henchman.cli.periodic_cmds import periodic as periodic_cli
from henchman.config import Settings
from henchman.config_loader import load_settings
from henchman.errors import ConfigError
from henchman.periodic.enqueuer import TickEnqueuer, tick_jid
from henchman.periodic.lease import LeaderLease
from henchman.periodic.service import PeriodicService
from henchman.periodic_schedule import Schedule, make_schedule
from henchman.server.launcher import Launcher
from tests.conftest import RedisDB
from tests.support.worker_process import fast_env, henchman_bin

T0 = datetime(2025, 6, 2, 12, 0, 0, tzinfo=UTC).timestamp()  # a Monday, on a whole minute


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _schedule(cron: str = "*/2 * * * * *", missed: str = "skip", name: str = "tick") -> Schedule:
    return make_schedule(cron, "app.report", [1], missed=missed, name=name)


def _service(
    redis_db: RedisDB, identity: str, schedules: list[Schedule], clock: Clock
) -> PeriodicService:
    client = redis_db.client
    return PeriodicService(
        client, identity, schedules, TickEnqueuer(client, identity, []),
        LeaderLease(client, identity, lease=10.0), renew_interval=3.0, check_interval=60.0,
        clock=clock,
    )  # fmt: skip


def _jobs(redis_db: RedisDB, queue: str = "default") -> list[dict[str, object]]:
    return [orjson.loads(raw) for raw in reversed(redis_db.client.lrange(keys.queue(queue), 0, -1))]


def _ticks(redis_db: RedisDB) -> list[float]:
    return [job["periodic"]["tick"] for job in _jobs(redis_db)]  # type: ignore[index]


# --- the lease ---------------------------------------------------------------------------------


def test_first_process_takes_the_lease_and_others_follow(redis_db: RedisDB) -> None:
    a = LeaderLease(redis_db.client, "host:1:a", 30)
    b = LeaderLease(redis_db.client, "host:2:b", 30)
    assert a.hold().leader
    state = b.hold()
    assert not state.leader
    assert state.remaining is not None
    assert 0 < state.remaining <= 30
    assert redis_db.client.get(keys.LEADER) == b"host:1:a"


def test_stepping_down_frees_the_lease_for_a_follower(redis_db: RedisDB) -> None:
    a = LeaderLease(redis_db.client, "host:1:a", 30)
    b = LeaderLease(redis_db.client, "host:2:b", 30)
    a.hold()
    assert not b.resign()  # a follower cannot delete the leader's lease
    assert a.resign()
    assert b.hold().newly


def test_process_set_names_the_leader(redis_db: RedisDB) -> None:
    assert ProcessSet(redis_db.client).leader is None
    LeaderLease(redis_db.client, "host:1:a", 30).hold()
    assert ProcessSet(redis_db.client).leader == "host:1:a"


# --- the atomic tick step ----------------------------------------------------------------------


def test_a_tick_is_enqueued_once_even_when_asked_twice(redis_db: RedisDB) -> None:
    LeaderLease(redis_db.client, "me", 30).hold()
    enqueuer = TickEnqueuer(redis_db.client, "me", [])
    schedule = _schedule()
    assert enqueuer.enqueue(schedule, T0, T0) == "enqueued"
    assert enqueuer.enqueue(schedule, T0, T0) == "duplicate"
    assert enqueuer.enqueue(schedule, T0 - 2, T0) == "duplicate"  # older than the mark
    assert _ticks(redis_db) == [T0]
    assert _jobs(redis_db)[0]["jid"] == tick_jid("tick", T0)


def test_only_the_lease_holder_can_enqueue_a_tick(redis_db: RedisDB) -> None:
    LeaderLease(redis_db.client, "leader", 30).hold()
    stale = TickEnqueuer(redis_db.client, "stale", [])
    assert stale.enqueue(_schedule(), T0, T0) == "not-leader"
    assert _jobs(redis_db) == []


def test_a_paused_schedule_passes_its_tick_over(redis_db: RedisDB) -> None:
    LeaderLease(redis_db.client, "me", 30).hold()
    redis_db.client.sadd(keys.PERIODIC_PAUSED, "tick")
    enqueuer = TickEnqueuer(redis_db.client, "me", [])
    assert enqueuer.enqueue(_schedule(), T0, T0) == "paused"
    assert _jobs(redis_db) == []
    redis_db.client.srem(keys.PERIODIC_PAUSED, "tick")
    assert enqueuer.enqueue(_schedule(), T0, T0) == "duplicate"  # not caught up on unpause


# --- the leader's decisions, with a controlled clock --------------------------------------------


def test_the_leader_enqueues_every_tick_while_it_leads(redis_db: RedisDB) -> None:
    clock = Clock(T0 + 0.5)
    service = _service(redis_db, "a", [_schedule()], clock)
    service.step()  # becomes leader, starts the schedule's mark at now
    for _ in range(10):
        clock.now += 1.0
        service.step()
    assert _ticks(redis_db) == [T0 + 2, T0 + 4, T0 + 6, T0 + 8, T0 + 10]


def test_a_restarted_leader_does_not_repeat_ticks(redis_db: RedisDB) -> None:
    clock = Clock(T0 + 0.5)
    first = _service(redis_db, "a", [_schedule()], clock)
    first.step()
    clock.now = T0 + 4.5
    first.step()
    again = _service(redis_db, "a", [_schedule()], clock)  # same identity, fresh memory
    again.step()
    assert _ticks(redis_db) == [T0 + 2, T0 + 4]


def test_two_processes_that_both_believe_they_lead_never_double_a_tick(redis_db: RedisDB) -> None:
    clock = Clock(T0 + 0.5)
    real = _service(redis_db, "a", [_schedule()], clock)
    stale = _service(redis_db, "b", [_schedule()], clock)
    real.step()
    stale.leader, stale.leader_since = True, T0  # its lease expired without it noticing
    stale._next_lease = T0 + 1000
    clock.now = T0 + 2.5
    stale.step()
    real.step()
    assert _ticks(redis_db) == [T0 + 2]
    assert not stale.leader


def test_run_once_enqueues_one_catch_up_for_a_leaderless_gap(redis_db: RedisDB) -> None:
    clock = Clock(T0 + 0.5)
    old = _service(redis_db, "a", [_schedule(missed="run_once")], clock)
    old.step()
    clock.now = T0 + 2.5
    old.step()
    redis_db.client.delete(keys.LEADER)  # the leader died; its lease ran out
    clock.now = T0 + 11.5  # ticks 4, 6, 8, 10 fell while nobody led
    new = _service(redis_db, "b", [_schedule(missed="run_once")], clock)
    new.step()
    clock.now = T0 + 12.5
    new.step()
    jobs = _jobs(redis_db)
    assert [j["periodic"]["tick"] for j in jobs] == [T0 + 2, T0 + 10, T0 + 12]  # type: ignore[index]
    assert [j["periodic"]["catch_up"] for j in jobs] == [False, True, False]  # type: ignore[index]


def test_skip_logs_the_missed_ticks_by_time(
    redis_db: RedisDB, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(T0 + 0.5)
    _service(redis_db, "a", [_schedule()], clock).step()
    redis_db.client.delete(keys.LEADER)
    clock.now = T0 + 7.5
    with caplog.at_level(logging.WARNING, logger="henchman.periodic"):
        _service(redis_db, "b", [_schedule()], clock).step()
    assert _jobs(redis_db) == []
    assert "periodic tick: skipped 3 tick(s) missed while no process led: " \
        "2025-06-02T12:00:02+00:00, 2025-06-02T12:00:04+00:00, 2025-06-02T12:00:06+00:00" \
        in caplog.text  # fmt: skip
    record = PeriodicSet(redis_db.client).find("tick")
    assert record is not None
    assert (record.history[0].kind, record.history[0].count) == ("skipped", 3)


def test_missed_ticks_use_the_schedule_zone_in_the_log(
    redis_db: RedisDB, caplog: pytest.LogCaptureFixture
) -> None:
    schedule = make_schedule("0 * * * *", "app.report", name="hourly", tz="Asia/Tokyo")
    clock = Clock(T0 - 10)
    _service(redis_db, "a", [schedule], clock).step()
    redis_db.client.delete(keys.LEADER)
    clock.now = T0 + 3600 + 60
    with caplog.at_level(logging.WARNING, logger="henchman.periodic"):
        _service(redis_db, "b", [schedule], clock).step()
    assert "2025-06-02T21:00:00+09:00, 2025-06-02T22:00:00+09:00" in caplog.text


# --- registration -------------------------------------------------------------------------------


def test_code_registration_takes_job_options(app: Henchman) -> None:
    @app.job(queue="reports", retry=3)
    def report(n: int) -> None: ...

    schedule = app.periodic("*/5 * * * *", report, [7], tz="Asia/Tokyo", missed="run_once")
    assert (schedule.job, schedule.queue, schedule.options["retry"]) == (report.name, "reports", 3)
    assert schedule.tz == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [({"cron": "61 * * * *"}, "bad minute"), ({"tz": "Mars/Olympus"}, "unknown time zone"),
     ({"missed": "twice"}, "missed must be 'skip' or 'run_once'")],
)  # fmt: skip
def test_invalid_registration_is_one_line_naming_the_entry(
    app: Henchman, kwargs: dict[str, str], needle: str
) -> None:
    cron = kwargs.pop("cron", "* * * * *")
    with pytest.raises(ConfigError) as caught:
        app.periodic(cron, "app.report", name="nightly", **kwargs)
    message = str(caught.value)
    assert message.startswith("periodic job 'nightly': ")
    assert needle in message
    assert "\n" not in message


def test_toml_periodic_tables_are_loaded_and_checked(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.henchman]\nconcurrency = 2\n\n[[tool.henchman.periodic]]\nname = "nightly"\n'
        'cron = "0 3 * * *"\njob = "app.cleanup"\nargs = [1]\ntz = "Europe/Paris"\nretry = 2\n'
    )
    settings = load_settings(cwd=tmp_path)
    assert settings.periodic == (
        {"name": "nightly", "cron": "0 3 * * *", "job": "app.cleanup", "args": [1],
         "tz": "Europe/Paris", "retry": 2},
    )  # fmt: skip


def test_yaml_periodic_entry_with_a_bad_zone_names_the_entry(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "henchman.yml").write_text(
        "periodic:\n  - cron: '*/5 * * * *'\n    job: app.ping\n  - cron: '0 1 * * *'\n"
        "    job: app.report\n    tz: Nowhere/Land\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(cwd=tmp_path)
    assert str(caught.value) == (
        "periodic job #2 in config/henchman.yml: unknown time zone 'Nowhere/Land' "
        "(expected an IANA name like 'Europe/Paris')"
    )


def test_worker_start_refuses_a_config_entry_that_clashes_with_code(
    app: Henchman, redis_db: RedisDB
) -> None:
    app.periodic("* * * * *", "app.report", name="report")
    settings = redis_db.settings(periodic=({"name": "report", "cron": "0 * * * *", "job": "x"},))
    with pytest.raises(ConfigError, match="'report' is registered twice"):
        Launcher(app, settings).start()


# --- the admin API ------------------------------------------------------------------------------


def _published(redis_db: RedisDB, clock: Clock) -> PeriodicService:
    service = _service(redis_db, "a", [_schedule(cron="0 * * * *", name="hourly")], clock)
    service.step()
    return service


def test_api_lists_schedules_with_next_run_and_history(redis_db: RedisDB) -> None:
    clock = Clock(T0 + 30)
    service = _published(redis_db, clock)
    clock.now = T0 + 3600 + 5
    service.step()
    (record,) = PeriodicSet(redis_db.client, clock=clock).all()
    assert record.id == "hourly"
    assert record.next_run == datetime(2025, 6, 2, 14, tzinfo=UTC)
    assert record.last_run is not None
    assert (record.last_run.tick, record.last_run.kind) == (T0 + 3600, "tick")
    assert record.last_run.jid == tick_jid("hourly", T0 + 3600)


def test_api_pause_stops_ticks_and_unpause_resumes(redis_db: RedisDB) -> None:
    clock = Clock(T0 + 30)
    service = _published(redis_db, clock)
    periodic = PeriodicSet(redis_db.client, clock=clock)
    assert periodic.pause("hourly")
    clock.now = T0 + 3600 + 5
    service.step()
    assert _jobs(redis_db) == []
    assert periodic.unpause("hourly")
    clock.now = T0 + 7200 + 5
    service.step()
    assert _ticks(redis_db) == [T0 + 7200]


def test_api_enqueue_now_pushes_one_run_and_records_it(redis_db: RedisDB) -> None:
    clock = Clock(T0 + 30)
    _published(redis_db, clock)
    jid = PeriodicSet(redis_db.client, clock=clock).enqueue_now("hourly")
    (job,) = _jobs(redis_db)
    assert job["jid"] == jid
    record = PeriodicSet(redis_db.client, clock=clock).find("hourly")
    assert record is not None
    assert record.history[0].kind == "manual"
    assert record.mark == T0 + 30  # the timetable is untouched


def test_api_refuses_unknown_schedules(redis_db: RedisDB) -> None:
    periodic = PeriodicSet(redis_db.client)
    assert not periodic.pause("nope")
    assert periodic.enqueue_now("nope") is None


# --- the CLI ------------------------------------------------------------------------------------


def _cli(redis_db: RedisDB, *args: str) -> Result:
    return CliRunner().invoke(
        periodic_cli, list(args), obj={"settings": Settings(redis_url=redis_db.url)}
    )


def test_cli_lists_schedules_with_next_run_in_their_zone(redis_db: RedisDB) -> None:
    schedule = make_schedule("0 9 * * *", "app.report", name="morning", tz="Asia/Tokyo")
    service = _service(redis_db, "host:1:a", [schedule], Clock(T0))
    service.step()
    result = _cli(redis_db, "list")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("morning"))
    assert "Asia/Tokyo" in row
    assert " 09:00:00" in row  # the next run, shown in Tokyo time
    assert "Leader: host:1:a" in result.output


def test_cli_pause_unpause_and_enqueue(redis_db: RedisDB) -> None:
    _published(redis_db, Clock(T0 + 30))
    assert _cli(redis_db, "pause", "hourly").output == "Paused hourly.\n"
    assert redis_db.client.sismember(keys.PERIODIC_PAUSED, "hourly")
    assert _cli(redis_db, "unpause", "hourly").exit_code == 0
    result = _cli(redis_db, "enqueue", "hourly")
    assert result.exit_code == 0
    assert len(_jobs(redis_db)) == 1


def test_cli_unknown_schedule_exits_1(redis_db: RedisDB) -> None:
    result = _cli(redis_db, "pause", "nope")
    assert result.exit_code == 1
    assert "no periodic job 'nope'" in result.output


def test_encrypted_schedule_args_are_never_published(redis_db: RedisDB) -> None:
    schedule = make_schedule("0 * * * *", "app.charge", [1, {"card": "4242"}], name="c",
                             encrypt=True)  # fmt: skip
    _service(redis_db, "a", [schedule], Clock(T0)).step()
    raw = redis_db.client.hget(keys.PERIODIC_SCHEDULES, "c")
    assert raw is not None
    assert b"4242" not in raw


def test_henchman_run_refuses_a_bad_schedule_with_one_line_and_exit_2(
    redis_db: RedisDB, tmp_path: Path
) -> None:
    (tmp_path / "bad_schedules.py").write_text(
        "import henchman\nhenchman.periodic('0 25 * * *', 'app.report', name='nightly')\n"
    )
    result = subprocess.run(
        [henchman_bin(), "run", "-r", "bad_schedules"], cwd=tmp_path, env=fast_env(redis_db.url),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: periodic job 'nightly': invalid cron expression '0 25 * * *': bad hour"
    )
