"""Where artifacts and candles live: local directories by default, s3://bucket/prefix on demand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adapters.aws.s3_url import S3Url
from app.settings import SettingsError, load_settings


def test_the_local_directories_stay_the_default(tmp_path: Path) -> None:
    settings = load_settings({"BACKEND_DATA_DIR": str(tmp_path)})
    assert settings.artifacts_s3_url == "" and settings.market_data_url == ""
    assert settings.artifacts_path == tmp_path / "artifacts"
    assert settings.market_data_path == tmp_path / "market-data"
    own = load_settings({"BACKEND_ARTIFACTS_DIR": str(tmp_path / "a")})
    assert own.artifacts_path == tmp_path / "a"
    # The URL may name a local directory too.
    assert load_settings({"BACKEND_ARTIFACTS_URL": str(tmp_path / "b")}).artifacts_path == (
        tmp_path / "b"
    )


def test_s3_urls_are_never_taken_for_paths(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "BACKEND_DATA_DIR": str(tmp_path),
            "BACKEND_ARTIFACTS_URL": "s3://runs-bucket/tradai/artifacts/",
            "BACKEND_MARKET_DATA_DIR": "s3://candles-bucket",
        }
    )
    assert settings.artifacts_s3_url == "s3://runs-bucket/tradai/artifacts/"
    assert settings.market_data_url == "s3://candles-bucket"
    # Workers read the cache of the S3 data, never a path made of the URL.
    assert settings.market_data_path == settings.market_data_cache_path
    assert settings.market_data_cache_path == tmp_path / "market-data-cache"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BACKEND_ARTIFACTS_URL", "s3://", "not an S3 bucket name"),
        ("BACKEND_ARTIFACTS_URL", "s3://Bad_Bucket/x", "not an S3 bucket name"),
        ("BACKEND_MARKET_DATA_DIR", "s3://bucket/../x", r"\.\. parts"),
        ("BACKEND_MARKET_DATA_DIR", "https://example.com/candles", "local directory or s3://"),
        ("BACKEND_ARTIFACTS_URL", "gs://bucket/x", "local directory or s3://"),
    ],
)
def test_bad_locations_stop_the_service(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({variable: value})


def test_artifacts_url_and_dir_together_are_refused() -> None:
    with pytest.raises(SettingsError, match="not both"):
        load_settings({"BACKEND_ARTIFACTS_URL": "s3://bucket/a", "BACKEND_ARTIFACTS_DIR": "x"})


def test_s3_url_keys() -> None:
    assert S3Url.parse("s3://bucket//a/b/") == S3Url("bucket", "a/b")
    assert S3Url.parse("s3://bucket").key("j", "1", "result") == "j/1/result"
    assert S3Url.parse("s3://bucket/p").key("binance/BTC_USDT-5m.feather") == (
        "p/binance/BTC_USDT-5m.feather"
    )
    assert str(S3Url.parse("s3://bucket/p/")) == "s3://bucket/p"


def test_boto3_is_imported_only_when_s3_is_configured(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from app.settings import load_settings\n"
        "from app.bootstrap import bootstrap\n"
        "import app.cli, app.factory, app.rebuild\n"
        "container = bootstrap(load_settings())\n"
        "print(type(container.artifacts).__name__, 'boto3' in sys.modules)\n"
    )
    env = {"BACKEND_DATA_DIR": str(tmp_path), "BACKEND_EXECUTOR": "off", "PATH": "/usr/bin"}
    local = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert local.stdout.split() == ["LocalArtifactStore", "False"]
    s3 = subprocess.run(
        [sys.executable, "-c", script],
        env=env | {"BACKEND_ARTIFACTS_URL": "s3://bucket/a", "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert s3.stdout.split() == ["S3ArtifactStore", "True"]
