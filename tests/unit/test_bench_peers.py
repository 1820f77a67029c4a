"""The pure parts of the peer benchmark (bench/peers/): catalog, medians and ratios, the table.

The benchmark itself is far too slow for the suite (and timings never belong in tests); these
check that its data and arithmetic are right, so a broken table is caught before a long run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

PEERS = Path(__file__).resolve().parents[2] / "bench" / "peers"
sys.path.insert(0, str(PEERS))

import catalog  # noqa: E402
import report  # noqa: E402


def test_every_system_has_a_unique_name_a_jobs_module_and_a_worker_command() -> None:
    names = [s.name for s in catalog.SYSTEMS]
    assert len(names) == len(set(names))
    for system in catalog.SYSTEMS:
        assert (PEERS / "jobs" / f"{system.module}.py").is_file(), system.name
        assert system.worker, system.name
        assert system.settings, system.name
        assert system.venv is not None or system.apt, f"{system.name} installs nothing"


def test_the_fair_comparison_rows_are_there_and_marked_not_default() -> None:
    rows = {s.name: s for s in catalog.SYSTEMS}
    assert rows["henchman"].default
    assert "--cpu-affinity" not in rows["henchman"].worker  # henchman at its defaults
    assert "-P" not in rows["henchman"].worker  # one process per CPU, its default
    assert not rows["henchman-unpinned"].default
    assert rows["henchman-unpinned"].worker[-2:] == ("--cpu-affinity", "off")
    assert not rows["henchman -P 1"].default
    assert rows["henchman -P 1"].worker[-2:] == ("-P", "1")
    assert not rows["sidekiq-pinned"].default
    assert rows["sidekiq-pinned"].worker[:3] == ("taskset", "-c", "0")
    assert rows["sidekiq (ruby)"].apt == ("ruby", "ruby-sidekiq")


def test_select_takes_names_in_catalog_order() -> None:
    chosen = catalog.select(catalog.SYSTEMS, ["sidekiq-pinned", "henchman"])
    assert [s.name for s in chosen] == ["henchman", "sidekiq-pinned"]
    rest = catalog.select(catalog.SYSTEMS, skip=["rq", "celery"])
    assert len(rest) == len(catalog.SYSTEMS) - 2
    assert {"rq", "celery"}.isdisjoint(s.name for s in rest)


def test_select_refuses_an_unknown_name_and_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown system 'cellery' \(known: .*celery"):
        catalog.select(catalog.SYSTEMS, ["cellery"])


def test_spread_is_the_median_with_its_range() -> None:
    assert report.spread([3000.0, 1000.0, 2000.0]) == "2,000 (1,000–3,000)"
    assert report.spread([0.74], "{:.1f}") == "0.7"
    assert report.spread([]) == "n/a"
    assert report.median([1.0, 2.0, 4.0, 10.0]) == 3.0


def test_values_leave_out_failed_and_missing_repetitions() -> None:
    runs = [{"drain_rate": 5.0}, {"error": "boom", "drain_rate": 9.0}, {"drain_rate": None}, {}]
    assert report.values(runs, "drain_rate") == [5.0]


def test_ratio_of_missing_or_zero_is_none() -> None:
    assert report.ratio(3.0, 2.0) == 1.5
    assert report.ratio(None, 2.0) is None
    assert report.ratio(3.0, 0.0) is None


def results() -> dict[str, Any]:
    def run(system: str, rep: int, drain: float, **extra: Any) -> dict[str, Any]:
        return {"system": system, "rep": rep, "drain_rate": drain, "enqueue_rate": 9000.0,
                "p50_ms": 0.7, "p99_ms": 1.0, "rss_mb": 37.0, "lost": 0, "duplicated": 0,
                "worker_cpu_us": 150.0, **extra}  # fmt: skip

    return {
        "args": {"n": 20000, "reps": 3, "latency_n": 500, "pause": 0.05, "warmup": 5},
        "server": "valkey 9.1.2",
        "systems": ["henchman", "henchman-unpinned", "sidekiq (ruby)", "sidekiq-pinned", "taskiq"],
        "settings": {"henchman": "defaults"},
        "versions": {"henchman": {"henchman": "0.1.0"}},
        "skipped": {"celery": "pip install celery[redis] failed (see .logs/pip-celery.log)"},
        "host": {"cpus": 2},
        "runs": [
            run("henchman", 1, 2600.0), run("henchman", 2, 2800.0), run("henchman", 3, 2700.0),
            run("henchman-unpinned", 1, 2300.0),
            run("sidekiq (ruby)", 1, 2000.0), run("sidekiq (ruby)", 2, 2100.0),
            {"system": "sidekiq (ruby)", "rep": 3, "error": "worker exited"},
            run("sidekiq-pinned", 1, 3000.0),
            run("taskiq", 1, 1700.0, lost=2),
        ],
    }  # fmt: skip


def test_drain_ratios_pair_like_with_like_and_name_the_best_python_peer() -> None:
    assert report.drain_ratios(results()) == [
        "- henchman / sidekiq (ruby), both at their defaults: 2,700 / 2,050 jobs/s = **1.32×**",
        "- henchman-unpinned / sidekiq (ruby), both unpinned (henchman --cpu-affinity off): "
        "2,300 / 2,050 jobs/s = **1.12×**",
        "- henchman / sidekiq-pinned, both pinned (Sidekiq under taskset, not its default): "
        "2,700 / 3,000 jobs/s = **0.90×**",
        "- henchman / the fastest Python peer (taskiq): 2,700 / 1,700 jobs/s = **1.59×**",
    ]


def test_the_table_has_a_row_per_system_with_failures_losses_and_skips() -> None:
    table = report.render(results())
    lines = table.splitlines()
    assert lines[0].startswith("N=20,000 jobs, 3 repetitions interleaved")
    row = next(line for line in lines if line.startswith("| henchman |"))
    assert "| 2,700 (2,600–2,800) |" in row
    sidekiq = next(line for line in lines if line.startswith("| sidekiq (ruby) |"))
    assert sidekiq.endswith("| 0 / 0 | 1 |")  # one failed repetition, counted apart
    taskiq = next(line for line in lines if line.startswith("| taskiq |"))
    assert "| 2 / 0 |" in taskiq
    assert "- **celery**: skipped, pip install celery[redis] failed" in table
    assert "- sidekiq (ruby) rep 3: worker exited" in table


def test_the_summary_is_one_row_of_medians_per_system() -> None:
    lines = report.summary(results()).splitlines()
    assert lines[0].startswith("| system | enqueue jobs/s | bulk jobs/s | drain jobs/s |")
    assert lines[2] == "| **henchman** | 9,000 | — | 2,700 | 0.7 / 1.0 | 37 |"
    assert len(lines) == 2 + len(results()["systems"])
