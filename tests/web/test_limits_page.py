"""The Limits page (``/limits``): every limiter used, its contract and usage now, reset and
delete, clicked in headless Chromium and checked against Redis."""

from __future__ import annotations

from typing import Any

import henchman
from henchman import keys
from henchman.app import Henchman
from tests.web.conftest import SCREENSHOTS, LiveUI


def _seed(app: Henchman) -> None:
    erp = henchman.limiter.concurrent("erp", 2, lock_timeout=600, app=app)
    erp.acquire()  # one holder for the whole test
    stripe = henchman.limiter.bucket("stripe", 100, "day", app=app)
    for _ in range(3):
        with stripe.within_limit():
            pass
    with henchman.limiter.points("billing", 1000, 3600, app=app).within_limit(estimate=250):
        pass


def test_the_page_lists_every_limiter_with_its_contract_and_usage(
    ui: LiveUI, app: Henchman, open_page: Any
) -> None:
    _seed(app)
    page, _ = open_page()
    assert page.goto(ui.url + "/limits").status == 200
    assert "Limits" in page.inner_text("h1")
    erp = page.locator("tr", has_text="erp").inner_text()
    assert "concurrent" in erp
    assert "2 at once (lease 600 s)" in erp
    assert "50%" in erp
    assert "100 per calendar day" in page.locator("tr", has_text="stripe").inner_text()
    billing = page.locator("tr", has_text="billing").inner_text()
    assert "1000 points per 3600 s" in billing
    assert "25%" in billing
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "limits.png"), full_page=True)


def test_reset_forgets_usage_and_delete_removes_the_limiter(
    ui: LiveUI, app: Henchman, open_page: Any
) -> None:
    _seed(app)
    page, _ = open_page()
    page.goto(ui.url + "/limits")
    page.locator("tr", has_text="erp").locator("button", has_text="Reset").click()
    page.wait_for_url(f"{ui.url}/limits")
    assert not ui.redis.exists(keys.limiter_state("erp"))
    assert "0%" in page.locator("tr", has_text="erp").inner_text()
    page.locator("tr", has_text="stripe").locator("button", has_text="Delete").click()
    page.wait_for_url(f"{ui.url}/limits")
    assert not ui.redis.sismember(keys.LIMITERS, "stripe")
    assert page.locator("tr", has_text="stripe").count() == 0


def test_an_empty_page_says_how_limiters_appear(ui: LiveUI) -> None:
    with ui.http() as http:
        html = http.get("/limits").text
    assert "No rate limiter has been used yet" in html


def test_read_only_mode_hides_the_buttons(make_ui: Any, app: Henchman) -> None:
    _seed(app)
    with make_ui(read_only=True).http() as http:
        html = http.get("/limits").text
    assert "erp" in html
    assert "Reset" not in html
