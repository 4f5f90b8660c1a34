"""Write budgets kept in the shared SQL database, so API replicas count one user's writes
together: a token bucket per user in one row, spent with a single conditional upsert."""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

_METADATA = sa.MetaData()
BUDGETS = sa.Table(
    "write_budgets",
    _METADATA,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("at", sa.Float, nullable=False),  # Unix time: the replicas' clocks agree on it
)


class SqlWriteBudgets:
    """`spend(key, cost)` answers the seconds to wait (0.0: spent). The bucket holds `capacity`
    tokens and refills at `rate` a second; a refused write spends nothing."""

    blocking = True  # a database round trip: the caller runs it off the event loop

    def __init__(
        self, engine: Engine, capacity: float, rate: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.engine = engine
        self.capacity = capacity
        self.rate = rate
        self.clock = clock
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert
        self._least = sa.func.least if engine.dialect.name == "postgresql" else sa.func.min

    def create(self) -> None:
        _METADATA.create_all(self.engine, checkfirst=True)

    def spend(self, key: str, cost: float) -> float:
        now = self.clock()
        table = BUDGETS
        refilled = self._least(
            sa.literal(self.capacity), table.c.tokens + (now - table.c.at) * self.rate
        )
        insert = self._insert(table).values(key=key, tokens=self.capacity - cost, at=now)
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"tokens": refilled - cost, "at": now},
            where=refilled >= cost,
        ).returning(table.c.tokens)
        with self.engine.begin() as connection:
            if connection.execute(statement).first() is not None:
                return 0.0
            tokens, at = connection.execute(
                sa.select(table.c.tokens, table.c.at).where(table.c.key == key)
            ).one()
        left = min(self.capacity, tokens + (now - at) * self.rate)
        return float(max(1.0, (cost - left) / self.rate))
