"""SQL keyset enumerators for SQLAlchemy selects and Django querysets.

Rows are read in pages ordered by the primary key, each page asking for ``pk > last pk`` (never
``OFFSET``), and the cursor is the **last primary key before the item** (``None`` before the
first row). So a resumed run starts exactly after the last row it saw: rows inserted meanwhile
are read once if their key is higher (autoincrement keys always are), and no row is read twice
or skipped, whatever else changes in the table. The statement's own ``ORDER BY`` is replaced by
the key order. Keys must be a single column; non-JSON key values (UUIDs) are saved as strings.

SQLAlchemy and Django are optional: they are imported only when these helpers run.

::

    def build_enumerator(self, *, cursor):
        return keyset.sqlalchemy_records(self.session, select(User).where(User.active), cursor)

    def build_enumerator(self, *, cursor):
        return keyset.django_batches(User.objects.filter(active=True), cursor, batch_size=200)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

#: Rows fetched per query when not told otherwise.
DEFAULT_PAGE = 500

Fetch = Callable[[Any, int], list[Any]]
KeyOf = Callable[[Any], Any]


def _pages(
    key_of: KeyOf, cursor: Any, batch_size: int, *, fetch: Fetch
) -> Iterator[tuple[list[tuple[Any, Any]], Any]]:
    """Pages of ``(item, key)`` with the key before the page; stops at the first short page."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    after = cursor
    while True:
        items = fetch(after, batch_size)
        if not items:
            return
        page = [(item, _json_key(key_of(item))) for item in items]
        yield page, after
        after = page[-1][1]
        if len(items) < batch_size:
            return


def _records(pages: Iterator[tuple[list[tuple[Any, Any]], Any]]) -> Iterator[tuple[Any, Any]]:
    for page, first in pages:
        previous = first
        for item, key in page:
            yield item, previous
            previous = key


def _batches(pages: Iterator[tuple[list[tuple[Any, Any]], Any]]) -> Iterator[tuple[Any, Any]]:
    for page, before in pages:
        yield [item for item, _ in page], before


def _json_key(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        raise TypeError(f"a keyset enumerator needs a primary key value, got {value!r}")
    return value if isinstance(value, int | str | float) else str(value)


# --- SQLAlchemy ---------------------------------------------------------------------------------


def sqlalchemy_records(
    executor: Any, statement: Any, cursor: Any, *, batch_size: int = DEFAULT_PAGE, key: Any = None
) -> Iterator[tuple[Any, Any]]:
    """Each result of ``statement`` (a ``select()``) run on ``executor`` (a ``Session`` or a
    ``Connection``) in primary-key order: ORM objects for ``select(Model)`` on a session, rows
    otherwise. ``key`` overrides the key column (default: the single-column primary key)."""
    return _records(_sqlalchemy_pages(executor, statement, cursor, batch_size, key))


def sqlalchemy_batches(
    executor: Any, statement: Any, cursor: Any, *, batch_size: int = DEFAULT_PAGE, key: Any = None
) -> Iterator[tuple[Any, Any]]:
    """Lists of up to ``batch_size`` results of ``statement``; see :func:`sqlalchemy_records`."""
    return _batches(_sqlalchemy_pages(executor, statement, cursor, batch_size, key))


def _sqlalchemy_pages(
    executor: Any, statement: Any, cursor: Any, batch_size: int, key: Any
) -> Iterator[tuple[list[tuple[Any, Any]], Any]]:
    from sqlalchemy.orm import Session

    descriptions = statement.column_descriptions
    entity = descriptions[0].get("entity") if len(descriptions) == 1 else None
    orm = isinstance(executor, Session) and entity is not None and descriptions[0]["type"] is entity
    column = _sqlalchemy_key(statement, entity, key)
    base = statement.order_by(None).order_by(column)

    def fetch(after: Any, limit: int) -> list[Any]:
        query = base if after is None else base.where(column > after)
        result = executor.execute(query.limit(limit))
        return list(result.scalars() if orm else result)

    if orm:
        name = _attribute_name(entity, column)
        return _pages(lambda obj: getattr(obj, name), cursor, batch_size, fetch=fetch)
    return _pages(lambda row: row._mapping[column], cursor, batch_size, fetch=fetch)


def _sqlalchemy_key(statement: Any, entity: Any, key: Any) -> Any:
    if key is not None:
        return key
    from sqlalchemy import inspect as inspect_sa

    if entity is not None:
        columns = list(inspect_sa(entity).primary_key)
    else:
        froms = statement.get_final_froms()
        columns = list(froms[0].primary_key.columns) if froms else []
    if len(columns) != 1:
        raise TypeError(
            "keyset iteration needs a single-column primary key; pass key=<column> "
            f"(found {len(columns)} key columns)"
        )
    return columns[0]


def _attribute_name(entity: Any, column: Any) -> str:
    from sqlalchemy import inspect as inspect_sa
    from sqlalchemy.orm.exc import UnmappedColumnError

    prop = getattr(column, "property", None)  # an ORM attribute such as User.id
    if prop is not None:
        return str(prop.key)
    try:
        return str(inspect_sa(entity).get_property_by_column(column).key)
    except UnmappedColumnError:
        return str(column.key)


# --- Django -------------------------------------------------------------------------------------


def django_records(
    queryset: Any, cursor: Any, *, batch_size: int = DEFAULT_PAGE
) -> Iterator[tuple[Any, Any]]:
    """Each object (or dict, for ``.values()``) of ``queryset`` in primary-key order."""
    return _records(_django_pages(queryset, cursor, batch_size))


def django_batches(
    queryset: Any, cursor: Any, *, batch_size: int = DEFAULT_PAGE
) -> Iterator[tuple[Any, Any]]:
    """Lists of up to ``batch_size`` objects of ``queryset``; see :func:`django_records`."""
    return _batches(_django_pages(queryset, cursor, batch_size))


def _django_pages(
    queryset: Any, cursor: Any, batch_size: int
) -> Iterator[tuple[list[tuple[Any, Any]], Any]]:
    ordered = queryset.order_by("pk")
    pk_name = queryset.model._meta.pk.attname

    def fetch(after: Any, limit: int) -> list[Any]:
        page = ordered if after is None else ordered.filter(pk__gt=after)
        return list(page[:limit])

    def key_of(item: Any) -> Any:
        if isinstance(item, dict):
            return item["pk"] if "pk" in item else item[pk_name]
        return item.pk

    return _pages(key_of, cursor, batch_size, fetch=fetch)
