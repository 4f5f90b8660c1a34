"""Deterministic aggregate ids, so that names map to one aggregate without a lookup table."""

from __future__ import annotations

from uuid import UUID, uuid5

# A fixed namespace for this service's name-derived ids; changing it would orphan stored aggregates.
NAMESPACE = UUID("6f1c1f3e-2b7a-4c55-9d0e-7a4f3b8e9c21")


def strategy_id(name: str) -> UUID:
    """Id of the catalog entry of the strategy called `name`."""
    return uuid5(NAMESPACE, f"strategy:{name}")


def strategy_version_id(name: str, version: int) -> UUID:
    """Id of version `version` of the strategy called `name`."""
    return uuid5(NAMESPACE, f"strategy-version:{name}:{version}")
