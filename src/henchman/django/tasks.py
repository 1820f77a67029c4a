"""A backend for Django's Tasks framework: ``@task`` functions run on henchman workers.

::

    TASKS = {"default": {"BACKEND": "henchman.django.TaskBackend",
                         "QUEUES": ["default", "emails"],
                         "OPTIONS": {"RESULT_TTL": 86400, "RETRY": 0}}}

Works with Django 6's ``django.tasks`` and with the ``django-tasks`` backport (Django 4.2-5.x).

- Each task is a henchman job whose wire name is the task's module path; its payload ``args``
  are ``[args, kwargs]``. Defining a task (``@task``) registers that job with the default
  henchman app, so a worker knows every task of every module it imports (``henchman run
  --django`` imports each installed app's ``tasks.py``). A payload naming a task no worker
  defined fails like any unknown job: nothing is imported from a payload.
- ``queue_name`` is the henchman queue; ``run_after`` schedules the job
  (``supports_defer``); ``async def`` tasks run on the worker's event loop
  (``supports_async_task``).
- Priorities are not supported (``supports_priority = False``): henchman orders work by queue,
  not by a number per job; put urgent tasks on a queue the workers serve first.
- Results (``supports_get_result``): every task keeps a result record for ``RESULT_TTL`` seconds
  (default one day). ``get_result`` maps henchman's statuses to Django's: ``queued`` and
  ``retrying`` are READY (a failed attempt that will be retried adds to ``errors``), ``running``
  is RUNNING, ``succeeded`` SUCCESSFUL, ``failed`` FAILED. ``attempts`` counts runs started.
- Retries: ``RETRY`` (default 0) is henchman's ``retry`` option for every task: with 0 a task
  that raises is FAILED at once and kept in the dead set, from where it can be retried by hand
  (its status is READY again); a number retries it with henchman's backoff first.
"""

from __future__ import annotations

import asyncio
import datetime
import inspect
from dataclasses import dataclass
from typing import Any

import orjson
from django.utils.module_loading import import_string

from henchman import payload as wire
from henchman.app import Henchman, default_app
from henchman.context import current_job
from henchman.results.record import ResultRecord
from henchman.results.store import ResultStore

try:  # Django 6+
    from django.tasks.backends.base import BaseTaskBackend
    from django.tasks.base import Task, TaskContext, TaskError, TaskResult, TaskResultStatus
    from django.tasks.exceptions import TaskResultDoesNotExist
    from django.tasks.signals import task_enqueued, task_finished, task_started
except ImportError:  # the django-tasks backport
    from django_tasks.backends.base import BaseTaskBackend
    from django_tasks.base import (
        Task,
        TaskContext,
        TaskError,
        TaskResult,
        TaskResultStatus,
    )
    from django_tasks.exceptions import TaskResultDoesNotExist
    from django_tasks.signals import (
        task_enqueued,
        task_finished,
        task_started,
    )

__all__ = ["HenchmanTask", "TaskBackend"]

DEFAULT_RESULT_TTL = 24 * 3600

_STATUSES = {
    "queued": TaskResultStatus.READY,
    "retrying": TaskResultStatus.READY,
    "running": TaskResultStatus.RUNNING,
    "succeeded": TaskResultStatus.SUCCESSFUL,
    "failed": TaskResultStatus.FAILED,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class HenchmanTask(Task):
    """A Django task that registers itself as a henchman job when defined."""

    def __post_init__(self) -> None:
        Task.__post_init__(self)  # Django validates the task against its backend
        backend = self.get_backend()
        if isinstance(backend, TaskBackend):
            backend.register(self)


def _aware(epoch: float | None) -> datetime.datetime | None:
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC)


class TaskBackend(BaseTaskBackend):
    """Django Tasks on henchman (see the module docstring)."""

    task_class = HenchmanTask
    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = False

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        options = {str(k).upper(): v for k, v in self.options.items()}
        unknown = sorted(set(options) - {"RESULT_TTL", "RETRY"})
        if unknown:
            names = ", ".join(unknown)
            raise ValueError(f"TASKS[{alias!r}]['OPTIONS']: unknown option(s) {names} "
                             "(henchman knows RESULT_TTL, RETRY)")  # fmt: skip
        ttl = options.get("RESULT_TTL", DEFAULT_RESULT_TTL)
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0:
            raise ValueError(f"TASKS[{alias!r}]['OPTIONS']['RESULT_TTL'] must be a number of "
                             f"seconds > 0, got {ttl!r}")  # fmt: skip
        retry = options.get("RETRY", 0)
        if isinstance(retry, bool) or not isinstance(retry, int) or retry < 0:
            raise ValueError(f"TASKS[{alias!r}]['OPTIONS']['RETRY'] must be an integer >= 0, "
                             f"got {retry!r}")  # fmt: skip
        self.result_ttl = float(ttl)
        self.retry = retry
        #: Task module path -> the task, for results read in this process.
        self._tasks: dict[str, Task] = {}

    @property
    def app(self) -> Henchman:
        """The henchman app the tasks run on (the default app, configured by the Django app)."""
        return default_app()

    # -- defining ---------------------------------------------------------------------------

    def register(self, task: Task) -> None:
        """Make ``task`` a henchman job named by its module path (idempotent)."""
        name = task.module_path
        self._tasks.setdefault(name, task)
        if name in self.app.registry:
            return
        backend = self

        if inspect.iscoroutinefunction(task.func):

            async def run_async(args: list[Any], kwargs: dict[str, Any]) -> Any:
                result = await asyncio.to_thread(backend._running, task)
                try:
                    value = await (
                        task.func(TaskContext(task_result=result), *args, **kwargs)
                        if task.takes_context
                        else task.func(*args, **kwargs)
                    )
                except BaseException:
                    task_finished.send(type(backend), task_result=result)
                    raise
                task_finished.send(type(backend), task_result=result)
                return value

            self.app.job(name=name, queue=task.queue_name)(run_async)
            return

        def run(args: list[Any], kwargs: dict[str, Any]) -> Any:
            result = backend._running(task)
            try:
                if task.takes_context:
                    return task.func(TaskContext(task_result=result), *args, **kwargs)
                return task.func(*args, **kwargs)
            finally:
                task_finished.send(type(backend), task_result=result)

        self.app.job(name=name, queue=task.queue_name)(run)

    def _running(self, task: Task) -> TaskResult:
        """The TaskResult of the job running now (for the context and the signals)."""
        job = current_job()
        jid = job.jid if job is not None else ""
        result = self._result_of(task, jid, ResultStore(self.app.client.redis).read(jid))
        task_started.send(type(self), task_result=result)
        return result

    # -- enqueueing -------------------------------------------------------------------------

    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:
        self.validate_task(task)
        self.register(task)
        result = TaskResult(
            task=task, id="", status=TaskResultStatus.READY, enqueued_at=None, started_at=None,
            last_attempted_at=None, finished_at=None, args=args, kwargs=kwargs,
            backend=self.alias, errors=[], worker_ids=[],
        )  # fmt: skip
        options = {"queue": task.queue_name, "retry": self.retry, "result_ttl": self.result_ttl}
        at = task.run_after.timestamp() if task.run_after is not None else None
        # The record first: a worker may start the job before push() returns, and its
        # "running" must not be overwritten by "queued".
        jid = wire.new_jid()
        now = datetime.datetime.now(datetime.UTC)
        store = ResultStore(self.app.client.redis)
        store.write(
            jid, {"status": "queued", "class": task.module_path, "queue": task.queue_name,
                  "enqueued_at": repr(now.timestamp()),
                  "args": orjson.dumps([result.args, result.kwargs]).decode()},
            self.result_ttl,
        )  # fmt: skip
        try:
            pushed = self.app.client.push(
                task.module_path, [result.args, result.kwargs], options, at=at, jid=jid
            )
        except BaseException:
            store.delete(jid)
            raise
        if pushed is None:
            store.delete(jid)
            raise RuntimeError(f"a client middleware dropped the push of task {task.module_path}")
        object.__setattr__(result, "id", jid)
        object.__setattr__(result, "enqueued_at", now)
        task_enqueued.send(type(self), task_result=result)
        return result

    # -- results ----------------------------------------------------------------------------

    def get_result(self, result_id: str) -> TaskResult:
        record = ResultStore(self.app.client.redis).read(result_id)
        if record is None:
            raise TaskResultDoesNotExist(result_id)
        return self._result_of(self._task(record.job_class), result_id, record)

    def _task(self, module_path: str) -> Task:
        task = self._tasks.get(module_path)
        if task is not None:
            return task
        found = import_string(module_path)  # this process's own result: its own code
        if not isinstance(found, Task):
            raise TaskResultDoesNotExist(f"{module_path} is not a task")
        return found

    def _result_of(self, task: Task, jid: str, record: ResultRecord | None) -> TaskResult:
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        stored = record.args if record is not None else None
        if isinstance(stored, list) and len(stored) == 2:
            args, kwargs = stored
        status = _STATUSES.get(record.status if record else "queued", TaskResultStatus.READY)
        result = TaskResult(
            task=task, id=jid, status=status,
            enqueued_at=_aware(record.enqueued_at if record else None),
            started_at=_aware(record.started_at if record else None),
            last_attempted_at=_aware(record.last_attempted_at if record else None),
            finished_at=_aware(record.finished_at if record else None),
            args=args, kwargs=kwargs, backend=self.alias,
            errors=[TaskError(exception_class_path=str(e.get("class")),
                              traceback=str(e.get("traceback", "")))
                    for e in (record.errors if record else [])],
            worker_ids=list(record.workers) if record else [],
        )  # fmt: skip
        if record is not None and record.status == "succeeded":
            object.__setattr__(result, "_return_value", record.value)
        return result
