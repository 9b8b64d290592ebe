"""A plan as text (a terminal), Markdown (a pull-request comment: what changes, what is
blocked and until when, what would be decided) and JSON (machines). Deterministic, so
golden files can hold it. Pure."""

from __future__ import annotations

import json
from typing import Any

from controller.plan.actions import Action
from controller.plan.plans import Finding, FindingKind, Plan
from controller.plan.records import decision_document
from controller.schedule.zones import to_local

_ORDER = list(FindingKind)


def _findings(plan: Plan) -> list[Finding]:
    return sorted(plan.findings, key=lambda f: (_ORDER.index(f.kind), f.subject, f.message))


def _time(plan: Plan) -> str:
    """The plan's instant as people read it: local, to the second, with the zone's name."""
    return f"{to_local(plan.at, plan.timezone):%Y-%m-%d %H:%M:%S} {plan.timezone}"


def to_text(plan: Plan) -> str:
    lines = [
        f"Plan at {_time(plan)}: {len(plan.actions)} action(s), "
        f"{len(plan.decisions)} decision(s), {len(plan.findings)} finding(s)"
    ]
    if plan.decisions:
        lines.append("")
        lines.append("Decisions:")
        lines += [f"  {r:<24} {d.decision:<20} {d.rationale}" for r, d in plan.decisions]
    if plan.actions:
        lines.append("")
        lines.append("Actions, in order:")
        lines += [f"  {n:>3}. {a.describe()}  ({a.reason})" for n, a in enumerate(plan.actions, 1)]
    lines.append("")
    lines.append("Releases:")
    for name, status in plan.statuses.items():
        departure = plan.wall(status.departure, name) if status.departure else "-"
        lines.append(f"  {name:<24} {status.phase:<20} departs {departure}")
    found = _findings(plan)
    if found:
        lines.append("")
        lines.append("Findings:")
        lines += [f"  {f.kind:<11} {f.subject:<24} {f.message}" for f in found]
    return "\n".join(lines) + "\n"


def _action_row(action: Action) -> str:
    return f"| `{action.kind}` | {action.chain} | {_md(action.describe())} | {_md(action.reason)} |"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(plan: Plan) -> str:
    lines = [f"### relctl plan at {_time(plan)}", ""]
    blocked = [f for f in _findings(plan) if f.kind is FindingKind.BLOCKED]
    if blocked:
        lines.append("**Blocked by windows**")
        lines.append("")
        for f in blocked:
            until = f" (until {plan.wall(f.until, f.subject)})" if f.until else ""
            lines.append(f"- **{f.subject}**: {_md(f.message)}{until}")
        lines.append("")
    if plan.decisions:
        lines += ["**Decisions this pass would record**", "", "| release | decision | why |"]
        lines.append("|---|---|---|")
        lines += [f"| {r} | `{d.decision}` | {_md(d.rationale)} |" for r, d in plan.decisions]
        lines.append("")
    if plan.actions:
        lines += ["**What changes**", "", "| action | chain | change | why |", "|---|---|---|---|"]
        lines += [_action_row(a) for a in plan.actions]
        lines.append("")
    else:
        lines += ["Nothing to change.", ""]
    lines += ["**Releases**", "", "| release | phase | departs |", "|---|---|---|"]
    for name, status in plan.statuses.items():
        departure = plan.wall(status.departure, name) if status.departure else "-"
        lines.append(f"| {name} | {status.phase} | {departure} |")
    others = [f for f in _findings(plan) if f.kind is not FindingKind.BLOCKED]
    if others:
        lines += ["", "<details><summary>Findings</summary>", ""]
        lines += [f"- `{f.kind}` **{f.subject}**: {_md(f.message)}" for f in others]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def to_json(plan: Plan) -> str:
    def action(a: Action) -> dict[str, Any]:
        return {
            "kind": a.kind.value,
            "key": a.key,
            "chain": a.chain,
            "change": a.describe(),
            "reason": a.reason,
        }

    document = {
        "at": _time(plan),
        "decisions": [{"release": r, **decision_document(d)} for r, d in plan.decisions],
        "actions": [action(a) for a in plan.actions],
        "findings": [
            {
                "kind": f.kind.value,
                "subject": f.subject,
                "message": f.message,
                **({"until": f.until.isoformat()} if f.until else {}),
            }
            for f in _findings(plan)
        ],
        "releases": {
            name: {
                "phase": s.phase.value,
                "departure": s.departure.isoformat() if s.departure else None,
            }
            for name, s in plan.statuses.items()
        },
    }
    return json.dumps(document, indent=2) + "\n"
