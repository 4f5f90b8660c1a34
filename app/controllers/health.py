"""Liveness and readiness: public, for load balancers and orchestrators."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.openapi import ResponseSpec

from app.bootstrap import Container
from app.schemas import Health
from projections.runner import SubscriberRunner

# A subscriber further behind than this is 'lagging' and the replica is not ready.
MAX_LAG = 10_000


class HealthController(Controller):
    path = ""
    tags = ["operations"]

    @get("/health", sync_to_thread=False)
    def health(self) -> Health:
        """The process is alive."""
        return Health(status="ok")

    @get(
        "/ready",
        sync_to_thread=True,
        responses={503: ResponseSpec(Health, description="not ready")},
    )
    def ready(self, container: Container) -> Response[Health]:
        """The event store and read model answer and every subscriber keeps up."""
        checks: dict[str, str] = {}
        positions: dict[str, int] = {}
        gauges: dict[str, int] = {}
        try:
            head = container.store.max_position()
            checks["event_store"] = "ok"
            positions["event_store"] = head
        except Exception as error:
            head = 0
            checks["event_store"] = f"unreachable: {type(error).__name__}"
        try:
            container.read_store.ping()
            checks["read_model"] = "ok"
        except Exception as error:
            checks["read_model"] = f"unreachable: {type(error).__name__}"
        for runner, position, lag in subscriber_lags(container, head):
            positions[runner.name] = position
            if runner is container.relay:
                # Commands and queries work without the broker: a lagging relay or a broker
                # that is down degrades the service, it does not make it unready.
                gauges["kafka_relay_lag"] = lag
                checks[f"subscriber:{runner.name}"] = _relay_state(runner, lag)
            elif runner.last_error:
                checks[f"subscriber:{runner.name}"] = f"failing: {runner.last_error}"
            elif lag > MAX_LAG and runner is container.read_model:  # the executor may queue
                checks[f"subscriber:{runner.name}"] = f"lagging by {lag} events"
            else:
                checks[f"subscriber:{runner.name}"] = f"ok (position {runner.position})"
        if container.sandbox is not None:
            # Not a readiness failure: an unsandboxed run is an operator's explicit choice.
            checks["sandbox"] = f"ok ({container.sandbox})"
        if container.hub is not None:
            gauges["websocket_clients"] = container.hub.client_count
            gauges["websocket_subscriptions"] = container.hub.subscription_count
        ok = all(v.startswith(("ok", "degraded")) for v in checks.values())
        degraded = any(v.startswith("degraded") for v in checks.values())
        health = Health(
            status=("degraded" if degraded else "ok") if ok else "not ready",
            checks=checks,
            positions=positions,
            gauges=gauges,
        )
        return Response(health, status_code=200 if ok else 503)


def subscriber_lags(container: Container, head: int) -> list[tuple[SubscriberRunner, int, int]]:
    """Each subscriber with its position and how many events it is behind `head` (the event
    store's last position): what /ready checks and /metrics exposes."""
    lags = []
    for runner in container.subscribers:
        position = runner.position  # read once: the runner's thread moves it on
        lags.append((runner, position, max(head - position, 0)))
    return lags


# The relay is 'lagging' beyond this many events (a steady load keeps it within a batch or two).
RELAY_MAX_LAG = 5_000


def _relay_state(runner: SubscriberRunner, lag: int) -> str:
    if runner.last_error:
        return f"degraded: broker unreachable or refusing ({runner.last_error}); lag {lag} events"
    if lag > RELAY_MAX_LAG:
        return f"degraded: lagging by {lag} events"
    return f"ok (position {runner.position}, lag {lag} events)"
