"""Iterable jobs in real worker processes stopped with SIGTERM.

- A 20,000-row CSV import into SQLite, with rows failing validation into the row ledger, is
  stopped at random moments at least 5 times and restarted each time: every valid row ends up in
  the table exactly once, the ledger lists every failed row with its messages, and the work done
  (item executions, counted in the same SQLite transaction as the row) stays within 5 % of an
  uninterrupted run of the same import.
- A stop of a worker running an iterable job takes about one item, far below ``-t``.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from henchman import keys
from henchman.api import IterationState
from henchman.app import Henchman
from tests.conftest import RedisDB
from tests.support.worker_process import fast_env, fault_rng, start_worker, stop, wait_for

ITER_JOBS = """
import sqlite3, time
import redis
import henchman
from henchman.iteration import enumerators


def validate(row):
    errors = []
    if not row["email"]:
        errors.append("email is missing")
    elif "@" not in row["email"]:
        errors.append("email has no @")
    if not row["age"].isdigit():
        errors.append("age must be a number")
    return errors


class ImportPeople(henchman.IterableJob, name="ImportPeople"):
    keep_ledger_for = 3600

    def build_enumerator(self, csv_path, db_path, *, cursor):
        self.db = sqlite3.connect(db_path, timeout=30)
        self.db.execute("PRAGMA synchronous=OFF")
        return enumerators.csv_rows(csv_path, cursor)

    def each_iteration(self, row, csv_path, db_path):
        number = self.cursor
        errors = validate(row)
        with self.db:  # the execution count and the row commit together
            self.db.execute("INSERT INTO executions(row) VALUES (?)", (number,))
            if not errors:
                self.db.execute(
                    "INSERT INTO people(row, name, email, age) VALUES (?, ?, ?, ?)",
                    (number, row["name"], row["email"], int(row["age"])),
                )
        if errors:
            self.ledger.failed(number, *errors)
        else:
            self.ledger.processed(number)

    def on_stop(self):
        self.db.close()

    def on_complete(self):
        self.app.client.redis.set("test:complete:" + self.jid, 1)


class GatedItems(henchman.IterableJob, name="GatedItems"):
    # Each item waits for a token on test:go: the test decides when items finish.

    def build_enumerator(self, *, cursor):
        return enumerators.number_range(0, 10_000, cursor)

    def each_iteration(self, number):
        if self.app.client.redis.blpop("test:go", timeout=60) is None:
            raise RuntimeError("no token within 60 s")
        self.app.client.redis.rpush("test:slow", number)
"""

ROWS = 20_000


def write_module(directory: Path) -> None:
    (directory / "iter_jobs.py").write_text(ITER_JOBS)


def write_csv(path: Path) -> dict[int, list[str]]:
    """The import file; returns the rows that must fail, with their messages in order."""
    failing: dict[int, list[str]] = {}
    lines = ["name,email,age"]
    for row in range(ROWS):
        email, age = f"person{row}@example.com", str(20 + row % 60)
        if row % 50 == 7:
            email, age = "", "n/a"
            failing[row] = ["email is missing", "age must be a number"]
        elif row % 50 == 23:
            email = f"person{row}.example.com"
            failing[row] = ["email has no @"]
        elif row % 97 == 5:
            age = "?"
            failing[row] = ["age must be a number"]
        lines.append(f'"Person {row}, Jr.",{email},{age}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return failing


def make_db(path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE executions (row INTEGER NOT NULL)")
        db.execute("CREATE TABLE people (row INTEGER, name TEXT, email TEXT, age INTEGER)")
    db.close()
    return path


def count(db_path: Path, sql: str) -> int:
    db = sqlite3.connect(db_path, timeout=30)
    try:
        return int(db.execute(sql).fetchone()[0])
    finally:
        db.close()


def push(redis_db: RedisDB, name: str, *args: object) -> str:
    app = Henchman(redis_db.settings(reliable_push=False))
    try:
        jid = app.client.push(name, args, {"queue": "default", "retry": True})
    finally:
        app.close()
    assert jid is not None
    return jid


def worker(workdir: Path, redis_db: RedisDB, *args: str) -> subprocess.Popen[bytes]:
    return start_worker(workdir, fast_env(redis_db.url), "-r", "iter_jobs", "-c", "2", *args)


@dataclass
class ImportRun:
    jid: str
    interruptions: int
    seconds: float


def executed(db: Path) -> int:
    return count(db, "SELECT count(*) FROM executions")


def run_import(
    workdir: Path, redis_db: RedisDB, csv: Path, db: Path, interruptions: int
) -> ImportRun:
    """Run the import to completion, SIGTERMing the worker ``interruptions`` times at random
    moments (each after a random amount of progress in that worker's life)."""
    jid = push(redis_db, "ImportPeople", str(csv), str(db))
    done = f"test:complete:{jid}"
    stopped, started = 0, time.monotonic()
    rng = fault_rng()
    while not redis_db.client.exists(done):
        process = worker(workdir, redis_db)
        if stopped < interruptions:
            target = executed(db) + rng.randint(600, 2200)
            wait_for(
                lambda goal=target: executed(db) >= goal or bool(redis_db.client.exists(done)),
                timeout=60,
                what=f"{target} rows executed",
            )
            time.sleep(rng.uniform(0, 0.05))
            assert stop(process) == 0
            stopped += 1
        else:
            wait_for(lambda: bool(redis_db.client.exists(done)), timeout=60, what="the import")
            assert stop(process) == 0
    return ImportRun(jid, stopped, time.monotonic() - started)


def test_a_csv_import_stopped_at_random_moments_processes_every_row_once(
    redis_db: RedisDB, workdir: Path
) -> None:
    write_module(workdir)
    csv = workdir / "people.csv"
    failing = write_csv(csv)
    valid = set(range(ROWS)) - set(failing)

    baseline_db = make_db(workdir / "baseline.sqlite")
    baseline = run_import(workdir, redis_db, csv, baseline_db, interruptions=0)
    baseline_work = executed(baseline_db)

    db = make_db(workdir / "interrupted.sqlite")
    result = run_import(workdir, redis_db, csv, db, interruptions=fault_rng().randint(5, 7))
    work = executed(db)
    overhead = (work - baseline_work) / baseline_work
    print(
        f"\nimport: {ROWS} rows, {len(failing)} failing; baseline {baseline_work} executions in "
        f"{baseline.seconds:.1f} s; {result.interruptions} SIGTERMs: {work} executions "
        f"({overhead:+.2%}) in {result.seconds:.1f} s"
    )

    assert result.interruptions >= 5
    assert baseline_work == ROWS
    assert abs(overhead) <= 0.05
    conn = sqlite3.connect(db)
    try:
        rows = [r for (r,) in conn.execute("SELECT row FROM people ORDER BY row")]
    finally:
        conn.close()
    assert len(rows) == len(set(rows)), "a valid row was written twice"
    assert set(rows) == valid

    record = IterationState(redis_db.client).find(result.jid)
    assert record is not None
    assert not record.has_state
    assert record.ledger.failed == failing
    assert record.ledger.processed == len(valid)
    assert redis_db.client.zcard(keys.RETRY) == 0
    assert redis_db.client.llen(keys.queue("default")) == 0


def test_stopping_a_worker_running_an_iterable_job_takes_about_one_item(
    redis_db: RedisDB, workdir: Path
) -> None:
    write_module(workdir)
    jid = push(redis_db, "GatedItems")
    process = worker(workdir, redis_db, "-t", "20")
    log = workdir / "worker.log"
    try:
        redis_db.client.rpush("test:go", *range(3))
        wait_for(lambda: redis_db.client.llen("test:slow") == 3, timeout=30, what="3 items")
        # The fourth item now waits for its token. Stop the worker, and only once it says it is
        # stopping (running jobs are told to stop) let the item finish, with tokens to spare for
        # more: the items that finish after TERM are counted exactly, whatever the machine's load.
        process.send_signal(signal.SIGTERM)
        wait_for(lambda: "stopping: waiting up to" in log.read_text(), what="the stop to begin")
        redis_db.client.rpush("test:go", *range(5))
        wait_for(lambda: process.poll() is not None, timeout=30, what="the worker to exit")
    except BaseException:
        stop(process, signal.SIGKILL)
        raise
    assert process.returncode == 0
    done = redis_db.client.llen("test:slow")
    # The job stopped at the next item boundary: only the item in progress finished after TERM,
    # and the worker never reached its -t deadline (which would log "timeout reached").
    assert done == 4
    assert "timeout reached" not in log.read_text()

    state = redis_db.client.hgetall(keys.iteration_state(jid))
    assert int(state[b"c"]) == done  # the next unprocessed item
    assert redis_db.client.llen(keys.queue("default")) == 1
    assert redis_db.client.zcard(keys.RETRY) == 0
