"""The Jira emulator's response shapes: projects, versions, issues, comments and people
as each API version and flavour writes them (checked against Atlassian's OpenAPI)."""

from __future__ import annotations

import html
from collections.abc import Set
from typing import Any

from controller.sandbox.jira_state import (
    CATEGORY_NAMES,
    FIELD_NAMES,
    ISSUE_TYPES,
    PRIORITIES,
    Comment,
    Issue,
    JiraState,
    Project,
    User,
    Version,
    adf,
    jira_time,
)


class Shapes:
    """JSON representations, with `self` URLs under the server's base URL."""

    def __init__(self, state: JiraState, base: str, api: str) -> None:
        self.state, self.base, self.api = state, base.rstrip("/"), api

    def url(self, path: str) -> str:
        return f"{self.base}/rest/api/{self.api}/{path}"

    def project(self, project: Project) -> dict[str, Any]:
        return {
            "self": self.url(f"project/{project.id}"),
            "id": str(project.id),
            "key": project.key,
            "name": project.name,
            "projectTypeKey": "software",
            "simplified": False,
            "style": "classic",
            "isPrivate": False,
            "avatarUrls": {"48x48": f"{self.base}/secure/projectavatar?pid={project.id}"},
        }

    def version(self, version: Version) -> dict[str, Any]:
        project = self.state.projects[version.project]
        body: dict[str, Any] = {
            "self": self.url(f"version/{version.id}"),
            "id": str(version.id),
            "name": version.name,
            "archived": version.archived,
            "released": version.released,
            "projectId": project.id,
        }
        if version.description:
            body["description"] = version.description
        if version.release_date is not None:
            body["releaseDate"] = version.release_date.isoformat()
            body["userReleaseDate"] = version.release_date.strftime("%d/%b/%y")
            if not version.released:
                body["overdue"] = version.release_date < self.state.now().date()
        if version.start_date is not None:
            body["startDate"] = version.start_date.isoformat()
            body["userStartDate"] = version.start_date.strftime("%d/%b/%y")
        return body

    def status(self, name: str) -> dict[str, Any]:
        category = self.state.statuses.get(name, "new")
        label, category_id, color = CATEGORY_NAMES[category]
        status_id = (
            10000 + list(self.state.statuses).index(name) if name in self.state.statuses else 1
        )
        return {
            "self": self.url(f"status/{status_id}"),
            "id": str(status_id),
            "name": name,
            "description": "",
            "iconUrl": f"{self.base}/images/icons/statuses/generic.png",
            "statusCategory": {
                "self": self.url(f"statuscategory/{category_id}"),
                "id": category_id,
                "key": category,
                "colorName": color,
                "name": label,
            },
        }

    def named(self, kind: str, names: list[str], name: str) -> dict[str, Any]:
        index = names.index(name) + 1 if name in names else 100
        return {"self": self.url(f"{kind}/{index}"), "id": str(index), "name": name}

    def user(self, user: User) -> dict[str, Any]:
        """Cloud names people by accountId (GDPR); Data Center by username and key."""
        if self.state.flavor == "datacenter":
            name = user.email.split("@")[0]
            return {
                "self": self.url(f"user?username={name}"),
                "key": f"JIRAUSER{10000 + self.state.users.index(user)}",
                "name": name,
                "emailAddress": user.email,
                "displayName": user.display_name,
                "active": True,
                "timeZone": user.time_zone,
                "locale": "en_US",
            }
        return {
            "self": self.url(f"user?accountId={user.account_id}"),
            "accountId": user.account_id,
            "accountType": "atlassian",
            "emailAddress": user.email,
            "displayName": user.display_name,
            "active": True,
            "timeZone": user.time_zone,
        }

    def text(self, value: str) -> Any:
        return adf(value) if self.api == "3" and value else (value or None)

    def issue_fields(self, issue: Issue, wanted: set[str] | None) -> dict[str, Any]:
        state = self.state
        resolution = (
            {"self": self.url("resolution/1"), "id": "1", "name": "Done"}
            if state.statuses.get(issue.status) == "done"
            else None
        )
        everything: dict[str, Any] = {
            "summary": issue.summary,
            "issuetype": {
                **self.named("issuetype", ISSUE_TYPES, issue.issuetype),
                "subtask": issue.issuetype == "Sub-task",
            },
            "status": self.status(issue.status),
            "priority": self.named("priority", PRIORITIES, issue.priority),
            "labels": list(issue.labels),
            "fixVersions": [self.version(state.versions[v]) for v in issue.fix_versions],
            "resolution": resolution,
            "project": self.project(state.projects[issue.project]),
            "created": jira_time(issue.created),
            "updated": jira_time(issue.updated),
            "description": self.text(issue.description),
            **issue.custom,
        }
        if wanted is None or "*all" in wanted or "*navigable" in wanted:
            return everything
        return {k: v for k, v in everything.items() if k in wanted}

    def issue(
        self, issue: Issue, wanted: set[str] | None, expand: Set[str] = frozenset()
    ) -> dict[str, Any]:
        """An issue with the `wanted` fields (None: all), and what `expand` asks for:
        `names`, `renderedFields`, `changelog` (the others are not emulated)."""
        body: dict[str, Any] = {
            "expand": "renderedFields,names,schema,operations,editmeta,"
            "changelog,versionedRepresentations",
            "id": str(issue.id),
            "self": self.url(f"issue/{issue.id}"),
            "key": issue.key,
        }
        if wanted != {"id"}:
            body["fields"] = self.issue_fields(issue, wanted)
        fields = body.get("fields") or {}
        if "names" in expand:
            body["names"] = {
                f: FIELD_NAMES.get(f, f.replace("customfield_", "Custom ")) for f in fields
            }
        if "renderedFields" in expand:
            rendered = dict.fromkeys(fields)
            if "description" in fields:
                rendered["description"] = "".join(
                    f"<p>{html.escape(part)}</p>"
                    for part in issue.description.split("\n\n")
                    if part
                )
            body["renderedFields"] = rendered
        if "changelog" in expand:
            body["changelog"] = {"startAt": 0, "maxResults": 0, "total": 0, "histories": []}
        return body

    def comment(self, issue: Issue, comment: Comment) -> dict[str, Any]:
        author = next((u for u in self.state.users if u.account_id == comment.author), None)
        body: dict[str, Any] = {
            "self": self.url(f"issue/{issue.id}/comment/{comment.id}"),
            "id": str(comment.id),
            "body": self.text(comment.body),
            "created": jira_time(comment.created),
            "updated": jira_time(comment.created),
            "jsdPublic": True,
        }
        if author is not None:
            body["author"] = body["updateAuthor"] = self.user(author)
        return body

    def transitions(self, issue: Issue) -> list[dict[str, Any]]:
        return [
            {
                "id": str(index + 11),
                "name": t["name"],
                "to": self.status(t["to"]),
                "hasScreen": False,
                "isGlobal": True,
                "isInitial": False,
                "isAvailable": True,
                "isConditional": False,
                "isLooped": False,
            }
            for index, t in enumerate(self.state.transitions)
            if t["to"] != issue.status
        ]
