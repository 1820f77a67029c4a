"""henchman in a Django project: the Tasks backend with results, on-commit pushes, system checks,
``henchman run --django`` and the Web UI behind Django's authentication."""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import checks
from django.db import transaction
from django.test import Client, override_settings

from henchman import keys
from henchman.app import default_app
from henchman.django import enqueue_on_commit
from henchman.django.transaction import install_push_on_commit
from tests.django_project.shop import tasks
from tests.django_project.shop.jobs import mark_paid
from tests.django_project.shop.models import Order

try:
    from django.tasks import TaskResultStatus, task_backends
except ImportError:
    from django_tasks import TaskResultStatus, task_backends


def finished(result: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result.refresh()
        if result.is_finished:
            return result
        time.sleep(0.05)
    raise AssertionError(f"task {result.id} still {result.status} after {timeout} s")


def queued(redis_client: Any, queue: str = "default") -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in redis_client.lrange(keys.queue(queue), 0, -1)]


# -- the Tasks backend -------------------------------------------------------------------------


def test_the_backend_declares_what_it_supports() -> None:
    backend = task_backends["default"]
    assert type(backend).__name__ == "TaskBackend"
    assert backend.supports_defer
    assert backend.supports_async_task
    assert backend.supports_get_result
    assert not backend.supports_priority


def test_a_task_enqueued_from_a_view_runs_and_reports_its_value(
    worker: Path, redis_client: Any
) -> None:
    response = Client().get("/add/", {"a": 2, "b": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "READY"
    result = finished(tasks.add.get_result(body["id"]))
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 5
    assert result.attempts == 1
    assert result.args == [2, 3]
    assert result.errors == []
    assert result.enqueued_at <= result.started_at <= result.finished_at
    assert len(result.worker_ids) == 1


def test_a_failing_task_is_failed_with_its_error(worker: Path) -> None:
    result = finished(tasks.explode.enqueue())
    assert result.status == TaskResultStatus.FAILED
    (error,) = result.errors
    assert error.exception_class_path == "builtins.ValueError"
    assert "no such customer" in error.traceback
    assert error.exception_class is ValueError
    with pytest.raises(ValueError, match="Task failed"):
        _ = result.return_value


def test_kwargs_queues_async_tasks_and_the_context(worker: Path, redis_client: Any) -> None:
    def finished(result: Any) -> Any:
        try:
            return globals()["finished"](result)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{worker.read_text()[-4000:]}") from None

    receipt = finished(tasks.send_receipt.enqueue(7, subject="Thanks"))
    assert receipt.return_value == {"order": 7, "subject": "Thanks"}
    assert receipt.task.queue_name == "emails"
    assert receipt.kwargs == {"subject": "Thanks"}
    assert finished(tasks.add_later.enqueue(20, 22)).return_value == 42
    assert finished(tasks.attempt_number.enqueue()).return_value == 1


def test_run_after_schedules_the_task(redis_client: Any) -> None:
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
    result = tasks.add.using(run_after=when).enqueue(1, 1)
    (raw, score), = redis_client.zrange(keys.SCHEDULE, 0, -1, withscores=True)
    assert json.loads(raw)["jid"] == result.id
    assert abs(score - when.timestamp()) < 1
    assert tasks.add.get_result(result.id).status == TaskResultStatus.READY


def test_priorities_are_refused_as_unsupported() -> None:
    try:
        from django.tasks.exceptions import InvalidTask
    except ImportError:  # the backport's name
        from django_tasks.exceptions import InvalidTaskError as InvalidTask
    with pytest.raises(InvalidTask, match="priority"):
        tasks.add.using(priority=10)


def test_an_unknown_result_id_does_not_exist() -> None:
    try:
        from django.tasks.exceptions import TaskResultDoesNotExist
    except ImportError:
        from django_tasks.exceptions import TaskResultDoesNotExist
    with pytest.raises(TaskResultDoesNotExist):
        tasks.add.get_result("0" * 24)


# -- on-commit pushes --------------------------------------------------------------------------


def test_enqueue_on_commit_pushes_once_on_commit_and_never_on_rollback(redis_client: Any) -> None:
    with transaction.atomic():
        order = Order.objects.create(email="gone@example.com")
        enqueue_on_commit(mark_paid, order.pk)
        transaction.set_rollback(True)
    assert queued(redis_client) == []

    with transaction.atomic():
        order = Order.objects.create(email="kept@example.com")
        jid = enqueue_on_commit(mark_paid, order.pk)
        assert queued(redis_client) == []  # not before the commit
    (job,) = queued(redis_client)
    assert job["jid"] == jid
    assert job["args"] == [order.pk]


def test_a_bad_argument_fails_at_the_call_not_at_commit(redis_client: Any) -> None:
    with transaction.atomic(), pytest.raises(TypeError, match=r"args\[0\]"):
        enqueue_on_commit(mark_paid, object())


def test_the_view_pushes_after_its_transaction_and_the_worker_runs_it(worker: Path) -> None:
    body = Client().get("/checkout/", {"email": "x@example.com"}).json()
    deadline = time.monotonic() + 30
    while Order.objects.get(pk=body["order"]).status != "paid":
        assert time.monotonic() < deadline, worker.read_text()
        time.sleep(0.05)


def test_push_on_commit_defers_every_push_in_an_atomic_block(redis_client: Any) -> None:
    app = default_app()
    install_push_on_commit(app)
    try:
        with transaction.atomic():
            assert mark_paid.perform_async(1) is not None  # a jid, at once
            transaction.set_rollback(True)
        assert queued(redis_client) == []
        with transaction.atomic():
            jid = mark_paid.perform_async(2)
            assert queued(redis_client) == []
        assert [job["jid"] for job in queued(redis_client)] == [jid]
        assert mark_paid.perform_async(3) is not None  # outside a block: at once
        assert len(queued(redis_client)) == 2
    finally:
        app.push_deferral = None
        app.client.deferral = None


# -- checks, worker, Web UI --------------------------------------------------------------------


def test_bad_henchman_settings_are_reported_by_the_system_checks() -> None:
    with override_settings(HENCHMAN={"concurrency": 0}, HENCHMAN_PUSH_ON_COMMIT="yes"):
        found = checks.run_checks(tags=["henchman"])
    ids = sorted(message.id for message in found)
    assert ids == ["henchman.E001", "henchman.E002"]
    assert "settings.HENCHMAN['concurrency']" in found[0].msg
    assert checks.run_checks(tags=["henchman"]) == []


def test_run_django_imports_every_apps_job_modules(worker: Path) -> None:
    deadline = time.monotonic() + 30
    while "started" not in worker.read_text():
        assert time.monotonic() < deadline, worker.read_text()
        time.sleep(0.05)
    text = worker.read_text()
    assert "django: imported tests.django_project.shop.jobs, tests.django_project.shop.tasks" in (
        text
    )


def test_the_web_ui_is_for_staff_only(redis_client: Any) -> None:
    browser = Client()
    anonymous = browser.get("/jobs/queues")
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/admin/login/?next=/jobs/queues")

    User.objects.create_user("clerk", password="pw")
    browser.login(username="clerk", password="pw")
    assert browser.get("/jobs/queues").status_code == 403

    User.objects.create_user("ops", password="pw", is_staff=True)
    browser.login(username="ops", password="pw")
    page = browser.get("/jobs/queues")
    assert page.status_code == 200
    html = b"".join(page.streaming_content).decode()
    assert 'href="/jobs/busy"' in html  # links stay under the mount point
    admin = browser.get("/admin/")
    assert 'href="/jobs/"' in admin.content.decode()
    User.objects.all().delete()
