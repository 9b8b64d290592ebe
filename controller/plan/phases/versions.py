"""Jira versions: ensured ahead of time for every project a release touches, and moved
with the release's departure. Runs for every release not yet final, whatever its phase
and wherever its life stopped this pass."""

from __future__ import annotations

from controller.plan.actions import EnsureVersion
from controller.plan.phases import Context, Draft, Step
from controller.plan.records import ReleaseStatus
from controller.schedule.zones import to_local


def step(context: Context, status: ReleaseStatus) -> Step:
    draft = Draft(context, status)
    jira = context.fleet.observed.jira
    if status.phase.final or jira is None or status.departure is None:
        return draft.done()
    spec = context.spec
    day = to_local(status.departure, context.timezone).date()
    for project in context.projects:
        version = jira.version(project, spec.version)
        if version is not None and (version.released or version.release_date == day):
            continue
        verb = "create" if version is None else f"move from {version.release_date} to"
        draft.act(
            EnsureVersion(
                context.name,
                f"{verb} {day.isoformat()}: the departure of {context.name}",
                project,
                spec.version,
                day,
                (spec.description or f"Release {spec.version}")
                + f" (relctl release {context.name})",
            )
        )
    return draft.done()
