"""The pure parts of reconciling working lists: which entries are strays, and the fetch gate."""

from __future__ import annotations

import threading
import time

from henchman.server.fetch import UnitOfWork
from henchman.server.reconcile import FetchGate, Ledger, strays


def test_strays_are_the_listed_entries_nobody_holds() -> None:
    assert strays([b"c", b"b", b"a"], {b"b": 1}) == [b"c", b"a"]


def test_each_held_copy_accounts_for_one_listed_copy() -> None:
    assert strays([b"a", b"a", b"a"], {b"a": 2}) == [b"a"]


def test_held_entries_no_longer_listed_change_nothing() -> None:
    assert strays([b"a"], {b"gone": 1}) == [b"a"]


def test_the_ledger_counts_copies_per_working_list() -> None:
    ledger = Ledger()
    one, other = UnitOfWork("q", b"x", "w1"), UnitOfWork("q", b"x", "w2")
    ledger.add([one, one, other])
    ledger.discard([one])
    assert ledger.held_in("w1") == {b"x": 1}
    assert ledger.held_in("w2") == {b"x": 1}
    ledger.discard([one, one])  # discarding more than held never goes negative
    assert ledger.held_in("w1") == {}


def test_a_closed_gate_waits_for_the_fetch_inside() -> None:
    gate = FetchGate()
    left = threading.Event()
    assert gate.try_enter()

    def finish_fetch() -> None:
        time.sleep(0.05)
        left.set()
        gate.leave()

    threading.Thread(target=finish_fetch).start()
    with gate.closed(timeout=5) as quiet:
        assert quiet
        assert left.is_set()


def test_no_fetch_enters_while_the_gate_is_closed() -> None:
    gate = FetchGate()
    with gate.closed(timeout=1) as quiet:
        assert quiet
        assert not gate.try_enter()
    assert gate.try_enter()


def test_closing_gives_up_after_its_timeout_if_a_fetch_stays_inside() -> None:
    gate = FetchGate()
    assert gate.try_enter()
    with gate.closed(timeout=0.05) as quiet:
        assert not quiet
    assert gate.try_enter()  # reopened
