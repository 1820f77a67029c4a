"""``henchman run`` (alias ``worker``): import the app, build settings, run a launcher."""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from henchman import logs
from henchman.errors import ConfigError, RedisUnavailable
from henchman.server.placement import Placement
from henchman.server.supervisor import CHILD_ENV, Supervisor, child_command


def load_cli_settings(
    *, config_file: str | None, environment: str | None, flags: dict[str, Any]
) -> Any:
    """Settings from file, environment and flags; one-line error and exit 2 when invalid."""
    from henchman.config_loader import load_settings

    try:
        return load_settings(
            config_file=Path(config_file) if config_file else None,
            environment=environment,
            env=os.environ,
            flags=flags,
        )
    except ConfigError as exc:
        raise SystemExit(_error(str(exc))) from None


def _error(message: str) -> int:
    click.echo(f"henchman: {message}", err=True)
    return 2


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas before worker threads start.

    glibc gives each thread that allocates its own arena, so a worker with a dozen threads keeps
    a dozen partly used heaps; two arenas cost no measurable speed and keep RSS (SPEC §18) lower.
    A no-op where glibc is not the C library.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, arenas)
    except (OSError, AttributeError):
        pass


#: glibc's mallopt parameter number for the arena limit.
M_ARENA_MAX = -8


def require(target: str) -> None:
    """Import a module by name (``app.jobs``) or file path (``app/jobs.py``); cwd is importable."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    path = Path(target)
    if target.endswith(".py") or path.is_file():
        if not path.is_file():
            raise ConfigError(f"-r {target}: no such file")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"-r {target}: cannot import this file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
        return
    importlib.import_module(target)


@click.command()
@click.option(
    "-r", "--require", "requires", multiple=True, help="Module or file to import (repeatable)."
)
@click.option("-q", "--queue", "queues", multiple=True, help="Queue NAME[,WEIGHT] (repeatable).")
@click.option("-c", "--concurrency", type=int, default=None, help="Worker threads (default 10).")
@click.option(
    "--capsule",
    "capsules",
    multiple=True,
    help="Extra capsule NAME:QUEUE[,QUEUE...]:CONCURRENCY (repeatable).",
)
@click.option("--async-concurrency", type=int, default=None, help="Async job slots (default 100).")
@click.option(
    "-t", "--timeout", type=float, default=None, help="Shutdown timeout in s (default 25)."
)
@click.option("-g", "--tag", default=None, help="Tag shown in the process list.")
@click.option("-C", "--config", "config_file", default=None, help="YAML or TOML config file.")
@click.option("-e", "--env", "environment", default=None, help="Environment section to use.")
@click.option("-v", "--verbose", is_flag=True, default=False, help="Log at DEBUG.")
@click.option("-l", "--log-level", default=None, help="Log level (default INFO).")
@click.option("-P", "--processes", type=int, default=None, help="Worker processes (default 1).")
@click.option("--json-logs", is_flag=True, default=None, help="Log one JSON object per line.")
@click.option(
    "--cpu-affinity",
    default=None,
    help="auto (default: threads on one CPU, adapted to the load), off, or a CPU list 0,2-3.",
)
def run(
    requires: tuple[str, ...],
    queues: tuple[str, ...],
    concurrency: int | None,
    capsules: tuple[str, ...],
    async_concurrency: int | None,
    timeout: float | None,
    tag: str | None,
    config_file: str | None,
    environment: str | None,
    verbose: bool,
    log_level: str | None,
    processes: int | None,
    json_logs: bool | None,
    cpu_affinity: str | None,
) -> None:
    """Run a worker process."""
    from henchman.config_loader import parse_queue

    try:
        parsed = tuple(parse_queue(q, "--queue") for q in queues)
    except ConfigError as exc:
        raise SystemExit(_error(str(exc))) from None
    flags: dict[str, Any] = {
        "require": requires or None,
        "queues": parsed or None,
        "concurrency": concurrency,
        "capsules": capsules or None,
        "async_concurrency": async_concurrency,
        "timeout": timeout,
        "tag": tag,
        "log_level": "DEBUG" if verbose else log_level,
        "processes": processes,
        "json_logs": json_logs,
        "cpu_affinity": cpu_affinity,
    }
    settings = load_cli_settings(config_file=config_file, environment=environment, flags=flags)
    logs.configure(settings.log_level, json=settings.json_logs)
    limit_malloc_arenas()
    if settings.processes > 1 and not os.environ.get(CHILD_ENV):
        supervisor = Supervisor(child_command(sys.argv[1:]), settings.processes)
        raise SystemExit(supervisor.run())
    try:
        placement = Placement.for_process(
            settings.cpu_affinity, settings.placement_interval, os.environ
        )
        if placement is not None:
            placement.begin()  # samples the load while the app imports: the idlest CPU wins
    except ConfigError as exc:
        raise SystemExit(_error(str(exc))) from None
    for target in settings.require:
        try:
            require(target)
        except ConfigError as exc:
            raise SystemExit(_error(str(exc))) from None
        except Exception:
            click.echo(
                f"henchman: importing {target!r} failed:\n{traceback.format_exc()}", err=True
            )
            raise SystemExit(1) from None
    from henchman.app import default_app
    from henchman.server.launcher import Launcher

    app = default_app()
    app.configure(settings)
    if not len(app.registry):
        logging.getLogger("henchman").warning(
            "no jobs are registered: pass the module that defines them with -r"
        )
    launcher = Launcher(app, settings, placement=placement)
    try:
        launcher.run()
    except (RedisUnavailable, ConfigError) as exc:
        raise SystemExit(_error(str(exc))) from None
