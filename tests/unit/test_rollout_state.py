"""Rollout status, judged as `kubectl rollout status` judges it."""

from __future__ import annotations

from typing import Any

import pytest

from controller.plan.observed import RolloutState, rollout_state

SETTLED = {
    "generation": 3,
    "observed_generation": 3,
    "desired": 3,
    "replicas": 3,
    "updated": 3,
    "available": 3,
    "progressing_reason": "NewReplicaSetAvailable",
}
"""A Deployment whose rollout is complete; each case changes what it names."""


@pytest.mark.parametrize(
    ("changed", "state", "message"),
    [
        ({"observed_generation": 2}, RolloutState.PENDING, "spec update to be observed"),
        (
            {"replicas": 4, "updated": 1, "progressing_reason": "ProgressDeadlineExceeded"},
            RolloutState.FAILED,
            "deadline",
        ),
        (
            {"replicas": 4, "updated": 1, "progressing_reason": "ReplicaSetUpdated"},
            RolloutState.PROGRESSING,
            "1 out of 3 new replicas have been updated",
        ),
        (
            {"replicas": 4, "progressing_reason": "ReplicaSetUpdated"},
            RolloutState.PROGRESSING,
            "1 old replicas are pending termination",
        ),
        (
            {"available": 2, "progressing_reason": "ReplicaSetUpdated"},
            RolloutState.PROGRESSING,
            "2 of 3 updated replicas are available",
        ),
        ({}, RolloutState.COMPLETE, "successfully rolled out"),
    ],
)
def test_rollout_state(changed: dict[str, Any], state: RolloutState, message: str) -> None:
    got, text = rollout_state(**{**SETTLED, **changed})
    assert got is state
    assert message in text
