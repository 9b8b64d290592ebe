"""What a change does to the plan: the plan of a branch compared with the plan of its
base (`relctl plan --base REF`), as text, Markdown (a pull-request comment) and JSON.

Decisions and actions are compared by what they are (release and kind; the action's
idempotency key), blocks by release and message, departures by release. Pure.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from controller.plan.plans import FindingKind, Plan


@dataclass(frozen=True)
class Change:
    decisions_added: list[tuple[str, str, str]] = field(default_factory=list)
    """(release, decision, rationale)"""
    decisions_removed: list[tuple[str, str, str]] = field(default_factory=list)
    actions_added: list[str] = field(default_factory=list)
    actions_removed: list[str] = field(default_factory=list)
    blocks_added: list[tuple[str, str]] = field(default_factory=list)
    blocks_removed: list[tuple[str, str]] = field(default_factory=list)
    moved: list[tuple[str, str, str]] = field(default_factory=list)
    """(release, departure before, departure after); '—' where there is none."""

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f) for f in self.__dataclass_fields__)


def _less(a: Counter[Any], b: Counter[Any]) -> list[Any]:
    return sorted((a - b).elements())


def compare(base: Plan, head: Plan) -> Change:
    def decisions(plan: Plan) -> Counter[tuple[str, str]]:
        return Counter((r, d.decision.value) for r, d in plan.decisions)

    def why(plan: Plan) -> dict[tuple[str, str], str]:
        return {(r, d.decision.value): d.rationale for r, d in plan.decisions}

    def actions(plan: Plan) -> dict[str, str]:
        return {a.key: a.describe() for a in plan.actions}

    def blocks(plan: Plan) -> Counter[tuple[str, str]]:
        return Counter(
            (f.subject, f.message) for f in plan.findings if f.kind is FindingKind.BLOCKED
        )

    old_actions, new_actions = actions(base), actions(head)
    moved = []
    for name in sorted(set(base.statuses) | set(head.statuses)):
        before = base.statuses.get(name)
        after = head.statuses.get(name)
        was = base.wall(before.departure, name) if before and before.departure else "—"
        now = head.wall(after.departure, name) if after and after.departure else "—"
        if was != now:
            moved.append((name, was, now))
    head_why, base_why = why(head), why(base)
    return Change(
        decisions_added=[
            (r, k, head_why[(r, k)]) for r, k in _less(decisions(head), decisions(base))
        ],
        decisions_removed=[
            (r, k, base_why[(r, k)]) for r, k in _less(decisions(base), decisions(head))
        ],
        actions_added=sorted(new_actions[k] for k in set(new_actions) - set(old_actions)),
        actions_removed=sorted(old_actions[k] for k in set(old_actions) - set(new_actions)),
        blocks_added=_less(blocks(head), blocks(base)),
        blocks_removed=_less(blocks(base), blocks(head)),
        moved=moved,
    )


def to_text(change: Change, base: str) -> str:
    if change.empty:
        return f"Compared with {base}: the plan is the same.\n"
    lines = [f"Compared with {base}:"]
    for title, rows in (
        ("Decisions added", [f"{r} {k}: {w}" for r, k, w in change.decisions_added]),
        ("Decisions no longer taken", [f"{r} {k}: {w}" for r, k, w in change.decisions_removed]),
        ("Actions added", change.actions_added),
        ("Actions no longer taken", change.actions_removed),
        ("Newly blocked", [f"{r}: {m}" for r, m in change.blocks_added]),
        ("No longer blocked", [f"{r}: {m}" for r, m in change.blocks_removed]),
        ("Departures moved", [f"{r}: {a} → {b}" for r, a, b in change.moved]),
    ):
        if rows:
            lines += ["", f"{title}:", *(f"  {row}" for row in rows)]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(change: Change, base: str) -> str:
    lines = [f"### What this change does to the release plan (compared with `{_md(base)}`)", ""]
    if change.empty:
        return "\n".join([*lines, "Nothing: the plan is the same.", ""])
    if change.moved:
        lines += ["| release | departs (base) | departs (this change) |", "|---|---|---|"]
        lines += [f"| {r} | {a} | {b} |" for r, a, b in change.moved]
        lines.append("")
    for title, rows in (
        ("Decisions added", [f"**{r}** `{k}`: {_md(w)}" for r, k, w in change.decisions_added]),
        (
            "Decisions no longer taken",
            [f"**{r}** `{k}`: {_md(w)}" for r, k, w in change.decisions_removed],
        ),
        ("Actions added", [f"`{_md(a)}`" for a in change.actions_added]),
        ("Actions no longer taken", [f"`{_md(a)}`" for a in change.actions_removed]),
        ("Newly blocked", [f"**{r}**: {_md(m)}" for r, m in change.blocks_added]),
        ("No longer blocked", [f"**{r}**: {_md(m)}" for r, m in change.blocks_removed]),
    ):
        if rows:
            lines += [f"**{title}**", "", *(f"- {row}" for row in rows), ""]
    return "\n".join(lines)


def to_json(change: Change, base: str) -> str:
    document = {
        "base": base,
        "same": change.empty,
        "decisions": {
            "added": [
                {"release": r, "decision": k, "rationale": w} for r, k, w in change.decisions_added
            ],
            "removed": [
                {"release": r, "decision": k, "rationale": w}
                for r, k, w in change.decisions_removed
            ],
        },
        "actions": {"added": change.actions_added, "removed": change.actions_removed},
        "blocked": {
            "added": [{"release": r, "message": m} for r, m in change.blocks_added],
            "removed": [{"release": r, "message": m} for r, m in change.blocks_removed],
        },
        "departures": [{"release": r, "base": a, "head": b} for r, a, b in change.moved],
    }
    return json.dumps(document, indent=2) + "\n"
