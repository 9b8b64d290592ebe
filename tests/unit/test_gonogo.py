"""Go/no-go verdicts, table-driven: criteria from Jira, approvals and CI signals."""

from __future__ import annotations

from typing import Any

import pytest

from controller.manifests.models import Gates
from controller.plan.gonogo import decide
from controller.plan.readiness import Criterion, Readiness, ReadinessStatus
from controller.plan.records import DecisionKind as Verdict

GATES = Gates.model_validate(
    {
        "completion": {"minPercent": 90, "veto": False},
        "blockers": {"max": 0, "veto": True},
        "approvals": {"roles": ["qa-lead"], "veto": True},
        "signals": [
            {"name": "test-coverage", "min": 80},
            {"name": "security-scan", "equals": "passed", "veto": True},
        ],
        "goWithConditionsMinShare": 0.75,
    }
)


def readiness(completion: float, blockers: int, approved: bool) -> Readiness:
    criteria = (
        Criterion("completion", ">= 90%", f"{completion:.1f}%", completion >= 90, False),
        Criterion("blockers", "<= 0", str(blockers), blockers == 0, True),
        Criterion("approvals", "qa-lead", "qa-lead" if approved else "none", approved, True),
    )
    return Readiness(
        "r", "1.0", ("PAY",), 10, 9, {}, (), (), (), criteria, 90, ReadinessStatus.READY
    )


@pytest.mark.parametrize(
    ("completion", "blockers", "approved", "signals", "verdict", "why"),
    [
        (95, 0, True, {"test-coverage": 85, "security-scan": "passed"}, Verdict.GO, "every"),
        (
            80,
            0,
            True,
            {"test-coverage": 85, "security-scan": "passed"},
            Verdict.GO_WITH_CONDITIONS,
            "conditions: completion",
        ),
        (
            80,
            0,
            True,
            {"test-coverage": 70, "security-scan": "passed"},
            Verdict.NO_GO,
            "only 60% of criteria met",
        ),
        (
            95,
            1,
            True,
            {"test-coverage": 85, "security-scan": "passed"},
            Verdict.NO_GO,
            "veto criteria unmet: blockers",
        ),
        (
            95,
            0,
            False,
            {"test-coverage": 85, "security-scan": "passed"},
            Verdict.NO_GO,
            "approvals",
        ),
        (95, 0, True, {"test-coverage": 85}, Verdict.NO_GO, "signal:security-scan"),
        (
            95,
            0,
            True,
            {"test-coverage": "n/a", "security-scan": "PASSED"},
            Verdict.GO_WITH_CONDITIONS,
            "signal:test-coverage",
        ),
    ],
)
def test_verdicts(
    completion: float,
    blockers: int,
    approved: bool,
    signals: dict[str, Any],
    verdict: Verdict,
    why: str,
) -> None:
    decision = decide(readiness(completion, blockers, approved), GATES, signals)
    assert decision.verdict is verdict
    assert why in decision.rationale


def test_evidence_key_changes_only_with_the_evidence() -> None:
    base = decide(readiness(95, 0, True), GATES, {"test-coverage": 85, "security-scan": "passed"})
    same = decide(readiness(95, 0, True), GATES, {"test-coverage": 85, "security-scan": "passed"})
    moved = decide(readiness(95, 0, True), GATES, {"test-coverage": 86, "security-scan": "passed"})
    assert base.evidence_key == same.evidence_key != moved.evidence_key
    assert [c.name for c in base.criteria][-2:] == ["signal:test-coverage", "signal:security-scan"]
