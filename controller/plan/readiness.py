"""Release readiness: completion, status categories, blockers, critical bugs and missing
approvals, judged against the release's gates (its own, else its train's, else defaults),
with a score and a status: `ready` (every gate met), `at_risk` (only gates without a veto
unmet) or `not_ready` (a veto gate unmet).

Purely computational: the observation and the manifests come in, a `Readiness` value
goes out; rendering to text, Markdown and JSON is here too, deterministic for golden
files.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from controller.manifests.models import ApprovalGate, CountGate, Gates, Release
from controller.manifests.state import DesiredState
from controller.plan.approvals import Verified, counted_roles, declared, unverified
from controller.plan.observed import JiraObservation, ObservedIssue, StatusCategory

DEFAULT_GATES = Gates.model_validate(
    {
        "completion": {"minPercent": 90, "veto": False},
        "blockers": {"max": 0, "veto": True},
        "criticalBugs": {"max": 0, "veto": True},
    }
)


class ReadinessStatus(StrEnum):
    READY = "ready"
    AT_RISK = "at_risk"
    NOT_READY = "not_ready"


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    required: str
    actual: str
    met: bool
    veto: bool


@dataclass(frozen=True)
class Readiness:
    release: str
    version: str
    projects: tuple[str, ...]
    total: int
    done: int
    by_category: dict[str, int]
    blockers: tuple[ObservedIssue, ...]
    critical_bugs: tuple[ObservedIssue, ...]
    missing_approvals: tuple[str, ...]
    criteria: tuple[Criterion, ...]
    score: int
    status: ReadinessStatus

    @property
    def completion(self) -> float:
        return 100.0 if self.total == 0 else 100.0 * self.done / self.total


def gates_of(state: DesiredState, release: Release) -> Gates:
    """The release's gates, else its train's, else the defaults."""
    if release.spec.gates is not None:
        return release.spec.gates
    train = state.trains.get(release.spec.train) if release.spec.train else None
    if train is not None and train.model.spec.gates is not None:
        return train.model.spec.gates
    return DEFAULT_GATES


def projects_of(state: DesiredState, release: Release) -> tuple[str, ...]:
    return tuple(
        sorted(
            {
                state.components[c.name].model.spec.jira_project
                for c in release.spec.components
                if c.name in state.components
            }
        )
    )


def assess(
    state: DesiredState,
    release: Release,
    jira: JiraObservation,
    approvals: tuple[Verified, ...] | None = None,
) -> Readiness:
    """Readiness from Jira and the approvals (as verified; None: as declared)."""
    judged = declared(release) if approvals is None else approvals
    projects = projects_of(state, release)
    issues = jira.issues_of(projects, release.spec.version)
    done = [i for i in issues if i.done]
    blockers = tuple(i for i in issues if i.blocker and not i.done)
    critical = tuple(i for i in issues if i.critical and not i.done)
    gates = gates_of(state, release)
    approved = counted_roles(judged)
    required = gates.approvals.roles if gates.approvals else ()
    missing = tuple(r for r in required if r not in approved)
    completion = 100.0 if not issues else 100.0 * len(done) / len(issues)
    criteria = list(
        _criteria(
            gates, completion, len(blockers), len(critical), required, missing, unverified(judged)
        )
    )
    vetoed = any(not c.met and c.veto for c in criteria)
    status = (
        ReadinessStatus.READY
        if all(c.met for c in criteria)
        else ReadinessStatus.NOT_READY
        if vetoed
        else ReadinessStatus.AT_RISK
    )
    counts = Counter(str(i.status_category) for i in issues)
    return Readiness(
        release=release.metadata.name,
        version=release.spec.version,
        projects=projects,
        total=len(issues),
        done=len(done),
        by_category={c.value: counts.get(c.value, 0) for c in StatusCategory},
        blockers=blockers,
        critical_bugs=critical,
        missing_approvals=missing,
        criteria=tuple(criteria),
        score=_score(completion, blockers, critical, required, missing),
        status=status,
    )


def _criteria(
    gates: Gates,
    completion: float,
    blockers: int,
    critical: int,
    required: Sequence[str],
    missing: Sequence[str],
    doubted: str = "",
) -> list[Criterion]:
    found = []
    if gates.completion is not None:
        gate = gates.completion
        found.append(
            Criterion(
                "completion",
                f">= {gate.min_percent:g}%",
                f"{completion:.1f}%",
                completion >= gate.min_percent,
                gate.veto,
            )
        )
    for name, limit, count in (
        ("blockers", gates.blockers, blockers),
        ("criticalBugs", gates.critical_bugs, critical),
    ):
        if isinstance(limit, CountGate):
            found.append(
                Criterion(name, f"<= {limit.max}", str(count), count <= limit.max, limit.veto)
            )
    if isinstance(gates.approvals, ApprovalGate):
        found.append(
            Criterion(
                "approvals",
                ", ".join(required),
                (", ".join(r for r in required if r not in missing) or "none") + doubted,
                not missing,
                gates.approvals.veto,
            )
        )
    return found


def _score(
    completion: float,
    blockers: Sequence[ObservedIssue],
    critical: Sequence[ObservedIssue],
    required: Sequence[str],
    missing: Sequence[str],
) -> int:
    """0-100: half completion, a fifth no blockers, the rest critical bugs and approvals."""
    approvals = 1.0 if not required else (len(required) - len(missing)) / len(required)
    value = 0.5 * completion / 100 + 0.2 * (not blockers) + 0.15 * (not critical) + 0.15 * approvals
    return round(100 * value)


# --- rendering ---------------------------------------------------------------------------

_LABELS = {"new": "To Do", "indeterminate": "In Progress", "done": "Done"}


def to_text(readiness: Readiness, browse: str) -> str:
    r = readiness
    lines = [
        f"{r.release} ({r.version}) in {', '.join(r.projects) or 'no project'}: "
        f"{r.status.value.upper()} (score {r.score}/100)",
        f"  completion {r.completion:.1f}% ({r.done} of {r.total} issues done)",
        "  " + ", ".join(f"{_LABELS[k]} {v}" for k, v in r.by_category.items()),
    ]
    for criterion in r.criteria:
        mark = "ok  " if criterion.met else ("FAIL" if criterion.veto else "warn")
        lines.append(
            f"  [{mark}] {criterion.name}: {criterion.actual} (required "
            f"{criterion.required}{', veto' if criterion.veto else ''})"
        )
    for title, issues in (("blockers", r.blockers), ("critical bugs", r.critical_bugs)):
        for issue in issues:
            lines.append(
                f"  {title[:-1]}: {issue.key} {issue.summary} [{issue.status}] "
                f"{browse}/browse/{issue.key}"
            )
    if r.missing_approvals:
        lines.append(f"  missing approvals: {', '.join(r.missing_approvals)}")
    return "\n".join(lines)


def to_markdown(readiness: Readiness, browse: str) -> str:
    r = readiness
    icon = {"ready": "✅", "at_risk": "⚠️", "not_ready": "⛔"}[r.status.value]
    out = [
        f"## Readiness: {r.release} ({r.version}) {icon} {r.status.value}",
        "",
        f"Score **{r.score}/100**, completion **{r.completion:.1f}%** ({r.done} of "
        f"{r.total} issues done in {', '.join(r.projects) or 'no project'}).",
        "",
        "| status category | issues |",
        "|---|---|",
    ]
    out += [f"| {_LABELS[k]} | {v} |" for k, v in r.by_category.items()]
    out += ["", "| criterion | required | actual | met | veto |", "|---|---|---|---|---|"]
    out += [
        f"| {c.name} | {c.required} | {c.actual} | {'yes' if c.met else 'no'} | "
        f"{'yes' if c.veto else 'no'} |"
        for c in r.criteria
    ]
    for title, issues in (("Blockers", r.blockers), ("Critical bugs", r.critical_bugs)):
        if issues:
            out += ["", f"### {title}", ""]
            out += [
                f"- [{i.key}]({browse}/browse/{i.key}) {i.summary} ({i.status})" for i in issues
            ]
    if r.missing_approvals:
        out += ["", "### Missing approvals", ""] + [f"- {role}" for role in r.missing_approvals]
    return "\n".join(out) + "\n"


def to_json(readiness: Readiness, browse: str) -> str:
    r = readiness

    def issue(i: ObservedIssue) -> dict[str, str]:
        return {
            "key": i.key,
            "summary": i.summary,
            "status": i.status,
            "url": f"{browse}/browse/{i.key}",
        }

    return (
        json.dumps(
            {
                "release": r.release,
                "version": r.version,
                "projects": list(r.projects),
                "status": r.status.value,
                "score": r.score,
                "completion": round(r.completion, 1),
                "total": r.total,
                "done": r.done,
                "byStatusCategory": r.by_category,
                "blockers": [issue(i) for i in r.blockers],
                "criticalBugs": [issue(i) for i in r.critical_bugs],
                "missingApprovals": list(r.missing_approvals),
                "criteria": [
                    {
                        "name": c.name,
                        "required": c.required,
                        "actual": c.actual,
                        "met": c.met,
                        "veto": c.veto,
                    }
                    for c in r.criteria
                ],
            },
            indent=2,
        )
        + "\n"
    )
