"""Every enumerator helper resumes exactly where an interrupted run stopped: run a job
built on it, interrupt it every few items, and check each item was processed once. The SQL
keyset helpers also keep that promise while rows are inserted between runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import henchman
from henchman.app import Henchman
from henchman.iteration import enumerators, keyset
from henchman.testing import IterationHarness, run_with_interruptions


def job_over(app: Henchman, make: Callable[[Any], Iterator[Any]], seen: list[Any]) -> type[Any]:
    class Over(henchman.IterableJob, app=app):
        def build_enumerator(self, *, cursor: Any) -> Iterator[Any]:
            return make(cursor)

        def each_iteration(self, item: Any) -> None:
            seen.append(item)

    return Over


def test_sequence_resumes(app: Henchman) -> None:
    seen: list[Any] = []
    job = job_over(app, lambda c: enumerators.sequence(list(range(20)), c), seen)
    run_with_interruptions(job, every=3)
    assert seen == list(range(20))


def test_sequence_batches_resume(app: Henchman) -> None:
    seen: list[Any] = []
    job = job_over(
        app, lambda c: enumerators.sequence_batches(list(range(20)), c, batch_size=6), seen
    )
    run_with_interruptions(job, every=2)
    assert [x for batch in seen for x in batch] == list(range(20))


def test_number_range_resumes(app: Henchman) -> None:
    seen: list[Any] = []
    run_with_interruptions(
        job_over(app, lambda c: enumerators.number_range(5, 50, c, step=5), seen), every=4
    )
    assert seen == list(range(5, 50, 5))


def write_people(path: Path, count: int) -> Path:
    lines = ["id,name"] + [f"{i},person {i}" for i in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_csv_rows_resume(app: Henchman, tmp_path: Path) -> None:
    path = write_people(tmp_path / "people.csv", 25)
    seen: list[Any] = []
    run_with_interruptions(job_over(app, lambda c: enumerators.csv_rows(path, c), seen), every=4)
    assert [row["id"] for row in seen] == [str(i) for i in range(25)]


def test_csv_batches_resume(app: Henchman, tmp_path: Path) -> None:
    path = write_people(tmp_path / "people.csv", 25)
    seen: list[Any] = []
    job = job_over(app, lambda c: enumerators.csv_batches(path, c, batch_size=4), seen)
    run_with_interruptions(job, every=2)
    assert [row["id"] for batch in seen for row in batch] == [str(i) for i in range(25)]


def test_a_plain_generator_resumes(app: Henchman) -> None:
    def squares(cursor: int | None) -> Iterator[tuple[int, int]]:
        for n in range(cursor or 0, 12):
            yield n * n, n

    seen: list[Any] = []
    run_with_interruptions(job_over(app, squares, seen), every=5)
    assert seen == [n * n for n in range(12)]


# --- SQLAlchemy ---------------------------------------------------------------------------------

sqlalchemy = pytest.importorskip("sqlalchemy")
from sqlalchemy import orm  # noqa: E402


class Base(orm.DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    name: orm.Mapped[str]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Any]:
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    Base.metadata.create_all(engine)
    with orm.Session(engine) as session:
        session.add_all(User(name=f"user {i}") for i in range(23))
        session.commit()
    yield engine
    engine.dispose()


def add_users(engine: Any, count: int) -> None:
    with orm.Session(engine) as session:
        session.add_all(User(name=f"late {i}") for i in range(count))
        session.commit()


def all_ids(engine: Any) -> list[int]:
    with engine.connect() as connection:
        return [row.id for row in connection.execute(sqlalchemy.select(User.id).order_by(User.id))]


def sqlalchemy_job(
    app: Henchman, engine: Any, seen: list[Any], *, batches: bool, core: bool
) -> type[Any]:
    class Users(henchman.IterableJob, app=app):
        def build_enumerator(self, *, cursor: Any) -> Iterator[Any]:
            self.executor = engine.connect() if core else orm.Session(engine)
            statement = sqlalchemy.select(User.__table__ if core else User).order_by(User.name)
            helper = keyset.sqlalchemy_batches if batches else keyset.sqlalchemy_records
            return helper(self.executor, statement, cursor, batch_size=5)

        def each_iteration(self, item: Any) -> None:
            for one in item if batches else [item]:
                seen.append(one.id)

        def on_stop(self) -> None:
            self.executor.close()

    return Users


@pytest.mark.parametrize(
    ("batches", "core"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_sqlalchemy_keyset_resumes_without_repeats_or_gaps_while_rows_are_inserted(
    app: Henchman, engine: Any, batches: bool, core: bool
) -> None:
    seen: list[Any] = []
    harness = IterationHarness(sqlalchemy_job(app, engine, seen, batches=batches, core=core))
    assert harness.run(interrupt_after=2).outcome == "interrupted"
    add_users(engine, 4)  # rows inserted while the job waits to resume
    harness.run(interrupt_after=3)
    add_users(engine, 3)
    harness.run_to_completion(interrupt_every=2)
    harness.assert_each_item_once()
    assert seen == all_ids(engine)
    assert len(seen) == 30


def test_sqlalchemy_cursor_is_the_last_primary_key_before_the_item(engine: Any) -> None:
    with orm.Session(engine) as session:
        pairs = list(
            keyset.sqlalchemy_records(session, sqlalchemy.select(User), None, batch_size=4)
        )
        assert [cursor for _, cursor in pairs[:3]] == [None, 1, 2]
        resumed = list(keyset.sqlalchemy_records(session, sqlalchemy.select(User), 20))
        assert [user.id for user, _ in resumed] == [21, 22, 23]


def test_sqlalchemy_needs_a_single_column_key(engine: Any) -> None:
    pair = sqlalchemy.Table(
        "pairs",
        sqlalchemy.MetaData(),
        sqlalchemy.Column("a", sqlalchemy.Integer, primary_key=True),
        sqlalchemy.Column("b", sqlalchemy.Integer, primary_key=True),
    )
    with engine.connect() as connection, pytest.raises(TypeError, match="single-column"):
        list(keyset.sqlalchemy_records(connection, sqlalchemy.select(pair), None))


# --- Django -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def django_article(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A Django model on an sqlite file, with settings configured in this process."""
    django = pytest.importorskip("django")
    from django.conf import settings

    if not settings.configured:
        database = tmp_path_factory.mktemp("django") / "db.sqlite3"
        settings.configure(
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(database)}},
            INSTALLED_APPS=["django.contrib.contenttypes"],
            USE_TZ=True,
        )
        django.setup()
    from django.db import connection, models

    class Article(models.Model):
        title = models.CharField(max_length=50)

        class Meta:
            app_label = "henchman_iteration_tests"

    with connection.schema_editor() as editor:
        editor.create_model(Article)
    return Article


@pytest.fixture
def articles(django_article: Any) -> Iterator[Any]:
    django_article.objects.bulk_create(django_article(title=f"a{i}") for i in range(23))
    yield django_article
    django_article.objects.all().delete()


@pytest.mark.parametrize(("batches", "values"), [(False, False), (True, False), (False, True)])
def test_django_keyset_resumes_without_repeats_or_gaps_while_rows_are_inserted(
    app: Henchman, articles: Any, batches: bool, values: bool
) -> None:
    seen: list[Any] = []

    class Articles(henchman.IterableJob, app=app):
        def build_enumerator(self, *, cursor: Any) -> Iterator[Any]:
            queryset = articles.objects.order_by("-title")
            if values:
                queryset = queryset.values("id", "title")
            helper = keyset.django_batches if batches else keyset.django_records
            return helper(queryset, cursor, batch_size=5)

        def each_iteration(self, item: Any) -> None:
            for one in item if batches else [item]:
                seen.append(one["id"] if values else one.pk)

    harness = IterationHarness(Articles)
    harness.run(interrupt_after=2)
    articles.objects.bulk_create(articles(title=f"late{i}") for i in range(4))
    harness.run(interrupt_after=3)
    harness.run_to_completion(interrupt_every=2)
    harness.assert_each_item_once()
    assert seen == list(articles.objects.order_by("pk").values_list("pk", flat=True))
    assert len(seen) == 27
