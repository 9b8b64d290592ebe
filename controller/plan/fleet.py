"""What a pass knows across releases, computed once before any release is planned: each
release's effective departure (after scheduling), which releases are rolling out which
components, and which release's image change supersedes which.

A release's plan reads these facts, never the statuses other releases produce in the
same pass: the plan for one release does not depend on which releases were planned
before it, nor on their names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from controller.manifests.models import Component, Release
from controller.manifests.state import DesiredState
from controller.plan import rollouts
from controller.plan.plans import Observed
from controller.plan.records import VERDICTS, DecisionKind, ReleaseStatus
from controller.schedule import departures, windows
from controller.schedule.zones import wall


@dataclass(frozen=True)
class Fleet:
    desired: DesiredState
    observed: Observed
    recorded: Mapping[str, ReleaseStatus]
    now: datetime
    departures: Mapping[str, datetime] = field(default_factory=dict)
    """Release → its effective departure this pass (after scheduling)."""
    components: Mapping[str, Component] = field(default_factory=dict)
    evaluator: windows.Evaluator = field(default_factory=lambda: windows.Evaluator([]))
    in_flight: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Component → releases rolling it out now (or about to)."""

    @classmethod
    def of(
        cls,
        desired: DesiredState,
        observed: Observed,
        recorded: Mapping[str, ReleaseStatus],
        now: datetime,
    ) -> Fleet:
        """The facts before scheduling: departures as recorded (the planner replaces them
        with the scheduled ones)."""
        return cls(
            desired,
            observed,
            recorded,
            now,
            {n: s.departure for n, s in recorded.items() if s.departure is not None},
            {n: m.model for n, m in desired.components.items()},
            departures.evaluator_of(desired),
            _in_flight(desired, recorded, now),
        )

    def newer(self, release: str, other: str) -> bool:
        """Whether `other` departs after `release` (ties by name): its image change
        supersedes `release`'s on a workload both set."""
        mine, theirs = self.departures.get(release), self.departures.get(other)
        return (
            other != release
            and mine is not None
            and theirs is not None
            and (theirs, other) > (mine, release)
        )

    def units(
        self, release: Release, name: str, attempt: int | None = None
    ) -> dict[str, list[rollouts.Unit]]:
        """The release's units; `attempt`: the one under way (default: as recorded)."""
        if attempt is None:
            status = self.recorded.get(name)
            attempt = status.attempt if status is not None else 1
        return rollouts.units_of(
            release,
            name,
            self.components,
            self.observed.workloads or {},
            lambda other: self.newer(name, other),
            self.observed.sources,
            attempt,
        )

    def held(self, component: str, cluster: str) -> str | None:
        """Why a window keeps `component` on `cluster` from changing now, or None."""
        found = departures.hold(
            self.evaluator,
            departures.targets_of(self.desired, component, (cluster,)),
            self.now,
            windows.Exceptions(),
        )
        if found is None:
            return None
        specs = {n: m.model.spec for n, m in self.desired.windows.items()}
        opens = wall(found.opens, self.desired.config.spec.timezone) if found.opens else "later"
        return f"{found.describe(specs)}; opens {opens}"


def _in_flight(
    desired: DesiredState, recorded: Mapping[str, ReleaseStatus], now: datetime
) -> dict[str, frozenset[str]]:
    """Component → releases rolling it out now (or about to): a component that dependsOn
    one of them waits until that rollout completes."""
    found: dict[str, set[str]] = {}
    for name, status in recorded.items():
        manifest = desired.releases.get(name)
        if manifest is None:
            continue
        rolling = status.phase.in_flux or (
            not status.phase.deployed
            and not status.phase.final
            and status.departure is not None
            and status.departure <= now
            and (last := status.last(*VERDICTS)) is not None
            and last.decision is not DecisionKind.NO_GO
        )
        if rolling:
            for item in manifest.model.spec.components:
                found.setdefault(item.name, set()).add(name)
    return {component: frozenset(names) for component, names in found.items()}
