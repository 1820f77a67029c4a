"""Push the demo's jobs from a separate process, as a web app would, and print their jids.

    python client.py            # 20 bulk jobs plus one of each kind
    python client.py --n 500    # more bulk jobs

No worker needs to run: jobs wait in Redis (the embedded server under ./.henchman, started on
first use, unless REDIS_URL or HENCHMAN_REDIS_URL names another server) until one starts.
``--jids-file PATH`` also writes the jids as JSON, ``{"now": [...], "later": [...]}``: "now" are
the jobs due within seconds, "later" the one scheduled an hour ahead (``run_demo.py`` uses this).
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path

from jobs import ChargeCard, SendWelcomeEmail, add, fetch_title

import henchman


def show(method: str, call: str, jid: str | None) -> None:
    print(f"  {method:<15} {call:<44} jid {jid}")


def push_all(n: int) -> dict[str, list[str]]:
    """Push one of each kind of job and ``n`` bulk jobs; return their jids."""
    now: list[str | None] = []

    jid = add.perform_async(2, 3)
    show("perform_async", "jobs.add(2, 3)", jid)
    now.append(jid)

    for page in ("https://example.com/", "https://example.org/"):
        jid = fetch_title.perform_async(page)
        show("perform_async", f"jobs.fetch_title({page!r})", jid)
        now.append(jid)

    jid = SendWelcomeEmail.perform_async(42, "ada@example.com")
    show("perform_async", "SendWelcomeEmail(42, 'ada@example.com')", jid)
    now.append(jid)

    jid = ChargeCard.perform_async(1001, 2500)
    show("perform_async", "ChargeCard(1001, 2500)  (fails once)", jid)
    now.append(jid)

    jid = henchman.enqueue("NightlyReport", "2026-11-22")
    show("enqueue", "'NightlyReport' by wire name", jid)
    now.append(jid)

    jid = add.perform_in(2, 10, 20)
    show("perform_in", "jobs.add(10, 20) in 2 s", jid)
    now.append(jid)

    bulk = add.perform_bulk([[i, i] for i in range(n)])
    shown = " ".join(bulk[:2]) + (f" ... ({len(bulk)} jids)" if len(bulk) > 2 else "")
    print(f"  {'perform_bulk':<15} {f'jobs.add(i, i) for i in range({n})':<44} {shown}")
    now.extend(bulk)

    later = SendWelcomeEmail.set(queue="default").perform_in(
        timedelta(hours=1), 7, "grace@example.com"
    )
    show("perform_in", "SendWelcomeEmail(7, ...) in 1 hour", later)

    return {
        "now": [j for j in now if j is not None],
        "later": [later] if later is not None else [],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="number of bulk jobs (default 20)")
    parser.add_argument("--jids-file", type=Path, help="also write the jids to this JSON file")
    options = parser.parse_args()

    print("pushing jobs:")
    jids = push_all(options.n)
    total = len(jids["now"]) + len(jids["later"])
    print(f"pushed {total} jobs: {len(jids['now'])} due now or within seconds, "
          f"{len(jids['later'])} scheduled an hour ahead")
    if options.jids_file is not None:
        options.jids_file.write_text(json.dumps(jids))


if __name__ == "__main__":
    main()
