"""The web UI's accessibility in a real browser (conftest.py). Data is prepared through the REST
API (two completed backtests of different versions, a promotion approved and deployed, another
pending, a completed 2-trial grid sweep); then every page (sign-in, jobs, job, compare and its
picker, the strategies catalog, a strategy, a version, a promotion, sweeps, a sweep; the jobs form
also with the server's field errors) is checked with axe-core (from npm, injected into the page)
against WCAG 2.1 A and AA and axe's best practices, every <details> open, at 1280x800 and at a
phone's width, where no page may scroll sideways. A keyboard-only user signs in, submits a
backtest from the form and opens its job, every element the focus lands on showing a focus ring
of 3:1 contrast or more."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import DESKTOP, PHONE
from tests.support.server import ServerProcess, grant_maintainer

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"  # `make node_modules/.installed`
SAMPLE = ROOT / "app" / "samples" / "SampleEmaCross.py"
STRATEGY = "SampleEmaCross"
RUN = {"strategy": STRATEGY, "pairs": ["BTC/USDT"], "timeframe": "5m"}
RUN |= {"timerange": "20240101-20240201"}  # 24 trades: enough for the promotion's gates
# WCAG 2.1 A and AA, and axe's best practices (landmarks, headings, ...): no violation of any
# impact is let through; minor and moderate ones are as easy to fix here as they are rare.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
# What the UI's user may do: submit, request, approve (not their own requests), deploy. Every form
# and button the pages offer is then on them, and checked.
ROLES = ("researcher", "approver", "operator")


@dataclass(frozen=True)
class Prepared:
    v1_job: str  # a completed backtest of v1 (the promotions' evidence)
    v2_job: str  # a completed backtest of v2 (other code: the compare page shows a diff)
    pending: str  # a pending promotion of v1 to production (v1 is in staging, deployed)
    sweep: str  # a completed 2-trial grid sweep


def api_client(server: ServerProcess, sub: str, *roles: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {server.token(sub, *roles)}"}
    return httpx.Client(base_url=f"{server.url}/api/v1", headers=headers, timeout=15)


def created(answer: httpx.Response, status: int) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def wait_for(api: httpx.Client, path: str, final: set[str], timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (got := api.get(path).json())["status"] not in final:
        assert time.monotonic() < deadline, f"{path} still {got['status']}"
        time.sleep(0.2)
    return dict(got)


@pytest.fixture(scope="module")
def prepared(server: ServerProcess) -> Iterator[Prepared]:
    grant_maintainer(server, STRATEGY, "alice")  # the sample strategy is tradai-seed's
    with (
        api_client(server, "alice", "researcher") as alice,
        api_client(server, "bob", "approver") as bob,
        api_client(server, "olga", "operator") as olga,
    ):
        code = SAMPLE.read_text()
        v2_code = code.replace("stoploss = -0.03", "stoploss = -0.05")
        assert v2_code != code, "app/samples/SampleEmaCross.py no longer has its stop loss"
        body = {"code": v2_code, "description": "a wider stop loss"}
        v2 = created(alice.post(f"/strategies/{STRATEGY}/versions", json=body), 201)["version"]
        jobs = [
            created(alice.post("/backtests", json=RUN | {"strategy_version": v}), 202)["id"]
            for v in (1, v2)
        ]
        grid = {"space": {"fast_span": [8, 12], "slow_span": [30]}, "objective": "sharpe"}
        sweep = created(alice.post("/sweeps", json=RUN | grid), 202)["id"]
        done = {"completed", "failed", "cancelled"}
        for job in jobs:
            assert wait_for(alice, f"/backtests/{job}", done)["status"] == "completed"
        # v1 to staging (requested, approved, deployed), then to production: left pending.
        request = {"target_stage": "staging", "backtest_id": jobs[0]}
        url = f"/strategies/{STRATEGY}/versions/1/promotions"
        staging = created(alice.post(url, json=request), 201)["id"]
        created(bob.post(f"/promotions/{staging}/approve"), 200)
        deploy = {"version": 1, "environment": "staging"}
        created(olga.post(f"/strategies/{STRATEGY}/deployments", json=deploy), 201)
        request["target_stage"] = "production"
        pending = created(alice.post(url, json=request), 201)["id"]
        finished = wait_for(alice, f"/sweeps/{sweep}", done)
        assert (finished["status"], finished["done"]) == ("completed", 2), finished
        yield Prepared(jobs[0], jobs[1], pending, sweep)


# --- axe ------------------------------------------------------------------------------------------

AXE_RUN = """async (tags) => {
  // Every <details> open, so that what they hold is checked too; then three frames, so that what
  // the page does after a change of layout is done (scroll-regions.js: a resize is seen in one,
  // acted on in the next).
  for (const details of document.querySelectorAll("details")) details.open = true;
  for (let i = 0; i < 3; i++) await new Promise((resolve) => requestAnimationFrame(resolve));
  const result = await axe.run(document, { runOnly: tags, resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, url: v.helpUrl, tags: v.tags.join(" "),
    nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
  }));
}"""


def axe_violations(page: Page) -> list[dict[str, Any]]:
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))  # the context bypasses the page's CSP for this
    return list(page.evaluate(AXE_RUN, TAGS))


def report(where: str, violations: list[dict[str, Any]]) -> list[str]:
    """Each violation with its rule, impact and tags, then every element (its CSS selector) with
    what axe says to fix."""
    lines = []
    for v in violations:
        lines.append(f"{where}: [{v['impact']}] {v['id']}: {v['help']} ({v['tags']}; {v['url']})")
        for node in v["nodes"]:
            fix = str(node["summary"]).replace("\n", "\n        ")
            lines.append(f"    {node['target']}\n        {fix}")
    return lines


# --- the pages ------------------------------------------------------------------------------------


def pages(data: Prepared) -> list[tuple[str, str, Callable[[Page], None]]]:
    """(name, fragment, wait until the page shows its data) for every page but the sign-in."""

    def jobs(page: Page) -> None:
        expect(page.locator(f'#jobs-body tr[data-id="{data.v1_job}"]')).to_be_visible()
        expect(page.locator("#f-strategy")).to_have_value(STRATEGY)

    def job(page: Page) -> None:
        expect(page.locator("#metrics")).to_be_visible()
        expect(page.locator("#equity-chart canvas")).to_have_count(1)
        expect(page.locator("#trades tbody tr").first).to_be_visible()
        expect(page.locator("#timeline li").first).to_be_visible()

    def compare(page: Page) -> None:
        expect(page.locator("#compare-metrics")).to_be_visible()
        expect(page.locator("#compare-code table.diff")).to_have_count(1)
        expect(page.locator("#compare-chart canvas")).to_have_count(1)
        page.locator("details.reselect summary").click()  # the picker, under the comparison
        expect(page.locator(f'details.reselect tr[data-id="{data.v2_job}"]')).to_be_visible()

    def picker(page: Page) -> None:
        expect(page.locator(f'#compare-picker tr[data-id="{data.v1_job}"]')).to_be_visible()

    def strategies(page: Page) -> None:
        expect(page.locator(f'#strategies-body tr[data-name="{STRATEGY}"]')).to_be_visible()
        expect(page.locator(f'#pending tr[data-id="{data.pending}"]')).to_be_visible()

    def strategy(page: Page) -> None:
        expect(page.locator("#versions tbody tr")).to_have_count(2)
        expect(page.locator("#revisions-staging tbody tr")).to_have_count(1)
        expect(page.locator("#history li").first).to_be_visible()

    def version(page: Page) -> None:
        expect(page.locator("#code")).to_contain_text(f"class {STRATEGY}(IStrategy)")
        expect(page.locator(f'#version-backtests tr[data-id="{data.v1_job}"]')).to_be_visible()
        expect(page.locator("#request-form")).to_be_visible()

    def promotion(page: Page) -> None:
        expect(page.locator("#promotion-status")).to_contain_text("pending")
        expect(page.get_by_role("button", name="Approve")).to_be_visible()

    def sweeps(page: Page) -> None:
        expect(page.locator(f'#sweeps-body tr[data-id="{data.sweep}"]')).to_be_visible()
        expect(page.locator("#sweep-form .space-row")).to_have_count(4)

    def sweep(page: Page) -> None:
        expect(page.locator("#sweep-status")).to_have_attribute("data-status", "completed")
        expect(page.locator("#heatmap td.cell.filled")).to_have_count(2)
        expect(page.locator("#trials-body tr")).to_have_count(2)

    return [
        ("jobs", "#/jobs", jobs),
        ("job", f"#/jobs/{data.v1_job}", job),
        ("compare", f"#/compare?ids={data.v1_job},{data.v2_job}", compare),
        ("compare's picker", "#/compare", picker),
        ("strategies", "#/strategies", strategies),
        ("strategy", f"#/strategies/{STRATEGY}", strategy),
        ("version", f"#/strategies/{STRATEGY}/versions/1", version),
        ("promotion", f"#/promotions/{data.pending}", promotion),
        ("sweeps", "#/sweeps", sweeps),
        ("sweep", f"#/sweeps/{data.sweep}", sweep),
    ]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280x800", "390x844"])
def test_every_page_passes_axe_wcag21_aa(
    server: ServerProcess, browser: Browser, prepared: Prepared, viewport: dict[str, int]
) -> None:
    context = browser.new_context(viewport=viewport, bypass_csp=True)  # type: ignore[arg-type]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    size = f"{viewport['width']}x{viewport['height']}"
    problems: list[str] = []
    wide: list[str] = []

    def check(name: str) -> None:
        problems.extend(report(f"{name} at {size}", axe_violations(page)))
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > viewport["width"]:
            wide.append(f"{name}: {scroll} px wide at {size}")

    page.goto(f"{server.url}/")
    expect(page.get_by_label("Access token (JWT)")).to_be_focused()
    check("sign-in")
    page.get_by_label("Access token (JWT)").fill(server.token("carol", *ROLES))
    page.get_by_role("button", name="Sign in").click()
    for name, fragment, ready in pages(prepared):
        page.goto(f"{server.url}/{fragment}")
        ready(page)
        check(name)
        if name == "jobs":  # and with the server's problems next to the fields
            page.locator("#f-timerange").fill("20240201-2024")  # by id: axe checks the labels
            page.locator("#submit-backtest").click()
            expect(page.locator("#f-timerange")).to_have_attribute("aria-invalid", "true")
            check("jobs, the form refused")
    context.close()
    found = "\n".join(problems)
    assert not problems, f"axe found violations (WCAG 2.1 A/AA, best practices):\n{found}"
    assert not wide, "pages scroll sideways:\n" + "\n".join(wide)
    assert not errors, errors


# --- the keyboard ---------------------------------------------------------------------------------

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const style = getComputedStyle(el);
  return {
    tag: el.tagName.toLowerCase(), id: el.id, text: (el.textContent || "").trim().slice(0, 60),
    href: el.getAttribute("href") || "", outline: style.outlineStyle, colour: style.outlineColor,
    width: parseFloat(style.outlineWidth) || 0, visible: el.matches(":focus-visible"),
  };
}"""


def focused(page: Page) -> dict[str, Any]:
    state = page.evaluate(FOCUSED)
    assert state is not None, "the focus was lost (to the page's body)"
    return dict(state)


def contrast(rgb: str, background: tuple[int, int, int] = (255, 255, 255)) -> float:
    """WCAG's contrast ratio of a CSS rgb()/rgba() colour on `background` (the cards' white)."""

    def luminance(channels: tuple[int, ...]) -> float:
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
                  for c in (v / 255 for v in channels)]  # fmt: skip
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    numbers = rgb[rgb.index("(") + 1 : rgb.index(")")].replace(",", " ").split()
    high, low = sorted([luminance(tuple(int(float(n)) for n in numbers[:3])),
                        luminance(background)], reverse=True)  # fmt: skip
    return (high + 0.05) / (low + 0.05)


def press(page: Page, key: str) -> dict[str, Any]:
    """A key moving the focus; the element it lands on must show that it has it: an outline
    (:focus-visible) at least 2 px wide, 3:1 against the white around it (WCAG 1.4.11)."""
    page.keyboard.press(key)
    state = focused(page)
    assert state["visible"] and state["outline"] != "none" and state["width"] >= 2, (
        f"no visible focus indicator: {json.dumps(state)}"
    )
    assert contrast(state["colour"]) >= 3, f"a faint focus indicator: {json.dumps(state)}"
    return state


def tab_to(page: Page, found: Callable[[dict[str, Any]], bool], *, limit: int = 120) -> None:
    for _ in range(limit):
        if found(press(page, "Tab")):
            return
    raise AssertionError(f"not reached in {limit} presses of Tab; the focus is on {focused(page)}")


def retype(page: Page, text: str) -> None:
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type(text)


def test_keyboard_only_sign_in_submit_a_backtest_and_open_its_job(
    server: ServerProcess, browser: Browser, prepared: Prepared
) -> None:
    """`prepared`: the jobs list has rows (links, checkboxes) to Tab through before the form."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{server.url}/")
    # The token field has the focus on arrival; type the token, Tab to the button, Enter.
    expect(page.locator("#token")).to_be_focused()
    page.keyboard.type(server.token("kim", "researcher"))
    assert press(page, "Tab")["text"] == "Sign in"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Backtest jobs")).to_be_visible()
    expect(page.locator("#f-strategy")).to_have_value(STRATEGY)

    # Through the list to the form: its fields in order, Shift+Tab back, Space on "Options".
    tab_to(page, lambda f: f["id"] == "f-strategy")
    assert press(page, "Tab")["id"] == "f-strategy_version"
    assert press(page, "Tab")["id"] == "f-pairs"
    retype(page, "BTC/USDT")
    assert press(page, "Tab")["id"] == "f-timeframe"
    assert press(page, "Tab")["id"] == "f-timerange"
    retype(page, "20240101-20240108")
    assert press(page, "Shift+Tab")["id"] == "f-timeframe"
    assert press(page, "Tab")["id"] == "f-timerange"
    assert press(page, "Tab")["tag"] == "summary"
    options = page.locator("#submit-form details")
    page.keyboard.press("Space")
    expect(options).to_have_attribute("open", "")
    assert press(page, "Tab")["id"] == "f-exchange"
    assert press(page, "Shift+Tab")["tag"] == "summary"
    page.keyboard.press("Space")
    expect(options).not_to_have_attribute("open", "")
    tab_to(page, lambda f: f["id"] == "submit-backtest")
    page.keyboard.press("Enter")

    # The new job is linked under the button, next in the tab order; Enter opens it.
    done = page.locator("#form-done a")
    expect(done).to_be_visible()
    href = done.get_attribute("href") or ""
    tab_to(page, lambda f: f["href"] == href, limit=3)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{server.url}/{href}")
    expect(page.locator("#job-title")).to_contain_text(STRATEGY)
    with api_client(server, "kim", "researcher") as api:
        submitted = api.get(f"/backtests/{href.removeprefix('#/jobs/')}").json()
    assert (submitted["pairs"], submitted["timerange"]) == (["BTC/USDT"], "20240101-20240108")
    # On the job page the keyboard goes on: to the link back to the jobs.
    assert press(page, "Tab")["text"] == "← All jobs"
    context.close()
