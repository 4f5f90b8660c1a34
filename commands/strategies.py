"""Handlers of strategy catalog commands: register a version."""

from __future__ import annotations

import random
import time

from commands.errors import ConcurrencyConflict, NotOwner
from commands.idempotency import Outcome, Remember, run_idempotent
from commands.messages import AddMaintainer, RegisterStrategyVersion, RemoveMaintainer
from commands.store import EventStore
from commands.views import (
    MaintainersView,
    StrategyVersionView,
    maintainers_view,
    strategy_version_view,
)
from domain.identity import strategy_id
from domain.strategy import Strategy, check_strategy_name
from domain.strategy_version import StrategyVersion

# Researchers registering at once race for the same number; a loser retries with the next one,
# after a short random pause so that a crowd of retries spreads out instead of colliding again.
_REGISTER_ATTEMPTS = 30
_MAX_PAUSE_SECONDS = 0.005


class StrategyCommands:
    """Command handlers for Strategy and StrategyVersion aggregates."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def register_strategy_version(
        self,
        command: RegisterStrategyVersion,
        actor: str,
        idempotency_key: str | None = None,
        *,
        admin: bool = False,
    ) -> tuple[StrategyVersionView, Outcome]:
        """Register the code as the next version of the strategy, creating the strategy if new.
        A name belongs to whoever registered its first version: only they, their maintainers
        and admins add versions (NotOwner otherwise)."""
        check_strategy_name(command.name)

        def execute(remember: Remember[StrategyVersionView]) -> tuple[StrategyVersionView, int]:
            for attempt in range(_REGISTER_ATTEMPTS):
                sid = strategy_id(command.name)
                if self.store.exists(sid):
                    strategy: Strategy = self.store.load(sid, "strategy", command.name)
                    _check_maintainer(strategy, actor, admin)
                else:
                    strategy = Strategy(name=command.name, created_by=actor)
                version = StrategyVersion.register(
                    name=command.name,
                    number=strategy.next_version,
                    code=command.code,
                    parameters=command.parameters,
                    description=command.description,
                    registered_by=actor,
                )
                strategy.add_version(version.number, version.id, version.code_sha256)
                view = strategy_version_view(version)
                try:
                    return view, self.store.commit(strategy, version, remember(view))
                except ConcurrencyConflict:
                    if attempt == _REGISTER_ATTEMPTS - 1:
                        raise
                    time.sleep(random.uniform(0, _MAX_PAUSE_SECONDS))
            raise AssertionError("unreachable")

        return run_idempotent(
            self.store, actor, idempotency_key, command, StrategyVersionView, execute
        )

    def change_maintainers(
        self,
        command: AddMaintainer | RemoveMaintainer,
        actor: str,
        idempotency_key: str | None = None,
        *,
        admin: bool = False,
    ) -> tuple[MaintainersView, Outcome]:
        """Let `command.user` register versions of the strategy, or take that back; only the
        owner or an admin may (NotOwner). Granting twice changes nothing."""
        name = command.name
        check_strategy_name(name)

        def execute(remember: Remember[MaintainersView]) -> tuple[MaintainersView, int]:
            strategy: Strategy = self.store.load(strategy_id(name), "strategy", name)
            if not (admin or actor == strategy.owner):
                raise NotOwner(
                    f"only {strategy.owner} (the owner of {name}) or an admin changes who "
                    f"maintains it"
                )
            if isinstance(command, AddMaintainer):
                strategy.add_maintainer(command.user, added_by=actor)
            else:
                strategy.remove_maintainer(command.user, removed_by=actor)
            view = maintainers_view(strategy)
            return view, self.store.commit(strategy, remember(view))

        return run_idempotent(self.store, actor, idempotency_key, command, MaintainersView, execute)


def _check_maintainer(strategy: Strategy, actor: str, admin: bool) -> None:
    if admin or strategy.maintained_by(actor):
        return
    raise NotOwner(
        f"strategy {strategy.name} belongs to {strategy.owner}; only its owner, the maintainers "
        f"they add (POST /api/v1/strategies/{strategy.name}/maintainers) and admins register "
        f"versions of it. Register your code under a name of your own"
    )
