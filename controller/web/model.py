"""What a dashboard page is rendered from: one `Snapshot` of the repository at a revision."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from controller.manifests.models import Release
from controller.manifests.state import DesiredState
from controller.plan.conditions import Condition
from controller.plan.records import ReleaseStatus
from controller.schedule.zones import to_local
from controller.web.history import History


@dataclass(frozen=True)
class Problem:
    """A finding of the controller's last pass (live pages only)."""

    kind: str
    subject: str
    message: str


@dataclass(frozen=True)
class Snapshot:
    revision: str
    """What the pages are cached by: the status history's head (and the manifests')."""
    now: datetime
    state: DesiredState | None
    statuses: Mapping[str, ReleaseStatus]
    conditions: tuple[Condition, ...] = ()
    """Active conditions recorded in `status/conditions.yaml` (drift, stale flags, …)."""
    documents: Mapping[str, str] = field(default_factory=dict)
    """Status documents by path under the status folder (`notes/<release>.md`)."""
    history: History = field(default_factory=History)
    findings: tuple[Problem, ...] = ()
    """The live controller's last pass: what it could not do, and why."""
    live: bool = False
    commit_url: str = ""
    """A template such as `https://git.example/org/repo/commit/{sha}`: each commit page
    links there too. Empty: commit pages only."""
    name: str = "relctl"

    @property
    def timezone(self) -> str:
        return self.state.config.spec.timezone if self.state else "UTC"

    def release(self, name: str) -> Release | None:
        if self.state is None or name not in self.state.releases:
            return None
        return self.state.releases[name].model

    def zone_of(self, name: str) -> str:
        """The zone a release's times are shown in: its train's, else the config's."""
        release = self.release(name)
        if release is not None and release.spec.train and self.state is not None:
            train = self.state.trains.get(release.spec.train)
            if train is not None:
                return train.model.spec.timezone
        return self.timezone

    def train_of(self, name: str) -> str:
        release = self.release(name)
        return release.spec.train or "" if release is not None else ""

    def names(self) -> list[str]:
        """Every release the manifests declare or the records know, sorted."""
        declared = set(self.state.releases) if self.state else set()
        return sorted(declared | set(self.statuses))


def wall(instant: datetime | None, timezone: str) -> str:
    """ "2027-01-04 09:00 Europe/Berlin": local time with its zone's name, never an offset."""
    if instant is None:
        return "—"
    return f"{to_local(instant, timezone):%Y-%m-%d %H:%M} {timezone}"


def span(seconds: float) -> str:
    """A duration the way people say it: "3 d 4 h", "45 min", "12 s"."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 60:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    if hours < 48:
        whole = int(hours)
        rest = round((hours - whole) * 60)
        return f"{whole} h {rest} min" if rest else f"{whole} h"
    days = int(hours // 24)
    rest = round(hours - days * 24)
    return f"{days} d {rest} h" if rest else f"{days} d"


def relative(instant: datetime, now: datetime) -> str:
    delta = (instant - now).total_seconds()
    if abs(delta) < 60:
        return "now"
    return f"in {span(delta)}" if delta > 0 else f"{span(-delta)} ago"
