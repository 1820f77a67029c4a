"""The batch pages (``/batches``, ``/batches/<bid>``): every batch newest first with its
progress; one batch's counts, times, callbacks, relatives and failed jids linked to their
records; escaped everywhere; checked over HTTP and in headless Chromium."""

from __future__ import annotations

from typing import Any

import henchman
from henchman import keys
from henchman.app import Henchman
from tests.web.conftest import LiveUI

XSS = "<script>alert('batch')</script>"


def seed(app: Henchman) -> tuple[henchman.Batch, henchman.Batch]:
    @app.job(name="pages.work")
    def work(n: int) -> None: ...

    @app.job(name="pages.done")
    def done(status: dict[str, Any], options: dict[str, Any]) -> None: ...

    parent = henchman.Batch(description=XSS, app=app).on("success", done, {"x": 1})
    with parent.jobs():
        for n in range(4):
            work.perform_async(n)
        child = henchman.Batch(description="child", app=app)
        with child.jobs():
            work.perform_async(9)
    return parent, child


def fail_one(ui: LiveUI, bid: str, jid: str) -> None:
    """Record a failure the way batch_ack.lua does (the job is in the retry set meanwhile)."""
    ui.redis.sadd(keys.batch_failed(bid), jid)


def test_the_list_shows_batches_newest_first_with_progress(ui: LiveUI, app: Henchman) -> None:
    parent, child = seed(app)
    later = henchman.Batch(description="later", app=app)
    with later.jobs():
        pass
    with ui.http() as http:
        html = http.get("/batches").text
    assert html.index(later.bid) < min(html.index(child.bid), html.index(parent.bid))
    assert "<progress" in html
    assert "&lt;script&gt;alert" in html
    assert "<script>alert" not in html


def test_a_batch_page_shows_counts_relatives_and_failed_jids(ui: LiveUI, app: Henchman) -> None:
    parent, child = seed(app)
    jid = ui.redis.smembers(keys.batch_jids(parent.bid)).pop().decode()
    fail_one(ui, parent.bid, jid)
    with ui.http() as http:
        response = http.get(f"/batches/{parent.bid}")
    html = response.text
    assert response.status_code == 200
    assert f'href="/batches/{child.bid}"' in html
    assert f'href="/retries?substr={jid}"' in html
    assert "pages.done" in html
    assert "&lt;script&gt;alert" in html
    assert "<script>alert" not in html
    with ui.http() as http:
        child_html = http.get(f"/batches/{child.bid}").text
    assert f'href="/batches/{parent.bid}"' in child_html


def test_an_unknown_batch_is_a_404(ui: LiveUI) -> None:
    with ui.http() as http:
        assert http.get("/batches/nosuchbatch123").status_code == 404


def test_batch_pages_load_cleanly_in_the_browser(ui: LiveUI, app: Henchman, open_page) -> None:  # type: ignore[no-untyped-def]
    from tests.web.test_browser_pages import shoot

    parent, child = seed(app)
    page, _ = open_page()
    assert page.goto(ui.url + "/batches").status == 200
    assert "Batches" in page.inner_text("h1")
    assert page.locator("#batches progress").count() == 2  # parent and child
    shoot(page, "batches")
    page.locator(f"a:has-text('{parent.bid}')").first.click()
    page.wait_for_selector("#facts")
    assert XSS in page.inner_text("h2")  # shown as text, never run
    assert "TOTAL\n4\nPENDING\n4" in page.inner_text("#facts").upper()
    page.locator(f"#children a:has-text('{child.bid}')").click()
    page.wait_for_selector(f"a:has-text('{parent.bid}')")
    shoot(page, "batch")
