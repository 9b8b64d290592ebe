"""The emulator's JQL: parsing, Jira's error messages, evaluation semantics, and the
adapter's quoting round-tripping through the parser for any value."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.plan.jql import quote, quote_list
from controller.sandbox import jql

FIELDS = {
    "project": "project",
    "fixversion": "fixVersion",
    "status": "status",
    "labels": "labels",
    "summary": "summary",
    "updated": "updated",
    "key": "key",
}


def parse(text: str) -> jql.Query:
    return jql.parse(text, lambda name: FIELDS.get(name.lower()))


def test_precedence_and_order_by() -> None:
    query = parse(
        "project = PAY OR project = SHOP AND NOT status = Done ORDER BY key DESC, updated"
    )
    assert isinstance(query.where, jql.Or)
    assert isinstance(query.where.operands[1], jql.And)
    assert query.order_by == (("key", True), ("updated", False))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("project = PAY AND", "Expecting a field name but got '<EOF>'. (line 1, character 18)"),
        ("project PAY", "Expecting operator but got 'PAY'."),
        ("projct = PAY", "Field 'projct' does not exist or you do not have permission"),
        ("fixVersion = and", "'and' is a reserved JQL word. You must surround it in quotation"),
        ('summary ~ "open', "The quoted string 'open' has not been completed."),
        ('summary ~ "a\\qb"', "'\\q' is an illegal JQL escape sequence."),
        ("project in (PAY, SHOP", "Expecting ')' but got '<EOF>'."),
        ("project = PAY ORDER key", "Expecting 'BY' but got 'key'."),
        ("labels is something", "Expecting 'EMPTY' or 'NULL' but got 'something'."),
        ("(project = PAY", "Expecting ')' but got '<EOF>'."),
        ("project = PAY project = SHOP", "Expecting either 'OR' or 'AND' but got 'project'."),
    ],
)
def test_jira_error_messages(text: str, message: str) -> None:
    with pytest.raises(jql.JqlError) as error:
        parse(text)
    assert message in str(error.value)


ISSUE = {
    "project": ["pay", "payments"],
    "fixVersion": ["2026.25"],
    "status": ["done"],
    "labels": None,
    "summary": ["fix double capture on retries"],
}


def match(text: str, values: dict[str, list[str] | None] | None = None) -> bool:
    data = ISSUE if values is None else values
    return jql.matches(
        parse(text).where, lambda name: data.get(name), lambda name: datetime(2026, 11, 23, 12, 30)
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("project = PAY", True),
        ("project = Payments", True),
        ("project != PAY", False),
        ('fixVersion in ("2026.24", "2026.25")', True),
        ('fixVersion not in ("2026.25")', False),
        ("labels is EMPTY", True),
        ("labels is not EMPTY", False),
        ("labels = EMPTY", True),
        ("labels != internal", False),  # Jira: an empty field never matches !=
        ('summary ~ "double capture"', True),
        ('summary ~ "capture double"', True),
        ('summary ~ "triple"', False),
        ('summary !~ "triple"', True),
        ("NOT status = Done", False),
        ("status = Done AND (project = X OR project = PAY)", True),
        ('updated >= "2026-11-23 12:00"', True),
        ('updated >= "2026-11-23 12:31"', False),
        ('updated < "2026/11/24"', True),
    ],
)
def test_evaluation(text: str, expected: bool) -> None:
    assert match(text) is expected


@given(st.text(max_size=40))
def test_quoted_values_round_trip_and_cannot_inject(value: str) -> None:
    query = parse(f"fixVersion = {quote(value)} AND project in {quote_list([value, 'x'])}")
    assert isinstance(query.where, jql.And)
    first, second = query.where.operands
    assert first == jql.Clause("fixVersion", "=", (value,))
    assert second == jql.Clause("project", "in", (value, "x"))
