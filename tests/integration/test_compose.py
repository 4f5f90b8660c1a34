"""compose.yaml, validated without a Docker engine.

- docker-compose 1.29 (`make test` installs it: scripts/ensure-docker-compose.sh) checks the file
  against its schema and interpolates it; each required secret really is required.
- The interpolated services: the topology (two APIs with the `sqs` executor, two workers, the
  one-shot `init`), and every BACKEND_* variable a setting the service knows, with values
  `load_settings` accepts.
- No secret in the file: secrets are ${NAME:?why} references, and .env.example lists each one
  with a placeholder.
- The `init` service's own command, run against moto server and a real PostgreSQL: queues with
  the redrive policy, the bucket, the sample candles in S3 and the sample strategy; twice.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from adapters.event_store import open_event_store
from app.settings import PREFIX, Settings, load_settings
from domain.identity import strategy_id
from tests.support.aws import ACCESS_KEY_ID, SECRET_ACCESS_KEY, MotoServer, boto3_client
from tests.support.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"

# The secrets compose.yaml must take from the environment, with the dummy values tests use.
SECRETS = {
    "POSTGRES_PASSWORD": "dummy-postgres-password",
    "BACKEND_JWT_SECRET": "dummy-jwt-secret-dummy-jwt-secret-0123456789",
    "TRADAI_WORKER_TOKEN": "dummy-worker-token",
    "AWS_ACCESS_KEY_ID": "dummy-access-key-id",
    "AWS_SECRET_ACCESS_KEY": "dummy-secret-access-key",
}
TRADAI_IMAGE_SERVICES = ("init", "api-1", "api-2", "relay", "worker-1", "worker-2")
REQUIRED_REFERENCE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*):\?[^}]*\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL", re.I)
JWT = re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*")
AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
URL_PASSWORD = re.compile(r"://[^/:@\s]+:([^@\s]+)@")


def docker_compose() -> str:
    found = shutil.which("docker-compose")
    if not found:
        pytest.fail(
            "docker-compose is not installed: `make test` installs it "
            "(scripts/ensure-docker-compose.sh, Debian's package), then run the tests again"
        )
    return found


def run_compose(
    tmp_path: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """docker-compose on compose.yaml with exactly `env` (no developer's variables, and an empty
    env file instead of a local .env)."""
    empty = tmp_path / "empty.env"
    empty.write_text("")
    command = [docker_compose(), "--env-file", str(empty), "-f", str(COMPOSE), *args]
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    return subprocess.run(
        command, check=False, cwd=ROOT, env=base | env, capture_output=True, text=True, timeout=60
    )


def config(tmp_path: Path, extra: dict[str, str] | None = None) -> dict[str, Any]:
    """The file as docker-compose reads it: anchors merged, variables interpolated."""
    result = run_compose(tmp_path, SECRETS | (extra or {}), "config")
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def secret_literals(document: dict[str, Any]) -> list[str]:
    """What in a compose document looks like a secret written into it."""
    found = []
    for text in strings(document):
        if JWT.search(text) or AWS_KEY_ID.search(text) or "-----BEGIN" in text:
            found.append(text)
        for password in URL_PASSWORD.findall(text):
            if not REQUIRED_REFERENCE.fullmatch(password):
                found.append(text)
    for name, service in (document.get("services") or {}).items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key) and not REQUIRED_REFERENCE.fullmatch(value):
                found.append(f"{name}: {key}={value}")
    return found


# --- docker-compose's own validation ---------------------------------------------------------


def test_compose_file_is_valid_with_the_secrets_set(tmp_path: Path) -> None:
    result = run_compose(tmp_path, SECRETS, "config", "-q")
    assert result.returncode == 0, result.stderr


def test_the_required_variables_are_the_secrets() -> None:
    document = yaml.safe_load(COMPOSE.read_text())  # values only, not the comments
    required = {name for text in strings(document) for name in REQUIRED_REFERENCE.findall(text)}
    assert required == set(SECRETS)


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_a_missing_secret(tmp_path: Path, missing: str) -> None:
    env = {k: v for k, v in SECRETS.items() if k != missing}
    result = run_compose(tmp_path, env, "config", "-q")
    assert result.returncode != 0
    assert f"set {missing}" in result.stderr, result.stderr
    for value in env.values():  # the error names the variable, and shows no secret
        assert value not in result.stderr


# --- the topology -----------------------------------------------------------------------------


def test_every_backend_variable_is_a_setting_the_service_accepts(tmp_path: Path) -> None:
    services = config(tmp_path)["services"]
    fields = set(Settings.__struct_fields__)
    seen = set()
    for name, service in services.items():
        env = environment(service)
        backend = {k for k in env if k.startswith(PREFIX)}
        unknown = {k for k in backend if k.removeprefix(PREFIX).lower() not in fields}
        assert not unknown, f"{name}: not settings: {sorted(unknown)}"
        seen |= backend
        if name in TRADAI_IMAGE_SERVICES:
            load_settings(env)  # values the service accepts, not only names
    assert "BACKEND_EXECUTOR" in seen


def test_topology(tmp_path: Path) -> None:
    services = config(tmp_path)["services"]
    assert set(TRADAI_IMAGE_SERVICES) | {"postgres", "kafka", "aws"} <= set(services)
    assert services["postgres"]["image"] == "postgres:16"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert environment(services["kafka"])["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["aws"]["image"].startswith("motoserver/moto:")
    for name in ("postgres", "kafka", "aws"):
        assert services[name]["healthcheck"]["test"], name
    images = {services[name]["image"] for name in TRADAI_IMAGE_SERVICES}
    assert len(images) == 1, images  # one TradAI image, built from the Dockerfile
    for name in TRADAI_IMAGE_SERVICES:
        assert services[name]["build"]["context"] == str(ROOT)
        assert not services[name].get("privileged"), name

    init = services["init"]
    assert init["restart"] == "no"
    assert init["command"][:2] == ["python", "-c"] and "tradai" in init["command"][2]
    assert init["depends_on"]["postgres"]["condition"] == "service_healthy"

    api_env = {}
    for name in ("api-1", "api-2"):
        api = services[name]
        env = environment(api)
        api_env[name] = env
        assert env["BACKEND_EXECUTOR"] == "sqs"
        assert env["BACKEND_SQS_QUEUE_URL"] and env["BACKEND_SQS_DEAD_LETTER_QUEUE_URL"]
        assert env["BACKEND_JWT_SECRET"] == SECRETS["BACKEND_JWT_SECRET"]
        assert "/ready" in " ".join(api["healthcheck"]["test"])
        assert api["depends_on"]["init"]["condition"] == "service_completed_successfully"
        for dependency in ("postgres", "aws"):
            assert api["depends_on"][dependency]["condition"] == "service_healthy"
    assert api_env["api-1"] == api_env["api-2"]  # replicas of one service

    for name in ("worker-1", "worker-2"):
        worker = services[name]
        env = environment(worker)
        assert worker["command"] == ["tradai", "worker"]
        target = re.fullmatch(r"http://(api-\d):8000", env["TRADAI_URL"])
        assert target and target.group(1) in services, env["TRADAI_URL"]
        assert worker["depends_on"][target.group(1)]["condition"] == "service_healthy"
        assert env["TRADAI_TOKEN"] == SECRETS["TRADAI_WORKER_TOKEN"]
        for shared in ("BACKEND_SQS_QUEUE_URL", "BACKEND_ARTIFACTS_URL", "BACKEND_MARKET_DATA_DIR"):
            assert env[shared] == api_env["api-1"][shared], shared
        # A worker holds no database credentials and cannot mint tokens.
        assert not {"BACKEND_JWT_SECRET", "BACKEND_EVENT_STORE_URL"} & set(env)
        assert env.get("BACKEND_SANDBOX", "bubblewrap") == "bubblewrap"
        # bubblewrap's user namespace inside the container; no added capability.
        assert "seccomp=unconfined" in worker["security_opt"]
        assert "apparmor=unconfined" in worker["security_opt"]
        assert "systempaths=unconfined" in worker["security_opt"]
        assert not worker.get("cap_add")

    relay = environment(services["relay"])
    assert relay["BACKEND_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert services["relay"]["depends_on"]["kafka"]["condition"] == "service_healthy"


# --- no secret in the file --------------------------------------------------------------------


def test_no_secret_literal_in_the_file() -> None:
    document = yaml.safe_load(COMPOSE.read_text())
    assert secret_literals(document) == []


def test_the_secret_check_finds_literals() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    document = {
        "services": {
            "db": {"environment": {"POSTGRES_PASSWORD": "tradai"}},
            "api": {
                "environment": [
                    "BACKEND_EVENT_STORE_URL=postgresql://tradai:hunter2@db:5432/tradai",
                    f"TRADAI_TOKEN=${{TRADAI_WORKER_TOKEN:?x}} {token}",
                ]
            },
        }
    }
    found = secret_literals(document)
    assert any("POSTGRES_PASSWORD=tradai" in f for f in found)
    assert any("hunter2" in f for f in found)
    assert any(token in f for f in found)


def test_env_example_lists_every_secret_with_a_placeholder() -> None:
    lines = [line.strip() for line in ENV_EXAMPLE.read_text().splitlines()]
    values = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert set(values) == set(SECRETS)
    for name, value in values.items():
        assert value.startswith("change-me"), f"{name} must be a placeholder, not a secret"


# --- the init service, run against the stand-ins ----------------------------------------------


@pytest.mark.postgres
@pytest.mark.aws
def test_init_command_creates_queues_bucket_and_seeds(
    tmp_path: Path, moto_server: MotoServer, postgres: PostgresServer
) -> None:
    suffix = uuid.uuid4().hex[:10]
    names = {
        "TRADAI_SQS_QUEUE_URL": f"http://aws:5000/123456789012/tradai-jobs-{suffix}",
        "TRADAI_SQS_DEAD_LETTER_QUEUE_URL": f"http://aws:5000/123456789012/tradai-dead-{suffix}",
        "TRADAI_BUCKET": f"tradai-runs-{suffix}",
    }
    init = config(tmp_path, names)["services"]["init"]
    database = postgres.new_database()
    env = environment(init) | {
        "AWS_ENDPOINT_URL": moto_server.endpoint,  # the `aws` service
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "BACKEND_EVENT_STORE_URL": database,  # the `postgres` service
        "BACKEND_READ_MODEL_URL": database,
        "BACKEND_DATA_DIR": str(tmp_path / "data"),  # the image's BACKEND_DATA_DIR
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "LANG": "C.UTF-8",
    }
    command = [sys.executable, *init["command"][1:]]  # `python` of the image: this venv's

    first = subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=180
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert "registered SampleEmaCross" in first.stdout

    sqs = boto3_client("sqs", moto_server.endpoint)
    # The services use the configured URLs (host `aws`) with AWS_ENDPOINT_URL: moto takes them.
    attributes = sqs.get_queue_attributes
    jobs = attributes(QueueUrl=env["BACKEND_SQS_QUEUE_URL"], AttributeNames=["All"])
    dead = attributes(QueueUrl=env["BACKEND_SQS_DEAD_LETTER_QUEUE_URL"], AttributeNames=["All"])
    redrive = json.loads(jobs["Attributes"]["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dead["Attributes"]["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == int(env["TRADAI_MAX_RECEIVE_COUNT"])
    assert jobs["Attributes"]["VisibilityTimeout"] == env["TRADAI_VISIBILITY_TIMEOUT_SECONDS"]

    s3 = boto3_client("s3", moto_server.endpoint)
    listed = s3.list_objects_v2(Bucket=names["TRADAI_BUCKET"], Prefix="market-data/")
    keys = {item["Key"] for item in listed.get("Contents", [])}
    assert "market-data/binance/BTC_USDT-5m.feather" in keys, keys
    store = open_event_store(database)
    try:
        assert store.exists(strategy_id("SampleEmaCross"))
    finally:
        store.close()

    again = subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=180
    )
    assert again.returncode == 0, again.stdout + again.stderr  # `up` may run it again
    assert "registered already" in again.stdout
