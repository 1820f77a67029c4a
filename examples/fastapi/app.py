"""henchman in a FastAPI app: enqueue from a request, read the job's result, and the Web UI
mounted under /jobs behind the app's own authentication (a bearer token here).

    pip install 'henchman[web]' fastapi uvicorn
    HENCHMAN_REDIS_URL=redis://localhost:6379/0 uvicorn app:api         # the web app
    henchman run -r jobs                                                # a worker

``ADMIN_TOKEN`` (environment) guards the dashboard: requests must send
``Authorization: Bearer <token>``; without it the dashboard answers 403.
"""

from __future__ import annotations

import os
import secrets

from fastapi import FastAPI, HTTPException
from starlette.requests import Request

from henchman.api import JobResult
from henchman.web import create_app

import jobs

api = FastAPI(title="shop")


@api.post("/reports")
async def order_report(customer_id: int) -> dict[str, str]:
    """Push the job from the request; the worker builds the report."""
    jid = await jobs.build_report.aperform_async(customer_id)
    if jid is None:
        raise HTTPException(500, "the push was dropped")
    return {"jid": jid}


@api.get("/reports/{jid}")
def report_status(jid: str) -> dict[str, object]:
    """The job's result record: status, and the value once it succeeded."""
    result = JobResult(jid, app=jobs.app)
    if result.status is None:
        raise HTTPException(404, "no such report (or its result expired)")
    body: dict[str, object] = {"status": result.status, "attempts": result.attempts}
    if result.status == "succeeded":
        body["report"] = result.value
    return body


def staff_only(request: Request) -> bool:
    """The dashboard's auth callback: the app decides who may see it."""
    token = os.environ.get("ADMIN_TOKEN", "")
    sent = request.headers.get("authorization", "").removeprefix("Bearer ")
    return bool(token) and secrets.compare_digest(sent, token)


api.mount("/jobs", create_app(jobs.app, auth=staff_only))
