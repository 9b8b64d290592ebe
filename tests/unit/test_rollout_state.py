"""Rollout status, judged as `kubectl rollout status` judges it."""

from __future__ import annotations

import pytest

from controller.plan.observed import RolloutState, rollout_state


@pytest.mark.parametrize(
    ("args", "state", "message"),
    [
        ((3, 2, 3, 3, 3, 3, None), RolloutState.PENDING, "spec update to be observed"),
        ((3, 3, 3, 4, 1, 3, "ProgressDeadlineExceeded"), RolloutState.FAILED, "deadline"),
        (
            (3, 3, 3, 4, 1, 3, "ReplicaSetUpdated"),
            RolloutState.PROGRESSING,
            "1 out of 3 new replicas have been updated",
        ),
        (
            (3, 3, 3, 4, 3, 3, "ReplicaSetUpdated"),
            RolloutState.PROGRESSING,
            "1 old replicas are pending termination",
        ),
        (
            (3, 3, 3, 3, 3, 2, "ReplicaSetUpdated"),
            RolloutState.PROGRESSING,
            "2 of 3 updated replicas are available",
        ),
        (
            (3, 3, 3, 3, 3, 3, "NewReplicaSetAvailable"),
            RolloutState.COMPLETE,
            "successfully rolled out",
        ),
    ],
)
def test_rollout_state(
    args: tuple[int, int, int, int, int, int, str | None], state: RolloutState, message: str
) -> None:
    got, text = rollout_state(*args)
    assert got is state
    assert message in text
