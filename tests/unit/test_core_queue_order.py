"""Queue order per fetch: strict, weighted (redrawn per fetch) and random. Pure: the
randomness is a seeded ``random.Random``, so the statistics are exact for a given seed."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from henchman.config import QueueSpec
from henchman.server.queue_order import is_strict, order

DRAWS = 20_000


def first_counts(queues: tuple[QueueSpec, ...], seed: int = 1234) -> Counter[str]:
    rng = random.Random(seed)
    return Counter(order(queues, rng)[0] for _ in range(DRAWS))


def test_queues_without_weights_are_strict() -> None:
    assert is_strict((QueueSpec("a"), QueueSpec("b")))


def test_any_weight_makes_the_order_weighted() -> None:
    assert not is_strict((QueueSpec("a", 1), QueueSpec("b")))


def test_strict_order_is_the_configured_order_every_time() -> None:
    queues = (QueueSpec("critical"), QueueSpec("default"), QueueSpec("low"))
    rng = random.Random(1)
    assert all(order(queues, rng) == ["critical", "default", "low"] for _ in range(100))


def test_strict_order_uses_no_randomness() -> None:
    rng = random.Random(7)
    before = rng.getstate()
    order((QueueSpec("a"), QueueSpec("b")), rng)
    assert rng.getstate() == before


def test_weight_three_against_one_comes_first_about_three_quarters_of_the_time() -> None:
    counts = first_counts((QueueSpec("heavy", 3), QueueSpec("light", 1)))
    assert counts["heavy"] / DRAWS == pytest.approx(0.75, abs=0.02)


def test_weights_five_three_one_come_first_in_proportion() -> None:
    counts = first_counts((QueueSpec("a", 5), QueueSpec("b", 3), QueueSpec("c", 1)))
    assert counts["a"] / DRAWS == pytest.approx(5 / 9, abs=0.02)
    assert counts["b"] / DRAWS == pytest.approx(3 / 9, abs=0.02)
    assert counts["c"] / DRAWS == pytest.approx(1 / 9, abs=0.02)


def test_equal_weights_are_random_order() -> None:
    counts = first_counts((QueueSpec("a", 1), QueueSpec("b", 1), QueueSpec("c", 1)))
    for name in "abc":
        assert counts[name] / DRAWS == pytest.approx(1 / 3, abs=0.02)


def test_every_weighted_draw_lists_each_queue_exactly_once() -> None:
    queues = (QueueSpec("a", 4), QueueSpec("b", 2), QueueSpec("c", 1))
    rng = random.Random(99)
    for _ in range(500):
        assert sorted(order(queues, rng)) == ["a", "b", "c"]


def test_the_weighted_order_is_redrawn_on_every_call() -> None:
    queues = (QueueSpec("a", 1), QueueSpec("b", 1))
    rng = random.Random(5)
    assert len({tuple(order(queues, rng)) for _ in range(50)}) == 2


def test_a_zero_weight_queue_mixed_with_weighted_ones_still_gets_a_chance() -> None:
    counts = first_counts((QueueSpec("a", 1), QueueSpec("b", 0)))
    assert counts["b"] > 0


def test_the_same_seed_gives_the_same_orders() -> None:
    queues = (QueueSpec("a", 2), QueueSpec("b", 1), QueueSpec("c", 1))
    one, two = random.Random(3), random.Random(3)
    assert [order(queues, one) for _ in range(20)] == [order(queues, two) for _ in range(20)]
