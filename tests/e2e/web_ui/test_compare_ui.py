"""The web UI's compare page in a real browser (conftest.py). Three backtests of SampleEmaCross
run through the REST API: two of version 1 with different `fast_span`, and one of a version 2
registered here with changed code. Comparing two runs overlays two equity curves, marks the best
metric of each row (lower is better for the drawdown) and the inputs that differ; comparing with
the version 2 run shows the code diff. Runs are picked on the jobs page or on the compare page's
own picker; a run that does not exist is named, not a crash; the page fits a phone's width. The
screenshot goes to docs/ui-compare.png."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import DESKTOP, DRAWN_PIXELS, PHONE, screenshot, sign_in
from tests.support.server import ServerProcess, grant_maintainer

SAMPLE = Path(__file__).resolve().parents[3] / "app" / "samples" / "SampleEmaCross.py"
RUN = {"strategy": "SampleEmaCross", "pairs": ["BTC/USDT"], "timeframe": "5m"}
RUN |= {"timerange": "20240101-20240201"}


def version_two() -> str:
    """SampleEmaCross with a wider ROI and stop loss and a new parameter for its trend EMA."""
    code = SAMPLE.read_text()
    changes = [
        (
            'minimal_roi = {"0": 0.04, "120": 0.02, "360": 0.0}',
            'minimal_roi = {"0": 0.06, "240": 0.03, "720": 0.0}',
        ),
        ("stoploss = -0.03", "stoploss = -0.05"),
        (
            '    use_trend_filter = BooleanParameter(default=True, space="buy")\n',
            '    use_trend_filter = BooleanParameter(default=True, space="buy")\n'
            '    trend_span = IntParameter(100, 300, default=200, space="buy")\n',
        ),
        (
            "close.ewm(span=200, adjust=False)",
            "close.ewm(span=self.trend_span.value, adjust=False)",
        ),
    ]
    for old, new in changes:
        assert old in code, f"app/samples/SampleEmaCross.py no longer has {old!r}"
        code = code.replace(old, new)
    return code


@pytest.fixture(scope="module")
def runs(server: ServerProcess) -> Iterator[dict[str, Any]]:
    """Job ids a (v1, fast_span 8), b (v1, fast_span 16) and c (v2, fast_span 16), completed, with
    their results."""
    grant_maintainer(server, "SampleEmaCross", "alice")  # the sample strategy is tradai-seed's
    headers = {"Authorization": f"Bearer {server.token('alice', 'researcher')}"}
    with httpx.Client(base_url=f"{server.url}/api/v1", headers=headers, timeout=30) as api:
        registered = api.post(
            "/strategies/SampleEmaCross/versions",
            json={"code": version_two(), "description": "wider ROI and stop, trend_span"},
        )
        assert registered.status_code == 201, registered.text
        v2 = registered.json()["version"]
        bodies = {
            "a": RUN | {"strategy_version": 1, "parameters": {"fast_span": 8}},
            "b": RUN | {"strategy_version": 1, "parameters": {"fast_span": 16}},
            "c": RUN | {"strategy_version": v2, "parameters": {"fast_span": 16}},
        }
        ids = {}
        for key, body in bodies.items():
            submitted = api.post("/backtests", json=body)
            assert submitted.status_code == 202, submitted.text
            ids[key] = submitted.json()["id"]
        deadline = time.monotonic() + 180
        for key, job_id in ids.items():
            while (status := api.get(f"/backtests/{job_id}").json()["status"]) != "completed":
                assert status not in ("failed", "cancelled"), f"run {key} {status}"
                assert time.monotonic() < deadline, f"run {key} still {status}"
                time.sleep(0.3)
        results = {k: api.get(f"/backtests/{i}/result").json()["metrics"] for k, i in ids.items()}
    yield ids | {"metrics": results, "v2": v2}


def open_compare(page: Page, server: ServerProcess, *ids: str) -> None:
    page.goto(f"{server.url}/#/compare?ids={','.join(ids)}")


def legend_series(page: Page) -> Any:
    """The equity chart's legend rows: uPlot's x series first, then one per run."""
    return page.locator("#compare-chart .u-legend .u-series")


def best_column(page: Page, metric: str) -> list[bool]:
    cells = page.locator(f'#compare-metrics tr[data-metric="{metric}"] td')
    return [("best" in (c.get_attribute("class") or "").split()) for c in cells.all()]


def test_compare_two_runs_shows_two_curves(
    server: ServerProcess, browser: Browser, runs: dict[str, Any]
) -> None:
    a, b = runs["a"], runs["b"]
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, server, server.token("victor", "viewer"))
    open_compare(page, server, a, b)
    expect(page.get_by_role("heading", name="Compare 2 runs")).to_be_visible()

    # One chart, two data series (uPlot's legend: the x series and one row per run).
    expect(legend_series(page)).to_have_count(3)
    expect(legend_series(page).nth(1)).to_contain_text(f"{a[:8]} · fast_span=8")
    expect(legend_series(page).nth(2)).to_contain_text(f"{b[:8]} · fast_span=16")
    canvas = page.locator("#compare-chart canvas")
    expect(canvas).to_be_visible()
    assert canvas.evaluate(DRAWN_PIXELS) > 1000
    assert page.locator("#compare-drawdown canvas").evaluate(DRAWN_PIXELS) > 1000

    # The metrics: a column per run, each linking to its job.
    heads = page.locator("#compare-metrics thead th[scope=col]")
    expect(heads).to_have_count(3)
    expect(heads.nth(1).get_by_role("link")).to_have_attribute("href", f"#/jobs/{a}")
    expect(heads.nth(2).get_by_role("link")).to_have_attribute("href", f"#/jobs/{b}")
    # The best value per row, by direction: the higher profit, the lower drawdown.
    ma, mb = runs["metrics"]["a"], runs["metrics"]["b"]
    assert ma["profit_total"] != mb["profit_total"]
    assert ma["max_drawdown"] != mb["max_drawdown"]
    higher = ma["profit_total"] > mb["profit_total"]
    assert best_column(page, "profit_total") == [higher, not higher]
    lower = ma["max_drawdown"] < mb["max_drawdown"]
    assert best_column(page, "max_drawdown") == [lower, not lower]
    expect(page.locator('#compare-metrics tr[data-metric="profit_total"]')).to_have_class("differs")
    expect(page.locator('#compare-metrics tr[data-metric="starting_balance"]')).to_have_class(
        "same"
    )
    expect(
        page.locator('#compare-metrics tr[data-metric="profit_total"] td').nth(1).locator(".delta")
    ).to_contain_text("pp vs A")
    # Only the rows that differ, on request.
    page.get_by_label("Only rows that differ").check()
    expect(page.locator('#compare-metrics tr[data-metric="starting_balance"]')).to_be_hidden()
    expect(page.locator('#compare-metrics tr[data-metric="profit_total"]')).to_be_visible()

    # The inputs: fast_span differs, the timeframe does not; same version, same code.
    expect(page.locator('#compare-inputs tr[data-input="fast_span"]')).to_have_class("differs")
    expect(page.locator('#compare-inputs tr[data-input="Timeframe"]')).to_have_class("same")
    expect(page.locator("#code-same")).to_contain_text("same code")
    expect(page.locator("#compare-code table.diff")).to_have_count(0)
    context.close()


def test_the_code_diff_shows_when_the_versions_differ(
    server: ServerProcess, browser: Browser, runs: dict[str, Any]
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, server, server.token("alice", "researcher"))
    open_compare(page, server, runs["a"], runs["b"], runs["c"])
    expect(page.get_by_role("heading", name="Compare 3 runs")).to_be_visible()
    expect(legend_series(page)).to_have_count(4)
    diff = page.locator("#compare-code table.diff")
    expect(diff).to_have_count(1)
    expect(diff.locator("tr.del").filter(has_text="stoploss = -0.03")).to_have_count(1)
    expect(diff.locator("tr.add").filter(has_text="stoploss = -0.05")).to_have_count(1)
    expect(diff.locator("tr.add").filter(has_text="trend_span = IntParameter")).to_have_count(1)
    expect(page.locator("#compare-code")).to_contain_text(f"SampleEmaCross v{runs['v2']}")
    added = page.locator("#compare-code table.param-diff tr.add")
    expect(added).to_have_count(1)
    expect(added).to_contain_text("trend_span")
    expect(page.locator('#compare-inputs tr[data-input="Version"]')).to_have_class("differs")
    expect(page.locator('#compare-inputs tr[data-input="Version"] td.changed')).to_have_count(1)
    # The whole files, on request: every line of version 1 is in the diff.
    context_lines = diff.locator("tr.ctx").count()
    page.get_by_label("Show the whole files").check()
    lines = SAMPLE.read_text().count("\n")
    expect(
        page.locator("#compare-code table.diff tr.del, #compare-code table.diff tr.ctx")
    ).to_have_count(lines)
    assert diff.locator("tr.ctx").count() > context_lines
    page.get_by_label("Show the whole files").uncheck()
    expect(page.locator("#compare-code table.diff tr.ctx")).to_have_count(context_lines)
    screenshot(page, "ui-compare.png", full_page=True)
    context.close()


def test_runs_are_picked_on_the_jobs_page(
    server: ServerProcess, browser: Browser, runs: dict[str, Any]
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, server, server.token("alice", "researcher"))
    button = page.locator("#compare-selected")
    expect(button).to_have_text("Compare selected (0)")
    expect(button).to_be_disabled()
    page.get_by_label(f"Select job {runs['c'][:8]}").check()
    expect(button).to_be_disabled()  # one is not a comparison
    page.get_by_label(f"Select job {runs['a'][:8]}").check()
    expect(button).to_have_text("Compare selected (2)")
    expect(button).to_be_enabled()
    button.click()
    expect(page).to_have_url(f"{server.url}/#/compare?ids={runs['c']},{runs['a']}")
    expect(legend_series(page)).to_have_count(3)
    expect(page.locator("#compare-code table.diff tr.add").first).to_be_visible()
    context.close()


def test_the_picker_a_missing_run_and_a_phone(
    server: ServerProcess, browser: Browser, runs: dict[str, Any]
) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, server, server.token("alice", "researcher"))
    page.get_by_role("link", name="Compare", exact=True).click()
    expect(page.get_by_role("heading", name="Compare runs")).to_be_visible()
    picker = page.locator("#compare-picker")
    go = picker.get_by_role("button", name="Compare selected")
    expect(picker.get_by_label(f"Compare job {runs['b'][:8]}")).to_be_visible()
    expect(go).to_be_disabled()
    picker.get_by_label(f"Compare job {runs['a'][:8]}").check()
    picker.get_by_label(f"Compare job {runs['b'][:8]}").check()
    expect(go).to_have_text("Compare selected (2)")
    go.click()
    expect(page.get_by_role("heading", name="Compare 2 runs")).to_be_visible()
    expect(legend_series(page)).to_have_count(3)
    assert page.locator("#compare-chart canvas").evaluate(DRAWN_PIXELS) > 1000
    # Usable at a phone's width: nothing wider than the screen but the scrolling tables.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # A run that does not exist is named and left out; the others are still compared.
    missing = str(uuid.uuid4())
    open_compare(page, server, runs["a"], runs["b"], missing)
    problems = page.locator("#compare-problems")
    expect(problems).to_contain_text(missing)
    expect(problems).to_contain_text("does not exist")
    expect(page.get_by_role("heading", name="Compare 2 runs")).to_be_visible()
    expect(legend_series(page)).to_have_count(3)
    # Fewer than two left: the picker, with the one that exists ticked.
    open_compare(page, server, runs["a"], missing)
    expect(page.locator("#compare-problems")).to_contain_text("cannot be compared")
    expect(
        page.locator("#compare-picker").get_by_label(f"Compare job {runs['a'][:8]}")
    ).to_be_checked()
    expect(page.locator("#compare-chart")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()
