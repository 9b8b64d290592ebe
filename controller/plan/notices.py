"""What a notification says, and how each receiver documents it wants it said.

`notice` builds one `Notice` from a recorded decision, for an audience:

- internal: the rationale, the criteria that were not met (required and actual), the
  blocking windows and when they open, the triggers, the images;
- operations: the rationale, the components and images, the triggers and steps;
- customers: one plain sentence on the version and its outcome; no rationale, no Jira
  keys, no internal detail.

The renderers turn it into each receiver's payload: Slack (Block Kit `blocks` with a
`text` fallback, mrkdwn escaped), Microsoft Teams (a Workflows webhook's `message` with
an Adaptive Card 1.4: TextBlock, FactSet, Action.OpenUrl), a generic webhook (JSON with
the event id), and email (a subject, plain text and escaped HTML). Every value that came
from a manifest, Jira or a person is escaped for its format here.

Pure: no clock, no I/O.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controller.plan.outbox import Delivery
from controller.plan.records import DecisionRecord, ReleaseStatus
from controller.schedule.zones import wall

AUDIENCES = ("internal", "operations", "customers")
MAX_ITEMS = 12
PLAIN = {
    "GO": "is approved to ship",
    "GO_WITH_CONDITIONS": "is approved to ship",
    "NO_GO": "is not ready to ship yet",
    "DELAY": "moves to a later date",
    "HOLD": "waits for a release window",
    "RESCHEDULED": "moves to another date",
    "BLOCKED": "cannot ship as planned",
    "OVERRIDE": "ships by a release manager's decision",
    "ROLLOUT": "is rolling out",
    "DEPLOYED": "is deployed",
    "ROLLBACK": "was rolled back; the previous version keeps serving",
    "ROLLBACK_RECOMMENDED": "may be rolled back",
    "RELEASED": "is released",
    "REPAIRED": "was restored to its released state",
}


@dataclass(frozen=True)
class Notice:
    id: str
    """The event id: the same in every attempt, so receivers can drop duplicates."""
    release: str
    version: str
    event: str
    at: datetime
    when: str
    """The decision's time as people read it (local, zone named)."""
    audience: str
    title: str
    summary: str
    facts: tuple[tuple[str, str], ...] = ()
    items: tuple[str, ...] = ()
    """Evidence lines: unmet criteria, windows, triggers, images."""
    links: tuple[tuple[str, str], ...] = ()
    """(title, URL)."""


def notice(
    delivery: Delivery,
    status: ReleaseStatus,
    decision: DecisionRecord,
    audience: str,
    timezone: str,
    links: str | None = None,
) -> Notice:
    """The notice of `decision` (of `status`'s release) for `audience`. `links`: the base
    URL the status file and notes are under, when the sink names one."""
    name, version, event = status.release, status.version, decision.decision.value
    when = wall(decision.at, timezone)
    facts: list[tuple[str, str]] = [("Version", version), ("Decided", when)]
    items: list[str] = []
    evidence = decision.evidence
    if audience == "customers":
        summary = f"Version {version} {PLAIN.get(event, event.lower())}."
        if evidence.until is not None and event in ("DELAY", "HOLD", "RESCHEDULED"):
            summary += f" Planned now for {wall(evidence.until, timezone)}."
        return Notice(delivery.id, name, version, event, decision.at, when, audience,
                      f"Version {version} {PLAIN.get(event, event.lower())}", summary,
                      tuple(facts))  # fmt: skip
    if status.departure is not None:
        facts.append(("Departure", wall(status.departure, timezone)))
    if audience == "internal":
        items += [
            f"{c.name}: required {c.required}, actual {c.actual}" + (" (veto)" if c.veto else "")
            for c in decision.criteria
            if not c.met
        ]
        items += [f"blocker {key}" for key in evidence.blockers]
        items += [f"window {w}" for w in evidence.windows]
        if evidence.until is not None:
            items.append(f"until {wall(evidence.until, timezone)}")
    items += [f"trigger: {t}" for t in evidence.triggers]
    items += [f"{workload}: {image}" for workload, image in sorted(evidence.images.items())]
    if audience == "operations":
        items += [
            f"step {s.component} {s.step} on {s.cluster}/{s.namespace}: {s.state}"
            for s in evidence.steps
        ]
    if decision.revision:
        facts.append(("Source revision", decision.revision[:12]))
    found: list[tuple[str, str]] = []
    if links:
        base = links.rstrip("/")
        found.append(("Status file", f"{base}/status/releases/{name}.yaml"))
        if event == "RELEASED":
            found.append(("Release notes", f"{base}/status/notes/{name}.md"))
    extra = len(items) - MAX_ITEMS
    shown = items[:MAX_ITEMS] + ([f"… and {extra} more"] if extra > 0 else [])
    return Notice(
        delivery.id, name, version, event, decision.at, when, audience,
        f"{name} ({version}): {event}", decision.rationale, tuple(facts), tuple(shown),
        tuple(found),
    )  # fmt: skip


# --- Slack --------------------------------------------------------------------------------


def _mrkdwn(text: str) -> str:
    """Slack's three control characters escaped (so `<!channel>` or a link cannot be
    smuggled in)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack(n: Notice) -> dict[str, Any]:
    """An incoming webhook's message: Block Kit blocks, and `text` for notifications and
    clients that show no blocks."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(n.title, 150)}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _cut(_mrkdwn(n.summary), 3000)},
            "fields": [
                {"type": "mrkdwn", "text": _cut(f"*{_mrkdwn(k)}*\n{_mrkdwn(v)}", 2000)}
                for k, v in n.facts[:10]
            ],
        },
    ]
    if n.items:
        lines = "\n".join(f"• {_mrkdwn(i)}" for i in n.items)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(lines, 3000)}})
    if n.links:
        blocks.append({
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": title}, "url": url}
                for title, url in n.links
            ],
        })  # fmt: skip
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"relctl · {_mrkdwn(n.id)}"}]}
    )
    return {"text": _cut(_mrkdwn(f"{n.title}: {n.summary}"), 3000), "blocks": blocks}


# --- Microsoft Teams ----------------------------------------------------------------------

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~])")


def _card_text(text: str) -> str:
    """Text for an Adaptive Card TextBlock or fact: its Markdown characters escaped, so a
    value cannot become a link or emphasis."""
    return _MARKDOWN.sub(r"\\\1", text)


def teams(n: Notice) -> dict[str, Any]:
    """A Teams Workflows webhook's body: a `message` with one Adaptive Card (1.4)."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": _card_text(n.title), "weight": "Bolder",
         "size": "Medium", "wrap": True},
        {"type": "TextBlock", "text": _card_text(n.summary), "wrap": True},
        {"type": "FactSet",
         "facts": [{"title": _card_text(k), "value": _card_text(v)} for k, v in n.facts]},
    ]  # fmt: skip
    if n.items:
        body.append({
            "type": "TextBlock",
            "text": "\n".join(f"- {_card_text(i)}" for i in n.items),
            "wrap": True,
        })  # fmt: skip
    body.append(
        {"type": "TextBlock", "text": _card_text(n.id), "isSubtle": True, "size": "Small",
         "wrap": True}
    )  # fmt: skip
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if n.links:
        card["actions"] = [{"type": "Action.OpenUrl", "title": t, "url": u} for t, u in n.links]
    return {
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": None,
            "content": card,
        }],
    }  # fmt: skip


# --- generic webhook and email ------------------------------------------------------------


def webhook(n: Notice) -> dict[str, Any]:
    """JSON for a receiver of relctl's own: every field of the notice, and its id."""
    return {
        "id": n.id,
        "type": f"relctl.decision.{n.event.lower()}",
        "release": n.release,
        "version": n.version,
        "decision": n.event,
        "at": n.at.isoformat(),
        "audience": n.audience,
        "title": n.title,
        "summary": n.summary,
        "facts": dict(n.facts),
        "items": list(n.items),
        "links": dict(n.links),
    }


def email(n: Notice) -> tuple[str, str, str]:
    """Subject, plain text and HTML of the notice."""
    subject = f"[relctl] {n.title}".replace("\r", " ").replace("\n", " ")
    lines = [n.title, "", n.summary, ""]
    lines += [f"{k}: {v}" for k, v in n.facts]
    if n.items:
        lines += ["", *(f"- {i}" for i in n.items)]
    if n.links:
        lines += ["", *(f"{t}: {u}" for t, u in n.links)]
    lines += ["", f"Event {n.id}"]
    e = html.escape
    parts = [f"<h2>{e(n.title)}</h2>", f"<p>{e(n.summary)}</p>", "<table>"]
    parts += [f"<tr><th align='left'>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in n.facts]
    parts.append("</table>")
    if n.items:
        parts.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in n.items) + "</ul>")
    if n.links:
        parts.append(
            "<p>" + " · ".join(f"<a href='{e(u)}'>{e(t)}</a>" for t, u in n.links) + "</p>"
        )
    parts.append(f"<p><small>Event {e(n.id)}</small></p>")
    return _cut(subject, 200), "\n".join(lines) + "\n", "\n".join(parts) + "\n"


RENDERERS = {"slack": slack, "teams": teams, "webhook": webhook}
