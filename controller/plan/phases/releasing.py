"""Releasing: healthy through monitoringEnd, the release is RELEASED (its notes written);
then its Jira versions are released and each of its issues commented on once."""

from __future__ import annotations

from controller.plan import notes
from controller.plan.actions import Comment, ReleaseVersion
from controller.plan.phases import Context, Draft, Step, monitoring
from controller.plan.plans import FindingKind
from controller.plan.records import DecisionKind, Evidence, Phase, ReleaseStatus
from controller.schedule.zones import to_local

COMMENT_MARKER = "relctl release {release}"


def step(context: Context, status: ReleaseStatus) -> Step:
    draft = Draft(context, status)
    jira = context.fleet.observed.jira
    if status.phase is Phase.MONITORING:
        if jira is None:
            draft.find(FindingKind.WAITING, "monitoring ended healthy; Jira not observed")
            return draft.stop()
        still = monitoring.unsettled(context, status)
        draft.record(
            DecisionKind.RELEASED,
            (
                "healthy through monitoringEnd"
                if not still
                else "monitoring and the inconclusive grace over, though " + "; ".join(still)
            )
            + ": Jira versions released, issues commented, notes written",
            Evidence(components=tuple(c.name for c in context.spec.components)),
        )
        draft.update(phase=Phase.RELEASED)
        config = context.fleet.desired.config.spec.jira
        browse = (config.url or "") if config else ""
        draft.notes = notes.to_markdown(
            notes.build(context.fleet.desired, context.release, jira, browse)
        )
    if draft.status.phase is not Phase.RELEASED or jira is None:
        return draft.done()
    spec = context.spec
    day = to_local(context.now, context.timezone).date()
    for project in context.projects:
        version = jira.version(project, spec.version)
        if version is not None and not version.released:
            draft.act(
                ReleaseVersion(
                    context.name, f"{context.name} is RELEASED", project, spec.version, day
                )
            )
    marker = COMMENT_MARKER.format(release=context.name)
    for issue in jira.issues_of(context.projects, spec.version):
        comment = Comment(
            context.name,
            f"{context.name} is RELEASED",
            issue.key,
            f"Released in {spec.version} on {day.isoformat()}.\n\nRecorded by {marker}.",
            marker,
        )
        if comment.done not in draft.status.done:
            draft.act(comment)
    return draft.done()
