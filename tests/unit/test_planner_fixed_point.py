"""Property: a converged world plans nothing. Whatever the times of the passes and
whichever images fail, after a plan's actions come true, planning again at the same
instant yields no action, no decision and no change of record."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.plan.planner import plan
from tests.support.world import apply, at
from tests.unit.test_planner import go_world

START = at("2026-11-20T00:00:00+01:00")
BAD = [
    "registry.shop.example/shop/checkout:3.8.0",
    "registry.shop.example/shop/catalog:2.3.1",
    "registry.shop.example/shop/ledger:5.1.0",
    "registry.shop.example/shop/notifications:1.9.0",
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.integers(min_value=1, max_value=48 * 60), min_size=1, max_size=25),
    bad=st.sets(st.sampled_from(BAD), max_size=2),
)
def test_plan_on_its_own_outcome_is_a_fixed_point(steps: list[int], bad: set[str]) -> None:
    state, observed = go_world()
    recorded: dict = {}
    now = START
    for minutes in steps:
        now += timedelta(minutes=minutes)
        result = plan(state, observed, recorded, now)
        observed, recorded = apply(result, observed, frozenset(bad))
        again = plan(state, observed, recorded, now)
        # Rollouts advance one component per pass, so a second pass may start the next
        # one; keep applying until nothing is left (bounded by the number of components).
        for _ in range(12):
            if again.converged:
                break
            observed, recorded = apply(again, observed, frozenset(bad))
            again = plan(state, observed, recorded, now)
        assert again.converged, (now, again.actions, again.decisions, again.changed())
