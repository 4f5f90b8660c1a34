"""The web UI's sweeps pages in a real browser (conftest.py). A researcher submits a 2 x 2 grid
from the form and watches it complete without a reload; the sweep page shows the best trial, the
trials and a heatmap whose cells are the API's objective values; bad spaces are shown next to
their parameter; a viewer (at a phone's width) sees no form and no cancel button while a
researcher cancels the sweep the viewer is watching. Screenshots go to docs/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import client_for
from tests.support.browser import DESKTOP, PHONE, screenshot, sign_in
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

SETTINGS = {"strategy": "SampleEmaCross", "pairs": ["BTC/USDT"], "timeframe": "5m",
            "timerange": "20240101-20240201"}  # fmt: skip


@pytest.fixture(scope="module")
def alice(server: ServerProcess) -> Iterator[httpx.Client]:
    with client_for(server, "alice", "researcher") as client:
        yield client


def open_sweeps(page: Page) -> None:
    """From any page, by the main navigation (no reload)."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sweeps").click()
    expect(page.get_by_role("heading", name="Parameter sweeps")).to_be_visible()


def space_row(page: Page, name: str) -> Any:
    return page.locator(f'#sweep-form .space-row[data-name="{name}"]')


def as_list(page: Page, name: str, values: str) -> None:
    row = space_row(page, name)
    row.get_by_label("As", exact=True).select_option("list")
    row.get_by_label("Values", exact=True).fill(values)


def submit_grid_from_the_form(page: Page) -> str:
    """Fills the form with a 2 x 2 grid of the sample strategy; returns the sweep's id."""
    form = page.locator("#sweep-form")
    expect(form.get_by_label("Strategy", exact=True)).to_have_value("SampleEmaCross")
    # The space editor lists the version's declared parameters; two are ticked to start with.
    expect(form.locator(".space-row")).to_have_count(4)
    ticked = {
        name: space_row(page, name).get_by_label("Sweep", exact=True).is_checked()
        for name in ("fast_span", "slow_span", "trend_margin", "use_trend_filter")
    }
    assert ticked == {"fast_span": True, "slow_span": True, "trend_margin": False,
                      "use_trend_filter": False}  # fmt: skip
    expect(space_row(page, "fast_span")).to_contain_text("int 5 … 30, default 12")
    form.get_by_label("Pairs").fill("BTC/USDT")
    form.get_by_label("Timeframe").select_option("5m")
    form.get_by_label("Timerange").fill("20240101-20240201")
    form.get_by_label("Sampler").select_option("grid")
    form.get_by_label("Objective").select_option("profit_total")
    expect(form.get_by_label("Direction")).to_have_value("maximize")
    as_list(page, "fast_span", "8, 12")
    as_list(page, "slow_span", "20, 30")
    expect(page.locator("#space-plan")).to_contain_text("= 4 combinations")
    form.get_by_role("button", name="Submit sweep").click()
    link = page.locator("#sweep-form-done a")
    expect(link).to_be_visible()
    return (link.get_attribute("href") or "").removeprefix("#/sweeps/")


def check_trials_and_best(page: Page, sweep: dict[str, Any]) -> None:
    trials = sweep["trials"]["items"]
    best = sweep["best"]
    best_job = next(t["backtest_id"] for t in trials if t["number"] == best["trial"])
    # The trials, each with a link to its backtest.
    expect(page.locator("#trials-body tr")).to_have_count(4)
    for trial in trials:
        row = page.locator(f'#trials-body tr[data-trial="{trial["number"]}"]')
        expect(row).to_have_attribute("data-status", "completed")
        expect(row.get_by_role("link")).to_have_attribute("href", f"#/jobs/{trial['backtest_id']}")
    expect(page.locator("#trials-body tr.best-row")).to_have_attribute(
        "data-trial", str(best["trial"])
    )
    # Sorting by the objective puts the best first (maximize).
    page.locator("#trials thead").get_by_role("button", name="profit_total").click()
    expect(page.locator("#trials-body tr").first).to_have_attribute(
        "data-trial", str(best["trial"])
    )
    # The best trial, its parameters and its job.
    best_value = page.locator("#best-value")
    expect(best_value).to_be_visible()
    assert float(best_value.get_attribute("data-value") or "nan") == best["objective"]
    expect(page.locator("#best-job")).to_have_attribute("href", f"#/jobs/{best_job}")
    expect(page.locator("#best-params")).to_contain_text(
        f"fast_span{best['parameters']['fast_span']}"
    )


def check_heatmap(page: Page, sweep: dict[str, Any]) -> None:
    trials = sweep["trials"]["items"]
    best = sweep["best"]
    objective = {
        (t["parameters"]["fast_span"], t["parameters"]["slow_span"]): t["objective"] for t in trials
    }
    assert len(objective) == 4 and None not in objective.values()
    # fast_span by slow_span, every cell filled with that trial's objective.
    expect(page.get_by_label("X (columns)")).to_have_value("fast_span")
    expect(page.get_by_label("Y (rows)")).to_have_value("slow_span")
    heat = page.locator("#heatmap")
    expect(heat.locator("thead th[data-x]")).to_have_text(["8", "12"])
    expect(heat.locator("tbody th[scope=row]")).to_have_text(["20", "30"])
    cells = heat.locator("td.cell")
    expect(cells).to_have_count(4)
    expect(heat.locator("td.cell.filled")).to_have_count(4)
    expect(heat.locator("td.cell.empty")).to_have_count(0)
    shown = {
        (int(c.get_attribute("data-x") or 0), int(c.get_attribute("data-y") or 0)): float(
            c.get_attribute("data-value") or "nan"
        )
        for c in cells.all()
    }
    assert shown == objective
    colours = {c.evaluate("td => td.style.backgroundColor") for c in cells.all()}
    assert len(colours) > 1  # colour-scaled: not one colour for every cell
    marked = heat.locator("td.best")
    expect(marked).to_have_count(1)
    expect(marked).to_have_attribute("data-trial", str(best["trial"]))
    expect(marked).to_contain_text("★")
    assert float(marked.get_attribute("data-value") or "nan") == best["objective"]
    best_job = next(t["backtest_id"] for t in trials if t["number"] == best["trial"])
    expect(marked.get_by_role("link")).to_have_attribute("href", f"#/jobs/{best_job}")
    expect(page.locator("#heat-legend")).to_contain_text("(better)")
    screenshot(page, "ui-sweep.png", full_page=True)

    # One parameter: slow_span alone, each cell the best over fast_span.
    page.get_by_label("X (columns)").select_option("slow_span")
    page.get_by_label("Y (rows)").select_option("")
    expect(heat.locator("tbody tr")).to_have_count(1)
    expect(heat.locator("td.cell.filled")).to_have_count(2)
    for slow in (20, 30):
        cell = heat.locator(f'td.cell[data-x="{slow}"]')
        best_here = max(v for (_, s), v in objective.items() if s == slow)
        assert float(cell.get_attribute("data-value") or "nan") == best_here


def test_researcher_submits_a_grid_and_reads_its_heatmap(
    server: ServerProcess, browser: Browser, alice: httpx.Client
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    loads: list[str] = []
    page.on("request", lambda r: loads.append(r.url) if "/api/v1/sweeps" in r.url else None)
    sign_in(page, server, server.token("alice", "researcher"))
    page.evaluate("window.__sameDocument = true")
    open_sweeps(page)
    sweep_id = submit_grid_from_the_form(page)
    submitted = alice.get(f"/sweeps/{sweep_id}").json()
    assert submitted["space"] == {"fast_span": [8, 12], "slow_span": [20, 30]}
    assert (submitted["method"], submitted["objective"], submitted["total"]) == (
        "grid", "profit_total", 4,
    )  # fmt: skip
    expect(page.locator(f'#sweeps-body tr[data-id="{sweep_id}"]')).to_be_visible()

    page.locator("#sweep-form-done a").click()
    expect(page).to_have_url(f"{server.url}/#/sweeps/{sweep_id}")
    expect(page.locator("#sweep-title")).to_contain_text(sweep_id[:8])
    # It follows the sweep live (the WebSocket) until it completes: no reload, no polling.
    status = page.locator("#sweep-status")
    expect(status).to_have_attribute("data-status", "completed", timeout=90_000)
    expect(page.locator("#sweep-counts progress")).to_have_attribute("value", "1")
    counts = [page.locator(f"#count-{n} dd") for n in ("done", "failed", "pending", "total")]
    for count, expected in zip(counts, ("4", "0", "0", "4"), strict=True):
        expect(count).to_have_text(expected)
    assert page.evaluate("window.__sameDocument") is True
    # The sweep page loaded it once (at most once more to fill a gap), and did not poll.
    sweep_loads = [u for u in loads if f"/api/v1/sweeps/{sweep_id}?trials_limit=1000" in u]
    assert 1 <= len(sweep_loads) <= 2, sweep_loads

    sweep = alice.get(f"/sweeps/{sweep_id}").json()
    assert sweep["status"] == "completed"
    check_trials_and_best(page, sweep)
    check_heatmap(page, sweep)

    # Back to the list: the sweep, completed, with its best value.
    page.get_by_role("link", name="← All sweeps").click()
    row = page.locator(f'#sweeps-body tr[data-id="{sweep_id}"]')
    expect(row).to_have_attribute("data-status", "completed")
    expect(row.locator("progress")).to_have_attribute("value", "1")
    best_shown = row.locator("td[data-best]").get_attribute("data-best") or "nan"
    assert float(best_shown) == sweep["best"]["objective"]
    expect(row.get_by_role("button", name="Cancel")).to_have_count(0)  # finished
    assert page.evaluate("window.__sameDocument") is True
    screenshot(page, "ui-sweeps.png", full_page=True)
    context.close()


def test_a_bad_space_is_shown_next_to_its_parameter(
    server: ServerProcess, browser: Browser
) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    sign_in(page, server, server.token("alice", "researcher"))
    open_sweeps(page)
    expect(page.locator("#sweep-form .space-row")).to_have_count(4)
    fast = space_row(page, "fast_span")
    fast.get_by_label("As", exact=True).select_option("range")
    fast.get_by_label("Low", exact=True).fill("30")
    fast.get_by_label("High", exact=True).fill("8")
    fast.get_by_label("Step", exact=True).fill("1")
    as_list(page, "slow_span", "20")
    page.get_by_role("button", name="Submit sweep").click()
    # The API's message (422, field space.fast_span), in that parameter's row.
    expect(fast.locator(".field-error")).to_have_text("low 30 is above high 8")
    expect(fast.get_by_label("Low", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(space_row(page, "slow_span").locator(".field-error")).to_be_empty()
    expect(page.locator("#sweep-form-done")).to_be_empty()

    # A name the version does not declare.
    as_list(page, "fast_span", "8")
    slow = space_row(page, "slow_span")
    slow.get_by_label("Name", exact=True).fill("slow")
    renamed = space_row(page, "slow")
    page.get_by_role("button", name="Submit sweep").click()
    expect(renamed.locator(".field-error")).to_contain_text("declares no parameter 'slow'")
    expect(renamed.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(fast.locator(".field-error")).to_be_empty()
    expect(page.locator("#sweep-form-done")).to_be_empty()
    # Usable at a phone's width: nothing wider than the screen but the scrolling tables.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()


def test_a_viewer_sees_no_form_and_no_cancel_while_a_researcher_cancels(
    server: ServerProcess, browser: Browser, alice: httpx.Client
) -> None:
    body = SETTINGS | {
        "space": {"fast_span": [6, 8, 10, 12, 14, 16, 18, 20], "slow_span": [40]},
        "objective": "sharpe",
    }  # fmt: skip
    answer = alice.post("/sweeps", json=body)
    assert answer.status_code == 202, answer.text
    sweep_id = answer.json()["id"]

    viewer = browser.new_context(viewport=PHONE)
    page = viewer.new_page()
    sign_in(page, server, server.token("victor", "viewer"))
    open_sweeps(page)
    row = page.locator(f'#sweeps-body tr[data-id="{sweep_id}"]')
    expect(row).to_have_attribute("data-status", "running")
    expect(page.locator("#sweep-form")).to_have_count(0)
    expect(page.get_by_role("button", name="Submit sweep")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    row.get_by_role("link").first.click()
    expect(page.locator("#sweep-status")).to_have_attribute("data-status", "running")
    expect(page.locator("#heatmap")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel sweep")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # A researcher, on the same sweep, has the cancel button; the viewer sees it cancelled live.
    researcher = browser.new_context(viewport=DESKTOP)
    other = researcher.new_page()
    sign_in(other, server, server.token("alice", "researcher"))
    open_sweeps(other)
    expect(
        other.locator(f'#sweeps-body tr[data-id="{sweep_id}"]').get_by_role("button")
    ).to_have_text("Cancel")
    other.locator(f'#sweeps-body tr[data-id="{sweep_id}"]').get_by_role("link").first.click()
    other.get_by_role("button", name="Cancel sweep").click()
    expect(other.locator("#sweep-status")).to_have_attribute("data-status", "cancelled")
    expect(other.get_by_role("button", name="Cancel sweep")).to_have_count(0)
    expect(page.locator("#sweep-status")).to_have_attribute("data-status", "cancelled")
    assert alice.get(f"/sweeps/{sweep_id}").json()["status"] == "cancelled"
    researcher.close()
    viewer.close()
