"""The import layers stay exact, and moving modules between layers changed no public name."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import henchman
from henchman import app_default
from henchman.app import Henchman
from henchman.app_default import DefaultApp
from henchman.config import Settings
from henchman.context import JobContext
from henchman.job import Signature

ROOT = Path(__file__).resolve().parents[2]


def test_henchman_periodic_stays_the_function_after_the_periodic_package_is_imported() -> None:
    # A fresh interpreter: in this one the package may already have been imported by any order.
    code = (
        "import inspect, henchman, henchman.periodic.service\n"
        "assert inspect.isfunction(henchman.periodic), henchman.periodic\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_the_default_app_is_made_once_by_the_provided_factory() -> None:
    made: list[object] = []

    def factory() -> Any:
        made.append(object())
        return made[-1]

    slot = DefaultApp()
    slot.provide(factory)
    assert slot.get() is slot.get()
    assert len(made) == 1


def test_the_default_app_without_a_factory_names_the_missing_import() -> None:
    with pytest.raises(RuntimeError, match=r"henchman\.app was not imported"):
        DefaultApp().get()


def test_features_fall_back_to_the_one_default_app() -> None:
    assert henchman.default_app() is app_default.default_app() is henchman.Batch().app


def test_the_layers_contract_lists_no_exceptions() -> None:
    # The layers in docs/internals.md hold exactly: an upward import must be fixed by moving
    # code, not allowed by an ignore_imports entry (lint-imports would accept one).
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    assert [c["type"] for c in contracts] == ["layers"]
    for contract in contracts:
        assert "ignore_imports" not in contract, contract["ignore_imports"]


def test_no_module_imports_a_layer_above_its_own() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout, done.stdout


def test_an_app_opens_its_own_batches() -> None:
    app = Henchman(Settings())
    reopened = app.batch("b-1")
    assert (reopened.app, reopened.bid, reopened.new) == (app, "b-1", False)
    made = app.batch(description="nightly", callback_queue="low")
    assert (made.app, made.new, made.description, made.callback_queue) == (
        app,
        True,
        "nightly",
        "low",
    )


def test_a_job_outside_a_worker_reopens_its_batch_on_the_default_app() -> None:
    class Step(henchman.Job, app=Henchman(Settings())):
        def perform(self) -> None: ...

    step = Step()
    step._bind(JobContext({"class": "Step", "args": [], "jid": "j", "bid": "b-2"}, "default"))
    batch = step.batch
    assert batch is not None
    assert (batch.bid, batch.app) == ("b-2", henchman.default_app())


def test_a_job_s_is_a_signature_the_workflows_accept() -> None:
    app = Henchman(Settings())

    @app.job
    def step(n: int) -> None: ...

    signature = step.s(1)
    assert isinstance(signature, Signature)
    assert repr(signature) == f"{signature.definition.name}.s(1,)"
    assert henchman.chain(signature, step.s(2)).nodes == (signature, step.s(2))
