"""The peer table from a results file (stdlib only): medians, ranges, ratios, markdown.

Pure functions of the results dictionary that ``measure.py`` writes, so a table can be printed
again from an earlier run (``run.py --render FILE``) and checked without running anything.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: (numerator row, denominator row, what the pairing compares) for the drain ratio lines.
PAIRINGS: tuple[tuple[str, str, str], ...] = (
    ("henchman", "sidekiq (ruby)", "both at their defaults"),
    ("henchman-unpinned", "sidekiq (ruby)", "both unpinned (henchman --cpu-affinity off)"),
    ("henchman", "sidekiq-pinned", "both pinned (Sidekiq under taskset, not its default)"),
    ("henchman -P 1", "sidekiq (ruby)", "one process each (henchman -P 1, not its default)"),
)
#: Rows that are not Python job systems, left out of "the best Python peer".
NOT_PYTHON_PEERS = ("henchman", "sidekiq", "redis-py loop")


def values(runs: Iterable[Mapping[str, Any]], key: str) -> list[float]:
    """The numbers recorded under ``key`` (missing and failed repetitions left out)."""
    return [float(r[key]) for r in runs if "error" not in r and r.get(key) is not None]


def median(found: Sequence[float]) -> float | None:
    return statistics.median(found) if found else None


def spread(found: Sequence[float], fmt: str = "{:,.0f}") -> str:
    """``median (min–max)``, just the value for one repetition, ``n/a`` for none."""
    if not found:
        return "n/a"
    middle = fmt.format(statistics.median(found))
    if len(found) == 1:
        return middle
    return f"{middle} ({fmt.format(min(found))}–{fmt.format(max(found))})"


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, ``None`` when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def by_system(results: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    rows: dict[str, list[Mapping[str, Any]]] = {name: [] for name in results["systems"]}
    for run in results["runs"]:
        rows.setdefault(run["system"], []).append(run)
    return rows


def drain_ratios(results: Mapping[str, Any]) -> list[str]:
    """One line per pairing present in the run, and henchman against the best Python peer."""
    rows = by_system(results)
    drain = {name: median(values(runs, "drain_rate")) for name, runs in rows.items()}
    lines = []
    for top, bottom, what in PAIRINGS:
        found = ratio(drain.get(top), drain.get(bottom))
        if found is not None:
            lines.append(
                f"- {top} / {bottom}, {what}: {drain[top]:,.0f} / {drain[bottom]:,.0f} jobs/s "
                f"= **{found:.2f}×**"
            )
    peers = {
        name: rate
        for name, rate in drain.items()
        if rate is not None and not name.startswith(NOT_PYTHON_PEERS)
    }
    if peers and drain.get("henchman"):
        best = max(peers, key=lambda name: peers[name])
        lines.append(
            f"- henchman / the fastest Python peer ({best}): {drain['henchman']:,.0f} / "
            f"{peers[best]:,.0f} jobs/s = **{drain['henchman'] / peers[best]:.2f}×**"
        )
    return lines


def render(results: Mapping[str, Any]) -> str:
    """The whole report in markdown: main table, CPU and commands, ratios, settings, skips."""
    args = results["args"]
    rows = by_system(results)
    out = [
        f"N={args['n']:,} jobs, {args['reps']} repetition{'s' if args['reps'] != 1 else ''} "
        "interleaved, median (min–max); "
        f"server {results.get('server', '?')}; latency: {args['latency_n']} jobs "
        f"{args['pause'] * 1000:.0f} ms apart",
        "",
        "| system | enqueue jobs/s | bulk jobs/s | drain jobs/s | p50 ms | p99 ms | peak RSS MB "
        "| lost / dup | failed reps |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in rows.items():
        ok = [r for r in runs if "error" not in r]
        lost = sum(int(r.get("lost", 0)) for r in ok)
        dup = sum(int(r.get("duplicated", 0)) for r in ok)
        failed = len(runs) - len(ok)
        out.append(
            f"| {name} | {spread(values(ok, 'enqueue_rate'))} | {spread(values(ok, 'bulk_rate'))} "
            f"| {spread(values(ok, 'drain_rate'))} | {spread(values(ok, 'p50_ms'), '{:.1f}')} "
            f"| {spread(values(ok, 'p99_ms'), '{:.1f}')} | {spread(values(ok, 'rss_mb'))} "
            f"| {lost} / {dup} | {failed or ''} |"
        )
    out += [
        "",
        "Same runs, medians: CPU and Redis commands per job between the first and the last job "
        "of the drain (instrumentation excluded); other cores = CPU used by everything else on "
        "the machine meanwhile (noise).",
        "",
        "| system | worker CPU µs/job | server CPU µs/job | cmds/enqueue | cmds/job | start-up s "
        "| other cores |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, runs in rows.items():

        def mid(key: str, fmt: str = "{:,.0f}", of: Sequence[Mapping[str, Any]] = runs) -> str:
            found = median(values(of, key))
            return "n/a" if found is None else fmt.format(found)

        out.append(
            f"| {name} | {mid('worker_cpu_us')} | {mid('server_cpu_us')} "
            f"| {mid('enqueue_cmds', '{:.1f}')} | {mid('drain_cmds', '{:.1f}')} "
            f"| {mid('startup_s', '{:.2f}')} | {mid('other_cores', '{:.2f}')} |"
        )
    ratios = drain_ratios(results)
    if ratios:
        out += ["", "Drain ratios (medians of this run):", "", *ratios]
    out += ["", "Versions and settings:", ""]
    for name in rows:
        versions = ", ".join(f"{k} {v}" for k, v in results["versions"].get(name, {}).items())
        out.append(f"- **{name}** ({versions}): {results['settings'].get(name, '')}")
    for name, why in results.get("skipped", {}).items():
        out.append(f"- **{name}**: skipped, {why}")
    host = results.get("host", {})
    out.append(
        f"\nHost: {host.get('cpus')} CPUs, {host.get('platform')}, Python {host.get('python')}; "
        f"run took {results.get('wall_s', 0) / 60:.1f} min"
    )
    failures = [r for r in results["runs"] if "error" in r]
    if failures:
        out += ["", "Failed repetitions:"]
        out += [f"- {r['system']} rep {r['rep']}: {r['error']}" for r in failures]
    return "\n".join(out)


def summary(results: Mapping[str, Any]) -> str:
    """The short table of the README: medians only, one row per system."""
    out = [
        "| system | enqueue jobs/s | bulk jobs/s | drain jobs/s | p50 / p99 ms | peak RSS MB |",
        "|---|---|---|---|---|---|",
    ]

    def mid(runs: Sequence[Mapping[str, Any]], key: str, fmt: str = "{:,.0f}") -> str:
        found = median(values(runs, key))
        return "—" if found is None else fmt.format(found)

    for name, runs in by_system(results).items():
        shown = f"**{name}**" if name == "henchman" else name
        out.append(
            f"| {shown} | {mid(runs, 'enqueue_rate')} | {mid(runs, 'bulk_rate')} "
            f"| {mid(runs, 'drain_rate')} | {mid(runs, 'p50_ms', '{:.1f}')} / "
            f"{mid(runs, 'p99_ms', '{:.1f}')} | {mid(runs, 'rss_mb')} |"
        )
    return "\n".join(out)
