"""Data written the way Ruby Sidekiq 6.4, 7.x and 8.x write it, plus henchman's own,
for the Web UI tests and screenshots.

Reproduced from Sidekiq's source: payloads with float-second (6/7) and integer-millisecond (8)
timestamps; backtraces as ``Base64.encode64(Zlib::Deflate.deflate(JSON.dump(lines)))`` (wrapped
every 60 characters); processes with ``info`` JSON, a 6.4 ``:workers`` hash holding the payload as
an object, a 7.x ``:work`` hash holding it as a JSON string, an 8.x hash with its own
``concurrency`` field and millisecond ``run_at``; metrics in Sidekiq 8's ``j|``/``h|`` layout.
Hostile strings (``<script>``) sit in args, error messages, class and queue names.
"""

from __future__ import annotations

import base64
import datetime
import json
import zlib
from typing import Any

import redis

from henchman import keys
from henchman.api.metrics import bucket_index

XSS = "<script>alert('xss')</script>"
XSS_IMG = '"><img src=x onerror=alert(1)>'
JIDS = {
    name: f"{index:02d}" + "ab12cd34ef56ab12cd34ef"
    for index, name in enumerate(
        ("q1", "q2", "q3", "q4", "r1", "r2", "r3", "s1", "s2", "d1", "d2", "w1", "w2", "w3", "w4")
    )
}


def dumps(value: Any) -> bytes:
    """Compact JSON, as Ruby's ``JSON.generate`` writes it."""
    return json.dumps(value, separators=(",", ":")).encode()


def ruby_backtrace(lines: list[str]) -> str:
    data = base64.b64encode(zlib.compress(json.dumps(lines).encode())).decode()
    return "".join(data[i : i + 60] + "\n" for i in range(0, len(data), 60))


def sidekiq7_job(jid: str, now: float, *, klass: str = "HardJob", queue: str = "default",
                 args: list[Any] | None = None, **extra: Any) -> dict[str, Any]:  # fmt: skip
    job: dict[str, Any] = {
        "retry": True, "queue": queue, "class": klass, "args": [1, "two"] if args is None else args,
        "jid": jid, "created_at": now - 3600.25, "enqueued_at": now - 120.5,
    }  # fmt: skip
    job.update(extra)
    return job


def sidekiq8_job(jid: str, now: float, **extra: Any) -> dict[str, Any]:
    job = sidekiq7_job(jid, now, **extra)
    job["created_at"] = int((now - 7200) * 1000)
    job["enqueued_at"] = int((now - 300) * 1000)
    return job


def failure(now: float, message: str, count: int = 2, backtrace: list[str] | None = None,
            error_class: str = "RuntimeError") -> dict[str, Any]:  # fmt: skip
    fields: dict[str, Any] = {
        "error_message": message, "error_class": error_class, "failed_at": now - 600.5,
        "retried_at": now - 60.5, "retry_count": count,
    }  # fmt: skip
    if backtrace is not None:
        fields["error_backtrace"] = ruby_backtrace(backtrace)
    return fields


RUBY_TRACE = [
    "/app/app/jobs/hard_job.rb:12:in `perform'",
    "/usr/lib/ruby/vendor_ruby/sidekiq/processor.rb:202:in `execute_job'",
    f"/app/lib/{XSS}.rb:1:in `block'",
]


def seed_queues(client: redis.Redis, now: float) -> None:
    default = [
        sidekiq7_job(JIDS["q1"], now, args=[XSS, {"html": XSS_IMG}]),
        sidekiq8_job(JIDS["q2"], now, klass="ReportJob", args=[42]),
        sidekiq7_job(
            JIDS["q3"],
            now,
            klass="ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper",
            wrapped="SendInvoiceJob",
            args=[{"job_class": "SendInvoiceJob", "arguments": [7]}],
        ),
        sidekiq7_job(JIDS["q4"], now, klass="app.jobs.resize", args=[1, 800], encrypt=True),
    ]
    client.sadd(keys.QUEUES, "default", "critical", "mailers", XSS)
    client.lpush(keys.queue("default"), *(dumps(j) for j in default), b'{"class":"Broken')
    client.lpush(keys.queue("critical"), dumps(sidekiq8_job(JIDS["w4"], now, queue="critical")))
    client.lpush(keys.queue("mailers"), *(
        dumps(sidekiq7_job(f"{i:024x}", now, klass="Mailer", queue="mailers", args=[i]))
        for i in range(60)
    ))  # fmt: skip
    client.lpush(keys.queue(XSS), dumps(sidekiq7_job(JIDS["w3"], now, queue=XSS, klass=XSS)))
    client.sadd(keys.PAUSED, "critical")


def seed_sets(client: redis.Redis, now: float) -> None:
    client.zadd(keys.RETRY, {
        dumps(sidekiq7_job(JIDS["r1"], now, args=[XSS], **failure(now, f"boom {XSS}", 3,
                                                                     RUBY_TRACE))): now + 60.125,
        dumps(sidekiq8_job(JIDS["r2"], now, klass="ReportJob", **failure(
            now, "timeout talking to api.example.com", 0, error_class="Net::ReadTimeout"))):
            now + 3600.5,
        dumps(sidekiq7_job(JIDS["r3"], now, klass="app.jobs.resize", queue="mailers",
                           **failure(now, "manual retry", -1))): now + 7200.0,
    })  # fmt: skip
    client.zadd(keys.SCHEDULE, {
        dumps(sidekiq7_job(JIDS["s1"], now, klass="ReminderJob", args=["in an hour"])): now + 3600,
        dumps(sidekiq8_job(JIDS["s2"], now, klass="DigestJob")): now + 86400.75,
    })  # fmt: skip
    client.zadd(keys.DEAD, {
        dumps(sidekiq7_job(JIDS["d1"], now, **failure(now, f"gave up {XSS}", 25, RUBY_TRACE))):
            now - 3600.5,
        b'{"class":"Broken","jid":"deadbeef':  now - 7200.0,
    })  # fmt: skip


def seed_processes(client: redis.Redis, now: float) -> list[str]:
    """Four processes: henchman, Sidekiq 6.4 (``:workers``), 7.x and 8.x; returns identities."""
    started = now - 86400
    procs = {
        "web-1:4242:0a1b2c3d4e5f": ({"hostname": "web-1", "pid": 4242, "tag": "henchman",
                                     "concurrency": 10, "queues": ["default", "critical"],
                                     "labels": ["python"], "started_at": started,
                                     "version": "0.1.0", "identity": "web-1:4242:0a1b2c3d4e5f"},
                                    {"concurrency": 10}),
        "ruby-64:101:aaaa": ({"hostname": "ruby-64", "pid": 101, "tag": "legacy",
                              "concurrency": 5, "queues": ["default"], "labels": [],
                              "started_at": started, "version": "6.4.1"}, {}),
        "ruby-7:202:bbbb": ({"hostname": "ruby-7", "pid": 202, "tag": XSS, "concurrency": 10,
                             "queues": ["mailers", XSS], "labels": [XSS], "started_at": started,
                             "version": "7.3.9"}, {}),
        "ruby-8:303:cccc": ({"hostname": "ruby-8", "pid": 303, "tag": "", "concurrency": 25,
                             "queues": ["default"], "labels": [], "started_at": started,
                             "version": "8.0.4"}, {"concurrency": 25}),
    }  # fmt: skip
    for identity, (info, extra) in procs.items():
        client.sadd(keys.PROCESSES, identity)
        client.hset(identity, mapping={"info": dumps(info), "busy": 1, "beat": repr(now - 2.5),
                                       "quiet": "false", "rss": 245_760, "rtt_us": 310,
                                       **extra})  # fmt: skip
        client.expire(identity, 600)
    work_job = sidekiq7_job(JIDS["w1"], now, klass="LongExportJob", args=[XSS])
    client.hset(
        keys.process_work("web-1:4242:0a1b2c3d4e5f"),
        "t1",
        dumps({"queue": "default", "payload": work_job, "run_at": now - 30.5}),
    )
    client.hset(keys.process_workers("ruby-64:101:aaaa"), "ovqm4d9tq",
                dumps({"queue": "default", "payload": sidekiq7_job(JIDS["w2"], now),
                       "run_at": int(now - 90)}))  # fmt: skip
    client.hset(keys.process_work("ruby-7:202:bbbb"), "abc1",
                dumps({"queue": "mailers", "payload": dumps(sidekiq7_job(
                    JIDS["w3"], now, klass="Mailer", queue="mailers")).decode(),
                       "run_at": now - 5}))  # fmt: skip
    client.hset(keys.process_work("ruby-8:303:cccc"), "xyz9",
                dumps({"queue": "default", "payload": dumps(sidekiq8_job(
                    JIDS["w4"], now, klass="ReportJob")).decode(),
                       "run_at": int((now - 45) * 1000)}))  # fmt: skip
    return list(procs)


def seed_history(client: redis.Redis, now: float, days: int = 180) -> None:
    today = datetime.datetime.fromtimestamp(now, datetime.UTC).date()
    pipe = client.pipeline(transaction=False)
    for back in range(days):
        day = (today - datetime.timedelta(days=back)).isoformat()
        processed = 4000 + (back * 37) % 1500 + (900 if back % 7 in (1, 2) else 0)
        pipe.set(keys.stat_processed_day(day), processed)
        pipe.set(keys.stat_failed_day(day), (back * 13) % 90)
    pipe.set(keys.STAT_PROCESSED, 912_345)
    pipe.set(keys.STAT_FAILED, 4_321)
    pipe.execute()


def seed_metrics(client: redis.Redis, now: float, minutes: int = 120) -> None:
    """Sidekiq 8 metrics: per-minute and ten-minute counters, per-minute histograms."""
    classes = {"HardJob": 180.0, "ReportJob": 2400.0, "Mailer": 35.0, XSS: 12.0}
    pipe = client.pipeline(transaction=False)
    for back in range(minutes):
        at = now - 60 * back
        for index, (klass, mean_ms) in enumerate(classes.items()):
            processed = 5 + (back * (index + 3)) % 17
            failed = (back + index) % 5 == 0
            ms = int(mean_ms * (processed - failed) * (1 + (back % 9) / 10))
            for key in (keys.metrics_minute(at), keys.metrics_ten_minutes(at)):
                pipe.hincrby(key, f"{klass}|p", processed)
                if failed:
                    pipe.hincrby(key, f"{klass}|f", 1)
                pipe.hincrby(key, f"{klass}|ms", ms)
            bucket = bucket_index(mean_ms * (1 + (back % 9) / 10))
            pipe.execute_command("BITFIELD", keys.metrics_histogram(klass, at), "OVERFLOW", "SAT",
                                 "INCRBY", "u16", f"#{bucket}", processed - failed,
                                 "INCRBY", "u16", f"#{max(bucket - 1, 0)}", 2)  # fmt: skip
    day = datetime.datetime.fromtimestamp(now - 1800, datetime.UTC)
    mark = day.replace(second=0, microsecond=0).isoformat().replace("+00:00", "Z")
    pipe.hset(keys.metrics_marks(day.strftime("%Y%m%d")), mark, "deploy v42")
    pipe.execute()


def seed_everything(client: redis.Redis, now: float) -> list[str]:
    """Everything above; returns the process identities."""
    seed_queues(client, now)
    seed_sets(client, now)
    seed_history(client, now)
    seed_metrics(client, now)
    return seed_processes(client, now)
