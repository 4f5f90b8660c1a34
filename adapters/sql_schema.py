"""The read model's tables (SQLAlchemy Core); `prefix` names a separate set, e.g. for rebuilds."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa


@dataclass(frozen=True)
class ReadModelTables:
    metadata: sa.MetaData
    jobs: sa.Table
    strategies: sa.Table
    versions: sa.Table
    results: sa.Table
    trades: sa.Table
    promotions: sa.Table
    sweeps: sa.Table
    positions: sa.Table


def read_model_tables(prefix: str = "") -> ReadModelTables:
    """Each document is stored whole (msgspec JSON) next to the columns queries filter on."""
    md = sa.MetaData()
    jobs = sa.Table(
        f"{prefix}backtest_jobs", md,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("strategy", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sort_key", sa.BigInteger, nullable=False),
        sa.Column("doc", sa.LargeBinary, nullable=False),
        sa.Column("sweep_id", sa.String(36), nullable=True),  # a sweep's trial
        sa.Index(f"{prefix}ix_jobs_order", "sort_key", "id"),
        sa.Index(f"{prefix}ix_jobs_strategy", "strategy", "sort_key"),
        sa.Index(f"{prefix}ix_jobs_status", "status", "sort_key"),
        sa.Index(f"{prefix}ix_jobs_sweep", "sweep_id", "sort_key"),
    )  # fmt: skip
    strategies = sa.Table(
        f"{prefix}strategies", md,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("doc", sa.LargeBinary, nullable=False),
    )  # fmt: skip
    versions = sa.Table(
        f"{prefix}strategy_versions", md,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("doc", sa.LargeBinary, nullable=False),
        sa.Index(f"{prefix}ix_versions_name", "name", "number"),
    )  # fmt: skip
    results = sa.Table(
        f"{prefix}backtest_results", md,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("doc", sa.LargeBinary, nullable=False),
    )  # fmt: skip
    trades = sa.Table(
        f"{prefix}backtest_trades", md,
        sa.Column("job_id", sa.String(36), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("doc", sa.LargeBinary, nullable=False),
    )  # fmt: skip
    promotions = sa.Table(
        f"{prefix}strategy_promotions", md,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sort_key", sa.BigInteger, nullable=False),
        sa.Column("doc", sa.LargeBinary, nullable=False),
        sa.Index(f"{prefix}ix_promotions_order", "sort_key", "id"),
    )  # fmt: skip
    sweeps = sa.Table(
        f"{prefix}sweeps", md,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("sort_key", sa.BigInteger, nullable=False),
        sa.Column("doc", sa.LargeBinary, nullable=False),
        sa.Index(f"{prefix}ix_sweeps_order", "sort_key", "id"),
        sa.Index(f"{prefix}ix_sweeps_status", "status", "sort_key"),
    )  # fmt: skip
    positions = sa.Table(
        f"{prefix}projection_positions", md,
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )  # fmt: skip

    return ReadModelTables(
        md, jobs, strategies, versions, results, trades, promotions, sweeps, positions
    )
