"""People in control through git: `suspend`, `abort` and `attempt` on a Release, each
change recorded as a decision, and their interactions (suspend during a rollout, abort then
retry, retry after a rollback with a new GO). The world is `tests.support.world`'s model."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from controller.plan.actions import ActionKind
from controller.plan.planner import plan
from controller.plan.plans import FindingKind, Plan
from controller.plan.records import DecisionKind, Phase, ReleaseStatus
from tests.support.world import at, with_release
from tests.unit.test_planner import actions, go_world, run

SHOP = "shop-2026-25"
BAD_CHECKOUT = frozenset({"registry.shop.example/shop/checkout:3.8.0"})
BAD_CATALOG = frozenset({"registry.shop.example/shop/catalog:2.3.1"})
CHANGES = {ActionKind.SET_IMAGE, ActionKind.ROLLBACK_IMAGE, ActionKind.RUN_JOB}


def minutes(start: int, end: int, day: str = "2026-12-08", hour: int = 14) -> list[str]:
    return [f"{day}T{hour}:{m:02d}:00+01:00" for m in range(start, end)]


def kinds(status: ReleaseStatus) -> list[str]:
    return [d.decision.value for d in status.decisions]


def changes(plans: list[Plan], release: str = SHOP) -> list[Any]:
    return [a for p in plans for a in actions(p, release) if a.kind in CHANGES]


def rolling() -> tuple[Any, Any, dict[str, ReleaseStatus]]:
    """shop-2026-25 GO, its rollout started (catalog set), nothing complete yet beyond."""
    state, observed = go_world()
    _, observed, recorded = run(
        state, observed, ["2026-12-07T09:00:00+01:00", "2026-12-08T14:00:00+01:00"]
    )
    assert recorded[SHOP].phase is Phase.ROLLING_OUT
    return state, observed, recorded


def test_suspend_during_a_rollout_stops_every_change_until_resumed() -> None:
    state, observed, recorded = rolling()
    held = with_release(state, SHOP, suspend=True, reason="payments incident INC-42")
    plans, observed, recorded = run(held, observed, minutes(1, 6), recorded)
    assert changes(plans) == []
    status = recorded[SHOP]
    assert kinds(status).count("SUSPENDED") == 1
    assert status.phase is Phase.ROLLING_OUT and status.suspended
    suspended = status.last(DecisionKind.SUSPENDED)
    assert suspended is not None and "payments incident INC-42" in suspended.rationale
    said = [f.message for f in plans[-1].findings if f.subject == SHOP]
    assert any("suspended: payments incident INC-42" in m for m in said)
    # Resumed: RESUMED once, and the rollout goes on from where it stood.
    plans, observed, recorded = run(state, observed, minutes(6, 20), recorded)
    status = recorded[SHOP]
    assert kinds(status).count("RESUMED") == 1 and not status.suspended
    assert changes(plans)  # it goes on
    assert status.phase is Phase.MONITORING
    assert kinds(status).count("ROLLOUT") == 1  # the same rollout, not a second


def test_a_suspended_release_reports_its_triggers_and_does_not_roll_back() -> None:
    state, observed = go_world()
    plans, observed, recorded = run(
        state, observed, ["2026-12-07T09:00:00+01:00", "2026-12-08T14:00:00+01:00"],
        bad=BAD_CATALOG,
    )  # fmt: skip
    held = with_release(state, SHOP, suspend=True, reason="look first")
    plans, observed, recorded = run(held, observed, minutes(1, 4), recorded, bad=BAD_CATALOG)
    status = recorded[SHOP]
    assert "ROLLBACK" not in kinds(status) and "ROLLBACK_RECOMMENDED" not in kinds(status)
    assert changes(plans) == []
    triggers = [f for f in plans[-1].findings if f.kind is FindingKind.TRIGGER]
    assert triggers and all("(suspended: not acted on)" in f.message for f in triggers)


def test_abort_mid_rollout_rolls_back_what_rolled_out_and_nothing_more_rolls_out() -> None:
    state, observed, recorded = rolling()
    stop = with_release(state, SHOP, abort=True, reason="wrong catalog build")
    plans, observed, recorded = run(stop, observed, minutes(1, 6), recorded)
    status = recorded[SHOP]
    assert kinds(status)[-2:] == ["ABORTED", "ROLLBACK"]
    assert kinds(status).count("ABORTED") == 1
    assert status.phase is Phase.ROLLED_BACK
    assert "catalog" in status.rolled_back
    set_images = [a for a in changes(plans) if a.kind is ActionKind.SET_IMAGE]
    assert set_images == []  # nothing more rolled out
    catalog = observed.workloads[("prod-eu", "shop", "catalog")]
    storefront = observed.workloads[("prod-eu", "shop", "storefront")]
    assert catalog.images["catalog"] == "registry.shop.example/shop/catalog:1.0.0"
    assert storefront.images["web"] == "registry.shop.example/shop/storefront:1.0.0"


def test_abort_without_auto_rollback_asks_a_person_and_rolls_out_nothing_more() -> None:
    base, observed = go_world()
    state = with_release(base, SHOP, rollback={"auto": False})
    _, observed, recorded = run(
        state, observed, ["2026-12-07T09:00:00+01:00", "2026-12-08T14:00:00+01:00"]
    )
    stop = with_release(state, SHOP, abort=True, reason="stop")
    plans, observed, recorded = run(stop, observed, minutes(1, 6), recorded)
    status = recorded[SHOP]
    assert kinds(status)[-2:] == ["ABORTED", "ROLLBACK_RECOMMENDED"]
    assert status.phase is Phase.ROLLBACK_RECOMMENDED
    assert changes(plans) == []


def test_abort_then_retry_needs_a_fresh_go_and_keeps_attempts_apart() -> None:
    state, observed, recorded = rolling()
    stop = with_release(state, SHOP, abort=True, reason="wrong catalog build")
    _, observed, recorded = run(stop, observed, minutes(1, 4), recorded)
    first = recorded[SHOP]
    again = with_release(state, SHOP, attempt=2)
    plans, observed, recorded = run(again, observed, minutes(4, 30), recorded)
    status = recorded[SHOP]
    assert status.attempt == 2
    second = [d for d in status.decisions if d.attempt == 2]
    assert [d.decision.value for d in second][:3] == ["RETRY", "GO", "ROLLOUT"]
    assert "DEPLOYED" in [d.decision.value for d in second]
    assert all(d.attempt == 1 for d in first.decisions)  # the first attempt's, as they were
    assert status.decisions[: len(first.decisions)] == first.decisions
    # The new attempt's GO is its own record, though nothing else changed since the first.
    assert status.last(DecisionKind.GO) is second[1]
    assert status.last(DecisionKind.ABORTED) is None  # an earlier attempt's: history
    # Jira: the version exists once; nothing is created twice.
    ensured = [a for p in plans for a in actions(p, SHOP, ActionKind.ENSURE_VERSION)]
    assert ensured == []


def test_retry_after_a_rollback_ships_with_a_new_go() -> None:
    state, observed = go_world()
    times = ["2026-12-07T09:00:00+01:00", *minutes(0, 8)]
    _, observed, recorded = run(state, observed, times, bad=BAD_CHECKOUT)
    assert recorded[SHOP].phase is Phase.ROLLED_BACK
    again = with_release(state, SHOP, attempt=2)
    plans, observed, recorded = run(again, observed, minutes(0, 25, hour=15), recorded)
    status = recorded[SHOP]
    second = [d.decision.value for d in status.decisions if d.attempt == 2]
    assert second[:3] == ["RETRY", "GO", "ROLLOUT"] and "DEPLOYED" in second
    assert status.phase is Phase.MONITORING and status.rolled_back == ()
    checkout = observed.workloads[("prod-eu", "shop", "checkout")]
    assert checkout.images["checkout"] == "registry.shop.example/shop/checkout:3.8.0"
    # The new attempt's Jobs are its own: named by the attempt.
    jobs = [a.job.name for p in plans for a in actions(p, SHOP, ActionKind.RUN_JOB)]
    assert all(name.endswith("2") for name in jobs)


def test_retry_waits_while_the_attempt_rolls_out_and_an_attempt_never_goes_down() -> None:
    state, observed, recorded = rolling()
    early = plan(with_release(state, SHOP, attempt=2), observed, recorded, at(minutes(1, 2)[0]))
    assert "RETRY" not in kinds(early.statuses[SHOP])
    assert any("attempt 2 waits" in f.message for f in early.findings)
    assert early.statuses[SHOP].attempt == 1 and early.statuses[SHOP].phase.deployed
    ahead = replace(recorded[SHOP], attempt=3)
    down = plan(with_release(state, SHOP, attempt=2), observed, {**recorded, SHOP: ahead},
                at(minutes(1, 2)[0]))  # fmt: skip
    assert [a for a in down.actions if a.release == SHOP] == []
    assert any("attempts only go up" in f.message for f in down.findings)


def test_abort_before_the_rollout_stops_the_release_where_it_is() -> None:
    state, observed = go_world()
    stop = with_release(state, SHOP, abort=True, reason="not this one")
    result = plan(stop, observed, {}, at("2026-12-08T14:00:00+01:00"))
    assert actions(result, SHOP, ActionKind.SET_IMAGE) == []
    assert any("has not started its rollout" in f.message for f in result.findings)
    assert "ROLLOUT" not in kinds(result.statuses[SHOP])
