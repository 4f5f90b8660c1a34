"""The AsyncAPI document a real server serves: public, JSON, the generated one (and the copy in
docs/asyncapi.json), with the topic prefix the server is configured with."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from app.asyncapi import asyncapi_document
from app.controllers.asyncapi import ASYNCAPI_PATH
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

DOC = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


def test_the_served_document_is_the_generated_one_without_a_token(server: ServerProcess) -> None:
    answer = httpx.get(f"{server.url}{ASYNCAPI_PATH}", timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    served = answer.json()
    assert served == json.loads(json.dumps(asyncapi_document()))
    assert served == json.loads(DOC.read_text())
    assert served["asyncapi"].startswith("3.")


def test_the_openapi_document_lists_it_as_public(server: ServerProcess) -> None:
    openapi = httpx.get(f"{server.url}/schema/openapi.json", timeout=10).json()
    operation = openapi["paths"][ASYNCAPI_PATH]["get"]
    assert "security" not in operation
    assert set(operation["responses"]) == {"200"}
    assert "application/json" in operation["responses"]["200"]["content"]


def test_topics_carry_the_configured_prefix(tmp_path: Path) -> None:
    process = ServerProcess(
        tmp_path, {"BACKEND_EXECUTOR": "off", "BACKEND_KAFKA_TOPIC_PREFIX": "acme"}
    )
    process.start()
    try:
        served = httpx.get(f"{process.url}{ASYNCAPI_PATH}", timeout=10).json()
    finally:
        process.stop()
    assert served == json.loads(json.dumps(asyncapi_document("acme")))
    assert served["channels"]["backtest-jobs"]["address"] == "acme.backtest-jobs"
