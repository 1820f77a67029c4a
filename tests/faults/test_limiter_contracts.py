"""Every limiter kind under load: threads in this process and in a second process hammer one
limiter at once. From the server times of every admission: the limiter never admits more than
its contract allows in any interval, and under steady load it admits at least 90% of it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from henchman.app import Henchman
from tests.conftest import RedisDB
from tests.support.limiter_hammer import HOLD, hammer, make

ROOT = Path(__file__).resolve().parents[2]
THREADS = 6
DURATION = 3.0
#: Slack for float rounding of server times (µs resolution).
EPS = 1e-6


def _run(kind: str, app: Henchman, url: str) -> tuple[list[list[float]], float, float]:
    """Hammer ``kind`` from this process and a child; every record, the start and the stop."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.support.limiter_hammer", url, kind, str(THREADS)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert child.stdin is not None
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"  # imported: start together
        start = time.time() + 0.3
        stop = start + DURATION
        child.stdin.write(f"{start} {stop}\n")
        child.stdin.flush()
        local = hammer(make(kind, app), start, stop, THREADS)
        out, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0
    remote = json.loads(out)
    assert remote, "the second process admitted nothing: it did not take part"
    return sorted(local + remote), start, stop


def _report(kind: str, admitted: float, contract: float, unit: str) -> None:
    print(f"\n{kind}: admitted {admitted:.1f} {unit} against a contract of {contract:.1f} "
          f"({100 * admitted / contract:.0f}%)")  # fmt: skip


def test_a_concurrent_limiter_never_has_more_than_size_holders_and_stays_busy(
    app: Henchman, redis_db: RedisDB
) -> None:
    records, _, _ = _run("concurrent", app, redis_db.url)
    events = sorted([(a, 1) for a, _, _ in records] + [(r, -1) for _, r, _ in records])
    holders = peak = 0
    for _, step in events:  # at a tie the release (-1) sorts first: it ran first on the server
        holders += step
        peak = max(peak, holders)
    assert peak <= 3
    held = sum(r - a for a, r, _ in records)
    span = max(r for _, r, _ in records) - min(a for a, _, _ in records)
    _report("concurrent", held / span, 3.0, "slots busy on average")
    assert held / span >= 0.9 * 3
    assert all(r - a >= HOLD for a, r, _ in records)


def test_a_bucket_limiter_admits_at_most_count_per_calendar_second(
    app: Henchman, redis_db: RedisDB
) -> None:
    records, start, stop = _run("bucket", app, redis_db.url)
    per_second: dict[int, int] = {}
    for admitted, _, _ in records:
        per_second[int(admitted)] = per_second.get(int(admitted), 0) + 1
    assert max(per_second.values()) <= 20
    full = [s for s in per_second if s >= start and s + 1 <= stop]
    assert full, "no whole second inside the run"
    rate = sum(per_second[s] for s in full) / len(full)
    _report("bucket", rate, 20, "per second")
    assert all(per_second[s] >= 0.9 * 20 for s in full)


def test_a_window_limiter_admits_at_most_count_in_any_sliding_second(
    app: Henchman, redis_db: RedisDB
) -> None:
    records, _, stop = _run("window", app, redis_db.url)
    times = [a for a, _, _ in records]
    for i, first in enumerate(times):
        inside = sum(1 for t in times[i:] if t < first + 1.0)
        assert inside <= 20, f"{inside} admissions in the second after {first}"
    seconds = int(stop - times[0])
    steady = sum(1 for t in times if t < times[0] + seconds)
    _report("window", steady / seconds, 20, "per second")
    assert steady >= 0.9 * 20 * seconds


def test_a_leaky_bucket_never_exceeds_its_burst_plus_drip(app: Henchman, redis_db: RedisDB) -> None:
    records, _, stop = _run("leaky", app, redis_db.url)
    times = [a for a, _, _ in records]
    size, rate = 10, 10 / 0.5
    for i in range(len(times)):
        for j in range(i, len(times)):
            assert j - i + 1 <= size + (times[j] - times[i]) * rate + EPS
    span = stop - times[0]
    steady = sum(1 for t in times if t < stop)
    _report("leaky", steady, size + span * rate, f"admissions in {span:.1f} s")
    assert steady >= 0.9 * (size + span * rate)


def test_a_points_limiter_never_spends_more_than_its_budget_plus_refill(
    app: Henchman, redis_db: RedisDB
) -> None:
    records, _, stop = _run("points", app, redis_db.url)
    budget, rate = 100.0, 100.0
    for i in range(len(records)):
        spent = 0.0
        for j in range(i, len(records)):
            spent += records[j][2]
            assert spent <= budget + (records[j][0] - records[i][0]) * rate + EPS
    span = stop - records[0][0]
    steady = sum(p for a, _, p in records if a < stop)
    _report("points", steady, budget + span * rate, f"points in {span:.1f} s")
    assert steady >= 0.9 * (budget + span * rate)
