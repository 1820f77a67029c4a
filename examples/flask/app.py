"""henchman in a Flask app: enqueue from a request, read the job's result, and the Web UI under
/jobs behind the app's own authentication (HTTP Basic against ADMIN_PASSWORD here).

    pip install 'henchman[web]' flask
    HENCHMAN_REDIS_URL=redis://localhost:6379/0 flask --app app run    # the web app
    henchman run -r jobs                                                # a worker
"""

from __future__ import annotations

import base64
import os
import secrets

from flask import Flask, abort, jsonify
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from henchman.api import JobResult
from henchman.web.wsgi import create_wsgi_app

import jobs

web = Flask(__name__)


@web.post("/thumbnails/<int:image_id>")
def make_thumbnail(image_id: int):  # type: ignore[no-untyped-def]
    jid = jobs.thumbnail.perform_async(image_id)
    return jsonify(jid=jid), 202


@web.get("/thumbnails/jobs/<jid>")
def thumbnail_status(jid: str):  # type: ignore[no-untyped-def]
    result = JobResult(jid, app=jobs.app)
    if result.status is None:
        abort(404)
    body = {"status": result.status}
    if result.status == "succeeded":
        body["thumbnail"] = result.value
    return jsonify(body)


def admins_only(request) -> bool:  # type: ignore[no-untyped-def]
    """The dashboard's auth callback (a Starlette request): HTTP Basic, any user name."""
    password = os.environ.get("ADMIN_PASSWORD", "")
    header = request.headers.get("authorization", "")
    if not password or not header.startswith("Basic "):
        return False
    sent = base64.b64decode(header[6:]).decode(errors="replace").partition(":")[2]
    return secrets.compare_digest(sent, password)


web.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
    web.wsgi_app, {"/jobs": create_wsgi_app(jobs.app, auth=admins_only)}
)
