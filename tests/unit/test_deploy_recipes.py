"""The deployment recipes in examples/deploy are real files, checked by the tools that read them.

* systemd unit: ``systemd-analyze verify`` (when the machine has it) with no warnings, then parsed
  as INI for the settings the graceful stop depends on;
* Docker Compose: validated against the Compose Specification JSON schema (the copy vendored in
  the check-jsonschema package);
* Kubernetes: validated against the Kubernetes API schema (kubernetes-validate, strict: unknown
  fields fail);
* every recipe's ``henchman`` command line is parsed by the real CLI, so an option that does not
  exist fails here, and its timeout is checked against the platform's grace period.
"""

from __future__ import annotations

import configparser
import json
import shlex
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from henchman.cli.run_cmd import run

RECIPES = Path(__file__).resolve().parents[2] / "examples" / "deploy"
#: Seconds a worker needs after its timeout to push unfinished jobs back and exit.
REQUEUE_AND_EXIT = 5


def henchman_run_options(argv: list[str]) -> dict[str, Any]:
    """Parse ``henchman run ...`` with the real CLI; return its parameters."""
    start = next(i for i, a in enumerate(argv) if Path(a).name == "henchman")
    assert argv[start + 1] == "run", argv
    context = run.make_context("run", list(argv[start + 2 :]))
    return dict(context.params)


def test_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here (the INI checks still run)")
    henchman = Path(sys.executable).with_name("henchman")
    text = (RECIPES / "henchman.service").read_text()
    unit = tmp_path / "henchman.service"
    unit.write_text(text.replace("/srv/app/venv/bin/henchman", str(henchman)))
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "henchman.service" not in result.stderr, result.stderr  # e.g. "Unknown key ..."


def test_systemd_unit_stops_gracefully_and_reloads_by_rolling_restart() -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(RECIPES / "henchman.service")
    service = parser["Service"]
    assert service["Type"] == "notify"
    assert service["NotifyAccess"] == "main"
    assert service["KillMode"] == "mixed"
    assert service["KillSignal"] == "SIGTERM"
    assert service["ExecReload"] == "/bin/kill -USR2 $MAINPID"
    options = henchman_run_options(shlex.split(service["ExecStart"]))
    assert options["timeout"] + REQUEUE_AND_EXIT < float(service["TimeoutStopSec"])
    assert options["processes"] == "auto"
    assert options["health_port"] == 7433
    assert options["pidfile"].startswith("/run/" + service["RuntimeDirectory"] + "/")


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads((vendor / "compose-spec.json").read_text())
    compose = yaml.safe_load((RECIPES / "docker-compose.yml").read_text())
    jsonschema.validate(compose, schema)
    assert set(compose["services"]) == {"redis", "web", "worker"}


def test_compose_worker_gets_more_than_its_timeout_to_stop() -> None:
    compose = yaml.safe_load((RECIPES / "docker-compose.yml").read_text())
    worker = compose["services"]["worker"]
    options = henchman_run_options(worker["command"])
    grace = int(worker["stop_grace_period"].removesuffix("s"))
    assert options["timeout"] + REQUEUE_AND_EXIT < grace
    assert worker["stop_signal"] == "SIGTERM"
    assert options["health_host"] == "0.0.0.0"  # probed from the container's own address
    assert str(options["health_port"]) in " ".join(worker["healthcheck"]["test"])
    assert compose["services"]["redis"]["command"][-1] == "noeviction"


def test_kubernetes_deployment_is_valid_against_the_kubernetes_schema() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    deployment = yaml.safe_load((RECIPES / "kubernetes.yml").read_text())
    kubernetes_validate.validate(deployment, "1.30.0", strict=True)


def test_kubernetes_deployment_quiets_first_and_waits_longer_than_the_timeout() -> None:
    deployment = yaml.safe_load((RECIPES / "kubernetes.yml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    options = henchman_run_options(container["command"])
    pre_stop = " ".join(container["lifecycle"]["preStop"]["exec"]["command"])
    assert "kill -TSTP 1" in pre_stop  # quiet: stop fetching, running jobs go on
    pre_stop_sleep = int(pre_stop.rsplit("sleep", 1)[1])
    grace = pod["terminationGracePeriodSeconds"]
    assert grace > options["timeout"] + REQUEUE_AND_EXIT
    assert grace >= pre_stop_sleep + options["timeout"] + REQUEUE_AND_EXIT
    liveness = container["livenessProbe"]["httpGet"]
    assert liveness["path"] == "/health"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports[liveness["port"]] == options["health_port"]
    assert options["health_host"] == "0.0.0.0"


def test_procfile_worker_fits_the_platforms_30_second_stop() -> None:
    lines = [
        line
        for line in (RECIPES / "Procfile").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    processes = dict(line.split(": ", 1) for line in lines)
    assert set(processes) == {"web", "worker"}
    options = henchman_run_options(shlex.split(processes["worker"]))
    assert options["timeout"] + REQUEUE_AND_EXIT <= 30


def test_a_recipe_with_an_unknown_option_would_fail_these_checks() -> None:
    with pytest.raises(click.NoSuchOption):
        henchman_run_options(["henchman", "run", "--max-memory", "10"])
