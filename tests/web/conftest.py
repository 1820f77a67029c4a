"""Fixtures for the Web UI tests: a live uvicorn server per test (each on its own database and
a free port), and a headless Chromium (Debian's, driven by Playwright) per test module.

Browser tests skip, saying why, only when /usr/bin/chromium is missing; ``.ci/run`` installs it.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn

from henchman.web import create_app
from tests.conftest import RedisDB

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
_ROOT = Path(__file__).resolve().parents[2]
#: Where the browser tests save a screenshot of every page: build/screenshots/ (ignored by git)
#: on every run; the committed docs/screenshots/ only with HENCHMAN_UPDATE_SCREENSHOTS=1, so an
#: ordinary test run never changes tracked files.
SCREENSHOTS = (
    _ROOT / "docs" / "screenshots"
    if os.environ.get("HENCHMAN_UPDATE_SCREENSHOTS")
    else _ROOT / "build" / "screenshots"
)


@contextlib.contextmanager
def serve(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on a free port; yield its base URL."""
    config = uvicorn.Config(app, host=host, port=0, log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def form_token(http: httpx.Client, path: str = "/") -> str:
    """The CSRF token the UI signs into its forms for this client's session (GET ``path`` sets
    the session cookie on the first request; the layout carries the token in a meta tag)."""
    found = re.search(r'<meta name="csrf-token" content="([^"]*)">', http.get(path).text)
    assert found, f"no token on {path}"
    return found.group(1)


@dataclass
class LiveUI:
    """A running UI: ``url`` is its root (no trailing slash), ``redis`` the test's database."""

    url: str
    redis: redis.Redis
    app: Any

    def http(self, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, **options)


@pytest.fixture
def make_ui(redis_db: RedisDB) -> Iterator[Callable[..., LiveUI]]:
    """Start a UI on the test's database with ``create_app`` options; stopped at teardown."""
    stack = contextlib.ExitStack()

    def start(**options: Any) -> LiveUI:
        app = create_app(redis_db.settings(), **options)
        url = stack.enter_context(serve(app))
        stack.callback(app.state.henchman.close)
        return LiveUI(url, redis_db.client, app)

    with stack:
        yield start


@pytest.fixture
def ui(make_ui: Callable[..., LiveUI]) -> LiveUI:
    return make_ui(poll_interval=1.0)


# Module scope, not session: while Playwright's sync API is open, its event loop counts as
# running in the main thread, which would break asyncio.run() in any other test that xdist
# happens to schedule on this worker. Module scope closes it before the next module's tests.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(
            "browser tests need Debian's chromium at /usr/bin/chromium (.ci/run installs it)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class PageProblems:
    """Console errors, uncaught exceptions and unexpected dialogs seen by one page."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.alerts: list[str] = []
        self.refusals_expected = False

    def expect_refusals(self) -> None:
        """The test provokes 401/403 answers: the browser's "Failed to load" lines are fine."""
        self.refusals_expected = True

    def attach(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("dialog", self._dialog)

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        refused = message.text.startswith("Failed to load resource") and (
            "401" in message.text or "403" in message.text
        )
        if not (refused and self.refusals_expected):
            self.errors.append(message.text)

    def _dialog(self, dialog: Any) -> None:
        if dialog.type == "confirm":  # the UI's own "are you sure?" prompts
            dialog.accept()
        else:  # an alert() can only come from injected script
            self.alerts.append(dialog.message)
            dialog.dismiss()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., tuple[Any, PageProblems]]]:
    """Open a page in a fresh browser context; at teardown, fail on console errors or alerts."""
    contexts: list[Any] = []
    problems: list[PageProblems] = []

    def open_one(**context_options: Any) -> tuple[Any, PageProblems]:
        options = {"viewport": {"width": 1280, "height": 800}, **context_options}
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        seen = PageProblems()
        seen.attach(page)
        problems.append(seen)
        return page, seen

    yield open_one
    for context in contexts:
        context.close()
    for seen in problems:
        assert not seen.alerts, f"injected script ran: {seen.alerts}"
        assert not seen.errors, f"console errors: {seen.errors}"
