"""Every Redis key henchman reads or writes, in one place.

Sidekiq's layout (shared with Ruby Sidekiq on the same Redis) comes first; henchman's own
keys all start with ``henchman:`` so they never collide with anything Sidekiq or its plugins write.
Nothing outside this module builds a key name: grep for a key here to find every user of it.
``docs/redis-keys.md`` documents each key's type, writer and lifetime.

Keys are plain ``str``; an optional namespace prefix is not supported (Sidekiq dropped it in 7.0).
"""

from __future__ import annotations

import time

# --- Sidekiq layout -------------------------------------------------------------------------

#: SET of queue names that have ever held a job (``SADD`` on every push).
QUEUES = "queues"
#: ZSET of scheduled jobs, score = run-at epoch seconds (float).
SCHEDULE = "schedule"
#: ZSET of failed jobs waiting for their next attempt, score = retry-at epoch seconds.
RETRY = "retry"
#: ZSET of jobs that exhausted their retries, score = death epoch seconds.
DEAD = "dead"
#: SET of live process identities (members expire with their ``<identity>`` hash).
PROCESSES = "processes"
#: SET of paused queue names (Sidekiq Pro layout).
PAUSED = "paused"
#: Lifetime counters.
STAT_PROCESSED = "stat:processed"
STAT_FAILED = "stat:failed"

#: The sorted sets that hold whole job payloads.
SORTED_SETS = (SCHEDULE, RETRY, DEAD)


#: Prefix of queue lists, for the Lua script that derives a queue key from a payload's ``queue``.
QUEUE_PREFIX = "queue:"


def queue(name: str) -> str:
    """LIST of a queue's jobs: LPUSH to enqueue, the right end is the head."""
    return QUEUE_PREFIX + name


def stat_processed_day(day: str) -> str:
    """Daily processed counter; ``day`` is ``YYYY-MM-DD`` in UTC."""
    return f"stat:processed:{day}"


def stat_failed_day(day: str) -> str:
    """Daily failed counter; ``day`` is ``YYYY-MM-DD`` in UTC."""
    return f"stat:failed:{day}"


def process(identity: str) -> str:
    """HASH of a live process (``info`` JSON, busy, beat, quiet, rss, rtt_us); TTL 60 s."""
    return identity


def process_work(identity: str) -> str:
    """HASH of a process's running jobs (Sidekiq ≥ 6.5): thread id -> {queue, payload, run_at}."""
    return f"{identity}:work"


def process_workers(identity: str) -> str:
    """HASH of a process's running jobs as Sidekiq 6.4 names it (written for 6.4 compatibility)."""
    return f"{identity}:workers"


def process_signals(identity: str) -> str:
    """LIST of remote signals (``TSTP``, ``TERM``, ``TTIN``) for one process; popped per beat."""
    return f"{identity}-signals"


def iteration_state(jid: str) -> str:
    """HASH of an iterable job's state (Sidekiq 7.3 layout)."""
    return f"it-{jid}"


def metrics_minute(at: float) -> str:
    """HASH of per-job-class execution counters for the UTC minute containing epoch ``at``
    (Sidekiq 8 layout): ``j|YYMMDD|H:MM`` with fields ``<class>|p`` (executions,
    failures included), ``<class>|f`` (failures) and ``<class>|ms`` (milliseconds spent in
    executions that did not fail); TTL 8 hours."""
    t = time.gmtime(at)
    return f"j|{t.tm_year % 100:02d}{t.tm_mon:02d}{t.tm_mday:02d}|{t.tm_hour}:{t.tm_min:02d}"


def metrics_ten_minutes(at: float) -> str:
    """HASH with the same fields as :func:`metrics_minute`, summed over the UTC ten minutes
    containing ``at``: the minute key without its last digit (``j|250214|8:4`` holds 08:40-08:49;
    it cannot collide with a minute key, whose minute always has two digits); TTL 72 hours."""
    return metrics_minute(at)[:-1]


def metrics_histogram(job_class: str, at: float) -> str:
    """STRING read with BITFIELD: 26 unsigned 16-bit counters, the execution-time histogram of
    ``job_class`` for the UTC minute containing ``at`` (Sidekiq 8 layout ``h|<class>-D-H:M``,
    no zero padding); TTL 8 hours."""
    t = time.gmtime(at)
    return f"h|{job_class}-{t.tm_mday}-{t.tm_hour}:{t.tm_min}"


def metrics_marks(day: str) -> str:
    """HASH of deploy marks for ``day`` (``YYYYMMDD``, UTC): ISO time -> label, written by
    Sidekiq's ``Sidekiq::Metrics::Deploy``; shown on the metrics charts."""
    return f"{day}-marks"


# --- henchman's own keys ----------------------------------------------------------------------

PREFIX = "henchman:"

#: HASH of every working list: working-list key -> JSON ``[owner identity, queue name]``, so orphan
#: recovery finds the lists of a process after its death without scanning the keyspace.
WORKING_LISTS = PREFIX + "working"
#: LIST of poison-pill jobs taken out of a working list, waiting for their dead-set record.
POISON = PREFIX + "poison"
#: Lifetime count of jobs recovered from dead processes' working lists.
STAT_RECOVERED = PREFIX + "stat:recovered"
#: Lifetime count of expiring jobs dropped because they had not started by their ``expires_at``.
STAT_EXPIRED = PREFIX + "stat:expired"
#: HASH jid -> number of times the job was recovered from a dead process (poison-pill rule).
RECOVERIES = PREFIX + "recoveries"
#: Short lock held by the one process that recovers orphans at a time.
RECOVERY_LOCK = PREFIX + "lock:recovery"
#: STRING: the secret the Web UI signs its CSRF tokens with, shared by every web process.
WEB_SECRET = PREFIX + "web:secret"


def working(identity: str, queue_name: str) -> str:
    """LIST of jobs ``identity`` fetched from ``queue_name`` and has not acknowledged yet
    (reliable fetch).

    Each element is the job's raw payload exactly as it was in its queue, so acknowledging is an
    ``LREM`` of the same bytes and recovery pushes the very same bytes back. One list per queue
    means recovery never has to parse a payload to know where it goes back to.
    """
    return f"{PREFIX}working:{identity}:{queue_name}"


def stat_recovered_day(day: str) -> str:
    """Daily count of recovered jobs."""
    return f"{PREFIX}stat:recovered:{day}"


# --- iterable jobs; the state hash itself is ``it-<jid>`` above -------------


def iteration_done_ids(jid: str) -> str:
    """SET of the ids an iterable job marked done (``progress.done(id)``); deleted on completion."""
    return f"{PREFIX}it:{jid}:done"


def iteration_rows(jid: str) -> str:
    """Bitmap of an import's processed row numbers (row ledger, bit = row number)."""
    return f"{PREFIX}it:{jid}:rows"


def iteration_row_errors(jid: str) -> str:
    """HASH of an import's failed rows: row number -> JSON list of error messages, in order."""
    return f"{PREFIX}it:{jid}:errors"


def iteration_files(jid: str) -> str:
    """STRING, JSON manifest of an iterable job's offloaded temporary files and their cursor."""
    return f"{PREFIX}it:{jid}:files"


# --- batches (Sidekiq Pro's ``b-<bid>`` naming) --------------------------------------------------
#
# ``batch_lua_prefix`` and the suffixes below are also spelled out in ``batch_commit.lua`` and
# ``batch_ack.lua``, which derive a parent's keys from its bid; a test pins that they agree.

#: ZSET of every batch, score = creation epoch seconds (the Web UI's and ``BatchSet``'s index).
BATCHES = "batches"
#: Prefix of every per-batch key; the Lua scripts build ``<prefix><bid><suffix>`` from it.
BATCH_PREFIX = "b-"


def batch(bid: str) -> str:
    """HASH of a batch: description, callback queue, parent, total, times, callback templates."""
    return f"{BATCH_PREFIX}{bid}"


def batch_jids(bid: str) -> str:
    """SET of the batch's jobs that have not succeeded yet (its ``pending`` count)."""
    return f"{BATCH_PREFIX}{bid}-jids"


def batch_failed(bid: str) -> str:
    """SET of the batch's jobs that failed and have not succeeded since."""
    return f"{BATCH_PREFIX}{bid}-failed"


def batch_died(bid: str) -> str:
    """SET of the batch's jobs that died (went to the dead set) and have not succeeded since."""
    return f"{BATCH_PREFIX}{bid}-died"


def batch_kids(bid: str) -> str:
    """SET of the batch's child batches."""
    return f"{BATCH_PREFIX}{bid}-kids"


def batch_kids_complete(bid: str) -> str:
    """SET of the child batches whose ``complete`` fired."""
    return f"{BATCH_PREFIX}{bid}-kcomplete"


def batch_kids_success(bid: str) -> str:
    """SET of the child batches whose ``success`` fired."""
    return f"{BATCH_PREFIX}{bid}-ksuccess"


def batch_stage(bid: str, queue_name: str) -> str:
    """LIST of payloads staged for ``queue:<queue_name>`` by an open ``jobs()`` block; moved to
    the queue when the block commits, deleted if it raises, expires if the pusher dies."""
    return f"{BATCH_PREFIX}{bid}-stage:{queue_name}"


def batch_stage_scheduled(bid: str) -> str:
    """ZSET of scheduled payloads staged by an open ``jobs()`` block (score = run-at time)."""
    return f"{BATCH_PREFIX}{bid}-stage-at"


def batch_stage_jids(bid: str) -> str:
    """SET of the jids staged by an open ``jobs()`` block."""
    return f"{BATCH_PREFIX}{bid}-stage-jids"


def batch_root(bid: str) -> str:
    """The root batch of ``bid``'s family: a cluster-mode child's bid is ``<root>.<own>``."""
    return bid.split(".", 1)[0]


def batch_keys(bid: str) -> tuple[str, ...]:
    """Every long-lived key of one batch (staging keys excluded)."""
    return (
        batch(bid),
        batch_jids(bid),
        batch_failed(bid),
        batch_died(bid),
        batch_kids(bid),
        batch_kids_complete(bid),
        batch_kids_success(bid),
    )


# --- job results ------------------------------------------------------------------------------


def result(jid: str) -> str:
    """HASH of one job's result (status, attempts, timestamps, errors, value); expires
    ``result_ttl`` seconds after its last change (see ``henchman.results.record``)."""
    return f"henchman:result:{jid}"


# --- periodic jobs and leader election (Sidekiq Enterprise's leader key) ----------------------

#: STRING holding the leader's identity, with a lease TTL (Sidekiq Enterprise's key name).
LEADER = "dear-leader"
#: HASH schedule id -> JSON definition (cron, zone, job, args, options), as the leader
#: registered them; read by the CLI and the Web UI.
PERIODIC_SCHEDULES = PREFIX + "periodic:schedules"
#: HASH schedule id -> epoch of the newest tick already handled (enqueued, skipped or paused):
#: the high-water mark that makes every tick enqueue at most once.
PERIODIC_MARKS = PREFIX + "periodic:marks"
#: SET of paused schedule ids.
PERIODIC_PAUSED = PREFIX + "periodic:paused"


def periodic_history(schedule_id: str) -> str:
    """LIST of one schedule's latest runs, newest first: JSON {tick, jid, at, kind, count}."""
    return f"{PREFIX}periodic:history:{schedule_id}"


# --- rate limiters ----------------------------------------------------------------------------

#: SET of the names of every limiter that has been used, for the admin API and Web UI.
LIMITERS = PREFIX + "limiters"


def limiter(name: str) -> str:
    """HASH of a limiter's definition: ``kind``, ``size``, ``interval`` (seconds) and, for a
    concurrent limiter, ``lock_timeout``; written on a process's first use of the limiter."""
    return f"{PREFIX}limiter:{name}"


def limiter_state(name: str) -> str:
    """The limiter's usage: a ZSET of leases (concurrent), of admission times (window), or a
    HASH (bucket: interval number and count; leaky/points: level and its time). Expires idle."""
    return f"{PREFIX}limiter:{name}:state"


def limiter_wake(name: str) -> str:
    """LIST a concurrent limiter pushes to on release; waiters block on it (BLPOP)."""
    return f"{PREFIX}limiter:{name}:wake"


# --- unique jobs ------------------------------------------------------------------------------


def unique_lock(digest: str) -> str:
    """STRING holding the jid of the job that owns a uniqueness lock (Sidekiq Enterprise's
    ``unique:<digest>`` layout); expires after ``unique_for`` (plus the delay if scheduled)."""
    return f"unique:{digest}"


# --- layouts: the one object every user gets its key names from -------------------------------


class KeyLayout:
    """Sidekiq's layout (the default): the names above, byte for byte.

    A layout is chosen once from the settings (:func:`layout_for`) and passed to every user, so a
    module never decides between layouts itself. Per-queue sorted sets (``schedule``, ``retry``,
    ``dead``) take the queue name; in this layout they ignore it and name the one shared set.
    Immutable: instances hold no state but their names.
    """

    #: Whether the scheduled, retry and dead sets are one key per queue (cluster mode).
    per_queue_sets = False
    #: Whether this is the cluster layout (every multi-key step in one hash slot).
    cluster = False

    QUEUES = QUEUES
    PROCESSES = PROCESSES
    PAUSED = PAUSED
    STAT_PROCESSED = STAT_PROCESSED
    STAT_FAILED = STAT_FAILED
    QUEUE_PREFIX = QUEUE_PREFIX
    WORKING_LISTS = WORKING_LISTS
    POISON = POISON
    STAT_RECOVERED = STAT_RECOVERED
    STAT_EXPIRED = STAT_EXPIRED
    RECOVERIES = RECOVERIES
    RECOVERY_LOCK = RECOVERY_LOCK
    WEB_SECRET = WEB_SECRET
    LEADER = LEADER

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def queue(self, name: str) -> str:
        """LIST of a queue's jobs (see the module function)."""
        return QUEUE_PREFIX + name

    def working(self, identity: str, queue_name: str) -> str:
        """A process's working list for one queue."""
        return f"{PREFIX}working:{identity}:{queue_name}"

    def schedule(self, queue_name: str) -> str:
        """ZSET holding the scheduled jobs of ``queue_name``."""
        return SCHEDULE

    def retry(self, queue_name: str) -> str:
        """ZSET holding the jobs of ``queue_name`` waiting to be retried."""
        return RETRY

    def dead(self, queue_name: str) -> str:
        """ZSET holding the dead jobs of ``queue_name``."""
        return DEAD

    def poison(self, queue_name: str) -> str:
        """LIST of poison pills taken out of ``queue_name``'s working lists."""
        return POISON

    def recoveries(self, queue_name: str) -> str:
        """HASH jid -> recovery count for jobs of ``queue_name``."""
        return RECOVERIES

    def sorted_set(self, kind: str, queue_name: str) -> str:
        """``schedule``/``retry``/``dead`` set of ``queue_name`` by kind name."""
        if kind == SCHEDULE:
            return self.schedule(queue_name)
        if kind == RETRY:
            return self.retry(queue_name)
        if kind == DEAD:
            return self.dead(queue_name)
        raise ValueError(f"unknown sorted set {kind!r}: expected schedule, retry or dead")

    def process(self, identity: str) -> str:
        return process(identity)

    def process_work(self, identity: str) -> str:
        return process_work(identity)

    def process_workers(self, identity: str) -> str:
        return process_workers(identity)

    def process_signals(self, identity: str) -> str:
        return process_signals(identity)

    def stat_processed_day(self, day: str) -> str:
        return stat_processed_day(day)

    def stat_failed_day(self, day: str) -> str:
        return stat_failed_day(day)

    def stat_recovered_day(self, day: str) -> str:
        return stat_recovered_day(day)

    def metrics_minute(self, at: float) -> str:
        return metrics_minute(at)

    def metrics_ten_minutes(self, at: float) -> str:
        return metrics_ten_minutes(at)

    def metrics_histogram(self, job_class: str, at: float) -> str:
        return metrics_histogram(job_class, at)

    def metrics_marks(self, day: str) -> str:
        return metrics_marks(day)

    def iteration_state(self, jid: str) -> str:
        return iteration_state(jid)

    def iteration_done_ids(self, jid: str) -> str:
        return iteration_done_ids(jid)

    def iteration_rows(self, jid: str) -> str:
        return iteration_rows(jid)

    def iteration_row_errors(self, jid: str) -> str:
        return iteration_row_errors(jid)

    def iteration_files(self, jid: str) -> str:
        return iteration_files(jid)

    LIMITERS = LIMITERS

    def limiter(self, name: str) -> str:
        return limiter(name)

    def limiter_state(self, name: str) -> str:
        return limiter_state(name)

    def limiter_wake(self, name: str) -> str:
        return limiter_wake(name)

    def limiter_keys(self, name: str) -> list[str]:
        """KEYS of every limiter script: names set, definition, state, wake-up list."""
        return [
            self.LIMITERS,
            self.limiter(name),
            self.limiter_state(name),
            self.limiter_wake(name),
        ]

    def unique_lock(self, digest: str, queue_name: str) -> str:
        """A unique job's lock (its digest covers the queue name)."""
        return unique_lock(digest)

    PERIODIC_SCHEDULES = PERIODIC_SCHEDULES

    def periodic_marks(self, queue_name: str) -> str:
        """HASH schedule id -> newest handled tick, for schedules of ``queue_name``."""
        return PERIODIC_MARKS

    def periodic_paused(self, queue_name: str) -> str:
        """SET of paused schedule ids (of ``queue_name``'s schedules)."""
        return PERIODIC_PAUSED

    def periodic_history(self, schedule_id: str, queue_name: str) -> str:
        return periodic_history(schedule_id)

    def periodic_tick_keys(self, schedule_id: str, queue_name: str) -> list[str]:
        """KEYS of ``periodic_tick.lua``: leader, marks, history, queues set, queue, paused."""
        return [
            self.LEADER,
            self.periodic_marks(queue_name),
            self.periodic_history(schedule_id, queue_name),
            self.QUEUES,
            self.queue(queue_name),
            self.periodic_paused(queue_name),
        ]

    # Batches: the module functions above. ``batch_tag`` is what the Lua scripts insert between
    # the prefix and the bid (nothing here); ``batch_outbox`` is ``None``: callbacks are pushed
    # to their queues by the accounting script itself.
    BATCHES = BATCHES
    #: ZSET of batch families whose outbox the sweeper watches (cluster layout only).
    BATCH_FAMILIES: str | None = None

    def batch_tag(self, bid: str) -> str:
        return ""

    def batch(self, bid: str) -> str:
        return batch(bid)

    def batch_jids(self, bid: str) -> str:
        return batch_jids(bid)

    def batch_failed(self, bid: str) -> str:
        return batch_failed(bid)

    def batch_died(self, bid: str) -> str:
        return batch_died(bid)

    def batch_kids(self, bid: str) -> str:
        return batch_kids(bid)

    def batch_stage(self, bid: str, queue_name: str) -> str:
        return batch_stage(bid, queue_name)

    def batch_stage_scheduled(self, bid: str) -> str:
        return batch_stage_scheduled(bid)

    def batch_stage_jids(self, bid: str) -> str:
        return batch_stage_jids(bid)

    def batch_outbox(self, bid: str) -> str | None:
        return None

    def batch_inflight(self, bid: str) -> str | None:
        return None


#: The one Sidekiq-layout instance (stateless, so sharing it is safe).
SIDEKIQ = KeyLayout()

#: The hash tag of every shared registry in cluster mode: one slot for processes, stats, ...
CLUSTER_SHARED_TAG = "{henchman}"


class ClusterKeyLayout(KeyLayout):
    """The cluster layout (not Sidekiq-compatible): every queue's keys carry the queue's hash tag
    ``{<queue>}`` — the list, its working lists and its scheduled, retry and dead sets, so each
    step on one queue is one slot — and every shared registry carries ``{henchman}``."""

    per_queue_sets = True
    cluster = True

    _S = CLUSTER_SHARED_TAG + ":"
    QUEUES = _S + "queues"
    PROCESSES = _S + "processes"
    PAUSED = _S + "paused"
    STAT_PROCESSED = _S + "stat:processed"
    STAT_FAILED = _S + "stat:failed"
    QUEUE_PREFIX = "queue:{"
    WORKING_LISTS = _S + "working"
    POISON = _S + "poison"
    STAT_RECOVERED = _S + "stat:recovered"
    STAT_EXPIRED = _S + "stat:expired"
    RECOVERIES = _S + "recoveries"
    RECOVERY_LOCK = _S + "lock:recovery"
    WEB_SECRET = _S + "web:secret"
    LEADER = _S + "dear-leader"

    def queue(self, name: str) -> str:
        if "{" in name or "}" in name:
            check_cluster_queue_name(name)
        return "queue:{" + name + "}"

    def working(self, identity: str, queue_name: str) -> str:
        return "henchman:working:{" + queue_name + "}:" + identity

    def schedule(self, queue_name: str) -> str:
        return "schedule:{" + queue_name + "}"

    def retry(self, queue_name: str) -> str:
        return "retry:{" + queue_name + "}"

    def dead(self, queue_name: str) -> str:
        return "dead:{" + queue_name + "}"

    def poison(self, queue_name: str) -> str:
        return "henchman:poison:{" + queue_name + "}"

    def recoveries(self, queue_name: str) -> str:
        return "henchman:recoveries:{" + queue_name + "}"

    def process(self, identity: str) -> str:
        return self._S + identity

    def process_work(self, identity: str) -> str:
        return f"{self._S}{identity}:work"

    def process_workers(self, identity: str) -> str:
        return f"{self._S}{identity}:workers"

    def process_signals(self, identity: str) -> str:
        return f"{self._S}{identity}-signals"

    def stat_processed_day(self, day: str) -> str:
        return f"{self._S}stat:processed:{day}"

    def stat_failed_day(self, day: str) -> str:
        return f"{self._S}stat:failed:{day}"

    def stat_recovered_day(self, day: str) -> str:
        return f"{self._S}stat:recovered:{day}"

    def metrics_minute(self, at: float) -> str:
        return self._S + metrics_minute(at)

    def metrics_ten_minutes(self, at: float) -> str:
        return self._S + metrics_ten_minutes(at)

    def metrics_histogram(self, job_class: str, at: float) -> str:
        return self._S + metrics_histogram(job_class, at)

    def metrics_marks(self, day: str) -> str:
        return self._S + metrics_marks(day)

    # An iterable job's keys share the tag ``{<jid>}``: its state, processed ids, row ledger and
    # file manifest are cleaned up or reset in one MULTI.
    def iteration_state(self, jid: str) -> str:
        return "it-{" + jid + "}"

    def iteration_done_ids(self, jid: str) -> str:
        return "henchman:it:{" + jid + "}:done"

    def iteration_rows(self, jid: str) -> str:
        return "henchman:it:{" + jid + "}:rows"

    def iteration_row_errors(self, jid: str) -> str:
        return "henchman:it:{" + jid + "}:errors"

    def iteration_files(self, jid: str) -> str:
        return "henchman:it:{" + jid + "}:files"

    # A limiter's keys share the tag ``{<name>}``; there is no names set in cluster mode (it would
    # be in another slot): the definition hash is passed twice, which tells the scripts to skip
    # the SADD, and the admin API lists limiters by their definition hashes.
    def limiter(self, name: str) -> str:
        return "henchman:limiter:{" + name + "}"

    def limiter_state(self, name: str) -> str:
        return "henchman:limiter:{" + name + "}:state"

    def limiter_wake(self, name: str) -> str:
        return "henchman:limiter:{" + name + "}:wake"

    def limiter_keys(self, name: str) -> list[str]:
        definition = self.limiter(name)
        return [definition, definition, self.limiter_state(name), self.limiter_wake(name)]

    def unique_lock(self, digest: str, queue_name: str) -> str:
        # In the queue's slot: the push checks the lock and stores the job in one script.
        return "unique:{" + queue_name + "}:" + digest

    # A schedule's marks, history and paused flag carry its queue's tag: checking and advancing
    # the mark and pushing the tick stay one script in the queue's slot.
    PERIODIC_SCHEDULES = _S + "periodic:schedules"

    def periodic_marks(self, queue_name: str) -> str:
        return "henchman:periodic:{" + queue_name + "}:marks"

    def periodic_paused(self, queue_name: str) -> str:
        return "henchman:periodic:{" + queue_name + "}:paused"

    def periodic_history(self, schedule_id: str, queue_name: str) -> str:
        return "henchman:periodic:{" + queue_name + "}:history:" + schedule_id

    def periodic_tick_keys(self, schedule_id: str, queue_name: str) -> list[str]:
        # The queue's list stands in for the leader key (in another slot: the lease loop alone
        # decides who ticks, the mark keeps each tick once) and for the queues set (the caller
        # registers the queue): the script skips those steps when given the same key.
        own = self.queue(queue_name)
        return [
            own,
            self.periodic_marks(queue_name),
            self.periodic_history(schedule_id, queue_name),
            own,
            own,
            self.periodic_paused(queue_name),
        ]

    # A batch *family* (a root batch and every batch opened inside it, with their staging keys
    # and the family's outbox) shares the tag ``{b:<root bid>}``: a child's bid starts with its
    # root's (``<root>.<own>``), so any bid names its family's slot, and the accounting of a
    # child and its parents stays one script. The index of batches and the registry of
    # families are shared ``{henchman}`` keys, written before a family's keys exist.
    BATCHES = _S + "batches"
    BATCH_FAMILIES = _S + "batch-families"

    def batch_tag(self, bid: str) -> str:
        return "{b:" + batch_root(bid) + "}"

    def batch(self, bid: str) -> str:
        return BATCH_PREFIX + self.batch_tag(bid) + bid

    def batch_jids(self, bid: str) -> str:
        return self.batch(bid) + "-jids"

    def batch_failed(self, bid: str) -> str:
        return self.batch(bid) + "-failed"

    def batch_died(self, bid: str) -> str:
        return self.batch(bid) + "-died"

    def batch_kids(self, bid: str) -> str:
        return self.batch(bid) + "-kids"

    def batch_stage(self, bid: str, queue_name: str) -> str:
        return self.batch(bid) + "-stage:" + queue_name

    def batch_stage_scheduled(self, bid: str) -> str:
        return self.batch(bid) + "-stage-at"

    def batch_stage_jids(self, bid: str) -> str:
        return self.batch(bid) + "-stage-jids"

    def batch_outbox(self, bid: str) -> str | None:
        """LIST of the family's jobs waiting to be pushed to their queues (JSON entries
        ``[queue, payload]`` or ``["", payload, run_at]``), oldest at the right."""
        return BATCH_PREFIX + self.batch_tag(bid) + ":outbox"

    def batch_inflight(self, bid: str) -> str | None:
        """LIST of outbox entries a deliverer took and has not pushed yet."""
        return BATCH_PREFIX + self.batch_tag(bid) + ":inflight"


#: The one cluster-layout instance.
CLUSTER = ClusterKeyLayout()


def check_cluster_queue_name(name: str) -> None:
    """Refuse a queue name the cluster layout cannot tag: braces would change the hash tag."""
    if "{" in name or "}" in name:
        raise ValueError(
            f"queue name {name!r} cannot be used in cluster mode: braces would change its hash tag"
        )


def layout_for(cluster: bool) -> KeyLayout:
    """The layout for a deployment: :data:`CLUSTER` in cluster mode, else :data:`SIDEKIQ`."""
    return CLUSTER if cluster else SIDEKIQ


def layout_of(client: object) -> KeyLayout:
    """The layout that goes with a client: the cluster layout for a cluster client (the only one
    it can use without cross-slot errors), else Sidekiq's. For admin objects built from a bare
    client; workers and clients get the layout from the settings."""
    for cls in type(client).__mro__:  # redis-py's sync or asyncio cluster client, or a subclass
        if cls.__name__ == "RedisCluster" and cls.__module__.startswith("redis."):
            return CLUSTER
    return SIDEKIQ
