"""plan_ticks: which ticks a leader handles now (pure, no Redis)."""

from __future__ import annotations

from datetime import UTC, datetime

from henchman.periodic.ticks import MAX_TICKS, plan_ticks
from henchman.periodic_schedule import make_schedule

T0 = datetime(2025, 6, 2, 12, 0, tzinfo=UTC).timestamp()


def test_ticks_since_the_term_began_are_due_even_when_late() -> None:
    plan = plan_ticks(make_schedule("*/2 * * * * *", "j"), T0, T0 + 7, leader_since=T0)
    assert plan.due == [T0 + 2, T0 + 4, T0 + 6]
    assert plan.missed_count == 0
    assert plan.next_tick == T0 + 8


def test_ticks_before_the_term_are_missed_and_counted() -> None:
    plan = plan_ticks(make_schedule("*/2 * * * * *", "j"), T0, T0 + 9, leader_since=T0 + 7)
    assert plan.missed == [T0 + 2, T0 + 4, T0 + 6]
    assert plan.latest_missed == T0 + 6
    assert plan.due == [T0 + 8]


def test_a_long_outage_is_counted_without_walking_every_tick() -> None:
    since = T0 + 7200
    plan = plan_ticks(make_schedule("* * * * * *", "j"), T0, since + 0.5, leader_since=since)
    assert plan.missed_count > MAX_TICKS
    assert plan.latest_missed == since - 1
    assert plan.due == [since]
