"""The enumerator contract, without Redis: each cursor restarts the helper at its own item."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from henchman.iteration import enumerators


def check_contract(make: Callable[[Any], Iterator[tuple[Any, Any]]]) -> list[tuple[Any, Any]]:
    """Every cursor, given back to ``make``, yields the rest of the sequence from that item."""
    full = list(make(None))
    for index, (_, cursor) in enumerate(full):
        assert list(make(cursor)) == full[index:], f"resume at {cursor!r}"
    return full


def test_sequence_cursor_is_the_index() -> None:
    full = check_contract(lambda c: enumerators.sequence(["a", "b", "c"], c))
    assert full == [("a", 0), ("b", 1), ("c", 2)]


def test_sequence_batches_cursor_is_the_index_of_the_first_element() -> None:
    full = check_contract(lambda c: enumerators.sequence_batches(list(range(7)), c, batch_size=3))
    assert full == [([0, 1, 2], 0), ([3, 4, 5], 3), ([6], 6)]


def test_number_range_cursor_is_the_number() -> None:
    full = check_contract(lambda c: enumerators.number_range(10, 20, c, step=4))
    assert full == [(10, 10), (14, 14), (18, 18)]
    with pytest.raises(ValueError, match="not in range"):
        list(enumerators.number_range(10, 20, 11, step=4))


def write_csv(path: Path) -> Path:
    path.write_text('name,note\nada,"multi\nline"\nbob,x\ncy,y\ndee,z\n', encoding="utf-8")
    return path


def test_csv_rows_are_dicts_numbered_from_zero_after_the_header(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "people.csv")
    full = check_contract(lambda c: enumerators.csv_rows(path, c))
    assert [(row["name"], cursor) for row, cursor in full] == [
        ("ada", 0),
        ("bob", 1),
        ("cy", 2),
        ("dee", 3),
    ]
    assert full[0][0]["note"] == "multi\nline"


def test_csv_rows_without_header_are_lists_and_open_files_stay_open(tmp_path: Path) -> None:
    stream = io.StringIO("1;2\n3;4\n")
    rows = list(enumerators.csv_rows(stream, None, header=False, delimiter=";"))
    assert rows == [(["1", "2"], 0), (["3", "4"], 1)]
    assert not stream.closed


def test_csv_batches_cursor_is_the_row_number_of_the_first_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "people.csv")
    full = check_contract(lambda c: enumerators.csv_batches(path, c, batch_size=3))
    assert [([r["name"] for r in batch], cursor) for batch, cursor in full] == [
        (["ada", "bob", "cy"], 0),
        (["dee"], 3),
    ]
    # a different batch size after an interruption still resumes at the right row
    resumed = list(enumerators.csv_batches(path, 1, batch_size=2))
    assert [([r["name"] for r in b], c) for b, c in resumed] == [(["bob", "cy"], 1), (["dee"], 3)]


def test_closing_a_csv_enumerator_closes_the_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "people.csv")
    rows = enumerators.csv_rows(path, None)
    next(rows)
    frame = rows.gi_frame
    assert frame is not None
    stream = frame.f_locals["stream"]
    rows.close()
    assert stream.closed


@pytest.mark.parametrize("cursor", [-1, "3", 1.5, True])
def test_bad_cursors_are_rejected(cursor: Any) -> None:
    with pytest.raises(ValueError, match="cursor"):
        list(enumerators.sequence([1, 2], cursor))


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        list(enumerators.sequence_batches([1], None, batch_size=0))
