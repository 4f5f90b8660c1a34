"""The web UI's first render in Debian's Chromium (Playwright), against a real `tradai serve`:

- the sign-in page, from navigation to the token field on screen;
- the jobs page of a signed-in user with 300 jobs in the record, to the first row on screen;
- a completed job's page, to its equity chart drawn;
- the compare page of two completed runs, to the overlaid chart drawn.

Each is measured in a fresh browser context (empty cache), the median of `runs`. The baseline,
same run and same browser: navigating to a tiny document of the same server (`/health`), i.e. what
the browser and the connection cost before any of the UI's work.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import httpx
from playwright.sync_api import Browser, Page, sync_playwright

from bench.figures import Figure, _wait
from bench.servers import api
from tests.support.browser import CHROMIUM, DESKTOP

LISTED_JOBS = 300
BODY = {"strategy": "SampleEmaCross", "pairs": ["BTC/USDT"], "timeframe": "5m",
        "timerange": "20240101-20240401"}  # fmt: skip
TARGET_SECONDS = 1.0


def _timed(browser: Browser, token: str | None, visit: Callable[[Page], None]) -> float:
    """Seconds from the start of navigation to what `visit` waits for, in a fresh context."""
    context = browser.new_context(viewport=DESKTOP)
    if token is not None:  # signed in already: the token is where the sign-in page puts it
        context.add_init_script(f"sessionStorage.setItem('tradai.token', {token!r})")
    page = context.new_page()
    try:
        started = time.perf_counter()
        visit(page)
        return time.perf_counter() - started
    finally:
        context.close()


def _median(browser: Browser, runs: int, token: str | None, visit: Callable[[Page], None]) -> float:
    _timed(browser, token, visit)  # the server's and the browser's first time is not counted
    return statistics.median(_timed(browser, token, visit) for _ in range(runs))


def web_ui(runs: int = 5) -> list[Figure]:
    with api({"BACKEND_WORKERS": "1"}, seed=True) as server:
        token = server.token("bench", "researcher")
        with httpx.Client(
            base_url=f"{server.url}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ) as http:
            completed = [http.post("/backtests", json=BODY).json()["id"] for _ in range(2)]
            _wait(http, completed)
            # The rest of the list: submitted and cancelled at once (the one worker stays idle).
            for _ in range(LISTED_JOBS - len(completed)):
                job = http.post("/backtests", json=BODY).json()["id"]
                http.post(f"/backtests/{job}/cancel")
        url = server.url
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                blank = _median(
                    browser, runs, None, lambda p: p.goto(f"{url}/health", wait_until="load")
                )

                def sign_in(page: Page) -> None:
                    page.goto(f"{url}/", wait_until="commit")
                    page.get_by_label("Access token (JWT)").wait_for(state="visible")

                def jobs(page: Page) -> None:
                    page.goto(f"{url}/#/jobs", wait_until="commit")
                    page.locator("#jobs-body tr").first.wait_for(state="visible")

                def job(page: Page) -> None:
                    page.goto(f"{url}/#/jobs/{completed[0]}", wait_until="commit")
                    page.locator("#equity-chart canvas").wait_for(state="visible")

                def compare(page: Page) -> None:
                    page.goto(f"{url}/#/compare?ids={','.join(completed)}", wait_until="commit")
                    page.locator("#compare-chart canvas").wait_for(state="visible")

                timings = [
                    ("web UI: sign-in page", _median(browser, runs, None, sign_in)),
                    (
                        f"web UI: jobs page ({LISTED_JOBS} jobs)",
                        _median(browser, runs, token, jobs),
                    ),
                    ("web UI: job page, chart drawn", _median(browser, runs, token, job)),
                    ("web UI: compare 2 runs, chart drawn", _median(browser, runs, token, compare)),
                ]
            finally:
                browser.close()
    return [
        Figure(
            name,
            f"{seconds * 1000:,.0f} ms to first render",
            f"{blank * 1000:,.0f} ms for /health",
            seconds / blank,
            f"<= {TARGET_SECONDS * 1000:,.0f} ms",
            seconds <= TARGET_SECONDS,
        )
        for name, seconds in timings
    ]


if __name__ == "__main__":
    for figure in web_ui():
        print(figure)
