"""The import layers stay exact, and moving modules between layers changed no public name."""

from __future__ import annotations

import subprocess
import sys


def test_henchman_periodic_stays_the_function_after_the_periodic_package_is_imported() -> None:
    # A fresh interpreter: in this one the package may already have been imported by any order.
    code = (
        "import inspect, henchman, henchman.periodic.service\n"
        "assert inspect.isfunction(henchman.periodic), henchman.periodic\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
