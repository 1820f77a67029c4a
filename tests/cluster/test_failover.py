"""The cluster-mode proof: a master dies mid-run and its replica takes over; nothing is lost.

3 masters + 3 replicas, 20 queues spread over the shards, 20,000 jobs drained by two worker
processes; one master is SIGKILLed once about a third of the jobs ran. Every job records its jid
on a separate "ledger" server (outside the cluster, so the kill cannot erase the evidence). At the
end every pushed jid ran at least once (lost = 0); duplicates (a job whose fetch or acknowledgement
the dead master had not yet replicated runs again) are counted and printed; no node ever answered
CROSSSLOT (each node's ``INFO errorstats``, read from the killed master just before the kill).
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from henchman.app import Henchman
from henchman.config import Settings
from tests.cluster._helpers import crossslot_errors
from tests.support.cluster import ClusterTopology
from tests.support.worker_process import fast_env, henchman_bin, stop, wait_for

QUEUES = [f"q{i}" for i in range(20)]
JOBS = 20_000
LEDGER = "ledger:done"

JOBS_MODULE = """
import os
import redis
import henchman

_ledger = redis.Redis(port=int(os.environ["LEDGER_PORT"]), socket_timeout=10)


@henchman.job
def record(n):
    _ledger.rpush("ledger:done", henchman.current_job().jid)
"""


def start_worker(directory: Path, env: dict[str, str], index: int) -> subprocess.Popen[bytes]:
    args = [arg for queue in QUEUES for arg in ("-q", queue)]
    with open(directory / f"worker{index}.log", "ab") as out:
        return subprocess.Popen(
            [henchman_bin(), "run", "-r", "cluster_proof_jobs", "-c", "5", *args],
            cwd=directory,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.timeout(300)
def test_a_master_killed_mid_run_loses_no_acknowledged_job(tmp_path: Path) -> None:
    topology = ClusterTopology(tmp_path / "cluster", masters=3, replicas_per_master=1).start()
    ledger_node = topology.standalone("ledger")
    ledger = ledger_node.client()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        settings = Settings(redis_url=topology.url(), home=tmp_path / ".henchman")
        app = Henchman(settings)
        pushed: list[str] = []
        per_queue = JOBS // len(QUEUES)
        for queue in QUEUES:
            args = [[n] for n in range(per_queue)]
            pushed += app.client.push_bulk("cluster_proof_jobs.record", args, {"queue": queue})
        app.close()
        masters = topology.master_nodes()
        # The pushes are acknowledged by the cluster and replicated before the run starts.
        for master in masters:
            assert master.client().execute_command("WAIT", 1, 10_000) == 1
        sizes = [master.client().dbsize() for master in masters]
        assert all(size > 0 for size in sizes), sizes  # the queues are spread over the shards

        (tmp_path / "cluster_proof_jobs.py").write_text(JOBS_MODULE)
        env = fast_env(topology.url(), LEDGER_PORT=str(ledger_node.port))
        started = time.monotonic()
        workers = [start_worker(tmp_path, env, i) for i in range(2)]
        wait_for(lambda: ledger.llen(LEDGER) >= JOBS // 3, 120, "a third of the jobs to run")
        crossslot_before = crossslot_errors(masters[0])
        killed_at_count = ledger.llen(LEDGER)
        _, promotion = topology.kill_master(0)
        killed_at = time.monotonic()
        wait_for(
            lambda: ledger.llen(LEDGER) >= JOBS and len(set(ledger.lrange(LEDGER, 0, -1))) >= JOBS,
            180,
            "every job to run",
        )
        drained = time.monotonic()
        for worker in workers:
            assert stop(worker) == 0
        runs = Counter(ledger.lrange(LEDGER, 0, -1))
        lost = set(pushed) - set(runs)
        duplicates = sum(count - 1 for count in runs.values())
        crossslot = crossslot_before + sum(crossslot_errors(n) for n in topology.nodes if n.alive)
        logs = "".join((tmp_path / f"worker{i}.log").read_text() for i in range(2))
        print(
            f"cluster failover: killed a master after {killed_at_count} of {JOBS} jobs; replica "
            f"promoted in {promotion:.1f} s; drained {drained - killed_at:.1f} s after the kill "
            f"({drained - started:.1f} s in all); executed {len(runs)}, lost {len(lost)}, "
            f"duplicated {duplicates}; CROSSSLOT errors {crossslot}"
        )
        assert not lost
        assert set(runs) == set(pushed)
        assert crossslot == 0
        assert "CROSSSLOT" not in logs
        assert logs.count("which is not Sidekiq-compatible") == 2  # each worker's startup line
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        ledger_node.close()
        topology.stop()
