"""Enumerators for ``build_enumerator``: iterators of ``(item, cursor)`` pairs.

The contract every enumerator keeps, and any generator a user writes must keep too: the cursor
paired with an item is the position *of that item*, JSON-native, and calling the same helper
with that cursor starts again **at** that item. The job saves the cursor of the next unprocessed
item when it is interrupted (and of the failing item on an error), so a resumed run neither
repeats nor skips an item::

    def build_enumerator(self, path, *, cursor):
        return enumerators.csv_rows(path, cursor)

=====================  ==========================================================  ============
helper                 items                                                       cursor
=====================  ==========================================================  ============
``sequence``           the elements of a list/tuple                                index
``sequence_batches``   lists of up to ``batch_size`` elements                      index of 1st
``number_range``       the numbers of ``range(start, stop, step)``                 the number
``csv_rows``           CSV rows (dicts with a header row, else lists)              row number
``csv_batches``        lists of up to ``batch_size`` CSV rows                      row number
=====================  ==========================================================  ============

Row numbers count data rows from 0 (the header row is not counted). SQL keyset enumerators for
SQLAlchemy and Django live in :mod:`henchman.iteration.keyset`.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import IO, Any, TypeVar

T = TypeVar("T")

#: A CSV source: a path (opened and closed by the enumerator) or an open text file (yours).
CsvSource = str | os.PathLike[str] | IO[str]


def sequence(items: Sequence[T], cursor: int | None) -> Iterator[tuple[T, int]]:
    """Each element of ``items`` with its index, starting at index ``cursor``."""
    for index in range(_start(cursor), len(items)):
        yield items[index], index


def sequence_batches(
    items: Sequence[T], cursor: int | None, *, batch_size: int = 100
) -> Iterator[tuple[list[T], int]]:
    """Slices of ``batch_size`` elements with the index of their first element."""
    _check_batch_size(batch_size)
    for index in range(_start(cursor), len(items), batch_size):
        yield list(items[index : index + batch_size]), index


def number_range(
    start: int, stop: int, cursor: int | None, *, step: int = 1
) -> Iterator[tuple[int, int]]:
    """The numbers of ``range(start, stop, step)``, each its own cursor, resuming at ``cursor``."""
    if cursor is not None:
        if (cursor - start) % step:
            raise ValueError(f"cursor {cursor} is not in range({start}, {stop}, {step})")
        start = cursor
    for number in range(start, stop, step):
        yield number, number


def csv_rows(
    source: CsvSource, cursor: int | None, *, header: bool = True, **reader_options: Any
) -> Iterator[tuple[Any, int]]:
    """The data rows of a CSV file with their row number (0 = first row after the header).

    With ``header=True`` rows are dicts keyed by the header row (``csv.DictReader``), else
    lists. ``reader_options`` go to the reader (``delimiter=";"`` ...). A path is opened as
    UTF-8 with ``newline=""`` and closed when the enumerator ends or is closed. Resuming reads
    and skips the rows before ``cursor`` (rows may span lines, so lines cannot be skipped).
    """
    start = _start(cursor)
    with _open(source) as stream:
        rows: Iterable[Any] = (
            csv.DictReader(stream, **reader_options)
            if header
            else csv.reader(stream, **reader_options)
        )
        for number, row in enumerate(islice(rows, start, None), start):
            yield row, number


def csv_batches(
    source: CsvSource,
    cursor: int | None,
    *,
    batch_size: int = 100,
    header: bool = True,
    **reader_options: Any,
) -> Iterator[tuple[list[Any], int]]:
    """Lists of up to ``batch_size`` CSV rows with the row number of their first row.

    The cursor is a row number, not a batch number, so changing ``batch_size`` between runs
    still resumes at the right row.
    """
    _check_batch_size(batch_size)
    batch: list[Any] = []
    first = _start(cursor)
    for row, number in csv_rows(source, cursor, header=header, **reader_options):
        if not batch:
            first = number
        batch.append(row)
        if len(batch) == batch_size:
            yield batch, first
            batch = []
    if batch:
        yield batch, first


class _Borrowed:
    """A stream the caller owns: used as a context manager without closing it."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __enter__(self) -> IO[str]:
        return self.stream

    def __exit__(self, *exc: object) -> None:
        return None


def _open(source: CsvSource) -> Any:
    if isinstance(source, str | os.PathLike):
        return open(source, encoding="utf-8", newline="")  # closed by the caller's `with`
    return _Borrowed(source)


def _start(cursor: int | None) -> int:
    if cursor is None:
        return 0
    if isinstance(cursor, bool) or not isinstance(cursor, int) or cursor < 0:
        raise ValueError(f"cursor must be a row number or index (int >= 0), got {cursor!r}")
    return cursor


def _check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
