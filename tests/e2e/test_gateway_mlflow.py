"""The gateway against a real MLflow tracking server (tests/support/mlflow.py), through a real
`tradai serve`: experiments, runs, parameters and metrics written and read back through
/api/v1/proxy/mlflow/..., artifacts streamed up (within BACKEND_MAX_BODY_BYTES) and down through
MLflow's artifact proxy, MLflow's own errors passed through, and a viewer's write refused before
it reaches MLflow."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.e2e.conftest import client_for
from tests.support.mlflow import mlflow_server
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

API = "/proxy/mlflow/api/2.0/mlflow"
LIMIT_BYTES = 1_048_576  # BACKEND_MAX_BODY_BYTES's default: uploads through the gateway
UPLOAD_BYTES = 900 * 1024
DOWNLOAD_BYTES = 20 * 1024 * 1024


@dataclass
class Setup:
    mlflow: str  # MLflow's own URL, to check what reached it
    viewer: httpx.Client
    researcher: httpx.Client


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as mlflow:
        env = {"BACKEND_EXECUTOR": "off", "BACKEND_MLFLOW_TRACKING_URI": mlflow}
        with (
            ServerProcess(tmp_path_factory.mktemp("gateway-mlflow"), env) as server,
            client_for(server, "vera", "viewer") as viewer,
            client_for(server, "rex", "researcher") as researcher,
        ):
            yield Setup(mlflow, viewer, researcher)


def test_an_experiment_and_a_run_are_written_and_read_back_through_the_gateway(
    setup: Setup,
) -> None:
    name = f"tradai-{uuid.uuid4().hex[:8]}"
    created = setup.researcher.post(f"{API}/experiments/create", json={"name": name})
    assert created.status_code == 200, created.text
    experiment_id = created.json()["experiment_id"]
    run = setup.researcher.post(
        f"{API}/runs/create",
        json={"experiment_id": experiment_id, "start_time": int(time.time() * 1000)},
    )
    assert run.status_code == 200, run.text
    run_id = run.json()["run"]["info"]["run_id"]
    logged = setup.researcher.post(
        f"{API}/runs/log-batch",
        json={
            "run_id": run_id,
            "params": [{"key": "fast_span", "value": "12"}],
            "metrics": [
                {"key": "profit_total", "value": 0.0573, "timestamp": 1, "step": 0},
                {"key": "max_drawdown", "value": 0.0993, "timestamp": 1, "step": 0},
            ],
        },
    )
    assert logged.status_code == 200, logged.text

    # Read back by a viewer through the gateway, and straight from MLflow: the same run.
    through = setup.viewer.get(f"{API}/runs/get", params={"run_id": run_id})
    assert through.status_code == 200, through.text
    direct = httpx.get(f"{setup.mlflow}/api/2.0/mlflow/runs/get", params={"run_id": run_id})
    assert through.json() == direct.json()
    data = through.json()["run"]["data"]
    assert {p["key"]: p["value"] for p in data["params"]} == {"fast_span": "12"}
    assert {m["key"]: m["value"] for m in data["metrics"]} == {
        "profit_total": 0.0573,
        "max_drawdown": 0.0993,
    }
    found = setup.viewer.get(f"{API}/experiments/get-by-name", params={"experiment_name": name})
    assert found.status_code == 200
    assert found.json()["experiment"]["experiment_id"] == experiment_id
    assert "x-request-id" in found.headers


def sha256_through(client: httpx.Client, path: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    received = 0
    with client.stream("GET", path) as answer:
        assert answer.status_code == 200
        for chunk in answer.iter_bytes():
            digest.update(chunk)
            received += len(chunk)
    return received, digest.hexdigest()


def test_artifacts_stream_up_and_down_through_mlflows_artifact_proxy(setup: Setup) -> None:
    folder = f"api/2.0/mlflow-artifacts/artifacts/tradai/{uuid.uuid4().hex}"
    small = os.urandom(UPLOAD_BYTES)

    def chunks() -> Iterator[bytes]:  # a streamed upload (chunked), not one buffered body
        for start in range(0, len(small), 64 * 1024):
            yield small[start : start + 64 * 1024]

    put = setup.researcher.put(
        f"/proxy/mlflow/{folder}/params.bin",
        content=chunks(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert put.status_code == 200, put.text
    assert sha256_through(setup.viewer, f"/proxy/mlflow/{folder}/params.bin") == (
        len(small),
        hashlib.sha256(small).hexdigest(),
    )
    # A large artifact (written to MLflow directly) comes down through the gateway whole.
    large = os.urandom(DOWNLOAD_BYTES)
    direct = httpx.put(f"{setup.mlflow}/{folder}/result.bin", content=large, timeout=60)
    assert direct.status_code == 200, direct.text
    assert sha256_through(setup.viewer, f"/proxy/mlflow/{folder}/result.bin") == (
        len(large),
        hashlib.sha256(large).hexdigest(),
    )


def test_an_upload_over_the_body_limit_is_refused_and_never_reaches_mlflow(
    setup: Setup,
) -> None:
    folder = f"api/2.0/mlflow-artifacts/artifacts/tradai/{uuid.uuid4().hex}"
    refused = setup.researcher.put(
        f"/proxy/mlflow/{folder}/too-big.bin",
        content=os.urandom(LIMIT_BYTES + 1),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert refused.status_code == 413
    assert "BACKEND_MAX_BODY_BYTES" in refused.text or str(LIMIT_BYTES) in refused.text
    listed = httpx.get(
        f"{setup.mlflow}/api/2.0/mlflow-artifacts/artifacts",
        params={"path": folder.removeprefix("api/2.0/mlflow-artifacts/artifacts/")},
    )
    assert listed.status_code == 200 and not listed.json().get("files"), listed.text


def test_mlflows_own_errors_pass_through_unchanged(setup: Setup) -> None:
    missing = setup.viewer.get(f"{API}/runs/get", params={"run_id": "0" * 32})
    direct = httpx.get(f"{setup.mlflow}/api/2.0/mlflow/runs/get", params={"run_id": "0" * 32})
    assert missing.status_code == direct.status_code == 404
    assert missing.json()["error_code"] == direct.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_a_viewers_write_is_refused_before_it_reaches_mlflow(setup: Setup) -> None:
    name = f"viewer-{uuid.uuid4().hex[:8]}"
    refused = setup.viewer.post(f"{API}/experiments/create", json={"name": name})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    direct = httpx.get(
        f"{setup.mlflow}/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name}
    )
    assert direct.status_code == 404  # nothing was created
