"""Where artifacts and candles live, by the settings: local directories, or S3 (boto3 is
imported only when an s3:// URL is configured)."""

from __future__ import annotations

from adapters.artifact_store import LocalArtifactStore
from adapters.market_data import LocalMarketData, MarketData
from app.settings import Settings
from projections.ports import ArtifactStore


def open_artifact_store(settings: Settings) -> ArtifactStore:
    """BACKEND_ARTIFACTS_URL=s3://... keeps artifacts in S3; otherwise a local directory."""
    if settings.artifacts_s3_url:
        from adapters.aws.s3_artifacts import S3ArtifactStore

        return S3ArtifactStore(settings.artifacts_s3_url)
    return LocalArtifactStore(settings.artifacts_path)


def open_market_data(settings: Settings) -> MarketData:
    """BACKEND_MARKET_DATA_DIR=s3://... reads candles from S3 through a local cache (made
    here, readable by all: the sandbox binds it); otherwise the local directory."""
    if settings.market_data_url:
        from adapters.aws.s3_market_data import S3MarketData

        data = S3MarketData(settings.market_data_url, settings.market_data_cache_path)
        data.create()
        return data
    return LocalMarketData(settings.market_data_path)
