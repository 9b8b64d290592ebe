"""Release notes for more audiences than the one `notes.audience` writes: each audience a
release's `notes.audiences` asks for is written beside it, `notes/<release>.<audience>.md`,
when the release is RELEASED.

- internal: every issue, with its Jira key and link (as `notes.to_markdown`);
- customers: no internal issues, no Jira keys or links, plain wording; breaking changes
  with their migration notes first;
- operations: the components with the image each workload ran before and runs now, the
  flags this release starts, the steps that ran (migrations, smoke tests) and how they
  ended, and the rollback plan.

Every value from Jira or a manifest is escaped for Markdown. Pure.
"""

from __future__ import annotations

from controller.manifests.models import Release
from controller.manifests.state import DesiredState
from controller.plan import notes
from controller.plan.observed import IssueCategory, JiraObservation
from controller.plan.records import ReleaseStatus
from controller.plan.verdicts import md
from controller.schedule.zones import wall


def path(release: str, audience: str) -> str:
    return f"notes/{release}.{audience}.md"


def render(
    audience: str,
    state: DesiredState,
    release: Release,
    status: ReleaseStatus,
    jira: JiraObservation,
    browse: str,
    timezone: str = "UTC",
) -> str:
    if audience == "operations":
        return operations(state, release, status, timezone)
    built = notes.build(state, release, jira, browse, audience=audience)
    return notes.to_markdown(built) if audience == "internal" else customers(built)


def customers(built: notes.Notes) -> str:
    """Plain notes: what changed, in the issues' own words, without keys or links."""
    out = [f"# {md(built.version)}", ""]
    if built.summary:
        out += [md(built.summary), ""]
    for title, issues in built.sections:
        if not issues:
            continue
        out += [f"## {title}", ""]
        for issue in issues:
            out.append(f"- {md(issue.summary)}")
            if issue.category is IssueCategory.BREAKING and issue.migration_note:
                out.append(f"  - What to do: {md(issue.migration_note)}")
        out.append("")
    if built.known_issues:
        out += ["## Known issues", ""]
        out += [f"- {md(i.summary)}" for i in built.known_issues]
        out.append("")
    if built.extra:
        out += [md(built.extra), ""]
    return "\n".join(out).rstrip("\n") + "\n"


def operations(
    state: DesiredState, release: Release, status: ReleaseStatus, timezone: str = "UTC"
) -> str:
    """The operator's page: images before and after, flags, steps and the rollback plan."""
    spec = release.spec
    name = release.metadata.name
    out = [f"# {md(name)} ({md(spec.version)}): operations", "", "## Components", ""]
    out += ["| component | workload | before | now |", "|---|---|---|---|"]
    for item in spec.components:
        component = state.components.get(item.name)
        if component is None:
            continue
        target = f"{component.model.spec.image}:{item.tag or item.version}"
        for w in component.model.spec.workloads:
            key = f"{w.cluster}/{w.namespace}/{w.deployment}/{w.container}"
            before = status.images.get(key, "unknown")
            out.append(f"| {md(item.name)} | {md(key)} | {md(before)} | {md(target)} |")
    flags = sorted(
        (n, f.model.spec) for n, f in state.flags.items()
        if f.model.spec.rollout is not None and f.model.spec.rollout.after_release == name
    )  # fmt: skip
    if flags:
        out += ["", "## Flags this release starts", ""]
        for flag, flag_spec in flags:
            assert flag_spec.rollout is not None
            stages = ", ".join(
                f"{s.percent:g}% at {wall(s.at, timezone)}" for s in flag_spec.rollout.stages
            )
            t = flag_spec.target
            out.append(f"- {md(flag)} on {md(f'{t.cluster}/{t.namespace}/{t.name}')}: {md(stages)}")
    if status.steps:
        out += [
            "",
            "## Steps",
            "",
            "| component | step | when | where | result |",
            "|---|---|---|---|---|",
        ]
        for s in status.steps:
            out.append(
                f"| {md(s.component)} | {md(s.step)} | {s.when.value} | "
                f"{md(f'{s.cluster}/{s.namespace}')} | {md(s.describe())} |"
            )
    rollback = spec.rollback
    order = "only the components whose triggers fired" if rollback.partial else "every component"
    how = "automatically" if rollback.auto else "on a person's decision (ROLLBACK_RECOMMENDED)"
    out += [
        "",
        "## Rollback plan",
        "",
        f"- Rolls back {how}: {order}, in reverse dependency order, each to the image it "
        "ran before (the table above).",
        "- Down-migrations (onRollback steps) run before the previous image where a step "
        "of the component ran.",
    ]
    return "\n".join(out) + "\n"
