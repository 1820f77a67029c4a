"""The import layers stay exact, and moving modules between layers changed no public name."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

import henchman
from henchman import app_default
from henchman.app_default import DefaultApp


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
