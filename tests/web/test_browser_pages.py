"""Every page in headless Chromium, on data laid out as Sidekiq 6.4/7/8 and henchman write it
(with ``<script>`` payloads everywhere): it loads, its charts draw, no console error, no injected
script runs. Each test saves a screenshot under docs/screenshots/."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web.conftest import SCREENSHOTS, LiveUI
from tests.web.sidekiq_data import JIDS, XSS, seed_everything

PAGES = [
    ("dashboard", "/", "Dashboard"),
    ("busy", "/busy", "Busy"),
    ("queues", "/queues", "Queues"),
    ("queue", "/queues/default", "default"),
    ("retries", "/retries", "Retries"),
    ("scheduled", "/scheduled", "Scheduled"),
    ("morgue", "/morgue", "Dead"),
    ("metrics", "/metrics", "Metrics"),
    ("metrics-class", "/metrics/ReportJob", "ReportJob"),
    ("metrics-class-24h", "/metrics/ReportJob?period=24h", "ReportJob"),
    ("queue-escaped-name", "/queues/" + XSS.replace("/", "%2F"), "alert"),
]


def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize(("name", "path", "heading"), PAGES, ids=[p[0] for p in PAGES])
def test_page_loads_cleanly(ui: LiveUI, open_page: Any, name: str, path: str, heading: str) -> None:
    seed_everything(ui.redis, time.time())
    page, _ = open_page()
    response = page.goto(ui.url + path)
    assert response.status == 200
    assert heading in page.inner_text("h1")
    if page.locator("[data-chart]").count():
        page.wait_for_selector(
            "[data-chart] svg path.series, [data-chart] svg rect.bar", state="attached"
        )
    if name == "dashboard":  # work arrives while the live chart polls every second
        for step in range(6):
            ui.redis.incrby("stat:processed", 40 + 25 * (step % 3))
            ui.redis.incrby("stat:failed", step % 2)
            time.sleep(0.5)
        page.wait_for_selector("#realtime svg path.series[d*=L]", state="attached", timeout=5000)
    shoot(page, name)


@pytest.mark.parametrize(
    ("slug", "job_class"),
    [("retries", "HardJob"), ("scheduled", "ReminderJob"), ("morgue", "HardJob")],
)
def test_detail_page_shows_the_job_and_its_backtrace(
    ui: LiveUI, open_page: Any, slug: str, job_class: str
) -> None:
    seed_everything(ui.redis, time.time())
    page, _ = open_page()
    page.goto(f"{ui.url}/{slug}")
    page.locator("table a.strong", has_text=job_class).first.click()
    page.wait_for_selector("section.card h2:has-text('Job')")
    assert page.url.startswith(f"{ui.url}/{slug}/")
    if slug != "scheduled":
        backtrace = page.inner_text("pre.backtrace")
        assert "hard_job.rb:12" in backtrace  # decompressed from Ruby's zlib+base64 form
        assert XSS in backtrace  # shown as text, never run
    shoot(page, f"{slug}-detail")


def test_unreadable_dead_job_shows_its_raw_bytes(ui: LiveUI, open_page: Any) -> None:
    seed_everything(ui.redis, time.time())
    page, _ = open_page()
    page.goto(f"{ui.url}/morgue")
    page.locator("a:has(.pill-bad)").first.click()
    assert "Unreadable payload" in page.inner_text("main")
    assert '{"class":"Broken","jid":"deadbeef' in page.inner_text("pre.code")


def test_busy_page_reads_every_sidekiq_process_layout(ui: LiveUI, open_page: Any) -> None:
    seed_everything(ui.redis, time.time())
    page, _ = open_page()
    page.goto(f"{ui.url}/busy")
    running = page.inner_text("section.card:has(h2:has-text('Jobs running')) tbody")
    for jid in ("w1", "w2", "w3", "w4"):  # henchman, 6.4 :workers, 7.x string, 8.x ms run_at
        assert JIDS[jid] in running
    processes = page.inner_text("section.card:has(h2:has-text('Processes')) tbody")
    assert "1 / 25" in processes.replace("\n", " ")  # Sidekiq 8's own concurrency field
    assert "version 6.4.1" in processes


def test_dashboard_updates_live(ui: LiveUI, open_page: Any) -> None:
    ui.redis.set("stat:processed", 10)
    page, _ = open_page()
    page.goto(ui.url + "/")
    page.wait_for_selector("#realtime svg path.series", state="attached")
    ui.redis.set("stat:processed", 1234)
    expect(page.locator("[data-stat=processed]")).to_have_text("1,234", timeout=5000)
    page.click("#live-toggle")
    assert page.inner_text("#live-status") == "Paused"


def test_relative_times_show_exact_time_on_hover(ui: LiveUI, open_page: Any) -> None:
    seed_everything(ui.redis, time.time())
    page, _ = open_page()
    page.goto(f"{ui.url}/retries")
    first = page.locator("time[data-rel]").first
    assert first.inner_text().startswith("in ")
    assert "UTC" in (first.get_attribute("title") or "")


def test_dark_mode_follows_the_system(ui: LiveUI, open_page: Any) -> None:
    seed_everything(ui.redis, time.time())
    light, _ = open_page(color_scheme="light")
    dark, _ = open_page(color_scheme="dark")
    for page in (light, dark):
        page.goto(ui.url + "/metrics")
        page.wait_for_selector("[data-chart] svg path.series", state="attached")
    background = "getComputedStyle(document.body).backgroundColor"
    assert light.evaluate(background) != dark.evaluate(background)
    shoot(dark, "metrics-dark")


def test_narrow_screens_scroll_tables_not_pages(ui: LiveUI, open_page: Any) -> None:
    seed_everything(ui.redis, time.time())
    page, _ = open_page(viewport={"width": 390, "height": 844})
    page.goto(ui.url + "/retries")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    shoot(page, "retries-phone")
