"""The OpenAPI document is the contract: schemathesis runs every check over every operation of a
real server, in every phase (examples, coverage, fuzzing, stateful), and finds nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.controllers.asyncapi import ASYNCAPI_PATH
from tests.e2e.conftest import client_for
from tests.support.downstream import echo_server
from tests.support.server import ServerProcess
from tests.support.strategies import minimal

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES_PER_OPERATION = 30
SAMPLE = "SampleEmaCross"  # the strategy the document's examples name


@pytest.fixture(scope="module")
def downstream() -> Iterator[str]:
    """The services behind the gateway: a real HTTP server that answers every request."""
    with echo_server() as url:
        yield url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, downstream: str) -> Iterator[ServerProcess]:
    env = {
        "BACKEND_STRATEGY_SERVICE_URL": downstream,
        "BACKEND_DATA_COLLECTION_URL": downstream,
        "BACKEND_MLFLOW_TRACKING_URI": downstream,
        "BACKEND_EXECUTOR": "memory",  # jobs complete, so results, trades and equity answer
        "BACKEND_GATE_MIN_TRADES": "1",  # a memory run's three trades can pass the gates
        "BACKEND_RATE_LIMIT_PER_MINUTE": str(10**9),  # the limiter runs, the fuzzer never trips it
    }
    process = ServerProcess(tmp_path_factory.mktemp("contract"), env)
    process.start()
    try:
        with client_for(process, "seeder", "researcher") as client:
            registered = client.post(
                f"/strategies/{SAMPLE}/versions", json={"code": minimal(SAMPLE)}
            )
            assert registered.status_code == 201, registered.text
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def run(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One schemathesis run: its exit code, output, JSON summary and every exchange (HAR)."""
    reports = tmp_path_factory.mktemp("schemathesis")
    token = server.token("fuzzer", "admin")
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file", str(CONFIG),
            "run", f"{server.url}/schema/openapi.json",
            # Every check is on by default; the config turns one off in one phase (and says why).
            "--max-examples", str(EXAMPLES_PER_OPERATION),
            "--header", f"Authorization: Bearer {token}",
            "--request-timeout", "15",
            "--report", "json,har",
            "--report-dir", str(reports),
            "--no-color",
        ],
        cwd=reports,  # where schemathesis keeps its cache (.schemathesis/)
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    summary = json.loads(next(reports.glob("json-*.json")).read_text())
    entries = json.loads(next(reports.glob("har-*.json")).read_text())["log"]["entries"]
    statuses = Counter(e["response"]["status"] for e in entries)
    links = re.search(r"API Links:\s+(.*)", done.stdout)
    print(
        f"schemathesis {summary['schemathesis_version']}: {len(entries)} requests "
        f"({summary['test_cases']['generated']} test cases), "
        f"{summary['test_cases']['unique_failures']} failures, seed {summary['seed']}, "
        f"statuses {dict(sorted(statuses.items()))}, stateful links {links and links[1]}"
    )
    return {"done": done, "summary": summary, "entries": entries, "statuses": statuses}


def test_the_document_says_who_needs_a_token_and_what_errors_look_like(
    server: ServerProcess,
) -> None:
    document = httpx.get(f"{server.url}/schema/openapi.json", timeout=10).json()
    assert "security" not in document  # no global requirement: each operation says its own
    components = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            public = path in ("/health", "/ready", "/metrics", ASYNCAPI_PATH)
            assert operation.get("security") == (None if public else [{"BearerToken": []}]), path
            for status, answer in operation["responses"].items():
                if status.startswith("4"):
                    assert answer["content"] == {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    }, (method, path, status)
            if public:
                assert not any(s.startswith("4") for s in operation["responses"]), path
            else:
                assert {"401", "403"} <= set(operation["responses"]), (method, path)
            if method not in ("get", "head"):  # reads are not rate limited
                assert "429" in operation["responses"], (method, path)
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                closed = components[body["schema"]["$ref"].rsplit("/", 1)[1]]
                assert closed["additionalProperties"] is False, (method, path)
    assert set(components["Problem"]["required"]) == {"type", "title", "status", "detail"}


def test_schemathesis_finds_no_failure(run: dict[str, Any]) -> None:
    done, summary = run["done"], run["summary"]
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    assert summary["failures"] == [] and summary["errors"] == [], done.stdout[-8000:]
    assert summary["test_cases"]["with_failures"] == 0
    operations = summary["operations"]
    assert operations["tested"] == operations["total"] > 20 and operations["errored"] == 0
    for phase in ("examples", "coverage", "fuzzing", "stateful"):
        assert summary["phases"][phase]["status"] == "success", (phase, summary["phases"])
    assert len(run["entries"]) > 20 * operations["total"]
    covered = re.search(r"API Links:\s+(\d+) covered", done.stdout)
    assert covered and int(covered[1]) > 0, "the stateful phase followed no link"


def test_no_server_error_and_every_4xx_is_a_problem_document(run: dict[str, Any]) -> None:
    statuses: Counter[int] = run["statuses"]
    assert not [s for s in statuses if s >= 500], statuses
    assert statuses[200] and statuses[201] and statuses[202], "the run reached the core"
    for entry in run["entries"]:
        response = entry["response"]
        if 400 <= response["status"] < 500:
            assert response["content"]["mimeType"].startswith("application/problem+json"), entry
            if entry["request"]["method"] == "HEAD":
                continue  # the same answer as a GET's, without its body
            problem = json.loads(response["content"]["text"])
            assert problem["status"] == response["status"] and problem["detail"], problem


def test_only_answered_writes_left_anything(server: ServerProcess, run: dict[str, Any]) -> None:
    """Every job, version and promotion that exists was answered 2xx: refused or malformed
    requests wrote nothing, not even part of what they asked for."""
    answered: dict[str, set[str]] = {
        "jobs": set(),
        "versions": {f"{SAMPLE}/1"},
        "promotions": set(),
    }
    for entry in run["entries"]:
        request, response = entry["request"], entry["response"]
        path = re.sub(r"^https?://[^/]+", "", request["url"]).split("?")[0]
        if request["method"] != "POST" or response["status"] not in (201, 202):
            continue
        body = json.loads(response["content"]["text"])
        if path == "/api/v1/backtests":
            answered["jobs"].add(body["id"])
        elif path.endswith("/versions"):
            answered["versions"].add(f"{body['name']}/{body['version']}")
        elif path.endswith("/promotions"):
            answered["promotions"].add(body["id"])
    with client_for(server, "auditor", "viewer") as client:
        stored = {
            "jobs": {j["id"] for j in _every(client, "/backtests")},
            "versions": {
                f"{s['name']}/{v}" for s in _every(client, "/strategies") for v in s["versions"]
            },
            "promotions": {p["id"] for p in _every(client, "/promotions")},
        }
    assert stored == answered
    assert answered["jobs"] and len(answered["versions"]) > 1


def _every(client: httpx.Client, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = client.get(path, params={"limit": 200} | ({"cursor": cursor} if cursor else {}))
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items
