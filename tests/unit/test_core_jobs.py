"""Defining jobs and the registry: wire names, options, setters, class-style jobs.

Pure: pushes are captured by a client middleware that drops them, so nothing connects to Redis.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any, ClassVar

import pytest

import henchman
from henchman.app import Henchman
from henchman.config import Settings
from henchman.errors import HenchmanError, UnknownJob
from henchman.registry import Registry

UNREACHABLE = Settings(redis_url="redis://127.0.0.1:1/0")


class Captured:
    """A client middleware that records each push and drops it."""

    def __init__(self) -> None:
        self.pushes: list[dict[str, Any]] = []

    def __call__(self, name: str, payload: dict[str, Any], queue: str) -> None:
        self.pushes.append(payload)

    @property
    def last(self) -> dict[str, Any]:
        return self.pushes[-1]


@pytest.fixture
def app() -> Iterator[Henchman]:
    application = Henchman(UNREACHABLE)
    yield application
    application.close()


@pytest.fixture
def captured(app: Henchman) -> Captured:
    capture = Captured()
    app.client_middleware.append(capture)
    return capture


def module_level_job(x: int) -> int:
    return x * 2


# --- function style --------------------------------------------------------------------------


def test_a_function_job_is_named_module_dot_qualname(app: Henchman) -> None:
    fn = app.job(module_level_job)
    assert fn.name == f"{__name__}.module_level_job"
    assert fn.name in app.registry


def test_a_nested_function_job_name_includes_its_qualname(app: Henchman) -> None:
    @app.job
    def inner() -> None: ...

    assert inner.name == f"{__name__}.{inner.__wrapped__.__qualname__}"
    assert "<locals>" in inner.name


def test_name_overrides_the_wire_name(app: Henchman) -> None:
    @app.job(name="HardJob")
    def hard() -> None: ...

    assert hard.name == "HardJob"
    assert "HardJob" in app.registry


def test_a_decorated_function_can_still_be_called(app: Henchman) -> None:
    fn = app.job(module_level_job)
    assert fn(21) == 42


def test_a_decorated_function_keeps_its_name_and_doc(app: Henchman) -> None:
    @app.job
    def documented() -> None:
        """Does things."""

    assert documented.__name__ == "documented"
    assert documented.__doc__ == "Does things."


def test_function_job_options_default_to_queue_default_and_retry_true(app: Henchman) -> None:
    fn = app.job(module_level_job)
    assert app.registry.get(fn.name).options == {"queue": "default", "retry": True}


def test_function_job_options_are_kept_including_unknown_ones(app: Henchman) -> None:
    @app.job(queue="mailers", retry=5, custom_flag="x")
    def mail() -> None: ...

    assert app.registry.get(mail.name).options == {
        "queue": "mailers",
        "retry": 5,
        "custom_flag": "x",
    }


def test_an_async_function_is_registered_as_async(app: Henchman) -> None:
    @app.job
    async def later() -> None: ...

    assert app.registry.get(later.name).is_async
    assert app.registry.has_async()


def test_perform_async_pushes_the_jobs_options(app: Henchman, captured: Captured) -> None:
    @app.job(name="core.mail", queue="mailers", retry=5, tags=["t"])
    def mail(user: int) -> None: ...

    assert mail.perform_async(7) is None  # dropped by the capturing middleware
    assert captured.last["class"] == "core.mail"
    assert captured.last["args"] == [7]
    assert captured.last["queue"] == "mailers"
    assert captured.last["retry"] == 5
    assert captured.last["tags"] == ["t"]


def test_set_overrides_options_for_one_push(app: Henchman, captured: Captured) -> None:
    @app.job(queue="a", retry=3)
    def work() -> None: ...

    work.set(queue="b", retry=False).perform_async()
    work.perform_async()
    assert [(p["queue"], p["retry"]) for p in captured.pushes] == [("b", False), ("a", 3)]


def test_set_calls_chain_and_later_ones_win(app: Henchman, captured: Captured) -> None:
    @app.job
    def work() -> None: ...

    work.set(queue="x", tags=["1"]).set(queue="y").perform_async()
    assert captured.last["queue"] == "y"
    assert captured.last["tags"] == ["1"]


def test_set_does_not_change_the_job_definition(app: Henchman) -> None:
    @app.job(queue="a")
    def work() -> None: ...

    work.set(queue="b")
    assert app.registry.get(work.name).options["queue"] == "a"


def test_perform_in_pushes_a_scheduled_payload(app: Henchman, captured: Captured) -> None:
    @app.job
    def work() -> None: ...

    work.perform_in(timedelta(seconds=30))
    assert "enqueued_at" not in captured.last


def test_perform_in_with_no_delay_pushes_an_immediate_payload(
    app: Henchman, captured: Captured
) -> None:
    @app.job
    def work() -> None: ...

    work.perform_in(0)
    assert "enqueued_at" in captured.last


def test_perform_bulk_returns_no_jids_for_dropped_pushes(app: Henchman, captured: Captured) -> None:
    @app.job
    def work(n: int) -> None: ...

    assert work.perform_bulk([[1], [2]]) == []
    assert [p["args"] for p in captured.pushes] == [[1], [2]]


def test_retry_in_and_retries_exhausted_decorators_register_hooks(app: Henchman) -> None:
    @app.job
    def work() -> None: ...

    @work.retry_in
    def delay(count: int, exc: BaseException, payload: dict[str, Any]) -> int:
        return 5

    @work.retries_exhausted
    def gone(payload: dict[str, Any], exc: BaseException) -> None: ...

    definition = app.registry.get(work.name)
    assert definition.hook("retry_in") is delay
    assert definition.hook("retries_exhausted") is gone


def test_a_function_job_without_hooks_has_none(app: Henchman) -> None:
    @app.job
    def work() -> None: ...

    assert app.registry.get(work.name).hook("retry_in") is None


def test_the_same_function_can_be_registered_twice(app: Henchman) -> None:
    app.job(module_level_job)
    app.job(module_level_job)
    assert len(app.registry) == 1


def test_two_different_jobs_with_one_name_are_an_error(app: Henchman) -> None:
    @app.job(name="Same")
    def first() -> None: ...

    def second() -> None: ...

    with pytest.raises(ValueError, match="two different jobs are named 'Same'"):
        app.job(name="Same")(second)


def test_two_same_named_functions_from_different_files_are_an_error(app: Henchman) -> None:
    billing: dict[str, Any] = {}
    mail: dict[str, Any] = {}
    exec(compile("def send():\n    return 'billing'\n", "billing.py", "exec"), billing)
    exec(compile("def send():\n    return 'mail'\n", "mail.py", "exec"), mail)
    app.job(name="Send")(billing["send"])
    with pytest.raises(ValueError, match="two different jobs"):
        app.job(name="Send")(mail["send"])


def test_jobs_of_one_app_are_not_in_another(app: Henchman) -> None:
    other = Henchman(UNREACHABLE)
    app.job(name="OnlyHere")(module_level_job)
    assert "OnlyHere" not in other.registry


# --- class style -----------------------------------------------------------------------------


def test_a_job_class_is_named_module_dot_qualname(app: Henchman) -> None:
    class Plain(henchman.Job, app=app):
        def perform(self) -> None: ...

    assert f"{__name__}.{Plain.__qualname__}" in app.registry


def test_a_job_class_name_keyword_overrides_the_wire_name(app: Henchman) -> None:
    class Hard(henchman.Job, app=app, name="HardJob"):
        def perform(self) -> None: ...

    assert app.registry.get("HardJob").target is Hard


def test_class_attributes_are_options(app: Henchman) -> None:
    class Critical(henchman.Job, app=app, name="Critical"):
        queue = "critical"
        retry = 3
        dead = False

        def perform(self) -> None: ...

    assert app.registry.get("Critical").options == {"queue": "critical", "retry": 3, "dead": False}


def test_an_options_mapping_sets_options_including_unknown_ones(app: Henchman) -> None:
    class Mapped(henchman.Job, app=app, name="Mapped"):
        options: ClassVar[Mapping[str, Any]] = {"queue": "mapped", "retry": False, "custom": 1}

        def perform(self) -> None: ...

    assert app.registry.get("Mapped").options == {"queue": "mapped", "retry": False, "custom": 1}


def test_options_are_inherited_and_overridden_by_subclasses(app: Henchman) -> None:
    class Base(henchman.Job, abstract=True):
        queue = "base"
        retry = 2

    class Child(Base, app=app, name="Child"):
        retry = 9

        def perform(self) -> None: ...

    assert app.registry.get("Child").options == {"queue": "base", "retry": 9}


def test_an_abstract_job_class_is_not_registered(app: Henchman) -> None:
    class Base(henchman.Job, abstract=True, app=app):
        def perform(self) -> None: ...

    assert len(app.registry) == 0
    assert not hasattr(Base, "perform_async")


def test_a_job_class_without_perform_is_not_registered(app: Henchman) -> None:
    class Helper(henchman.Job, app=app):
        queue = "x"

    assert len(app.registry) == 0


def test_an_async_perform_registers_an_async_job(app: Henchman) -> None:
    class AsyncJob(henchman.Job, app=app, name="AsyncJob"):
        async def perform(self) -> None: ...

    assert app.registry.get("AsyncJob").is_async


@pytest.mark.parametrize(
    "method",
    [
        "perform_async",
        "perform_in",
        "perform_at",
        "perform_bulk",
        "perform_inline",
        "set",
        "aperform_async",
        "aperform_in",
        "aperform_at",
        "aperform_bulk",
    ],
)
def test_a_job_class_has_every_push_method_as_a_class_level_call(
    app: Henchman, method: str
) -> None:
    class Pushable(henchman.Job, app=app, name="Pushable"):
        def perform(self) -> None: ...

    assert callable(getattr(Pushable, method))


def test_a_job_class_pushes_with_its_options(app: Henchman, captured: Captured) -> None:
    class Pushing(henchman.Job, app=app, name="Pushing"):
        queue = "critical"

        def perform(self, a: int, b: str) -> None: ...

    Pushing.perform_async(1, "b")
    assert captured.last["class"] == "Pushing"
    assert captured.last["args"] == [1, "b"]
    assert captured.last["queue"] == "critical"


def test_a_job_class_set_overrides_its_options(app: Henchman, captured: Captured) -> None:
    class Settable(henchman.Job, app=app, name="Settable"):
        queue = "a"

        def perform(self) -> None: ...

    Settable.set(queue="b").perform_async()
    assert captured.last["queue"] == "b"


def test_a_job_class_defined_hook_is_found(app: Henchman) -> None:
    class Hooked(henchman.Job, app=app, name="Hooked"):
        def perform(self) -> None: ...

        def retry_in(self, count: int, exc: BaseException, payload: dict[str, Any]) -> int:
            return count * 10

    hook = app.registry.get("Hooked").hook("retry_in")
    assert hook is not None
    assert hook(3, RuntimeError(), {}) == 30


def test_a_job_class_without_hooks_has_none(app: Henchman) -> None:
    class NoHooks(henchman.Job, app=app, name="NoHooks"):
        def perform(self) -> None: ...

    assert app.registry.get("NoHooks").hook("retries_exhausted") is None


def test_two_job_classes_with_one_name_are_an_error(app: Henchman) -> None:
    class First(henchman.Job, app=app, name="Dup"):
        def perform(self) -> None: ...

    with pytest.raises(ValueError, match="two different jobs are named 'Dup'"):

        class Second(henchman.Job, app=app, name="Dup"):
            def perform(self) -> None: ...


# --- registry ------------------------------------------------------------------------------


def test_unknown_job_names_the_missing_job() -> None:
    with pytest.raises(UnknownJob) as caught:
        Registry().get("x.y")
    assert str(caught.value) == "no job registered as 'x.y'"


def test_unknown_job_is_a_henchman_error() -> None:
    assert issubclass(UnknownJob, HenchmanError)


def test_the_registry_iterates_its_definitions(app: Henchman) -> None:
    app.job(name="One")(module_level_job)
    assert [d.name for d in app.registry] == ["One"]
    assert app.registry.has_sync()
    assert not app.registry.has_async()


# --- client middleware on the app --------------------------------------------------------------


def test_client_middleware_added_after_the_first_push_still_runs(app: Henchman) -> None:
    first = Captured()
    app.client_middleware.append(first)

    @app.job
    def work() -> None: ...

    work.perform_async()
    later = Captured()
    app.client_middleware.insert(0, later)
    work.perform_async()
    assert len(later.pushes) == 1


# --- perform_inline ----------------------------------------------------------------------------


def test_perform_inline_runs_the_job_and_returns_its_result(app: Henchman) -> None:
    fn = app.job(module_level_job)
    assert fn.perform_inline(5) == 10


def test_perform_inline_passes_args_through_a_json_round_trip(app: Henchman) -> None:
    seen: list[Any] = []

    @app.job
    def work(value: Any) -> None:
        seen.append(value)

    work.perform_inline({"k": [1, 2]})
    assert seen == [{"k": [1, 2]}]


def test_perform_inline_rejects_non_json_args(app: Henchman) -> None:
    @app.job
    def work(value: Any) -> None: ...

    with pytest.raises(TypeError, match=r"args\[0\]"):
        work.perform_inline(timedelta(1))


def test_perform_inline_runs_an_async_job(app: Henchman) -> None:
    @app.job
    async def work(n: int) -> int:
        return n + 1

    assert work.perform_inline(1) == 2


def test_perform_inline_propagates_the_jobs_exception(app: Henchman) -> None:
    @app.job
    def work() -> None:
        raise LookupError("inline failure")

    with pytest.raises(LookupError, match="inline failure"):
        work.perform_inline()


def test_perform_inline_exposes_the_context_to_a_class_job(app: Henchman) -> None:
    class Inline(henchman.Job, app=app, name="Inline"):
        queue = "q"

        def perform(self) -> tuple[str, int, str]:
            return self.queue, self.retry_count, self.jid

    queue, retry_count, jid = Inline.perform_inline()
    assert (queue, retry_count, len(jid)) == ("q", 0, 24)
