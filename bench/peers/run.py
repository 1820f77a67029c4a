"""henchman beside the systems its users would otherwise pick: one command, one table.

    python3 bench/peers/run.py                     # every system, 3 repetitions (~40 minutes)
    python3 bench/peers/run.py --reps 1 --only henchman,henchman-unpinned,sidekiq,sidekiq-pinned
    python3 bench/peers/run.py --n 2000 --reps 1   # a smoke run of everything
    python3 bench/peers/run.py --render bench/results/peers-XXXX.json   # print a table again
    python3 bench/peers/run.py --render bench/results/peers-XXXX.json --summary   # the README's

First use installs what is missing: each Python system into its own virtual environment under
``bench/peers/.venvs/`` from PyPI (``--upgrade`` rebuilds them with the newest releases), Ruby
Sidekiq from Debian's ``ruby-sidekiq`` (needs root and apt-get), and henchman from this checkout,
reinstalled on every run as a user installs it. A system that cannot be set up is skipped with a
note in the table. Results: ``bench/results/peers-<time>.json`` and ``.md``; worker logs:
``bench/peers/.logs/``. See docs/performance.md for the method and the last table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import catalog  # noqa: E402
import report  # noqa: E402

RESULTS = HERE.parent / "results"


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else "",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="systems: " + ", ".join(s.name for s in catalog.SYSTEMS),
    )
    parser.add_argument("--only", default="", help="comma-separated systems (default: all)")
    parser.add_argument("--skip", default="", help="comma-separated systems to leave out")
    parser.add_argument("--n", type=int, default=20_000, help="jobs per enqueue and drain")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (interleaved)")
    parser.add_argument("--latency-n", type=int, default=500)
    parser.add_argument("--pause", type=float, default=0.05, help="seconds between latency pushes")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--stall", type=float, default=60.0)
    parser.add_argument("--drain-timeout", type=float, default=1200.0)
    parser.add_argument("--port", type=int, default=6390)
    parser.add_argument("--upgrade", action="store_true", help="rebuild every environment")
    parser.add_argument("--render", metavar="JSON", help="print the table of an earlier run")
    parser.add_argument(
        "--summary", action="store_true", help="with --render: the README's short table"
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the second stage (harness venv)
    found = parser.parse_args(argv)
    for name in ("n", "reps", "latency_n"):
        if getattr(found, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return found


def main(argv: list[str]) -> None:
    opts = options(argv)
    if opts.render:
        results = json.loads(Path(opts.render).read_text())
        print(report.summary(results) if opts.summary else report.render(results))
        return
    split = lambda text: [x.strip() for x in text.split(",") if x.strip()]  # noqa: E731
    try:
        systems = catalog.select(catalog.SYSTEMS, split(opts.only), split(opts.skip))
    except ValueError as exc:
        raise SystemExit(f"peer benchmark: {exc}") from None
    if opts.measure is None:
        import environments

        skipped = environments.prepare(systems, upgrade=opts.upgrade)
        for name, why in skipped.items():
            print(f"skipping {name}: {why}", file=sys.stderr)
        harness = environments.python("harness")
        stage = json.dumps(skipped)
        os.execv(harness, [str(harness), __file__, *argv, "--measure", stage])
    import measure

    skipped = json.loads(opts.measure)
    runnable = [s for s in systems if s.name not in skipped]
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"peers-{time.strftime('%Y%m%d-%H%M%S')}.json"
    results = measure.run(runnable, skipped, opts, out)
    table = report.render(results)
    out.with_suffix(".md").write_text(table + "\n")
    print(table)
    print(f"\nraw results: {out}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
