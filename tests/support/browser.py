"""What the web UI's browser tests share: viewports, where screenshots go, signing in, and how
to tell that a chart was drawn."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support.server import ServerProcess

CHROMIUM = "/usr/bin/chromium"  # Debian's (scripts/ensure-chromium.sh, `make chromium`)
DOCS = Path(__file__).resolve().parents[2] / "docs"  # the README shows the screenshots
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

# Non-transparent pixels of a chart's canvas: uPlot draws the curves, grid and axes into it.
DRAWN_PIXELS = """(canvas) => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let drawn = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) drawn++;
  return drawn;
}"""


def sign_in(page: Page, server: ServerProcess, token: str) -> None:
    """Paste the token on the sign-in page; the jobs page opens."""
    page.goto(f"{server.url}/")
    page.get_by_label("Access token (JWT)").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Backtest jobs")).to_be_visible()


def screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / name), full_page=full_page)
