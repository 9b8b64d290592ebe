"""The go/no-go document: for each verdict (GO, GO_WITH_CONDITIONS, NO_GO) and each
OVERRIDE, a Markdown page kept in git beside the notes (`decisions/<release>-<n>.md`,
n counting the release's verdicts): the decision, when, the criteria table (required,
actual, met), the rationale, for GO_WITH_CONDITIONS the unmet criteria as action items
with their owners, the approvers (who, in which role, when, as recorded in the release's
manifest), the blockers with their Jira summaries, and where the evidence is.

Every value from Jira, a manifest or a person is escaped for Markdown. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from controller.manifests.models import Release
from controller.plan.approvals import Verified, declared
from controller.plan.observed import ObservedIssue
from controller.plan.records import VERDICTS, DecisionKind, DecisionRecord, ReleaseStatus
from controller.schedule.zones import wall

DOCUMENTED = (*VERDICTS, DecisionKind.OVERRIDE)
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
"""What gives text a meaning mid-line (every value is written after a list marker or a
table bar): emphasis, code, links, HTML, table cells, strike-through."""


def md(text: str) -> str:
    """Text safe inside a Markdown line or table cell: one line, every character that
    would make markup there escaped."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def path(release: str, number: int) -> str:
    return f"decisions/{release}-{number}.md"


def number_of(status: ReleaseStatus, decision: DecisionRecord) -> int:
    """The decision's place among the release's documented decisions (1-based)."""
    documented = [d for d in status.decisions if d.decision in DOCUMENTED]
    return next(n for n, d in enumerate(documented, 1) if d is decision or d == decision)


def document(
    name: str,
    release: Release,
    status: ReleaseStatus,
    decision: DecisionRecord,
    timezone: str,
    owners: Sequence[str] = (),
    issues: Mapping[str, ObservedIssue] | None = None,
    approvals: tuple[Verified, ...] | None = None,
) -> str:
    """The go/no-go document of `decision`. `owners`: the teams owning the release's
    components (who the action items fall to); `approvals`: as verified (None: as
    declared)."""
    spec = release.spec
    number = number_of(status, decision)
    lines = [
        f"# Go/no-go {number}: {md(name)} {md(spec.version)}: {decision.decision.value}",
        "",
        f"- Decision: **{decision.decision.value}**",
        f"- Decided: {wall(decision.at, timezone)}",
    ]
    if status.departure is not None:
        lines.append(f"- Departure: {wall(status.departure, timezone)}")
    if decision.revision:
        lines.append(f"- Manifests at: `{decision.revision[:12]}`")
    lines += ["", "## Rationale", "", md(decision.rationale), ""]
    if decision.criteria:
        lines += ["## Criteria", "", "| criterion | required | actual | met |", "|---|---|---|---|"]
        for c in decision.criteria:
            met = "yes" if c.met else ("**no (veto)**" if c.veto else "no")
            lines.append(f"| {md(c.name)} | {md(c.required)} | {md(c.actual)} | {met} |")
        lines.append("")
    unmet = [c for c in decision.criteria if not c.met and not c.veto]
    if decision.decision is DecisionKind.GO_WITH_CONDITIONS and unmet:
        owner = ", ".join(md(o) for o in owners) or "the release manager"
        lines += ["## Conditions (action items)", ""]
        lines += [
            f"- [ ] {md(c.name)}: reach {md(c.required)} (now {md(c.actual)}); owner: {owner}"
            for c in unmet
        ]
        lines.append("")
    lines += ["## Approvers", ""]
    judged = declared(release) if approvals is None else approvals
    if judged:
        lines += ["| role | by | at | how |", "|---|---|---|---|"]
        for a in judged:
            when = wall(a.at, timezone) if a.at is not None else "—"
            if not a.counted:
                how = f"not counted: {md(a.why)}"
            elif a.commit:
                how = f"signed by {md(a.signer)}, key {md(a.fingerprint)}, commit {a.commit[:12]}"
            else:
                how = "in the release manifest, by pull request" + (
                    f" ({md(a.why)})" if a.why else ""
                )
            lines.append(f"| {md(a.role)} | {md(a.by)} | {when} | {how} |")
    else:
        lines.append("None recorded.")
    lines.append("")
    evidence = decision.evidence
    if evidence.blockers or evidence.critical_bugs:
        lines += ["## Blocking issues", ""]
        for key in (*evidence.blockers, *evidence.critical_bugs):
            found = (issues or {}).get(key)
            summary = f": {md(found.summary)} ({md(found.status)})" if found else ""
            lines.append(f"- {md(key)}{summary}")
        lines.append("")
    lines += ["## Evidence", ""]
    if evidence.jql:
        lines.append(f"- Jira: `{evidence.jql.replace('`', '')}`")
    if evidence.issues is not None:
        lines.append(f"- Issues done: {evidence.done or 0} of {evidence.issues}")
    lines += [f"- Window: {md(w)}" for w in evidence.windows]
    lines += [f"- Signal: {md(s)}" for s in evidence.signals]
    lines.append(f"- Decision log: `status/releases/{name}.yaml`")
    return "\n".join(lines) + "\n"
