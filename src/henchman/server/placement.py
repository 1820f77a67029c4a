"""GIL-aware CPU placement of a worker process (``cpu_affinity``, docs/performance.md).

Why: a CPython process runs Python on one core at a time (the GIL), and a worker's threads hand
the GIL to each other at every socket call of every job. When the threads are spread over several
CPUs, each hand-over wakes a sleeping thread on another CPU (a cross-CPU wake-up, on a virtual
machine an interrupt through the hypervisor) and puts the giving thread's CPU to sleep. Kept on one
CPU, the same hand-overs are ordinary context switches. On the 2-core benchmark machine this alone
takes a no-op drain from about 3,900 to about 7,000 jobs/s (worker CPU per job 265 -> 140 us).

The same pinning costs jobs whose heavy work runs outside the GIL (hashing, compression, image
codecs, child processes) 30-100 % of their speed when it lasts: all their threads share one CPU.
So ``auto`` (the default, Linux only) pins only while the jobs show themselves short, and lets go
the moment one does not (pure decisions in :func:`after_short_jobs`, :func:`after_long_job` and
:func:`decide`, a thin shell in :class:`Placement` fed by the
:class:`~henchman.server.job_times.JobTimes` middleware):

* **Start unpinned.** A process starts with its threads on every allowed CPU, and pins them all
  to one CPU once :data:`PIN_AFTER` jobs in a row were short: under :data:`LONG_CPU` of their
  thread's CPU and :data:`LONG_WALL` of wall time, or longer only by many short waits (the GIL
  on a crowded host, round trips; see :data:`SHORT_WAIT`). A burst of hashing jobs never gets
  pinned. A supervised child pins to its slot's CPU; an independent worker to the allowed CPU the
  fewest other processes are pinned to (:func:`least_pinned`), so workers on one host spread
  out.
* **Let go at once.** One long job (much CPU: work that may run outside the GIL; or a long wait:
  a child process, a sleep) unpins every thread when it ends, and no new pin comes for
  :data:`HOLD_FIRST` seconds, doubling with each release up to :data:`HOLD_MAX`: a worker whose
  jobs mix short and long ones settles unpinned.
* **Other work on our CPU.** While pinned, when other processes use a good part of our CPU and
  another allowed CPU is idle enough, on two intervals in a row, the process moves there (on a
  coin toss, so that two workers sharing a CPU do not both move at once and meet again).
* **Short jobs that want more than one core** (a pinned process that saturates its CPU) are
  unpinned for one interval now and then (:data:`FIRST_PROBE`, then every :data:`PROBE_EVERY`
  s); if the process then uses more than :data:`PARALLEL` cores it stays unpinned for the rest
  of its life, and says so in the log; otherwise it goes back to its CPU. The CPU time of child
  processes that jobs started and waited for counts as the process's own.
* **Processes started by jobs** inherit the pin at ``fork``; every interval, descendants whose
  CPU set is exactly ours get the whole allowed set back, and so do those on our old CPU when
  we let go of it or move.

Under ``-P N`` each worker process pins to its own CPU (its slot in the supervisor, modulo the
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
import fcntl
import logging
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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
#: A job this long (wall seconds) or using this much CPU (its thread's CPU seconds) is "long":
#: its work may run outside the GIL (hashing, codecs, a child process), so it must not share one
#: CPU with every other thread. Short jobs are the ones pinning helps: the GIL hand-overs of
#: their Redis calls are most of their cost. The CPU bound leaves room for a thread's first job
#: opening its connections (1-2 ms), which must not undo a pin just made.
LONG_WALL = 0.02
LONG_CPU = 0.005
#: A job long by its wall time alone counts as long only if its thread waited, on average, at
#: least this long (seconds) each time it slept: one long wait (a child process, a sleep, a
#: thread pool) may be work other CPUs would speed up. Many short waits are the GIL (each wait
#: for it ends every 5 ms, the switch interval) or round trips, which no other CPU speeds up;
#: on a crowded host a short job's thread waited 30-90 ms for the GIL while another thread held
#: it (mostly for a garbage collection), and letting go then only made every job dearer.
SHORT_WAIT = 0.01
#: A job still running after this long (seconds) lets a pinned process go without waiting for
#: its end (checked by the housekeeping loop every 0.1 s).
LONG_RUNNING = 0.1
#: Consecutive short jobs after which an unpinned ``auto`` process pins its threads.
PIN_AFTER = 200
#: After a long job let the threads go, no new pin for this long (doubling on each release, up
#: to :data:`HOLD_MAX`): a worker whose jobs mix short and long ones settles unpinned.
HOLD_FIRST = 2.0
HOLD_MAX = 60.0


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
    WAITING = "waiting"  # unpinned, until enough short jobs in a row show pinning would help
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
    #: No pin before this time (a long job let the threads go recently).
    hold_until: float = 0.0
    #: How many times a long job has let the threads go.
    releases: int = 0


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
    """The state a process starts in: unpinned, with the CPU it will pin to once its jobs show
    themselves short (:func:`after_short_jobs`)."""
    return State(Mode.WAITING, initial_cpu(allowed, load, slot), now + FIRST_PROBE)


def is_long(wall: float, cpu: float, waits: int | None = None) -> bool:
    """Whether a job that took ``wall`` seconds and ``cpu`` seconds of its thread's CPU is long;
    ``waits``: how many times its thread slept (voluntary context switches; ``None``: unknown).
    Long by its wall time only when its waits were long ones (:data:`SHORT_WAIT`)."""
    if cpu >= LONG_CPU:
        return True
    if wall < LONG_WALL:
        return False
    return waits is None or waits * SHORT_WAIT <= wall


def hold_after(releases: int) -> float:
    """Seconds without a pin after the ``releases``-th release (2, 4, 8 ... up to 60)."""
    return float(min(HOLD_MAX, HOLD_FIRST * 2.0 ** max(releases - 1, 0)))


def after_long_job(state: State, wall: float, cpu: float | None, now: float) -> Step:
    """A long job ended (``cpu`` its thread's CPU seconds), or is still running after ``wall``
    seconds (``cpu`` None): a pinned (or probing) process lets its threads go at once."""
    if state.mode not in (Mode.PINNED, Mode.PROBING):
        return Step(state)
    releases = state.releases + 1
    hold = hold_after(releases)
    what = (
        f"a job has been running for {wall * 1000:.0f} ms"
        if cpu is None
        else f"a job ran {wall * 1000:.0f} ms ({cpu * 1000:.1f} ms of CPU)"
    )
    note = (
        f"let go of CPU {state.cpu}: {what}, long enough to use other CPUs; threads on every "
        f"CPU, pinning again after {hold:.0f} s and {PIN_AFTER} short jobs in a row"
    )
    waiting = State(Mode.WAITING, state.cpu, state.next_probe, 0, now + hold, releases)
    return Step(waiting, note)


def after_short_jobs(
    state: State,
    count: int,
    now: float,
    cpu: int | None = None,
    others: Mapping[int, int] | None = None,
) -> Step:
    """``count`` short jobs in a row ended: a waiting process pins once they are enough, to
    ``cpu`` if given (see :func:`least_pinned`, which chose it from ``others``, the count of
    other processes pinned per CPU, said in the log), else to the CPU it chose at start."""
    if state.mode is not Mode.WAITING or count < PIN_AFTER or now < state.hold_until:
        return Step(state)
    target = state.cpu if cpu is None else cpu
    note = (
        f"pinned to CPU {target}: the last {count} jobs were short (under "
        f"{LONG_CPU * 1000:.0f} ms of CPU and {LONG_WALL * 1000:.0f} ms each), and threads on one "
        "CPU hand the GIL over cheaply"
    )
    if others is not None:
        seen = ", ".join(f"CPU {c}: {n}" for c, n in sorted(others.items())) or "none"
        note += f"; other processes pinned: {seen}"
    pinned = State(Mode.PINNED, target, now + FIRST_PROBE, 0, state.hold_until, state.releases)
    return Step(pinned, note)


def least_pinned(allowed: Sequence[int], pinned: Mapping[int, int], preferred: int | None) -> int:
    """The allowed CPU the fewest other processes are pinned to (``pinned``: CPU -> count), the
    ``preferred`` one among equals: independent workers on one host (not children of one
    supervisor, which get a slot each) spread over the CPUs instead of piling onto one."""
    return min(sorted(allowed), key=lambda cpu: (pinned.get(cpu, 0), cpu != preferred))


def parse_pinned(status: str) -> int | None:
    """The CPU a process is pinned to, from its ``/proc/<pid>/status``; None when it may run on
    several, or is a kernel thread (those sit on every CPU alike)."""
    if "\nKthread:\t1" in status:
        return None
    _, found, rest = status.partition("\nCpus_allowed_list:\t")
    value = rest.partition("\n")[0].strip()
    return int(value) if found and value.isdigit() else None


def decide(state: State, load: Load, now: float, allowed: Sequence[int], coin: float) -> Step:
    """One tick: keep, move to another CPU, start or end a probe. ``coin`` is uniform in [0, 1)."""
    if state.mode in (Mode.FREE, Mode.WAITING):
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
        return Step(replace(state, mode=Mode.FREE, cpu=None), note)
    # Back to the same CPU: the arrangement of several workers stays as it was, and moving away
    # from other load is the crowding rule's job.
    note = (
        f"jobs used {load.own:.1f} cores while unpinned (GIL-bound): back on CPU {state.cpu} "
        f"until the next check in {PROBE_EVERY:.0f} s"
    )
    return Step(replace(state, mode=Mode.PINNED, next_probe=now + PROBE_EVERY), note)


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
        return Step(
            replace(state, mode=Mode.PROBING, next_probe=now + PROBE_EVERY, strikes=0), note
        )
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


def _pinned_counts() -> dict[int, int]:
    """How many other processes are pinned to each CPU (read once per pin, about 1 ms)."""
    counts: dict[int, int] = {}
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/status", encoding="ascii", errors="replace") as fh:
                cpu = parse_pinned(fh.read())
        except OSError:  # it ended meanwhile, or is not ours to read
            continue
        if cpu is not None:
            counts[cpu] = counts.get(cpu, 0) + 1
    return counts


@contextlib.contextmanager
def _host_lock() -> Iterator[None]:
    """Held by an independent worker from reading where the others are pinned until its own pin
    is set, so two workers that pin at the same moment do not both see the other unpinned and
    pick the same CPU. A lock file every user may take; without one (no writable temporary
    directory) the choice is made unlocked, as before."""
    path = os.path.join(tempfile.gettempdir(), "henchman-cpu-placement.lock")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o444)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


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
        pinned_counts: Callable[[], Mapping[int, int]] = _pinned_counts,
        host_lock: Callable[[], contextlib.AbstractContextManager[None]] = _host_lock,
    ) -> None:
        self.setting = setting
        #: The CPUs of an explicit list, ``None`` for ``auto``.
        self.cpus = None if setting == AUTO else parse_cpu_list(setting)
        self.interval = interval
        self.slot = slot
        self._clock = clock
        self._rng = rng or random.Random()
        self._sample = sample
        self._pinned_counts = pinned_counts
        self._host_lock = host_lock
        self.allowed: tuple[int, ...] = ()
        self.state: State | None = None
        self._last: Sample | None = None
        self._next_tick = 0.0
        #: Short jobs in a row while waiting to pin (read and bumped without the lock: an
        #: approximate count is enough, and the job path stays one addition).
        self._short_run = 0
        self._lock = threading.Lock()

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

    @property
    def adaptive(self) -> bool:
        """``auto`` (placement follows the jobs), not an explicit CPU list."""
        return self.cpus is None

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
        log.info(
            "cpu_affinity auto: threads on CPUs %s; they move to CPU %s once %d jobs in a row "
            "are short (threads on one CPU hand the GIL over cheaply) and back to every CPU "
            "after any long one",
            _show(self.allowed),
            self.state.cpu,
            PIN_AFTER,
        )

    def job_done(self, wall: float, cpu: float, waits: int | None = None) -> None:
        """A sync job ended after ``wall`` seconds, ``cpu`` of them on its thread's CPU, its
        thread having slept ``waits`` times (called by
        :class:`~henchman.server.job_times.JobTimes` on the job's thread)."""
        state = self.state
        if state is None or state.mode is Mode.FREE:
            return
        if is_long(wall, cpu, waits):
            self._short_run = 0
            if state.mode is not Mode.WAITING:
                self._release(state, wall, cpu)
            return
        if state.mode is Mode.WAITING:
            self._short_run += 1
            if self._short_run >= PIN_AFTER and self._clock() >= state.hold_until:
                # An independent worker chooses its CPU and pins under the host lock (see
                # _host_lock); a supervised child's CPU is its slot's, chosen by nobody else.
                choosing = self._host_lock() if self.slot is None else contextlib.nullcontext()
                with self._lock, choosing:
                    state = self.state or state
                    target, others = self._pin_target(state)
                    self._step(
                        after_short_jobs(state, self._short_run, self._clock(), target, others)
                    )

    def _pin_target(self, state: State) -> tuple[int | None, Mapping[int, int] | None]:
        """Where to pin: a supervised child's slot CPU, else the allowed CPU the fewest other
        processes are pinned to (None: keep the CPU chosen at start), with the counts read."""
        if self.slot is not None or state.cpu is None:
            return None, None
        try:
            counts = self._pinned_counts()
        except OSError as exc:
            log.debug("cpu_affinity: cannot read other processes' CPUs (%s)", exc)
            return None, None
        return least_pinned(self.allowed, counts, state.cpu), counts

    @property
    def pinned(self) -> bool:
        """Whether ``auto`` holds the threads on one CPU now (or is probing, about to again)."""
        state = self.state
        return state is not None and state.mode in (Mode.PINNED, Mode.PROBING)

    def running_since(self, started: float | None, now: float) -> None:
        """The oldest job still running started at ``started`` (None: none is running), on the
        clock of ``now``: a pinned process whose job has run :data:`LONG_RUNNING` lets go now
        rather than when the job ends (called by the housekeeping loop)."""
        state = self.state
        if started is None or state is None or not self.pinned:
            return
        if now - started >= LONG_RUNNING:
            self._short_run = 0
            self._release(state, now - started, None)

    def _release(self, state: State, wall: float, cpu: float | None) -> None:
        """A long job (ended, or running: ``cpu`` None) lets a pinned process go."""
        with self._lock:
            self._step(after_long_job(self.state or state, wall, cpu, self._clock()))

    def _step(self, step: Step) -> None:
        """Adopt ``step`` (holding the lock): log its note, apply a new placement."""
        before = self.state
        if step.note:
            log.info("cpu_affinity auto: %s", step.note)
        self.state = step.state
        if before is None or (step.state.mode, step.state.cpu) != (before.mode, before.cpu):
            self._apply_state()
            if before is not None and before.mode is Mode.PINNED and before.cpu is not None:
                # Processes started by jobs while we were pinned hold the old pin; the ticks
                # free only those on the CPU we are pinned to now, so free them here, or a child
                # started just before a release or a move would keep one CPU for its life.
                self._release_descendants(before.cpu)

    def describe(self) -> str:
        """Where the threads are now, in a few words (heartbeat, ``henchman stats``, Busy page)."""
        if self.cpus is not None:
            return f"CPUs {self.setting}"
        state = self.state
        if state is None:
            return "auto: all CPUs"
        if state.mode is Mode.WAITING:
            return f"auto: CPUs {_show(self.allowed)} (CPU {state.cpu} once jobs are short)"
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
        with self._lock:
            state = self.state or state  # a job may have changed it meanwhile
            self._step(decide(state, load, now, self.allowed, self._rng.random()))

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
