"""henchman.cron: the schedule maths, checked against an independent brute-force matcher.

The oracle below shares no code with henchman.cron or cronsim: it parses each field itself and
walks real time minute by minute through the days whose date matches, applying the documented
rules (Vixie's day rule; for 5-field specific-time schedules, a wall time skipped by a
spring-forward change runs right after the change and a repeated wall time runs once).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from henchman.cron import CronError, next_run, validate

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "Asia/Tokyo",
    "Asia/Kolkata",
]
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

# --- the oracle --------------------------------------------------------------------------------


def _value(text: str, names: list[str] | tuple[str, ...], offset: int) -> int:
    low = text.lower()
    return names.index(low) + offset if low in names else int(text)


def parse_field(
    text: str, low: int, high: int, names: list[str] | tuple[str, ...] = (), offset: int = 0
) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        rng, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if rng == "*":
            start, end = low, high
        elif "-" in rng:
            a, b = rng.split("-")
            start, end = _value(a, names, offset), _value(b, names, offset)
        else:
            start = _value(rng, names, offset)
            end = high if step_text else start
        out.update(range(start, end + 1, step))
    return out


class Oracle:
    def __init__(self, expression: str) -> None:
        fields = expression.split()
        if len(fields) == 5:
            fields = ["0", *fields]
        self.six = len(expression.split()) == 6
        sec, minute, hour, dom, month, dow = fields
        self.seconds = sorted(parse_field(sec, 0, 59))
        self.minutes = parse_field(minute, 0, 59)
        self.hours = parse_field(hour, 0, 23)
        self.doms = parse_field(dom, 1, 31)
        self.months = parse_field(month, 1, 12, MONTHS, 1)
        self.dows = {d % 7 for d in parse_field(dow, 0, 7, DAYS, 0)}
        self.day_and = dom.startswith("*") or dow.startswith("*")
        self.specific = not self.six and not minute.startswith("*") and not hour.startswith("*")

    def day_matches(self, d: date) -> bool:
        if d.month not in self.months:
            return False
        dom_ok, dow_ok = d.day in self.doms, (d.isoweekday() % 7) in self.dows
        return (dom_ok and dow_ok) if self.day_and else (dom_ok or dow_ok)

    def wall_matches(self, wall: datetime) -> bool:
        return (
            wall.minute in self.minutes
            and wall.hour in self.hours
            and self.day_matches(wall.date())
        )

    def next(self, after: datetime, tz: ZoneInfo) -> datetime | None:
        floor = after.timestamp()
        day = after.astimezone(tz).date() - timedelta(days=1)
        for _ in range(366 * 6):
            if self.day_matches(day):
                found = self._in_day(day, tz, floor)
                if found is not None:
                    return found
            day += timedelta(days=1)
        return None

    def _in_day(self, day: date, tz: ZoneInfo, floor: float) -> datetime | None:
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
        start = midnight - timedelta(hours=3)
        offset = start.astimezone(tz).utcoffset()
        if (
            offset is not None
            and offset == (start + timedelta(hours=30)).astimezone(tz).utcoffset()
        ):
            return self._in_plain_day(day, offset, tz, floor)
        previous: datetime | None = None
        for i in range(60 * 30):
            instant = start + timedelta(minutes=i)
            wall = instant.astimezone(tz)
            naive = wall.replace(tzinfo=None, fold=0)
            fires = False
            if wall.date() == day:
                if self.wall_matches(naive) and not (self.specific and wall.fold == 1):
                    fires = True
                if self.specific and previous is not None:  # wall times the clock jumped over
                    skipped = previous + timedelta(minutes=1)
                    while skipped < naive:
                        fires = fires or self.wall_matches(skipped)
                        skipped += timedelta(minutes=1)
            previous = naive if previous is None or naive > previous else previous
            if fires:
                seconds = self.seconds if self.six else [0]
                for s in seconds:
                    at = instant + timedelta(seconds=s)
                    if at.timestamp() > floor:
                        return at.astimezone(tz)
            if wall.date() > day:
                break
        return None

    def _in_plain_day(
        self, day: date, offset: timedelta, tz: ZoneInfo, floor: float
    ) -> datetime | None:
        """A day without an offset change: every matching wall time is one instant."""
        for hour in sorted(self.hours):
            for minute in sorted(self.minutes):
                for second in self.seconds if self.six else [0]:
                    wall = datetime(day.year, day.month, day.day, hour, minute, second)
                    at = (wall - offset).replace(tzinfo=UTC)
                    if at.timestamp() > floor:
                        return at.astimezone(tz)
        return None


# --- generated cases ---------------------------------------------------------------------------


def _field(
    rng: random.Random,
    low: int,
    high: int,
    star_weight: float,
    names: tuple[str, ...] | list[str] = (),
) -> str:
    if rng.random() < star_weight:
        return "*"
    kind = rng.choice(["one", "range", "step", "rangestep", "list"])
    a = rng.randint(low, high)
    b = rng.randint(a, high)
    n = rng.randint(2, max(2, (high - low) // 3))

    def show(v: int) -> str:
        offset = 1 if len(names) == 12 else 0
        return names[(v - offset) % len(names)] if names and rng.random() < 0.3 else str(v)

    if kind == "one":
        return show(a)
    if kind == "range":
        return f"{show(a)}-{show(b)}"
    if kind == "step":
        return f"*/{n}"
    if kind == "rangestep":
        return f"{a}-{b}/{n}"
    return ",".join(show(v) for v in sorted(rng.sample(range(low, high + 1), 3)))


def _expression(rng: random.Random, six: bool) -> str:
    parts = [
        _field(rng, 0, 59, 0.15),
        _field(rng, 0, 23, 0.25),
        _field(rng, 1, 31, 0.6),
        _field(rng, 1, 12, 0.7, MONTHS),
        _field(rng, 0, 6, 0.6, DAYS),
    ]
    if six:
        parts = [_field(rng, 0, 59, 0.2), rng.choice(["*", "*/5", "10-20"]), *parts[1:]]
    return " ".join(parts)


def _transitions(tz: ZoneInfo) -> list[datetime]:
    out = []
    at = datetime(2025, 1, 1, tzinfo=UTC)
    offset = at.astimezone(tz).utcoffset()
    while at < datetime(2028, 1, 1, tzinfo=UTC):
        at += timedelta(hours=1)
        now = at.astimezone(tz).utcoffset()
        if now != offset:
            out.append(at)
            offset = now
    return out


def _cases(count: int) -> list[tuple[str, datetime, str]]:
    rng = random.Random(20251130)
    transitions = {name: _transitions(ZoneInfo(name)) for name in ZONES}
    cases: list[tuple[str, datetime, str]] = []
    while len(cases) < count:
        six = rng.random() < 0.15
        expression = _expression(rng, six)
        try:
            validate(expression)
        except CronError:
            continue
        name = rng.choice(ZONES)
        if transitions[name] and rng.random() < 0.6:
            around = rng.choice(transitions[name])
            after = around + timedelta(seconds=rng.randint(-3 * 86400, 3600 * 3))
        else:
            after = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(
                seconds=rng.randint(0, 6 * 365 * 86400)
            )
        after += timedelta(microseconds=rng.choice([0, 0, 250_000]))
        cases.append((expression, after, name))
    return cases


def test_next_run_agrees_with_a_brute_force_matcher_on_1000_generated_cases() -> None:
    mismatches = []
    for expression, after, name in _cases(1000):
        tz = ZoneInfo(name)
        expected = Oracle(expression).next(after, tz)
        got = next_run(expression, after, name)
        if expected is None or got.timestamp() != expected.timestamp():
            mismatches.append((expression, after.isoformat(), name, got, expected))
    assert mismatches == []


# --- the documented rules, one each ------------------------------------------------------------

NY = ZoneInfo("America/New_York")


def _runs(expression: str, start: datetime, end: datetime, tz: str) -> list[datetime]:
    out, at = [], start
    while True:
        at = next_run(expression, at, tz)
        if at >= end:
            return out
        out.append(at)


def test_a_0230_job_runs_once_on_spring_forward_day_right_after_the_change() -> None:
    runs = _runs(
        "30 2 * * *",
        datetime(2025, 3, 8, 12, tzinfo=NY),
        datetime(2025, 3, 10, 12, tzinfo=NY),
        "America/New_York",
    )
    assert [r.isoformat() for r in runs] == [
        "2025-03-09T03:00:00-04:00",
        "2025-03-10T02:30:00-04:00",
    ]


def test_a_0130_job_runs_once_on_fall_back_day() -> None:
    runs = _runs(
        "30 1 * * *",
        datetime(2025, 11, 1, 12, tzinfo=NY),
        datetime(2025, 11, 3, 12, tzinfo=NY),
        "America/New_York",
    )
    assert [r.isoformat() for r in runs] == [
        "2025-11-02T01:30:00-04:00",
        "2025-11-03T01:30:00-05:00",
    ]


def test_after_the_first_of_two_repeated_hours_the_job_does_not_run_again() -> None:
    second_pass = datetime(2025, 11, 2, 1, 10, tzinfo=NY, fold=1)  # 01:10 EST, after 01:30 EDT
    assert (
        next_run("30 1 * * *", second_pass, "America/New_York").isoformat()
        == "2025-11-03T01:30:00-05:00"
    )


def test_interval_schedules_run_on_the_real_clock_through_fall_back() -> None:
    runs = _runs(
        "0,30 * * * *",
        datetime(2025, 11, 2, 0, 50, tzinfo=NY),
        datetime(2025, 11, 2, 2, 10, tzinfo=NY),
        "America/New_York",
    )
    assert len(runs) == 5  # 01:00 and 01:30 twice each (every real half hour), then 02:00


def test_both_day_fields_restricted_match_either_vixie_rule() -> None:
    start = datetime(2025, 6, 1, tzinfo=UTC)  # a Sunday
    runs = _runs("0 0 13 * fri", start, datetime(2025, 6, 30, tzinfo=UTC), "UTC")
    assert [r.day for r in runs] == [6, 13, 20, 27]


def test_a_star_step_day_of_month_means_both_must_match() -> None:
    runs = _runs(
        "0 0 */2 * mon", datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC), "UTC"
    )
    assert [r.day for r in runs] == [9, 23]  # odd days that are Mondays


def test_names_for_months_and_weekdays() -> None:
    got = next_run("15 10 * jan-mar mon", datetime(2025, 4, 1, tzinfo=UTC), "UTC")
    assert got.isoformat() == "2026-01-05T10:15:00+00:00"


def test_six_fields_lead_with_seconds() -> None:
    runs = _runs(
        "*/2 * * * * *",
        datetime(2025, 1, 1, tzinfo=UTC),
        datetime(2025, 1, 1, 0, 0, 7, tzinfo=UTC),
        "UTC",
    )
    assert [r.second for r in runs] == [2, 4, 6]


def test_next_run_is_strictly_after() -> None:
    at = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert next_run("0 12 * * *", at, "UTC") == datetime(2025, 1, 2, 12, tzinfo=UTC)


def test_result_is_aware_in_the_schedule_zone() -> None:
    got = next_run("0 9 * * *", datetime(2025, 1, 1, tzinfo=UTC), "Asia/Tokyo")
    assert got.utcoffset() == timedelta(hours=9)
    assert got.hour == 9


def test_shorthands_expand() -> None:
    assert next_run("@daily", datetime(2025, 1, 1, 5, tzinfo=UTC)) == datetime(
        2025, 1, 2, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("expression", "needle"),
    [("* * *", "expected 5 fields"), ("61 * * * *", "bad minute"), ("* * 30 2 *", "day-of-month"),
     ("* * * * * * *", "got 7"), ("0 0 * * funday", "day-of-week")],
)  # fmt: skip
def test_invalid_expressions_are_one_line_errors(expression: str, needle: str) -> None:
    with pytest.raises(CronError) as caught:
        validate(expression)
    assert needle in str(caught.value)
    assert "\n" not in str(caught.value)
    assert repr(expression) in str(caught.value)


def test_unknown_zone_is_a_one_line_error() -> None:
    with pytest.raises(CronError, match="unknown time zone 'Mars/Olympus'"):
        next_run("* * * * *", datetime(2025, 1, 1, tzinfo=UTC), "Mars/Olympus")


def test_naive_after_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_run("* * * * *", datetime(2025, 1, 1))
