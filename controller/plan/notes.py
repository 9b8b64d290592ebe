"""Release notes across every Jira project of a release: a summary line, breaking changes
(with their migration notes), features, improvements, bug fixes, other changes and known
issues (issues in scope that are not done), each linked to Jira. The `customers`
audience hides issues labelled internal. Ordering is by project and issue number, so a
re-run writes the same file.

Purely computational; renders Markdown, HTML and JSON.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

from controller.manifests.models import Release
from controller.manifests.state import DesiredState
from controller.plan.observed import IssueCategory, JiraObservation, ObservedIssue
from controller.plan.readiness import projects_of

SECTIONS = (
    (IssueCategory.BREAKING, "Breaking changes"),
    (IssueCategory.FEATURE, "Features"),
    (IssueCategory.IMPROVEMENT, "Improvements"),
    (IssueCategory.BUG, "Bug fixes"),
    (IssueCategory.OTHER, "Other changes"),
)
_COUNTED = {
    "Breaking changes": ("breaking change", "breaking changes"),
    "Features": ("feature", "features"),
    "Improvements": ("improvement", "improvements"),
    "Bug fixes": ("bug fix", "bug fixes"),
    "Other changes": ("other change", "other changes"),
}


@dataclass(frozen=True)
class Notes:
    release: str
    version: str
    audience: str
    components: tuple[tuple[str, str], ...]
    summary: str
    sections: tuple[tuple[str, tuple[ObservedIssue, ...]], ...]
    known_issues: tuple[ObservedIssue, ...]
    extra: str
    browse: str

    @property
    def headline(self) -> str:
        counts = [
            f"{len(items)} {_COUNTED[title][len(items) != 1]}"
            for title, items in self.sections
            if items
        ]
        shipped = ", ".join(f"{name} {version}" for name, version in self.components)
        return f"{self.release} ({self.version}) ships {shipped}" + (
            f": {', '.join(counts)}." if counts else "."
        )


def build(
    state: DesiredState,
    release: Release,
    jira: JiraObservation,
    browse: str,
    audience: str | None = None,
) -> Notes:
    """The notes for `audience` (default: the release's `notes.audience`)."""
    issues = jira.issues_of(projects_of(state, release), release.spec.version)
    audience = audience or release.spec.notes.audience
    if audience == "customers":
        issues = [i for i in issues if not i.internal]
    done = [i for i in issues if i.done]
    sections = tuple(
        (title, tuple(i for i in done if i.category is category)) for category, title in SECTIONS
    )
    return Notes(
        release=release.metadata.name,
        version=release.spec.version,
        audience=audience,
        components=tuple((c.name, c.version) for c in release.spec.components),
        summary=release.spec.notes.summary or release.spec.description,
        sections=sections,
        known_issues=tuple(i for i in issues if not i.done),
        extra=release.spec.notes.extra,
        browse=browse.rstrip("/"),
    )


def to_markdown(notes: Notes) -> str:
    out = [f"# {notes.release} ({notes.version})", "", notes.headline, ""]
    if notes.summary:
        out += [notes.summary, ""]
    out += ["| component | version |", "|---|---|"]
    out += [f"| {name} | {version} |" for name, version in notes.components]
    for title, issues in notes.sections:
        if not issues:
            continue
        out += ["", f"## {title}", ""]
        for issue in issues:
            out.append(f"- {issue.summary} ([{issue.key}]({notes.browse}/browse/{issue.key}))")
            if issue.category is IssueCategory.BREAKING and issue.migration_note:
                out.append(f"  - Migration: {issue.migration_note}")
    if notes.known_issues:
        out += ["", "## Known issues", ""]
        out += [
            f"- {i.summary} ([{i.key}]({notes.browse}/browse/{i.key}), {i.status})"
            for i in notes.known_issues
        ]
    if notes.extra:
        out += ["", notes.extra]
    return "\n".join(out) + "\n"


def to_html(notes: Notes) -> str:
    e = html.escape
    out = [f"<h1>{e(notes.release)} ({e(notes.version)})</h1>", f"<p>{e(notes.headline)}</p>"]
    if notes.summary:
        out.append(f"<p>{e(notes.summary)}</p>")
    out.append(
        "<table><tr><th>component</th><th>version</th></tr>"
        + "".join(f"<tr><td>{e(n)}</td><td>{e(v)}</td></tr>" for n, v in notes.components)
        + "</table>"
    )

    def item(issue: ObservedIssue, suffix: str = "") -> str:
        link = f'<a href="{e(notes.browse)}/browse/{e(issue.key)}">{e(issue.key)}</a>'
        text = f"<li>{e(issue.summary)} ({link}{e(suffix)})"
        if issue.category is IssueCategory.BREAKING and issue.migration_note and not suffix:
            text += f"<br>Migration: {e(issue.migration_note)}"
        return text + "</li>"

    for title, issues in notes.sections:
        if issues:
            out.append(f"<h2>{e(title)}</h2><ul>" + "".join(item(i) for i in issues) + "</ul>")
    if notes.known_issues:
        out.append(
            "<h2>Known issues</h2><ul>"
            + "".join(item(i, f", {i.status}") for i in notes.known_issues)
            + "</ul>"
        )
    if notes.extra:
        out.append(f"<p>{e(notes.extra)}</p>")
    return "\n".join(out) + "\n"


def to_json(notes: Notes) -> str:
    def issue(i: ObservedIssue) -> dict[str, str]:
        body = {
            "key": i.key,
            "summary": i.summary,
            "status": i.status,
            "url": f"{notes.browse}/browse/{i.key}",
        }
        if i.migration_note and i.category is IssueCategory.BREAKING:
            body["migration"] = i.migration_note
        return body

    return (
        json.dumps(
            {
                "release": notes.release,
                "version": notes.version,
                "audience": notes.audience,
                "headline": notes.headline,
                "summary": notes.summary,
                "components": [{"name": n, "version": v} for n, v in notes.components],
                "sections": {title: [issue(i) for i in issues] for title, issues in notes.sections},
                "knownIssues": [issue(i) for i in notes.known_issues],
                "extra": notes.extra,
            },
            indent=2,
        )
        + "\n"
    )
