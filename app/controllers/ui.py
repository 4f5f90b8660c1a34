"""The built-in web UI (API.md, "Web UI"): a public page at `/`, its own files from app/ui/ and its
two libraries from node_modules, installed from package-lock.json by `make`: uPlot (the charts) and
jsdiff (the compare page's code diff). The data the
page shows comes from the API itself, with the token the user pastes. None of this is part of the
OpenAPI document."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException

UI_DIR = Path(__file__).resolve().parent.parent / "ui"
# npm installs into the repository's root (`make node_modules/.installed`, run by `make run`); an
# installed service (the Dockerfile) has them under the environment's share/tradai/.
NODE_MODULES_DIRS = (
    Path(__file__).resolve().parents[2] / "node_modules",
    Path(sys.prefix) / "share" / "tradai" / "node_modules",
)

_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
# Our own files, by name (the scripts and style sheets in app/ui/, read once): nothing else under
# app/ is reachable.
OWN_FILES = frozenset(p.name for p in UI_DIR.iterdir() if p.suffix in (".js", ".css"))
# The libraries' distribution files, by the (lowercase) name the page asks for: the path under
# node_modules/, each pinned by package-lock.json.
VENDOR_FILES = {
    "uplot.esm.js": "uplot/dist/uPlot.esm.js",
    "uplot.iife.min.js": "uplot/dist/uPlot.iife.min.js",
    "uplot.min.css": "uplot/dist/uPlot.min.css",
    # jsdiff's single-file build (UMD: imported as a module, it defines `globalThis.Diff`).
    "diff.js": "diff/dist/diff.js",
}
# The page talks only to its own origin (REST and the WebSocket); no inline scripts or styles.
# 'self' does not cover ws:/wss: in every browser, so the WebSocket origin is named: the host the
# page was asked from, never any host (a plain host[:port]; anything else gets no WebSocket).
CSP = (
    "default-src 'self'; connect-src 'self'{sockets}; img-src 'self' data: blob:; "
    "style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
_HOST = re.compile(r"^(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")


def csp_for(host: str) -> str:
    """The page's policy, with WebSockets allowed to `host` only (ws:, and wss: behind TLS)."""
    sockets = f" ws://{host} wss://{host}" if _HOST.match(host) else ""
    return CSP.format(sockets=sockets)


_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _file(path: Path, missing: str, csp: str = "") -> Response[bytes]:
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundException(missing) from None
    headers = _HEADERS | ({"Content-Security-Policy": csp} if csp else {})
    return Response(body, media_type=_TYPES[path.suffix], headers=headers)


@get(["/", "/ui"], include_in_schema=False, sync_to_thread=False)
def ui_index(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The single page; its script routes by the URL's fragment (#/jobs, #/jobs/<id>)."""
    return _file(
        UI_DIR / "index.html",
        "the web UI's index.html is missing from app/ui/",
        csp_for(request.headers.get("host", "")),
    )


@get("/ui/{name:str}", include_in_schema=False, sync_to_thread=False)
def ui_file(name: str) -> Response[bytes]:
    if name not in OWN_FILES:
        raise NotFoundException(f"the web UI has no file {name!r}")
    return _file(UI_DIR / name, f"the web UI's {name} is missing from app/ui/")


@get("/ui/vendor/{name:str}", include_in_schema=False, sync_to_thread=False)
def ui_vendor(name: str) -> Response[bytes]:
    """uPlot's and jsdiff's distribution files, straight from node_modules (pinned by
    package-lock.json)."""
    real = VENDOR_FILES.get(name.lower())
    if real is None:
        raise NotFoundException(f"the web UI has no vendor file {name!r}")
    found = [d / real for d in NODE_MODULES_DIRS if (d / real).is_file()]
    return _file(
        found[0] if found else NODE_MODULES_DIRS[0] / real,
        f"node_modules/{real} is missing: run `make node_modules/.installed` "
        "(npm ci from package-lock.json) and reload",
    )


UI_ROUTES = [ui_index, ui_file, ui_vendor]
