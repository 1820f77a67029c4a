"""The FastAPI and Flask examples work end to end: a request enqueues, a real worker process runs
the job, a request reads its result, and the dashboard is behind the app's own authentication.
Each example runs in processes of its own (both import a module named ``jobs``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RedisDB
from tests.support.worker_process import fast_env, henchman_bin, stop

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

FASTAPI_DRIVER = """
import asyncio, os, time
import httpx
from app import api

async def main():
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as web:
        jid = (await web.post("/reports", params={"customer_id": 5})).json()["jid"]
        deadline = time.monotonic() + 30
        while True:
            body = (await web.get(f"/reports/{jid}")).json()
            if body.get("status") == "succeeded":
                break
            assert time.monotonic() < deadline, body
            await asyncio.sleep(0.05)
        assert body["report"] == {"customer": 5, "orders": 15}, body
        assert (await web.get("/reports/" + "0" * 24)).status_code == 404
        assert (await web.get("/jobs/queues")).status_code == 403
        ok = await web.get("/jobs/queues", headers={"authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and "Queues" in ok.text, ok.status_code
    print("fastapi example ok")

asyncio.run(main())
"""

FLASK_DRIVER = """
import base64, json, time
from app import web

client = web.test_client()
jid = client.post("/thumbnails/42").get_json()["jid"]
deadline = time.monotonic() + 30
while True:
    body = client.get(f"/thumbnails/jobs/{jid}").get_json()
    if body and body.get("status") == "succeeded":
        break
    assert time.monotonic() < deadline, body
    time.sleep(0.05)
assert body["thumbnail"] == "/media/thumbs/42.png", body
assert client.get("/jobs/queues").status_code == 403
basic = "Basic " + base64.b64encode(b"admin:s3cret").decode()
page = client.get("/jobs/queues", headers={"authorization": basic})
assert page.status_code == 200 and b"Queues" in page.data, page.status_code
print("flask example ok")
"""


@pytest.mark.parametrize(
    ("example", "driver"), [("fastapi", FASTAPI_DRIVER), ("flask", FLASK_DRIVER)]
)
def test_the_framework_example_works_end_to_end(
    example: str, driver: str, redis_db: RedisDB, tmp_path: Path
) -> None:
    pytest.importorskip(example)
    workdir = tmp_path / example
    shutil.copytree(EXAMPLES / example, workdir)
    env = fast_env(redis_db.url, ADMIN_TOKEN="s3cret", ADMIN_PASSWORD="s3cret")
    env["PYTHONPATH"] = os.pathsep.join([str(workdir), env.get("PYTHONPATH", "")])
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen(
            [henchman_bin(), "run", "-r", "jobs", "--cpu-affinity", "off"],
            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        done = subprocess.run(
            [sys.executable, "-c", driver], cwd=workdir, env=env, capture_output=True,
            text=True, timeout=90, check=False,
        )  # fmt: skip
    finally:
        stop(worker)
    assert done.returncode == 0, done.stdout + done.stderr + (tmp_path / "worker.log").read_text()
    assert f"{example} example ok" in done.stdout
