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
from henchman.cpus import machine_cpus
from henchman.errors import ConfigError, RedisUnavailable
from henchman.server.health import stale_after
from henchman.server.placement import Placement
from henchman.server.process_services import ProcessServices, attach_child
from henchman.server.supervisor import CHILD_ENV, Supervisor, child_command, logical_cwd


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
    click.echo(f"error: {message}", err=True)
    return 2


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas before worker threads start.

    glibc gives each thread that allocates its own arena, so a worker with a dozen threads keeps
    a dozen partly used heaps; two arenas cost no measurable speed and keep RSS lower.
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
    try:
        importlib.import_module(target)
    except ModuleNotFoundError as exc:
        # Only the module named (or a package on its path) missing is the user's typo; a module
        # that exists but imports something missing is a failing import, shown with its traceback.
        if exc.name is None or not (target == exc.name or target.startswith(exc.name + ".")):
            raise
        raise ConfigError(
            f"-r {target}: no module named {exc.name!r} (run from the directory that holds it, "
            "or add that directory to PYTHONPATH)"
        ) from None


def _setup_django() -> list[str]:
    """``--django``: Django set up and its apps' job modules imported (returned), or a clear
    exit."""
    from henchman.django.worker import setup

    try:
        modules = setup()
    except ConfigError as exc:
        raise SystemExit(_error(str(exc))) from None
    except Exception as exc:
        click.echo(f"error: setting Django up failed:\n{user_traceback(exc)}", err=True)
        raise SystemExit(1) from None
    return modules


def _with_django_settings(flags: dict[str, Any]) -> dict[str, Any]:
    """``settings.HENCHMAN`` of the Django project under the command's own flags."""
    from django.conf import settings as django_settings

    given = getattr(django_settings, "HENCHMAN", {})
    if not isinstance(given, dict):
        raise SystemExit(_error("settings.HENCHMAN must be a dict of henchman settings"))
    chosen = {k: v for k, v in flags.items() if v is not None and v not in ((), [])}
    return {**{str(k).removeprefix(":"): v for k, v in given.items()}, **chosen}


def user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` from the first frame of the user's code: the frames of importlib
    and of this module say nothing about why the user's module failed."""
    machinery = (os.path.dirname(importlib.__file__) + os.sep, "<frozen ")
    tb = exc.__traceback__
    while tb is not None and (
        tb.tb_frame.f_code.co_filename.startswith(machinery)
        or tb.tb_frame.f_code.co_filename == __file__
    ):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()


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
@click.option(
    "-P",
    "--processes",
    default=None,
    help="Worker processes: N, or auto (the default: one per CPU this process may use).",
)
@click.option("--json-logs", is_flag=True, default=None, help="Log one JSON object per line.")
@click.option(
    "--django",
    "django_app",
    is_flag=True,
    help="Set Django up (DJANGO_SETTINGS_MODULE) and import each app's jobs.py and tasks.py.",
)
@click.option(
    "--cpu-affinity",
    default=None,
    help="auto (default: threads on one CPU while jobs are short), off, or a CPU list 0,2-3.",
)
@click.option(
    "--max-memory-mb",
    type=int,
    default=None,
    help="Replace a worker process gracefully once its RSS exceeds this (runs a supervisor).",
)
@click.option("--health-port", type=int, default=None, help="Serve /health on this port.")
@click.option("--health-host", default=None, help="Address for --health-port (127.0.0.1).")
@click.option("--pidfile", default=None, help="Write the main process's pid to this file.")
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
    processes: str | None,
    json_logs: bool | None,
    django_app: bool,
    cpu_affinity: str | None,
    max_memory_mb: int | None,
    health_port: int | None,
    health_host: str | None,
    pidfile: str | None,
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
        "processes": parse_processes(processes),
        "json_logs": json_logs,
        "cpu_affinity": cpu_affinity,
        "max_memory_mb": max_memory_mb,
        "health_port": health_port,
        "health_host": health_host,
        "pidfile": pidfile,
    }
    django_modules = None
    if django_app:
        # Django first: its settings.HENCHMAN is a layer of the worker's settings, under flags.
        django_modules = _setup_django()
        flags = _with_django_settings(flags)
    settings = load_cli_settings(config_file=config_file, environment=environment, flags=flags)
    logs.configure(settings.log_level, json=settings.json_logs)
    if django_modules is not None:
        imported = ", ".join(django_modules) or "no job modules"
        logging.getLogger("henchman").info("django: imported %s", imported)
    limit_malloc_arenas()
    child = bool(os.environ.get(CHILD_ENV))
    count = settings.processes or machine_cpus()
    if (count > 1 or settings.max_memory_mb) and not child:
        if settings.processes is None:
            logging.getLogger("henchman").info(
                "processes: auto, one worker process per CPU this process may use (%d); "
                "set -P/processes for another number",
                count,
            )
        raise SystemExit(supervise(settings, count))
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
        except Exception as exc:
            click.echo(f"error: importing {target!r} failed:\n{user_traceback(exc)}", err=True)
            raise SystemExit(1) from None
    from henchman.app import default_app
    from henchman.server.launcher import Launcher

    app = default_app()
    app.configure(settings)
    if not len(app.registry):
        logging.getLogger("henchman").warning(
            "no jobs are registered: pass the module that defines them with -r"
        )
    launcher = Launcher(app, settings, placement=placement, freeze_heap=True)
    run_worker(launcher, settings, child=child)


def run_worker(launcher: Any, settings: Any, *, child: bool) -> None:
    """Run one worker process; the main process also owns pidfile, health and systemd."""
    services = None
    if child:
        attach_child(launcher, os.environ)
    else:
        services = ProcessServices(settings, os.environ)
        route = services.attach(launcher)
    try:
        if services is not None:
            services.start({"/health": route, **_metrics_routes(launcher.app, settings)})
        launcher.run()
    except (RedisUnavailable, ConfigError) as exc:
        raise SystemExit(_error(str(exc))) from None
    finally:
        if services is not None:
            services.close()


def _metrics_routes(app: Any, settings: Any) -> dict[str, Any]:
    """``/metrics`` on the health port when ``prometheus_client`` is installed: this process's
    job run times (the middleware is added for it) and the client's default collectors. Without
    a health port nothing would serve them, so no job pays for observing its run time."""
    if settings.health_port is None:
        return {}
    try:
        from henchman.integrations.prometheus import worker_routes
    except ImportError:
        return {}
    return worker_routes(app)


def parse_processes(value: str | None) -> int | str | None:
    """``-P N`` or ``-P auto`` (kept as ``"auto"``: counted when the worker starts, and it
    overrides a number from the config file or environment); one-line error otherwise."""
    if value is None:
        return None
    if value.strip().lower() == "auto":
        return "auto"
    if value.strip().isdigit() and int(value) >= 1:
        return int(value)
    raise SystemExit(_error(f"--processes must be a positive integer or auto, got {value!r}"))


def supervise(settings: Any, processes: int) -> int:
    """Run the ``-P`` supervisor of ``processes`` children with its pidfile, health endpoint
    and systemd notifications."""
    services = ProcessServices(settings, os.environ)
    supervisor = Supervisor(
        child_command(sys.argv[1:]),
        processes,
        max_memory_mb=settings.max_memory_mb,
        stale_after=stale_after(settings.heartbeat_interval, settings.redis_timeout),
        notifier=services.notifier,
        cwd=logical_cwd(os.environ),
    )
    try:
        services.start({"/health": supervisor.health})
    except ConfigError as exc:
        return _error(str(exc))
    try:
        return supervisor.run()
    finally:
        services.close()
