"""The Jira emulator's issue routes: an issue, its comments (paged as Cloud pages them),
adding one, and transitions."""

from __future__ import annotations

from typing import Any

from controller.sandbox.jira_api import Request, Response, error, expansions, integer
from controller.sandbox.jira_shapes import Shapes
from controller.sandbox.jira_state import Comment, JiraState, adf_text

COMMENT_PAGE = 100
"""Comments per page at most (Jira Cloud's default and cap)."""


class IssueRoutes:
    """The issue routes of `JiraSandbox` (a mixin: the sandbox holds the state)."""

    state: JiraState

    def shapes(self, request: Request) -> Shapes:
        raise NotImplementedError

    def _wanted(self, request: Request, default: str) -> set[str] | None:
        raise NotImplementedError

    def _issue_or_404(self, request: Request) -> Any:
        key = request.match.group(1)
        issue = self.state.issues.get(key.upper()) or next(
            (i for i in self.state.issues.values() if str(i.id) == key), None
        )
        user = request.user
        if issue is None or (user is not None and not user.may_browse(issue.project)):
            return error(404, "Issue does not exist or you do not have permission to see it.")
        return issue

    def _get_issue(self, request: Request) -> Response:
        issue = self._issue_or_404(request)
        if isinstance(issue, Response):
            return issue
        wanted = self._wanted(request, "*all")
        return Response(200, self.shapes(request).issue(issue, wanted, expansions(request)))

    def _comments(self, request: Request) -> Response:
        issue = self._issue_or_404(request)
        if isinstance(issue, Response):
            return issue
        shapes = self.shapes(request)
        # Jira pages comments: 100 by default, and never more than 100 per page.
        start = max(0, integer(request.param("startAt"), "startAt", 0))
        size = min(COMMENT_PAGE, max(1, integer(request.param("maxResults"), "maxResults", 100)))
        chunk = issue.comments[start : start + size]
        return Response(
            200,
            {
                "startAt": start,
                "maxResults": size,
                "total": len(issue.comments),
                "comments": [shapes.comment(issue, c) for c in chunk],
            },
        )

    def _comment(self, request: Request) -> Response:
        issue = self._issue_or_404(request)
        if isinstance(issue, Response):
            return issue
        wanted = integer(request.match.group(2), "id", 0)
        found = next((c for c in issue.comments if c.id == wanted), None)
        if found is None:
            return error(404, f"Can not find a comment for the id: {request.match.group(2)}.")
        return Response(200, self.shapes(request).comment(issue, found))

    def _add_comment(self, request: Request) -> Response:
        issue = self._issue_or_404(request)
        if isinstance(issue, Response):
            return issue
        body = request.body.get("body") if isinstance(request.body, dict) else None
        if request.api == "3" and not (isinstance(body, dict) and body.get("type") == "doc"):
            return error(
                400,
                comment="Operation value must be an Atlassian Document (see the "
                "Atlassian Document Format)",
            )
        if request.api == "2" and not isinstance(body, str):
            return error(400, comment="Comment body can not be empty!")
        text = adf_text(body)
        if not text.strip():
            return error(400, comment="Comment body can not be empty!")
        assert request.user is not None
        comment = Comment(
            self.state.next_id("comment"), text, request.user.account_id, self.state.now()
        )
        issue.comments.append(comment)
        self.state.touch(issue)
        return Response(201, self.shapes(request).comment(issue, comment))

    def _transitions(self, request: Request) -> Response:
        issue = self._issue_or_404(request)
        if isinstance(issue, Response):
            return issue
        return Response(
            200, {"expand": "transitions", "transitions": self.shapes(request).transitions(issue)}
        )

    def _transition(self, request: Request) -> Response:
        issue = self._issue_or_404(request)
        if isinstance(issue, Response):
            return issue
        wanted = (
            (request.body or {}).get("transition", {}) if isinstance(request.body, dict) else {}
        )
        available = {t["id"]: t for t in self.shapes(request).transitions(issue)}
        chosen = available.get(str(wanted.get("id")))
        if chosen is None:
            return error(400, f"Transition id '{wanted.get('id')}' is not valid for this issue.")
        issue.status = chosen["to"]["name"]
        self.state.touch(issue)
        return Response(204)
