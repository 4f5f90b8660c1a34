"""The TradAI domain: aggregates, events, invariants (stdlib and eventsourcing.domain only)."""
