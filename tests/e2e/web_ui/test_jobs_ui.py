"""The web UI's jobs and job pages in a real browser (conftest.py). A researcher signs in,
submits the sample backtest from the form and watches it complete without a reload; the job page
draws its equity chart; a bad timerange is shown next to its field; a viewer sees no submit
button; a refused token goes back to sign-in. Screenshots of the pages go to docs/."""

from __future__ import annotations

import time

import httpx
from playwright.sync_api import Browser, expect

from app.controllers.ui import VENDOR_FILES
from tests.support.browser import DESKTOP, DRAWN_PIXELS, PHONE, screenshot, sign_in
from tests.support.server import ServerProcess


def is_list(method: str, url: str) -> bool:
    return method == "GET" and url.split("?", maxsplit=1)[0].endswith("/api/v1/backtests")


def test_page_and_files_are_public_and_not_in_the_openapi_document(server: ServerProcess) -> None:
    index = httpx.get(f"{server.url}/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in index.headers["content-security-policy"]
    assert "/ui/app.js" in index.text
    script = httpx.get(f"{server.url}/ui/app.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript"
    )
    vendor = httpx.get(f"{server.url}/ui/vendor/uplot.esm.js")
    assert vendor.status_code == 200 and "uPlot" in vendor.text
    for name in VENDOR_FILES:  # each library file the page may ask for is where npm put it
        assert httpx.get(f"{server.url}/ui/vendor/{name}").status_code == 200, name
    assert httpx.get(f"{server.url}/ui/vendor/other.js").status_code == 404
    assert httpx.get(f"{server.url}/ui/..%2Fsettings.py").status_code == 404
    assert httpx.get(f"{server.url}/api/v1/backtests").status_code == 401  # the data needs a token
    paths = httpx.get(f"{server.url}/schema/openapi.json").json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith("/ui")]


def test_researcher_submits_watches_and_inspects_a_backtest(
    server: ServerProcess, browser: Browser
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    listed: list[str] = []
    page.on("request", lambda r: listed.append(r.url) if is_list(r.method, r.url) else None)
    started = time.monotonic()
    page.goto(f"{server.url}/")
    expect(page.get_by_label("Access token (JWT)")).to_be_visible()
    first_render = time.monotonic() - started
    assert first_render < 2.0, f"sign-in page took {first_render:.2f} s"  # about 0.1 s here

    sign_in(page, server, server.token("alice", "researcher"))
    form = page.locator("#submit-form")
    expect(form.get_by_label("Strategy", exact=True)).to_have_value("SampleEmaCross")
    form.get_by_label("Pairs").fill("BTC/USDT")
    form.get_by_label("Timeframe").select_option("5m")
    form.get_by_label("Timerange").fill("20240101-20240201")
    page.evaluate("window.__sameDocument = true")
    form.get_by_role("button", name="Submit backtest").click()
    link = page.locator("#form-done a")
    expect(link).to_be_visible()
    job_id = (link.get_attribute("href") or "").removeprefix("#/jobs/")
    row = page.locator(f'#jobs-body tr[data-id="{job_id}"]')
    expect(row).to_be_visible()
    # The row follows the job live (the WebSocket), from submitted to completed.
    expect(row).to_have_attribute("data-status", "completed", timeout=180_000)
    expect(row.locator("progress")).to_have_attribute("value", "1")
    assert page.evaluate("window.__sameDocument") is True  # no reload
    assert len(listed) == 1, listed  # the list was loaded once, not polled
    screenshot(page, "ui-jobs.png")

    row.get_by_role("link").click()
    expect(page).to_have_url(f"{server.url}/#/jobs/{job_id}")
    canvas = page.locator("#equity-chart canvas")
    expect(canvas).to_be_visible()
    assert canvas.evaluate(DRAWN_PIXELS) > 1000
    expect(page.locator("#metrics")).to_contain_text("Total profit")
    expect(page.locator("#trades tbody tr").first).to_be_visible()
    expect(page.locator("#timeline li").first).to_contain_text("Submitted")
    expect(page.locator("#timeline")).to_contain_text("Completed")
    zip_button = page.locator('[data-artifact$=".zip"]')
    expect(zip_button).to_be_visible()
    with page.expect_download() as download:
        zip_button.click()
    assert download.value.suggested_filename.startswith(job_id)
    screenshot(page, "ui-job.png", full_page=True)
    context.close()


def test_a_bad_timerange_is_shown_next_to_its_field(
    server: ServerProcess, browser: Browser
) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, server, server.token("alice", "researcher"))
    form = page.locator("#submit-form")
    expect(form.get_by_label("Strategy", exact=True)).to_have_value("SampleEmaCross")
    form.get_by_label("Timerange").fill("20240201-2024")
    form.get_by_role("button", name="Submit backtest").click()
    expect(page.locator("#e-timerange")).not_to_be_empty()
    expect(form.get_by_label("Timerange")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#e-pairs")).to_be_empty()
    # Usable at a phone's width: nothing wider than the screen but the scrolling tables.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()


def test_a_viewer_sees_no_submit_button(server: ServerProcess, browser: Browser) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, server, server.token("victor", "viewer"))
    expect(page.locator("#jobs-body tr").first).to_be_visible()
    expect(page.get_by_role("button", name="Submit backtest")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    context.close()


def test_a_refused_token_goes_back_to_sign_in(server: ServerProcess, browser: Browser) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    token = server.token("mallory", "researcher")
    page.goto(f"{server.url}/")
    page.get_by_label("Access token (JWT)").fill(
        token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
    )
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#token-error")).to_contain_text("401")
    expect(page.get_by_label("Access token (JWT)")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('tradai.token')") is None
    context.close()
