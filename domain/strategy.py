"""The Strategy aggregate: a named entry in the catalog that numbers its versions."""

from __future__ import annotations

import re
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import IllegalTransition, InvalidValue, UnknownItem
from domain.identity import strategy_id

# Freqtrade loads a strategy by its class name, so a strategy name must be a Python identifier.
STRATEGY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def check_strategy_name(name: str) -> None:
    """Raise InvalidValue unless `name` can be a strategy (a Python class) name."""
    if not STRATEGY_NAME.fullmatch(name):  # `$` alone lets a trailing newline through
        raise InvalidValue(
            "name",
            f"{name!r} is not a strategy name: use letters, digits and _ (not first), 1-64 chars",
        )


class Strategy(Aggregate):
    """Catalog entry of one strategy; it hands out version numbers 1, 2, ... in order."""

    class Created(Aggregate.Created):
        """The first version of a strategy with this name was registered."""

        name: str
        created_by: str

    class VersionAdded(Aggregate.Event):
        """Version `number` (aggregate `version_id`) now belongs to this strategy."""

        number: int
        version_id: UUID
        code_sha256: str

        def apply(self, strategy: Strategy) -> None:
            strategy.versions[self.number] = self.version_id

    class StageAssigned(Aggregate.Event):
        """Version `number` now holds `stage` for this strategy."""

        stage: str
        number: int

        def apply(self, strategy: Strategy) -> None:
            strategy.stages[self.stage] = self.number

    class Deployed(Aggregate.Event):
        """Revision `revision` of `environment` runs version `number`."""

        environment: str
        revision: int
        number: int
        deployed_by: str

        def apply(self, strategy: Strategy) -> None:
            strategy.revisions.setdefault(self.environment, []).append(self.number)

    class RolledBack(Aggregate.Event):
        """Revision `revision` of `environment` goes back to what `to_revision` ran."""

        environment: str
        revision: int
        number: int
        from_revision: int
        to_revision: int
        rolled_back_by: str

        def apply(self, strategy: Strategy) -> None:
            strategy.revisions.setdefault(self.environment, []).append(self.number)

    class MaintainerAdded(Aggregate.Event):
        """`user` may now register versions of this strategy, granted by `added_by`."""

        user: str
        added_by: str

        def apply(self, strategy: Strategy) -> None:
            strategy.maintainers.add(self.user)

    class MaintainerRemoved(Aggregate.Event):
        """`user` may no longer register versions of this strategy (`removed_by` said so)."""

        user: str
        removed_by: str

        def apply(self, strategy: Strategy) -> None:
            strategy.maintainers.discard(self.user)

    @staticmethod
    def create_id(name: str, **_: object) -> UUID:
        return strategy_id(name)

    @event(Created)
    def __init__(self, name: str, created_by: str) -> None:
        check_strategy_name(name)
        self.name = name
        self.created_by = created_by
        self.versions: dict[int, UUID] = {}
        self.stages: dict[str, int] = {}
        # environment -> the version number of each revision (revision n is at index n - 1)
        self.revisions: dict[str, list[int]] = {}
        # Who besides the owner (`created_by`) may register versions.
        self.maintainers: set[str] = set()

    @property
    def owner(self) -> str:
        """The user who registered the first version: the name is theirs."""
        return self.created_by

    def maintained_by(self, user: str) -> bool:
        """True when `user` owns the strategy or was made one of its maintainers."""
        return user == self.created_by or user in self.maintainers

    def add_maintainer(self, user: str, added_by: str) -> bool:
        """Let `user` register versions; False (and no event) when they already may."""
        check_user(user)
        if self.maintained_by(user):
            return False
        self.trigger_event(self.MaintainerAdded, user=user, added_by=added_by)
        return True

    def remove_maintainer(self, user: str, removed_by: str) -> None:
        """Take back `user`'s right to register versions; the owner's cannot be taken."""
        if user == self.created_by:
            raise InvalidValue("user", f"{user!r} owns {self.name}; an owner stays a maintainer")
        if user not in self.maintainers:
            raise UnknownItem("maintainer", f"{user!r} of {self.name}")
        self.trigger_event(self.MaintainerRemoved, user=user, removed_by=removed_by)

    @property
    def latest_version(self) -> int:
        """The highest registered version number, or 0 before the first one."""
        return max(self.versions, default=0)

    @property
    def next_version(self) -> int:
        """The number the next registered version will get."""
        return self.latest_version + 1

    def add_version(self, number: int, version_id: UUID, code_sha256: str) -> None:
        """Record that version `number` was registered; numbers are dense and never reused."""
        if number != self.next_version:
            raise InvalidValue("version", f"expected version {self.next_version}, got {number}")
        self.trigger_event(
            self.VersionAdded, number=number, version_id=version_id, code_sha256=code_sha256
        )

    def assign_stage(self, stage: str, number: int) -> int | None:
        """Give `stage` to version `number`; returns the version that held it before, if any."""
        previous = self.stages.get(stage)
        self.trigger_event(self.StageAssigned, stage=stage, number=number)
        return previous

    def live(self, environment: str) -> int | None:
        """The version number the environment runs now (None before the first deployment)."""
        history = self.revisions.get(environment)
        return history[-1] if history else None

    def deploy(self, environment: str, number: int, version_stage: str, deployed_by: str) -> int:
        """Run version `number` in `environment` as a new revision; returns the revision."""
        check_environment(environment)
        if number not in self.versions:
            raise UnknownItem("version", f"{self.name} v{number}")
        if version_stage not in DEPLOYABLE[environment]:
            raise IllegalTransition(
                "strategy version",
                version_stage,
                f"be deployed to {environment} (promote it first)",
            )
        if self.live(environment) == number:
            raise IllegalTransition(
                "deployment", f"v{number} already live in {environment}", "deploy it again"
            )
        revision = len(self.revisions.get(environment, [])) + 1
        self.trigger_event(
            self.Deployed,
            environment=environment,
            revision=revision,
            number=number,
            deployed_by=deployed_by,
        )
        return revision

    def rollback(
        self, environment: str, to_revision: int | None, rolled_back_by: str
    ) -> tuple[int, int]:
        """Return `environment` to the previous revision's version (or `to_revision`'s), as a
        new revision; history is never rewritten. Returns (new revision, version number)."""
        check_environment(environment)
        history = self.revisions.get(environment, [])
        if not history:
            raise IllegalTransition("strategy", f"never deployed to {environment}", "roll back")
        current = len(history)
        target = current - 1 if to_revision is None else to_revision
        if to_revision is None and target < 1:
            raise IllegalTransition(
                "strategy",
                f"only revision 1 in {environment}",
                "roll back (there is nothing before it)",
            )
        if not 1 <= target <= current:
            raise InvalidValue(
                "to_revision",
                f"{environment} has revisions 1..{current}; there is no revision {target}",
            )
        if target == current:
            raise InvalidValue("to_revision", f"revision {target} is the live one already")
        number = history[target - 1]
        self.trigger_event(
            self.RolledBack,
            environment=environment,
            revision=current + 1,
            number=number,
            from_revision=current,
            to_revision=target,
            rolled_back_by=rolled_back_by,
        )
        return current + 1, number


# A user is a token's subject: printable, no spaces, bounded (it is stored in every event).
USER = re.compile(r"^[^\s\x00-\x1f\x7f]{1,128}$")


def check_user(user: str) -> None:
    """Raise InvalidValue unless `user` can be a token subject."""
    if not USER.fullmatch(user):
        raise InvalidValue("user", f"{user[:40]!r} is not a user: 1-128 characters, no spaces")


ENVIRONMENTS = ("staging", "production")
# The stages a version may have to be deployed to each environment.
DEPLOYABLE = {"staging": ("staging", "production"), "production": ("production",)}


def check_environment(environment: str) -> None:
    if environment not in ENVIRONMENTS:
        raise InvalidValue("environment", f"{environment!r}: use staging or production")
