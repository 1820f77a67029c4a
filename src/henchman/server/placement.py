"""GIL-aware CPU placement of a worker process (``cpu_affinity``, docs/performance.md).

Why: a CPython process runs Python on one core at a time (the GIL), and a worker's threads hand
the GIL to each other at every socket call of every job. When the threads are spread over several
CPUs, each hand-over wakes a sleeping thread on another CPU (a cross-CPU wake-up, on a virtual
machine an interrupt through the hypervisor) and puts the giving thread's CPU to sleep. Kept on one
CPU, the same hand-overs are ordinary context switches. On the 2-core benchmark machine this alone
takes a no-op drain from about 3,900 to about 7,000 jobs/s (worker CPU per job 265 -> 140 us).

The same pinning costs jobs whose heavy work runs outside the GIL (hashing, compression, image
codecs, child processes) 30-100 % of their speed, and no automatic rule measured on the benchmark
machine told the two apart quickly enough to never hurt (docs/performance.md, "CPU placement").
So the default is ``cpu_affinity = "off"``: the kernel places threads, as in every other job
system. ``auto`` is an opt-in for workers that run many tiny GIL-bound jobs: (Linux only)
``henchman run`` then keeps all threads of the process on one CPU of the set it was allowed,
and watches the load every ``placement_interval`` seconds (pure decisions in :func:`decide`, a
thin shell in :class:`Placement`):

* **Other work on our CPU.** When other processes use a good part of our CPU and another allowed
  CPU is idle enough, on two intervals in a row, the process moves there (on a coin toss, so that
  two workers sharing a CPU do not both move at once and meet again).
* **Jobs that want more than one core.** Jobs whose heavy work runs in C code that releases the
  GIL (image codecs, compression, numpy) could use several CPUs in parallel. A pinned process
  cannot show that, so when it saturates its CPU it is left unpinned for one interval now and then
  (:data:`FIRST_PROBE`, then every :data:`PROBE_EVERY` s); if it then uses more than
  :data:`PARALLEL` cores it stays unpinned for the rest of its life, and says so in the log;
  otherwise it goes back to its CPU. The CPU time of child processes that jobs started and
  waited for counts as the process's own (a job that shells out is our work, not other load).
* **Processes started by jobs** inherit the pin at ``fork``; every interval, descendants whose
  CPU set is exactly ours get the whole allowed set back.

Under ``-P N`` each worker process starts on its own CPU (its slot in the supervisor, modulo the
allowed CPUs). ``cpu_affinity = "off"`` leaves placement to the kernel; a CPU list (``"0,2-3"``)
pins every thread to exactly that set and does nothing else, like ``taskset``.
Every change of placement is logged at INFO with its reason, and :meth:`Placement.describe` (shown
by ``henchman stats`` and the Web UI's Busy page through the heartbeat) says where the threads are.
Nothing here touches Redis or jobs: a failure to read ``/proc`` or to set an affinity only turns
placement off for the process, with one log line.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from henchman.cpu_affinity import AUTO, OFF, parse_cpu_list
from henchman.errors import ConfigError

log = logging.getLogger("henchman")

#: Environment variable carrying a supervised child's slot (``-P N``): its first CPU.
SLOT_ENV = "HENCHMAN_CPU_SLOT"

#: Share of our CPU used by other processes that makes the process look for another CPU.
CONTENDED = 0.3
#: The CPU moved to must be at least this idle (share of the CPU).
IDLE_ENOUGH = 0.4
#: Consecutive crowded ticks before the process moves.
MOVE_AFTER = 2
#: Cores the pinned process must use to be worth a probe (it saturates its one CPU).
SATURATED = 0.85
#: Cores used while unpinned that show jobs running in parallel outside the GIL.
PARALLEL = 1.3
#: Seconds after start before the first probe, and between later probes.
FIRST_PROBE = 10.0
PROBE_EVERY = 120.0


@dataclass(frozen=True, slots=True)
class Sample:
    """What the kernel says at one moment: our CPU seconds, and (busy, total) ticks per CPU."""

    at: float
    own: float
    cpus: Mapping[int, tuple[int, int]]


def parse_proc_stat(text: str) -> dict[int, tuple[int, int]]:
    """Per-CPU (busy, total) clock ticks from ``/proc/stat``; idle and iowait are not busy."""
    out: dict[int, tuple[int, int]] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu":
            continue
        ticks = [int(v) for v in rest.split()[:8]]
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
        out[int(name[3:])] = (sum(ticks) - idle, sum(ticks))
    return out


@dataclass(frozen=True, slots=True)
class Load:
    """Load between two samples: our process in cores, and each CPU's busy share (0..1)."""

    own: float
    busy: Mapping[int, float]


def load_between(before: Sample, after: Sample) -> Load:
    """The load over the interval from ``before`` to ``after``."""
    elapsed = after.at - before.at
    own = (after.own - before.own) / elapsed if elapsed > 0 else 0.0
    busy = {}
    for cpu, (b1, t1) in after.cpus.items():
        b0, t0 = before.cpus.get(cpu, (b1, t1))
        busy[cpu] = (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
    return Load(max(own, 0.0), busy)


# --- decisions ----------------------------------------------------------------------------------


class Mode(enum.Enum):
    PINNED = "pinned"  # every thread on ``State.cpu``
    PROBING = "probing"  # unpinned for one interval to see whether jobs use more cores
    FREE = "free"  # unpinned for good: jobs run in parallel outside the GIL


@dataclass(frozen=True, slots=True)
class State:
    mode: Mode
    #: The CPU the process is (or, while probing, was and returns to) pinned to.
    cpu: int | None
    next_probe: float
    #: Consecutive ticks on which other processes crowded our CPU while another was idle.
    strikes: int = 0


@dataclass(frozen=True, slots=True)
class Step:
    """What to do after a tick: the new state, and a log line when something changed."""

    state: State
    note: str | None = None


def initial_cpu(allowed: Sequence[int], load: Load | None, slot: int | None) -> int:
    """The CPU to start on: the supervisor's slot if given, else the idlest allowed CPU."""
    ordered = sorted(allowed)
    if slot is not None:
        return ordered[slot % len(ordered)]
    if load is None:
        return ordered[0]
    return min(ordered, key=lambda cpu: (load.busy.get(cpu, 0.0), cpu))


def start(allowed: Sequence[int], load: Load | None, slot: int | None, now: float) -> State:
    """The state a process starts in."""
    return State(Mode.PINNED, initial_cpu(allowed, load, slot), now + FIRST_PROBE)


def decide(state: State, load: Load, now: float, allowed: Sequence[int], coin: float) -> Step:
    """One tick: keep, move to another CPU, start or end a probe. ``coin`` is uniform in [0, 1)."""
    if state.mode is Mode.FREE:
        return Step(state)
    if state.mode is Mode.PROBING:
        return _after_probe(state, load, now)
    return _while_pinned(state, load, now, allowed, coin)


def _after_probe(state: State, load: Load, now: float) -> Step:
    if load.own >= PARALLEL:
        note = (
            f"jobs used {load.own:.1f} cores while unpinned (work outside the GIL): "
            "keeping this process on all its CPUs"
        )
        return Step(State(Mode.FREE, None, state.next_probe), note)
    # Back to the same CPU: the arrangement of several workers stays as it was, and moving away
    # from other load is the crowding rule's job.
    note = (
        f"jobs used {load.own:.1f} cores while unpinned (GIL-bound): back on CPU {state.cpu} "
        f"until the next check in {PROBE_EVERY:.0f} s"
    )
    return Step(State(Mode.PINNED, state.cpu, now + PROBE_EVERY), note)


def _while_pinned(
    state: State, load: Load, now: float, allowed: Sequence[int], coin: float
) -> Step:
    assert state.cpu is not None
    others = max(0.0, load.busy.get(state.cpu, 0.0) - load.own)
    target = _idlest(allowed, load, exclude=state.cpu)
    if others >= CONTENDED and target != state.cpu and 1.0 - load.busy[target] >= IDLE_ENOUGH:
        # Only crowding seen on two ticks in a row moves the process (a neighbour's start-up
        # burst does not), and then on a coin toss so two crowded workers do not swap together.
        if state.strikes + 1 >= MOVE_AFTER and coin < 0.5:
            note = f"other processes use {others:.0%} of CPU {state.cpu}: moving to CPU {target}"
            return Step(replace(state, cpu=target, strikes=0), note)
        return Step(replace(state, strikes=state.strikes + 1))
    if load.own >= SATURATED and now >= state.next_probe:
        note = (
            f"the process saturates CPU {state.cpu} ({load.own:.2f} cores): unpinned for one "
            "interval to see whether its jobs use more than one core"
        )
        return Step(State(Mode.PROBING, state.cpu, now + PROBE_EVERY), note)
    return Step(replace(state, strikes=0))


def _idlest(allowed: Sequence[int], load: Load, exclude: int) -> int:
    """The least busy allowed CPU other than ``exclude`` (``exclude`` itself if it is alone)."""
    choices = [cpu for cpu in sorted(allowed) if cpu != exclude and cpu in load.busy]
    return min(choices, key=lambda cpu: (load.busy[cpu], cpu)) if choices else exclude


# --- the shell ----------------------------------------------------------------------------------


def _read_sample(clock: Callable[[], float]) -> Sample:
    times = os.times()
    # Children that jobs started and waited for count as ours: their CPU is the jobs' work.
    own = times.user + times.system + times.children_user + times.children_system
    return Sample(clock(), own, parse_proc_stat(_read("/proc/stat")))


def _read(path: str) -> str:
    with open(path, encoding="ascii") as fh:
        return fh.read()


def _thread_ids() -> list[int]:
    return [int(tid) for tid in os.listdir("/proc/self/task")]


def _descendants(pid: int | str = "self") -> Iterable[int]:
    """Every live descendant process (children lists of each thread, recursively); a process
    that ends while it is read simply has no more descendants."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").glob("*/children"))
    except OSError:
        return
    for task in tasks:
        try:
            children = task.read_text().split()
        except OSError:
            continue
        for child in children:
            yield int(child)
            yield from _descendants(int(child))


def supported() -> bool:
    """Whether this platform lets a process choose its CPUs (Linux)."""
    return hasattr(os, "sched_setaffinity") and os.path.isdir("/proc/self/task")


class Placement:
    """Applies ``cpu_affinity`` to the running worker process (see the module docstring)."""

    def __init__(
        self,
        setting: str,
        *,
        interval: float,
        slot: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        sample: Callable[[Callable[[], float]], Sample] = _read_sample,
    ) -> None:
        self.setting = setting
        #: The CPUs of an explicit list, ``None`` for ``auto``.
        self.cpus = None if setting == AUTO else parse_cpu_list(setting)
        self.interval = interval
        self.slot = slot
        self._clock = clock
        self._rng = rng or random.Random()
        self._sample = sample
        self.allowed: tuple[int, ...] = ()
        self.state: State | None = None
        self._last: Sample | None = None
        self._next_tick = 0.0

    @classmethod
    def for_process(cls, setting: str, interval: float, env: Mapping[str, str]) -> Placement | None:
        """The placement for ``henchman run``, or ``None`` when there is nothing to do."""
        if setting == OFF:
            return None
        if not supported():
            if setting != AUTO:
                raise ConfigError("cpu_affinity with a CPU list needs Linux (sched_setaffinity)")
            return None
        slot = env.get(SLOT_ENV, "")
        return cls(setting, interval=interval, slot=int(slot) if slot.isdigit() else None)

    def begin(self) -> None:
        """Remember the allowed CPUs and take a first load sample (call early in start-up).

        Raises :class:`ConfigError` when a CPU list names CPUs this process may not use.
        """
        self.allowed = tuple(sorted(os.sched_getaffinity(0)))
        if self.cpus is None:
            self._last = self._safe_sample()
            return
        outside = self.cpus - set(self.allowed)
        if outside:
            raise ConfigError(
                f"cpu_affinity {self.setting}: CPU {_show(outside)} not available to this "
                f"process (allowed: {_show(self.allowed)})"
            )

    def start(self) -> None:
        """Pin every thread of the process (call once the worker threads exist, after
        :meth:`begin`)."""
        if self.cpus is not None:
            self._apply(self.cpus)
            log.info("cpu_affinity %s: threads on CPUs %s", self.setting, _show(self.cpus))
            return
        if len(self.allowed) < 2:
            return
        now = self._clock()
        current = self._safe_sample()
        load = load_between(self._last, current) if self._last and current else None
        self._last = current
        self.state = start(self.allowed, load, self.slot, now)
        self._next_tick = now + self.interval
        self._apply_state()
        log.info(
            "cpu_affinity auto: threads pinned to CPU %s of %s (one CPU lets threads hand over "
            "the GIL cheaply; checks every %.0f s whether jobs use more than one core)",
            self.state.cpu,
            _show(self.allowed),
            self.interval,
        )

    def describe(self) -> str:
        """Where the threads are now, in a few words (heartbeat, ``henchman stats``, Busy page)."""
        if self.cpus is not None:
            return f"CPUs {self.setting}"
        state = self.state
        if state is None:
            return "auto: all CPUs"
        if state.mode is Mode.PINNED:
            return f"auto: CPU {state.cpu}"
        if state.mode is Mode.PROBING:
            return f"auto: probing CPUs {_show(self.allowed)}"
        return f"auto: CPUs {_show(self.allowed)} (jobs use several cores)"

    def maybe_tick(self) -> None:
        """Run :meth:`tick` when an interval has passed (called from the housekeeping loop)."""
        if self.state is not None and self._clock() >= self._next_tick:
            self.tick()

    def tick(self) -> None:
        """Sample the load, decide, apply; give inherited pins back to child processes."""
        state = self.state
        if state is None:
            return
        now = self._clock()
        self._next_tick = now + self.interval
        current = self._safe_sample()
        if current is None or self._last is None:
            self._last = current
            return
        load = load_between(self._last, current)
        self._last = current
        if state.mode is Mode.PINNED and state.cpu is not None:
            self._release_descendants(state.cpu)
        step = decide(state, load, now, self.allowed, self._rng.random())
        if step.note:
            log.info("cpu_affinity auto: %s", step.note)
        self.state = step.state
        if (step.state.mode, step.state.cpu) != (state.mode, state.cpu):
            self._apply_state()

    def _apply_state(self) -> None:
        state = self.state
        if state is None:
            return
        cpus = {state.cpu} if state.mode is Mode.PINNED and state.cpu is not None else self.allowed
        try:
            self._apply(frozenset(cpus))
        except OSError as exc:
            log.warning("cpu_affinity auto turned off: cannot set CPUs (%s)", exc)
            self.state = None

    def _apply(self, cpus: frozenset[int]) -> None:
        for tid in _thread_ids():
            with contextlib.suppress(ProcessLookupError):  # the thread just ended
                os.sched_setaffinity(tid, cpus)

    def _release_descendants(self, cpu: int) -> None:
        """Processes started by jobs inherit our pin at fork: give them the allowed CPUs back.
        A process that ends meanwhile, or that we may not change, is left as it is."""
        for pid in _descendants():
            with contextlib.suppress(OSError):
                if os.sched_getaffinity(pid) == {cpu}:
                    os.sched_setaffinity(pid, self.allowed)

    def _safe_sample(self) -> Sample | None:
        try:
            return self._sample(self._clock)
        except (OSError, ValueError) as exc:
            log.debug("cpu_affinity: cannot read the load (%s)", exc)
            return None


def _show(cpus: Iterable[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))
