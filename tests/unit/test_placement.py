"""CPU placement decisions (henchman.server.placement): pure functions, no CPUs touched."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from henchman import cpu_affinity
from henchman.config_loader import load_settings
from henchman.errors import ConfigError
from henchman.server import placement as pl
from henchman.server.placement import Load, Mode, State


def test_cpu_lists_parse_like_taskset() -> None:
    assert cpu_affinity.parse_cpu_list("0") == {0}
    assert cpu_affinity.parse_cpu_list("0,2-3") == {0, 2, 3}
    assert cpu_affinity.parse_cpu_list(" 1 , 3 ") == {1, 3}
    bad_lists = (("", "not a CPU"), ("a", "not a CPU"), ("3-1", "backwards"), ("1-", "not a CPU"))
    for bad, reason in bad_lists:
        with pytest.raises(ValueError, match=reason):
            cpu_affinity.parse_cpu_list(bad)


def test_setting_values_are_checked_and_normalised() -> None:
    assert cpu_affinity.check_setting(" AUTO ") == "auto"
    assert cpu_affinity.check_setting("off") == "off"
    assert cpu_affinity.check_setting("0-1") == "0-1"
    with pytest.raises(ValueError, match="auto, off or a CPU list"):
        cpu_affinity.check_setting("fast")


def test_config_sources_accept_cpu_affinity_and_name_it_when_wrong() -> None:
    assert load_settings().cpu_affinity == "auto"
    assert load_settings(env={"HENCHMAN_CPU_AFFINITY": "auto"}).cpu_affinity == "auto"
    assert load_settings(flags={"cpu_affinity": "2,4-5"}).cpu_affinity == "2,4-5"
    with pytest.raises(ConfigError, match=r"'cpu_affinity' in --cpu-affinity must be auto, off"):
        load_settings(flags={"cpu_affinity": "banana"})
    with pytest.raises(ConfigError, match=r"placement_interval.*greater than 0"):
        load_settings(env={"HENCHMAN_PLACEMENT_INTERVAL": "0"})


def test_yaml_off_which_yaml_reads_as_false_means_off(tmp_path: Path) -> None:
    path = tmp_path / "henchman.yml"
    path.write_text("cpu_affinity: off\n")
    assert load_settings(config_file=path).cpu_affinity == "off"


def test_proc_stat_gives_busy_and_total_ticks_per_cpu() -> None:
    text = (
        "cpu  10 0 10 100 5 0 0 0 0 0\n"
        "cpu0 6 1 4 50 2 0 1 0 0 0\n"
        "cpu1 4 0 6 50 3 0 0 0 0 0\n"
        "intr 1 2 3\n"
    )
    assert pl.parse_proc_stat(text) == {0: (12, 64), 1: (10, 63)}


def test_load_between_two_samples() -> None:
    before = pl.Sample(10.0, 1.0, {0: (100, 1000), 1: (0, 1000)})
    after = pl.Sample(12.0, 2.5, {0: (190, 1100), 1: (25, 1100)})
    load = pl.load_between(before, after)
    assert load.own == pytest.approx(0.75)
    assert load.busy == {0: pytest.approx(0.9), 1: pytest.approx(0.25)}


def test_initial_cpu_is_the_slot_or_the_idlest() -> None:
    assert pl.initial_cpu([2, 0, 1], None, slot=4) == 1  # sorted [0, 1, 2], 4 % 3
    assert pl.initial_cpu([0, 1], Load(0.0, {0: 0.8, 1: 0.1}), slot=None) == 1
    assert pl.initial_cpu([0, 1], Load(0.0, {0: 0.2, 1: 0.2}), slot=None) == 0
    assert pl.initial_cpu([3, 5], None, slot=None) == 3


ALLOWED = (0, 1)


def pinned(cpu: int = 0, next_probe: float = 100.0) -> State:
    return State(Mode.PINNED, cpu, next_probe)


def test_a_quiet_or_lightly_loaded_process_stays_put() -> None:
    step = pl.decide(pinned(), Load(0.3, {0: 0.35, 1: 0.0}), 200.0, ALLOWED, coin=0.1)
    assert step.state == pinned()
    assert step.note is None


def test_other_work_on_our_cpu_moves_us_after_two_ticks_on_a_coin_toss() -> None:
    load = Load(0.4, {0: 0.95, 1: 0.1})  # others use 55 % of CPU 0
    first = pl.decide(pinned(), load, 50.0, ALLOWED, coin=0.2)
    assert first.state == State(Mode.PINNED, 0, 100.0, strikes=1)  # a burst does not move us
    moved = pl.decide(first.state, load, 52.0, ALLOWED, coin=0.2)
    assert moved.state == pinned(cpu=1)
    assert moved.note is not None
    assert "moving to CPU 1" in moved.note
    stays = pl.decide(first.state, load, 52.0, ALLOWED, coin=0.7)
    assert stays.state == State(Mode.PINNED, 0, 100.0, strikes=2)


def test_a_quiet_tick_clears_the_strikes() -> None:
    crowded = State(Mode.PINNED, 0, 100.0, strikes=1)
    calm = pl.decide(crowded, Load(0.4, {0: 0.5, 1: 0.1}), 50.0, ALLOWED, coin=0.0)
    assert calm.state == pinned()


def test_no_move_when_every_other_cpu_is_busy_too() -> None:
    load = Load(0.4, {0: 0.95, 1: 0.8})
    crowded = State(Mode.PINNED, 0, 100.0, strikes=5)
    assert pl.decide(crowded, load, 50.0, ALLOWED, coin=0.0).state == pinned()


def test_a_single_allowed_cpu_never_moves() -> None:
    crowded = State(Mode.PINNED, 0, 100.0, strikes=5)
    step = pl.decide(crowded, Load(0.2, {0: 1.0}), 50.0, (0,), coin=0.0)
    assert step.state.cpu == 0


def test_a_saturated_process_is_probed_once_the_probe_is_due() -> None:
    load = Load(0.97, {0: 1.0, 1: 0.05})
    assert pl.decide(pinned(next_probe=100.0), load, 99.0, ALLOWED, 0.9).state.mode is Mode.PINNED
    probing = pl.decide(pinned(next_probe=100.0), load, 100.0, ALLOWED, 0.9).state
    assert probing == State(Mode.PROBING, 0, 100.0 + pl.PROBE_EVERY)


def test_a_probe_that_shows_parallel_work_frees_the_process_for_good() -> None:
    probing = State(Mode.PROBING, 0, 300.0)
    freed = pl.decide(probing, Load(1.7, {0: 0.9, 1: 0.9}), 180.0, ALLOWED, 0.0)
    assert freed.state.mode is Mode.FREE
    assert freed.note is not None
    assert "1.7 cores" in freed.note
    later = pl.decide(freed.state, Load(0.99, {0: 1.0, 1: 0.0}), 999.0, ALLOWED, 0.0)
    assert later.state == freed.state


def test_a_probe_without_parallel_work_pins_again_on_the_same_cpu() -> None:
    probing = State(Mode.PROBING, 0, 300.0)
    step = pl.decide(probing, Load(1.05, {0: 0.7, 1: 0.5}), 180.0, ALLOWED, 0.0)
    assert step.state == State(Mode.PINNED, 0, 180.0 + pl.PROBE_EVERY)


def test_start_waits_unpinned_with_the_cpu_it_will_pin_to() -> None:
    assert pl.start(ALLOWED, None, 1, now=5.0) == State(Mode.WAITING, 1, 5.0 + pl.FIRST_PROBE)


def waiting(hold_until: float = 0.0, releases: int = 0) -> State:
    return State(Mode.WAITING, 1, 100.0, 0, hold_until, releases)


@pytest.mark.parametrize(
    ("wall", "cpu", "long"),
    [(0.0003, 0.0002, False), (0.015, 0.002, False), (0.02, 0.0, True), (0.006, 0.005, True)],
)
def test_a_job_is_long_by_its_wall_time_or_its_threads_cpu(
    wall: float, cpu: float, long: bool
) -> None:
    # 15 ms of wall, 2 ms of CPU: a short job that opened a connection and waited for the GIL.
    assert pl.is_long(wall, cpu) is long


@pytest.mark.parametrize(
    ("wall", "cpu", "waits", "long"),
    [
        (0.05, 0.0002, 1, True),  # one long wait: a nap, a child process
        (0.05, 0.0002, 5, True),  # waits of 10 ms on average
        (0.04, 0.0002, 10, False),  # 4 ms each: the GIL every switch interval, round trips
        (0.034, 0.0001, 12, False),  # as measured: a no-op job on a crowded 2-core host
        (0.015, 0.0002, 0, False),  # short anyway
        (0.04, 0.006, 40, True),  # its own CPU makes it long, however it waited
    ],
)
def test_a_job_long_only_by_many_short_waits_is_not_long(
    wall: float, cpu: float, waits: int, long: bool
) -> None:
    assert pl.is_long(wall, cpu, waits) is long


def test_enough_short_jobs_in_a_row_pin_a_waiting_process_and_say_so() -> None:
    assert pl.after_short_jobs(waiting(), pl.PIN_AFTER - 1, 10.0).state == waiting()
    step = pl.after_short_jobs(waiting(), pl.PIN_AFTER, 10.0)
    assert step.state.mode is Mode.PINNED
    assert step.state.cpu == 1
    assert step.state.next_probe == 10.0 + pl.FIRST_PROBE
    assert step.note is not None
    assert step.note.startswith(f"pinned to CPU 1: the last {pl.PIN_AFTER} jobs were short")


def test_an_independent_workers_pin_says_how_many_others_it_saw_pinned_where() -> None:
    step = pl.after_short_jobs(waiting(), pl.PIN_AFTER, 10.0, cpu=0, others={1: 3, 0: 1})
    assert step.note is not None
    assert step.note.endswith("; other processes pinned: CPU 0: 1, CPU 1: 3")
    alone = pl.after_short_jobs(waiting(), pl.PIN_AFTER, 10.0, cpu=1, others={}).note
    assert alone is not None
    assert alone.endswith("; other processes pinned: none")


def test_no_pin_while_a_release_holds_it_off() -> None:
    held = waiting(hold_until=30.0, releases=1)
    assert pl.after_short_jobs(held, 10 * pl.PIN_AFTER, 29.0).state == held
    assert pl.after_short_jobs(held, pl.PIN_AFTER, 30.0).state.mode is Mode.PINNED


def test_a_long_job_releases_a_pinned_process_at_once_with_a_growing_hold() -> None:
    step = pl.after_long_job(pinned(cpu=1), 0.052, 0.0001, 40.0)
    assert step.state == State(Mode.WAITING, 1, 100.0, 0, 40.0 + pl.HOLD_FIRST, 1)
    assert step.note is not None
    assert step.note.startswith("let go of CPU 1: a job ran 52 ms (0.1 ms of CPU)")
    again = pl.after_short_jobs(step.state, pl.PIN_AFTER, 50.0).state
    second = pl.after_long_job(again, 0.03, 0.03, 60.0).state
    assert (second.hold_until, second.releases) == (60.0 + 2 * pl.HOLD_FIRST, 2)
    assert [pl.hold_after(n) for n in (1, 2, 3, 6, 7, 8)] == [2, 4, 8, 60, 60, 60]


def test_a_pin_goes_to_the_cpu_the_fewest_other_processes_are_pinned_to() -> None:
    assert pl.least_pinned(ALLOWED, {}, preferred=1) == 1
    assert pl.least_pinned(ALLOWED, {1: 2, 0: 1}, preferred=1) == 0
    assert pl.least_pinned((0, 1, 2), {0: 1, 2: 1}, preferred=2) == 1
    assert pl.least_pinned((0, 1, 2), {1: 1}, preferred=1) == 0


def test_other_processes_pins_are_read_from_their_status() -> None:
    assert pl.parse_pinned("Name:\tpython\nCpus_allowed_list:\t1\nMems:\t0\n") == 1
    assert pl.parse_pinned("Name:\tpython\nCpus_allowed_list:\t0-1\n") is None
    assert pl.parse_pinned("Name:\tksoftirqd/1\nKthread:\t1\nCpus_allowed_list:\t1\n") is None


@pytest.mark.parametrize(("slot", "expected"), [(None, 0), (1, 1)])
def test_an_independent_worker_pins_away_from_others_and_a_supervised_child_to_its_slot(
    slot: int | None, expected: int
) -> None:
    events: list[str] = []

    @contextlib.contextmanager
    def host_lock() -> Iterator[None]:
        events.append("lock")
        yield
        events.append("unlock")

    def counts() -> dict[int, int]:
        events.append("read")
        return {1: 3}

    shell = pl.Placement(
        "auto",
        interval=1.0,
        slot=slot,
        clock=lambda: 100.0,
        pinned_counts=counts,
        host_lock=host_lock,
    )
    shell.allowed = ALLOWED
    shell.state = waiting()  # chose CPU 1 at start
    shell._apply = lambda cpus: events.append(f"pin {sorted(cpus)}")  # type: ignore[method-assign]
    for _ in range(pl.PIN_AFTER):
        shell.job_done(0.0002, 0.0001)
    assert shell.state.cpu == expected
    # An independent worker reads the others' pins and sets its own under the host lock, so
    # two pinning at once cannot both choose the same CPU; a supervised child needs neither.
    if slot is None:
        assert events == ["lock", "read", f"pin [{expected}]", "unlock"]
    else:
        assert events == [f"pin [{expected}]"]


def test_the_shell_lets_go_of_a_job_still_running_long() -> None:
    applied: list[frozenset[int]] = []
    shell = pl.Placement("auto", interval=1.0, clock=lambda: 100.0)
    shell.allowed = ALLOWED
    shell.state = pinned(cpu=1)
    shell._apply = applied.append  # type: ignore[method-assign]  # no real CPUs touched
    shell.running_since(None, 50.0)  # nothing running
    shell.running_since(50.0 - pl.LONG_RUNNING / 2, 50.0)
    assert applied == []
    shell.running_since(50.0 - pl.LONG_RUNNING, 50.0)
    assert applied == [frozenset(ALLOWED)]
    assert shell.state.mode is Mode.WAITING


def test_a_long_job_changes_nothing_for_a_waiting_or_free_process() -> None:
    assert pl.after_long_job(waiting(), 1.0, 1.0, 5.0).state == waiting()
    free = State(Mode.FREE, None, 0.0)
    assert pl.after_long_job(free, 1.0, 1.0, 5.0).state == free


def test_load_ticks_leave_a_waiting_process_alone() -> None:
    busy = Load(0.99, {0: 1.0, 1: 1.0})
    assert pl.decide(waiting(), busy, 500.0, ALLOWED, 0.0).state == waiting()


def test_the_shell_pins_after_short_jobs_and_lets_go_after_a_long_one() -> None:
    applied: list[frozenset[int]] = []
    shell = pl.Placement("auto", interval=1.0, clock=lambda: 100.0, pinned_counts=dict)
    shell.allowed = ALLOWED
    shell.state = waiting()
    shell._apply = applied.append  # type: ignore[method-assign]  # no real CPUs touched
    for _ in range(pl.PIN_AFTER - 1):
        shell.job_done(0.0002, 0.0001)
    shell.job_done(0.03, 0.0001)  # one long job restarts the count
    for _ in range(pl.PIN_AFTER):
        shell.job_done(0.0002, 0.0001)
    assert applied == [frozenset({1})]
    shell.job_done(0.04, 0.0002, 12)  # waited for the GIL in short waits: keeps the pin
    assert applied == [frozenset({1})]
    shell.job_done(0.0004, 0.006)
    assert applied == [frozenset({1}), frozenset(ALLOWED)]
    assert shell.state.mode is Mode.WAITING


def test_probes_are_logged_when_they_start_and_end() -> None:
    load = Load(0.97, {0: 1.0, 1: 0.05})
    probing = pl.decide(pinned(next_probe=100.0), load, 100.0, ALLOWED, 0.9)
    assert probing.note is not None
    assert "unpinned for one interval" in probing.note
    back = pl.decide(probing.state, Load(1.05, {0: 0.7, 1: 0.5}), 102.0, ALLOWED, 0.0)
    assert back.note is not None
    assert "back on CPU 0" in back.note


def test_describe_says_where_the_threads_are() -> None:
    fixed = pl.Placement("0,2-3", interval=1.0)
    assert fixed.describe() == "CPUs 0,2-3"
    auto = pl.Placement("auto", interval=1.0)
    assert auto.describe() == "auto: all CPUs"  # not started (or a single CPU): nothing pinned
    auto.allowed = ALLOWED
    auto.state = waiting()
    assert auto.describe() == "auto: CPUs 0,1 (CPU 1 once jobs are short)"
    auto.state = pinned(cpu=1)
    assert auto.describe() == "auto: CPU 1"
    auto.state = State(Mode.PROBING, 1, 0.0)
    assert auto.describe() == "auto: probing CPUs 0,1"
    auto.state = State(Mode.FREE, None, 0.0)
    assert auto.describe() == "auto: CPUs 0,1 (jobs use several cores)"


@pytest.mark.skipif(not pl.supported(), reason="reads /proc (Linux)")
def test_a_sample_counts_the_cpu_of_children_the_process_waited_for() -> None:
    import subprocess
    import sys

    before = pl._read_sample(lambda: 0.0).own
    spin = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    subprocess.run([sys.executable, "-c", spin], check=True)
    assert pl._read_sample(lambda: 1.0).own - before >= 0.25
