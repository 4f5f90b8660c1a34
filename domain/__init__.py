"""The TradAI domain: aggregates, their events and invariants (stdlib + eventsourcing.domain only)."""
