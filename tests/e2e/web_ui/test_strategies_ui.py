"""The web UI's strategy pages in a real browser (conftest.py): the promotion lifecycle of
SampleEmaCross driven by the people who own each step. Alice (researcher and approver) reads v1's
code and requests its promotion to staging from the form (a failing gate and "staging first" are
shown as the server said them); she cannot approve her own request (four eyes: the server's
refusal is on the page, the promotion stays pending); Bob approves it; Olga (operator) deploys it,
deploys v2 and rolls back; the catalog and the strategy page show stages, live revisions and the
audit timeline in order; "as of" before the request shows no promotion; a viewer gets no buttons.
Screenshots go to docs/."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.support.browser import DESKTOP, PHONE, screenshot, sign_in
from tests.support.server import ServerProcess, grant_maintainer

STRATEGY = "SampleEmaCross"
ZONE = "America/New_York"  # the browser's time zone: "as of" is entered in it


@dataclass(frozen=True)
class Prepared:
    good_v1: str  # a completed backtest of v1 that passes every gate
    thin_v1: str  # a completed backtest of v1 with too few trades
    good_v2: str  # a completed backtest of v2


def client(server: ServerProcess, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=f"{server.url}/api/v1", headers=headers, timeout=15)


def submit(api: httpx.Client, version: int, timerange: str) -> str:
    body = {"strategy": STRATEGY, "strategy_version": version, "pairs": ["BTC/USDT"],
            "timeframe": "5m", "timerange": timerange}  # fmt: skip
    answer = api.post("/backtests", json=body)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["id"])


def completed(api: httpx.Client, job_id: str) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = api.get(f"/backtests/{job_id}").json()
        if job["status"] in {"completed", "failed", "cancelled"}:
            assert job["status"] == "completed", job["error"]
            return job_id
        time.sleep(0.1)
    raise AssertionError(f"backtest {job_id} did not finish")


@pytest.fixture(scope="module")
def prepared(server: ServerProcess) -> Iterator[Prepared]:
    """Through the REST API, what a promotion needs: v2 registered, completed backtests."""
    grant_maintainer(server, STRATEGY, "alice")  # the sample strategy is tradai-seed's
    with client(server, server.token("alice", "researcher")) as api:
        code = (resources.files("app.samples") / f"{STRATEGY}.py").read_text()
        v2 = code.replace('minimal_roi = {"0": 0.04', 'minimal_roi = {"0": 0.05')
        assert v2 != code
        body = {"code": v2, "description": "ROI 5% (v2)"}
        assert api.post(f"/strategies/{STRATEGY}/versions", json=body).status_code == 201
        # One month of BTC/USDT: 24 trades, +5.7 %, 9.9 % drawdown; three days: 1 trade.
        jobs = [submit(api, 1, "20240101-20240201"), submit(api, 1, "20240101-20240104"),
                submit(api, 2, "20240101-20240201")]  # fmt: skip
        yield Prepared(*(completed(api, job) for job in jobs))


ERRORS: list[str] = []  # uncaught script errors of every page of this module


def signed_in(
    browser: Browser, server: ServerProcess, token: str, viewport: dict[str, int] = DESKTOP
) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport=viewport, timezone_id=ZONE)  # type: ignore[arg-type]
    page = context.new_page()
    page.on("pageerror", lambda e: ERRORS.append(str(e)))
    sign_in(page, server, token)
    return context, page


def goto(page: Page, server: ServerProcess, fragment: str) -> None:
    page.goto(f"{server.url}/{fragment}")


def no_page_scroll(page: Page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_promotion_lifecycle_four_eyes_deploy_rollback_audit_and_time_travel(  # noqa: PLR0915
    server: ServerProcess, browser: Browser, prepared: Prepared
) -> None:
    alice_token = server.token("alice", "researcher", "approver")
    version_page = f"#/strategies/{STRATEGY}/versions/1"
    strategy_page = f"#/strategies/{STRATEGY}"

    # Alice reads v1: its code (what a job ran), its declared parameters, its backtests.
    alice_context, alice = signed_in(browser, server, alice_token)
    goto(alice, server, version_page)
    expect(alice.locator("#code")).to_contain_text(f"class {STRATEGY}(IStrategy)")
    assert alice.locator("#code .line").count() > 20  # one element per line, numbered by CSS
    expect(alice.locator("#declared")).to_contain_text("fast_span")
    expect(alice.locator(f'#version-backtests tr[data-id="{prepared.good_v1}"]')).to_be_visible()
    expect(alice.locator(f'#version-backtests tr[data-id="{prepared.good_v2}"]')).to_have_count(0)
    form = alice.locator("#request-form")
    target = form.get_by_label("Target stage")
    evidence = form.get_by_label("Evidence: a completed backtest of this version")
    expect(target).to_have_value("staging")  # v1 is registered: staging comes next

    # A backtest with too few trades: the gates refuse, every gate listed, nothing recorded.
    evidence.select_option(prepared.thin_v1)
    form.get_by_role("button", name="Request promotion").click()
    expect(form.get_by_role("alert")).to_contain_text("The gates refused this promotion")
    failed = form.locator('#request-gate-results tr[data-passed="false"]')
    expect(failed).to_have_count(1)
    expect(failed).to_have_attribute("data-gate", "min_trades")
    expect(failed).to_contain_text("1 trade < 10 required")

    # Production before staging: the server's 409 in words.
    target.select_option("production")
    evidence.select_option(prepared.good_v1)
    form.get_by_role("button", name="Request promotion").click()
    expect(form.get_by_role("alert")).to_contain_text("cannot go to production before staging")
    expect(form.locator("#request-gate-results")).to_have_count(0)

    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    time.sleep(1.1)  # the request below is strictly after `before`, to the second
    target.select_option("staging")
    form.get_by_role("button", name="Request promotion").click()
    expect(alice).to_have_url(re.compile(r"#/promotions/[0-9a-f-]{36}$"))
    promotion_id = alice.url.rsplit("/", 1)[1]
    expect(alice.locator("#promotion-status")).to_contain_text("pending")
    expect(alice.locator('#gates tr[data-passed="true"]')).to_have_count(5)
    expect(alice.locator('#gates tr[data-gate="min_trades"]')).to_contain_text("≥ 10 required")

    # Four eyes: Alice holds the approver role but requested it herself. She may try; the server
    # refuses and the page says so; the promotion stays pending.
    expect(alice.locator("#four-eyes-note")).to_contain_text("You requested this promotion")
    alice.get_by_role("button", name="Approve").click()
    refusal = alice.locator("#decision-error")
    expect(refusal).to_have_attribute("role", "alert")
    expect(refusal).to_contain_text("You requested this promotion; someone else must approve it")
    expect(refusal).to_contain_text("alice requested this promotion; someone else must approve it")
    expect(refusal).to_contain_text("403")
    expect(alice.locator("#promotion-status")).to_contain_text("pending")
    with client(server, alice_token) as api:
        assert api.get(f"/promotions/{promotion_id}").json()["status"] == "pending"
    screenshot(alice, "ui-promotion.png")

    # A viewer, meanwhile: the same pages without a single button that changes anything.
    viewer_context, viewer = signed_in(browser, server, server.token("victor", "viewer"), PHONE)
    goto(viewer, server, f"#/promotions/{promotion_id}")
    expect(viewer.locator('#gates tr[data-passed="true"]')).to_have_count(5)
    expect(viewer.locator("#decision")).to_contain_text("Waiting for an approver")
    expect(viewer.get_by_role("button", name="Approve")).to_have_count(0)
    expect(viewer.get_by_role("button", name="Reject")).to_have_count(0)
    no_page_scroll(viewer, PHONE["width"])
    goto(viewer, server, version_page)
    expect(viewer.locator("#code")).to_contain_text(f"class {STRATEGY}")
    expect(viewer.locator("#request-form")).to_have_count(0)
    expect(viewer.get_by_role("button", name="Request promotion")).to_have_count(0)
    no_page_scroll(viewer, PHONE["width"])

    # Bob, another approver, approves it from his own browser.
    bob_token = server.token("bob", "approver")
    bob_context, bob = signed_in(browser, server, bob_token)  # his own browser context
    goto(bob, server, f"#/promotions/{promotion_id}")
    expect(bob.locator("#four-eyes-note")).to_contain_text("Requested by alice")
    bob.get_by_label("Reason (required to reject, optional to approve)").fill("gates fine")
    bob.get_by_role("button", name="Approve").click()
    expect(bob.locator("#promotion-status")).to_contain_text("approved")
    expect(bob.locator("#decided-by")).to_contain_text("bob")
    expect(bob.locator("#promotion-version-stage")).to_contain_text("staging")
    expect(bob.get_by_role("button", name="Deploy v1 to staging")).to_have_count(0)  # approver
    expect(bob.locator("#deploy-box")).to_contain_text("An operator deploys it")
    # Alice's page follows live (the WebSocket): approved, without a reload.
    expect(alice.locator("#promotion-status")).to_contain_text("approved")
    expect(alice.get_by_role("button", name="Approve")).to_have_count(0)

    # Olga (operator) deploys v1 to staging from the promotion page.
    olga_context, olga = signed_in(browser, server, server.token("olga", "operator"))
    goto(olga, server, f"#/promotions/{promotion_id}")
    olga.get_by_role("button", name="Deploy v1 to staging").click()
    expect(olga.locator("#deploy-live")).to_contain_text("v1 (revision 1)")

    # v2 reaches staging through the API (Alice asks, Bob approves); Olga deploys it from the
    # strategy page, then rolls staging back: revision 3 runs v1 again.
    with client(server, alice_token) as alice_api, client(server, bob_token) as bob_api:
        body = {"target_stage": "staging", "backtest_id": prepared.good_v2}
        second = alice_api.post(f"/strategies/{STRATEGY}/versions/2/promotions", json=body)
        assert second.status_code == 201, second.text
        assert bob_api.post(f"/promotions/{second.json()['id']}/approve").status_code == 200
    goto(olga, server, strategy_page)
    staging = olga.locator('section.env[data-env="staging"]')
    expect(staging.get_by_label("Version to deploy to staging")).to_have_value("2")
    expect(olga.locator('section.env[data-env="production"]')).to_contain_text(
        "No version is promoted to production yet"
    )
    staging.get_by_role("button", name="Deploy to staging").click()
    expect(olga.locator("#env-live-staging")).to_contain_text("Live: v2 (revision 2")
    staging.get_by_role("button", name="Roll back staging").click()
    expect(olga.locator("#env-live-staging")).to_have_text("Live: v1 (revision 3, staging)")
    expect(olga.locator("#revisions-staging tbody tr")).to_have_count(3)
    expect(olga.locator('#revisions-staging tr[data-revision="3"]')).to_contain_text("rollback")
    expect(olga.locator("#stage-staging")).to_contain_text("v2")
    expect(olga.locator("#live-staging")).to_contain_text("v1 (revision 3)")
    expect(olga.locator('#versions tr[data-version="1"]')).to_have_attribute(
        "data-stage", "staging"
    )
    expect(olga.locator(f'#promotions tr[data-id="{promotion_id}"]')).to_contain_text("approved")

    # The audit history: every step, its actor, in the order it happened.
    steps = [
        ("strategy created", "tradai-seed"), ("version registered", "tradai-seed"),
        ("maintainer added", "root"), ("version registered", "alice"),
        ("promotion requested", "alice"), ("promotion approved", "bob"), ("stage changed", "bob"),
        ("deployed", "olga"),
        ("promotion requested", "alice"), ("promotion approved", "bob"), ("stage changed", "bob"),
        ("deployed", "olga"), ("rolled back", "olga"),
    ]  # fmt: skip
    entries = olga.locator("#history > li")
    expect(entries).to_have_count(len(steps))
    assert entries.evaluate_all("els => els.map(e => e.dataset.action)") == [a for a, _ in steps]
    actors = entries.locator(".actor").all_text_contents()
    assert actors == [who for _, who in steps]
    positions = [int(p) for p in entries.evaluate_all("els => els.map(e => e.dataset.position)")]
    assert positions == sorted(positions)
    expect(entries.nth(2)).to_contain_text("alice may now register versions")
    expect(olga.locator("#owner dd")).to_have_text("tradai-seed")
    expect(olga.locator("#maintainers dd")).to_have_text("alice")
    expect(entries.nth(4)).to_contain_text("5 of 5 gates passed")
    expect(entries.nth(12)).to_contain_text("staging: revision 3 runs revision 1's version")
    expect(olga.get_by_role("button", name="Deploy to staging")).to_be_visible()
    screenshot(olga, "ui-strategy.png", full_page=True)

    # The catalog: the stage badges and what each environment runs.
    goto(olga, server, "#/strategies")
    row = olga.locator(f'#strategies tr[data-name="{STRATEGY}"]')
    expect(row.locator(".stages")).to_contain_text("staging v2")
    expect(row.locator('[data-env="staging"]')).to_contain_text("v1 rev 3")
    expect(row).to_contain_text("not deployed")  # production
    expect(olga.locator("#pending-promotions")).to_contain_text("None.")
    # The catalog follows the WebSocket: a new request appears without a reload.
    olga.evaluate("window.__sameDocument = true")
    with client(server, alice_token) as api:
        body = {"target_stage": "production", "backtest_id": prepared.good_v2}
        third = api.post(f"/strategies/{STRATEGY}/versions/2/promotions", json=body).json()
    expect(olga.locator(f'#pending tr[data-id="{third["id"]}"]')).to_contain_text("5 of 5")
    expect(row.locator("td").nth(5)).to_have_text("1")  # pending, with a link to it
    assert olga.evaluate("window.__sameDocument") is True
    screenshot(olga, "ui-strategies.png")

    # As of a time before the request, in Alice's time zone: no promotion, nothing deployed.
    goto(alice, server, strategy_page)
    expect(alice.locator(f'#promotions tr[data-id="{promotion_id}"]')).to_be_visible()
    expect(alice.get_by_role("button", name="Deploy to staging")).to_have_count(0)  # no operator
    local = before.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M:%S")
    alice.get_by_label("Show as of").fill(local)
    alice.get_by_role("button", name="Show as of").click()
    expect(alice.locator("#past-banner")).to_contain_text("You are looking at the past")
    as_of = unquote(alice.url.split("?as_of=", 1)[1])
    assert datetime.fromisoformat(as_of) == before, (as_of, before)  # local time -> UTC
    expect(alice.locator("#promotions-empty")).to_have_text("No promotions.")
    # created, v1 registered, alice made a maintainer, v2 registered
    expect(alice.locator("#history > li")).to_have_count(4)
    expect(alice.locator("#env-live-staging")).to_contain_text("Not deployed at that time")
    expect(alice.locator('#versions tr[data-version="1"]')).to_have_attribute(
        "data-stage", "registered"
    )
    # A datetime-local input drops zero seconds from its value (19:08:00 reads back as 19:08).
    shown = local.removesuffix(":00") if local.endswith(":00") else local
    expect(alice.get_by_label("Show as of")).to_have_value(shown)
    alice.get_by_role("link", name="Back to now").first.click()
    expect(alice.locator("#past-banner")).to_have_count(0)
    expect(alice.locator(f'#promotions tr[data-id="{promotion_id}"]')).to_be_visible()

    assert ERRORS == []
    for context in (alice_context, bob_context, olga_context, viewer_context):
        context.close()
