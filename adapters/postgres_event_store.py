"""The event store on PostgreSQL: what eventsourcing's recorder does not offer, in SQL."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.sql import SQL, Identifier

from adapters.event_store import decode_rows
from commands.store import EventStore, StoredEvent


class PostgresEventStore(EventStore):
    """The event store on PostgreSQL; one aggregate's events come with their positions from
    one query on the primary key."""

    def aggregate_history(self, aggregate_id: UUID) -> list[StoredEvent]:
        recorder: Any = self.recorder
        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {schema}.{table} WHERE originator_id = %s ORDER BY originator_version"
        ).format(
            schema=Identifier(recorder.datastore.schema),
            table=Identifier(recorder.events_table_name),
        )
        with recorder.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement, [aggregate_id])
            # PostgreSQL hands back UUIDs already: no conversion.
            return decode_rows(self, cursor.fetchall(), "notification_id", convert=None)
