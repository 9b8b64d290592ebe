"""The planner, rule by rule: tables and YAML cases over the repository's own releases/
and its Jira seed, with the world simulated by `tests.support.world` (no fakes of any
client: the planner takes values and returns values)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.plan.actions import ActionKind
from controller.plan.observed import RolloutState
from controller.plan.planner import plan
from controller.plan.plans import FindingKind, Observed, Plan
from controller.plan.records import DecisionKind, Phase, ReleaseStatus
from tests.support.world import (
    SHOP,
    apply,
    at,
    desired,
    shop_observed,
    with_issues,
    with_release,
    with_workload,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "plan"
STATE = desired()
APPROVED = [
    {"role": "qa-lead", "by": "dana.qa", "at": "2026-12-04T16:20:00+01:00"},
    {"role": "product-owner", "by": "priya.po", "at": "2026-12-06T10:00:00+01:00"},
]
SIGNALS = {
    "shop-2026-25": {"test-coverage": 84.0, "security-scan": "passed"},
    "payments-2026-25": {"test-coverage": 91.0, "security-scan": "passed"},
}


def decisions(result: Plan, release: str) -> list[str]:
    status = result.statuses[release]
    return [d.decision.value for d in status.decisions]


def actions(result: Plan, release: str | None = None, kind: ActionKind | None = None) -> list[Any]:
    return [
        a
        for a in result.actions
        if (release is None or a.release == release) and (kind is None or a.kind is kind)
    ]


def go_world() -> tuple[Any, Observed]:
    """shop-2026-25 and payments-2026-25 ready: approvals given, bugs fixed, signals green."""
    state = with_release(STATE, "shop-2026-25", approvals=APPROVED)
    observed = with_issues(
        shop_observed(state, at("2026-12-07T09:00:00+01:00")),
        SHOP_106="Done",
        SHOP_107="Done",
        SHOP_108="Done",
    )
    return state, replace(observed, signals=SIGNALS)


def run(
    state: Any,
    observed: Observed,
    times: list[str],
    recorded: dict[str, ReleaseStatus] | None = None,
    bad: frozenset[str] = frozenset(),
) -> tuple[list[Plan], Observed, dict[str, ReleaseStatus]]:
    """Plan at each time and make the plan come true before the next."""
    plans = []
    recorded = dict(recorded or {})
    for text in times:
        result = plan(state, observed, recorded, at(text))
        plans.append(result)
        observed, recorded = apply(result, observed, bad)
    return plans, observed, recorded


CASES = yaml.safe_load((DATA / "boundaries.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[f"{c['release']}@{c['at']}" for c in CASES])
def test_milestone_boundaries(case: dict[str, Any]) -> None:
    now = at(case["at"])
    result = plan(STATE, shop_observed(STATE, now), {}, now)
    assert result.statuses[case["release"]].phase == case["phase"]
    assert decisions(result, case["release"]) == case["decisions"]


def test_versions_are_created_ahead_and_follow_a_delay() -> None:
    now = at("2026-11-23T12:00:00+01:00")
    observed = shop_observed(STATE, now)
    assert observed.jira is not None
    empty = replace(observed.jira, versions={})
    result = plan(STATE, replace(observed, jira=empty), {}, now)
    ensured = {
        (a.project, a.version, str(a.day)) for a in actions(result, kind=ActionKind.ENSURE_VERSION)
    }
    assert ensured == {
        ("SHOP", "2026.25", "2026-12-08"),
        ("PAY", "2026.25", "2026-12-08"),
        ("PLAT", "2027.1", "2027-01-05"),
        ("PLAT", "notifications-1.9.0", "2026-12-03"),
        ("PAY", "payments-2.4.1", "2026-11-28"),
    }
    # The same (project, version) for two releases is one action, with one key.
    assert len({a.key for a in result.actions}) == len(result.actions)
    plans, observed, recorded = run(
        STATE, shop_observed(STATE, now), ["2026-12-07T09:00:00+01:00", "2026-12-08T09:00:00+01:00"]
    )
    # NO_GO at departure: DELAY. The next departure, Dec 22, is inside the holiday
    # freeze: it is passed over (and named), and the Jira version follows the one taken.
    moved = actions(plans[1], "shop-2026-25", ActionKind.ENSURE_VERSION)
    assert [(a.project, str(a.day)) for a in moved] == [("SHOP", "2027-01-05")]
    assert "move from 2026-12-08" in moved[0].reason
    status = recorded["shop-2026-25"]
    assert status.departure == at("2027-01-05T09:00:00+01:00")
    delay = status.last(DecisionKind.DELAY)
    assert delay is not None and delay.evidence.windows == ("holiday-freeze",)
    assert "2027-01-05 09:00 Europe/Berlin (2027.1)" in delay.rationale
    assert "passed over departure 2026-12-22 09:00 Europe/Berlin falls inside " in delay.rationale
    assert "go/no-go 2027-01-04 09:00 Europe/Berlin" in delay.rationale


def test_verdict_recorded_only_when_it_or_its_evidence_changes() -> None:
    times = ["2026-12-07T09:00:00+01:00", "2026-12-07T10:00:00+01:00", "2026-12-07T11:00:00+01:00"]
    plans, observed, recorded = run(STATE, shop_observed(STATE, at(times[0])), times)
    # Two NO_GO; two dated releases GO, then BLOCKED by the US window.
    assert [len(p.decisions) for p in plans] == [6, 0, 0]
    # One blocker fixed: same verdict, new evidence → a new record.
    fixed = with_issues(observed, SHOP_107="Done")
    result = plan(STATE, fixed, recorded, at("2026-12-07T12:00:00+01:00"))
    assert [(r, d.decision) for r, d in result.decisions] == [("shop-2026-25", DecisionKind.NO_GO)]
    record = result.statuses["shop-2026-25"].decisions[-1]
    assert record.evidence.blockers == ()
    assert record.evidence.critical_bugs == ("SHOP-106",)
    assert 'fixVersion = "2026.25"' in record.evidence.jql
    criteria = {c.name: (c.required, c.actual, c.met) for c in record.criteria}
    assert criteria["blockers"][2] is True
    assert criteria["approvals"][2] is False


def test_approval_commit_turns_no_go_into_go_and_rollout_starts_in_dependency_order() -> None:
    times = ["2026-12-07T09:00:00+01:00"]
    plans, observed, recorded = run(STATE, shop_observed(STATE, at(times[0])), times)
    assert decisions(plans[0], "shop-2026-25") == ["NO_GO"]
    state, ready = go_world()
    ready = replace(ready, workloads=observed.workloads, flags=observed.flags)
    result = plan(state, ready, recorded, at("2026-12-07T15:00:00+01:00"))
    assert decisions(result, "shop-2026-25") == ["NO_GO", "GO"]
    plans, observed, recorded = run(state, ready, ["2026-12-08T09:00:00+01:00"], recorded)
    first = actions(plans[0], "shop-2026-25", ActionKind.SET_IMAGE)
    # catalog has no dependencies; checkout needs payments (another release) and catalog.
    assert [a.change.deployment for a in first] == ["catalog"]
    assert decisions(plans[0], "shop-2026-25")[-1] == "ROLLOUT"
    images = plans[0].statuses["shop-2026-25"].images
    assert images["prod-eu/shop/catalog/catalog"] == "registry.shop.example/shop/catalog:1.0.0"


def test_next_component_waits_until_the_previous_rollout_completes() -> None:
    state, observed = go_world()
    _plans, observed, recorded = run(
        state, observed, ["2026-12-07T09:00:00+01:00", "2026-12-08T09:00:00+01:00"]
    )
    rolling = with_workload(observed, "catalog", rollout=RolloutState.PROGRESSING, message="1 of 2")
    result = plan(state, rolling, recorded, at("2026-12-08T09:01:00+01:00"))
    assert actions(result, "shop-2026-25", ActionKind.SET_IMAGE) == []
    assert any("catalog rolling out" in f.message for f in result.findings)


def test_component_waits_for_a_dependency_in_another_release() -> None:
    state, observed = go_world()
    times = ["2026-12-07T09:00:00+01:00", "2026-12-08T09:00:00+01:00", "2026-12-08T09:01:00+01:00"]
    plans, observed, recorded = run(state, observed, times)
    # payments-2026-25 is held by the US window until 14:00; checkout depends on payments.
    assert recorded["payments-2026-25"].phase is Phase.WAITING
    waiting = [f.message for f in plans[2].findings if f.subject == "shop-2026-25"]
    assert any("checkout waits for payments (release payments-2026-25" in m for m in waiting)
    times = [f"2026-12-08T14:0{n}:00+01:00" for n in range(6)]
    plans, observed, recorded = run(state, observed, times, recorded)
    rolled = [a.change.deployment for p in plans for a in actions(p, kind=ActionKind.SET_IMAGE)]
    assert rolled.index("payments-api") < rolled.index("checkout") < rolled.index("storefront")
    assert rolled.index("ledger") < rolled.index("payments-api")


def test_a_window_opening_during_a_rollout_holds_the_next_component() -> None:
    state, observed = go_world()
    # Dec 12 00:00 Berlin is Saturday: the weekend window opens between components.
    state = with_release(
        state, "shop-2026-25", departure=None, train=None, date="2026-12-11T23:59:00+01:00"
    )
    state = with_release(state, "payments-2026-25", departure="2026-12-22")
    observed = replace(observed, signals=SIGNALS)
    times = ["2026-12-10T23:59:00+01:00", "2026-12-11T23:59:00+01:00"]
    plans, observed, recorded = run(state, observed, times)
    assert [a.change.deployment for a in actions(plans[1], kind=ActionKind.SET_IMAGE)] == [
        "catalog"
    ]
    result = plan(state, observed, recorded, at("2026-12-12T00:00:00+01:00"))
    assert actions(result, "shop-2026-25", ActionKind.SET_IMAGE) == []
    blocked = [
        f for f in result.findings if f.kind is FindingKind.BLOCKED and f.subject == "shop-2026-25"
    ]
    assert blocked and "rollout of checkout blocked: inside 'weekend'" in blocked[0].message
    assert blocked[0].until == at("2026-12-14T00:00:00+01:00")


def test_override_passes_a_deny_window_and_is_recorded() -> None:
    state, observed = go_world()
    state = with_release(
        state,
        "shop-2026-25",
        departure="2026-12-22",
        override={
            "reason": "Payment outage fix",
            "by": "cto",
            "expires": "2026-12-23T00:00:00+01:00",
        },
    )
    times = ["2026-12-21T09:00:00+01:00", "2026-12-22T09:00:00+01:00"]
    plans, _, recorded = run(state, observed, times)
    assert decisions(plans[1], "shop-2026-25") == ["GO", "OVERRIDE", "ROLLOUT"]
    override = recorded["shop-2026-25"].last(DecisionKind.OVERRIDE)
    assert override is not None and override.evidence.windows == ("holiday-freeze",)
    # Without the override the freeze holds that departure back for far longer than the
    # go/no-go lead time: the release departs at the first departure after it instead,
    # and no go/no-go is taken before that departure's own milestone.
    plain = with_release(state, "shop-2026-25", override=None)
    plans, _, recorded = run(plain, observed, times)
    assert decisions(plans[1], "shop-2026-25") == ["RESCHEDULED"]
    moved = recorded["shop-2026-25"].decisions[-1]
    assert moved.evidence.windows == ("holiday-freeze",)
    assert moved.evidence.until == at("2027-01-05T09:00:00+01:00")
    assert "falls inside 'holiday-freeze'" in moved.rationale
    assert "until 2027-01-04 00:00 Europe/Berlin" in moved.rationale
    assert actions(plans[1], "shop-2026-25", ActionKind.SET_IMAGE) == []
    later, _, recorded = run(plain, observed, ["2027-01-04T09:00:00+01:00"], recorded)
    assert decisions(later[0], "shop-2026-25")[-1] == "GO"


def _shipped(
    bad: frozenset[str] = frozenset(), state: Any = None
) -> tuple[Any, list[Plan], Observed, dict[str, ReleaseStatus]]:
    state = state or go_world()[0]
    observed = go_world()[1]
    times = [
        "2026-12-07T09:00:00+01:00",
        "2026-12-08T14:00:00+01:00",
        "2026-12-08T14:01:00+01:00",
        "2026-12-08T14:02:00+01:00",
        "2026-12-08T14:03:00+01:00",
        "2026-12-08T14:04:00+01:00",
        "2026-12-08T14:05:00+01:00",
        "2026-12-08T14:06:00+01:00",
    ]
    plans, observed, recorded = run(state, observed, times, bad=bad)
    return state, plans, observed, recorded


def test_failed_rollout_rolls_back_only_the_affected_component_when_partial() -> None:
    bad = frozenset({"registry.shop.example/shop/checkout:3.8.0"})
    state, _plans, observed, recorded = _shipped(bad)
    status = recorded["shop-2026-25"]
    assert status.phase is Phase.ROLLED_BACK
    assert status.rolled_back == ("checkout",)
    rollback = status.last(DecisionKind.ROLLBACK)
    assert (
        rollback is not None and "exceeded its progress deadline" in rollback.evidence.triggers[0]
    )
    checkout = observed.workloads[("prod-eu", "shop", "checkout")]  # type: ignore[index]
    catalog = observed.workloads[("prod-eu", "shop", "catalog")]  # type: ignore[index]
    assert checkout.images["checkout"] == "registry.shop.example/shop/checkout:1.0.0"
    assert catalog.images["catalog"] == "registry.shop.example/shop/catalog:2.3.1"
    # storefront (after checkout) never started.
    storefront = observed.workloads[("prod-eu", "shop", "storefront")]  # type: ignore[index]
    assert storefront.images["web"] == "registry.shop.example/shop/storefront:1.0.0"
    # Never roll back a rollback, never roll out again.
    later = plan(state, observed, recorded, at("2026-12-08T15:00:00+01:00"))
    assert actions(later, "shop-2026-25") == []
    assert all(r != "shop-2026-25" for r, _ in later.decisions)


def test_failed_rollout_rolls_back_every_started_component_when_not_partial() -> None:
    state = with_release(go_world()[0], "shop-2026-25", rollback={"auto": True, "partial": False})
    bad = frozenset({"registry.shop.example/shop/checkout:3.8.0"})
    _, _, _, recorded = _shipped(bad, state)
    assert recorded["shop-2026-25"].rolled_back == ("catalog", "checkout")


def test_rollback_recommended_without_auto() -> None:
    state = with_release(go_world()[0], "shop-2026-25", rollback={"auto": False})
    bad = frozenset({"registry.shop.example/shop/catalog:2.3.1"})
    state, plans, _observed, recorded = _shipped(bad, state)
    status = recorded["shop-2026-25"]
    assert status.phase is Phase.ROLLBACK_RECOMMENDED
    assert [d.decision for d in status.decisions].count(DecisionKind.ROLLBACK_RECOMMENDED) == 1
    kinds = {a.kind for p in plans for a in actions(p, "shop-2026-25")}
    assert ActionKind.ROLLBACK_IMAGE not in kinds


def mine(result: Plan, release: str = "payments-2026-25") -> list[DecisionKind]:
    return [d.decision for r, d in result.decisions if r == release]


def test_unavailable_replicas_trigger_only_after_the_duration() -> None:
    state, _plans, observed, recorded = _shipped()
    assert recorded["payments-2026-25"].phase is Phase.MONITORING
    # payments-2026-25: abovePercent 25 for 3m. One of two replicas down.
    sick = with_workload(observed, "ledger", unavailable_replicas=1)
    first = plan(state, sick, recorded, at("2026-12-08T15:00:00+01:00"))
    assert first.statuses["payments-2026-25"].unhealthy_since
    assert mine(first) == []
    _, recorded = apply(first, sick)
    almost = plan(state, sick, recorded, at("2026-12-08T15:02:59+01:00"))
    assert mine(almost) == []
    fired = plan(state, sick, recorded, at("2026-12-08T15:03:00+01:00"))
    assert mine(fired) == [DecisionKind.ROLLBACK]
    # Recovered before the duration: the clock restarts.
    healthy = plan(state, observed, recorded, at("2026-12-08T15:02:00+01:00"))
    assert healthy.statuses["payments-2026-25"].unhealthy_since == {}


def test_released_after_monitoring_comments_once_per_issue() -> None:
    state, plans, observed, recorded = _shipped()
    assert recorded["shop-2026-25"].phase is Phase.MONITORING
    # monitoringEnd is +2d from departure (Dec 10 09:00), but the rollout finished at
    # 14:0x on Dec 8: it is watched for two days from then.
    early = plan(state, observed, recorded, at("2026-12-10T10:00:00+01:00"))
    assert early.statuses["shop-2026-25"].phase is Phase.MONITORING
    plans, observed, recorded = run(
        state, observed, ["2026-12-10T14:10:00+01:00", "2026-12-10T14:11:00+01:00"], recorded
    )
    assert decisions(plans[0], "shop-2026-25")[-1] == "RELEASED"
    comments = actions(plans[0], "shop-2026-25", ActionKind.COMMENT)
    assert sorted(a.issue for a in comments) == [f"SHOP-{n}" for n in range(101, 109)]
    assert {a.project for a in actions(plans[0], "shop-2026-25", ActionKind.RELEASE_VERSION)} == {
        "SHOP"
    }
    assert "shop-2026-25" in plans[0].notes and "## " in plans[0].notes["shop-2026-25"]
    assert actions(plans[1], "shop-2026-25") == []
    assert all(r != "shop-2026-25" for r, _ in plans[1].decisions)


def healing(state: Any, *names: str) -> Any:
    """`state` with selfHeal on for the components `names`."""
    from controller.manifests.models import Component
    from controller.manifests.state import build_state

    manifests = [
        replace(
            m,
            model=m.model.model_copy(
                update={"spec": m.model.spec.model_copy(update={"self_heal": True})}
            ),
        )
        if isinstance(m.model, Component) and m.name in names
        else m
        for m in state.manifests
    ]
    return build_state(state.root, manifests)


def test_a_rollback_never_deploys_what_the_release_never_rolled_out() -> None:
    """checkout fails and is rolled back (partial); storefront, after it in dependency
    order, never started. With selfHeal on storefront, nothing may put storefront 4.2.0
    there, and no drift may be claimed for it, in the rollback's pass or after."""
    state = healing(go_world()[0], "storefront", "catalog", "checkout")
    bad = frozenset({"registry.shop.example/shop/checkout:3.8.0"})
    state, plans, observed, recorded = _shipped(bad, state)
    assert recorded["shop-2026-25"].phase is Phase.ROLLED_BACK
    later = plan(state, observed, recorded, at("2026-12-08T16:00:00+01:00"))
    for result in [*plans, later]:
        restored = [a.change.image for a in actions(result, kind=ActionKind.RESTORE_IMAGE)]
        assert restored == [], restored
        drift = [f.message for f in result.findings if f.kind is FindingKind.DRIFT]
        assert drift == [], drift
    storefront = observed.workloads[("prod-eu", "shop", "storefront")]  # type: ignore[index]
    assert storefront.images["web"] == "registry.shop.example/shop/storefront:1.0.0"
    # What the release did roll out and kept (catalog) is still guarded.
    changed = with_workload(
        observed, "catalog", images={"catalog": "registry.shop.example/shop/catalog:hotpatch"}
    )
    result = plan(state, changed, recorded, at("2026-12-08T16:00:00+01:00"))
    restore = actions(result, kind=ActionKind.RESTORE_IMAGE)
    assert [a.change.image for a in restore] == ["registry.shop.example/shop/catalog:2.3.1"]


def test_image_drift_is_reported_and_self_healed_when_asked() -> None:
    state, _plans, observed, recorded = _shipped()
    changed = with_workload(
        observed, "catalog", images={"catalog": "registry.shop.example/shop/catalog:hotpatch"}
    )
    result = plan(state, changed, recorded, at("2026-12-08T16:00:00+01:00"))
    drift = [f for f in result.findings if f.kind is FindingKind.DRIFT]
    assert drift and "catalog:hotpatch" in drift[0].message
    assert actions(result, kind=ActionKind.RESTORE_IMAGE) == []  # catalog has no selfHeal
    healed = healing(state, "catalog")
    result = plan(healed, changed, recorded, at("2026-12-08T16:00:00+01:00"))
    restore = actions(result, kind=ActionKind.RESTORE_IMAGE)
    assert [a.change.image for a in restore] == ["registry.shop.example/shop/catalog:2.3.1"]
    # The repair is a decision, recorded on the release whose image it puts back.
    assert mine(result, "shop-2026-25") == [DecisionKind.REPAIRED]
    repaired = result.statuses["shop-2026-25"].decisions[-1]
    assert "catalog:hotpatch" in repaired.rationale
    assert repaired.evidence.images == {
        "prod-eu/shop/catalog/catalog": "registry.shop.example/shop/catalog:2.3.1"
    }
    # Inside a deny window (Saturday: the weekend) the repair waits for it to end.
    weekend = plan(healed, changed, recorded, at("2026-12-12T10:00:00+01:00"))
    assert actions(weekend, kind=ActionKind.RESTORE_IMAGE) == []
    assert DecisionKind.REPAIRED not in mine(weekend, "shop-2026-25")
    held = [f.message for f in weekend.findings if f.kind is FindingKind.BLOCKED]
    assert any("self-heal of prod-eu/shop/catalog waits: inside 'weekend'" in m for m in held)


def test_flags_advance_with_the_release_and_hand_changes_are_drift() -> None:
    state, _, observed, recorded = _shipped()
    _plans, observed, recorded = run(
        state, observed, ["2026-12-10T14:10:00+01:00", "2026-12-10T14:11:00+01:00"], recorded
    )
    target = next(t for t in observed.flags or {} if t.name == "shop-flags")
    flag = (observed.flags or {})[target]["new-checkout-flow"]  # type: ignore[index]
    assert flag["metadata"]["rolloutPercent"] > 0
    later = plan(state, observed, recorded, at("2027-02-01T10:00:00+01:00"))
    stage = [f for f in later.findings if f.kind is FindingKind.FLAG_STAGE]
    assert any("new-checkout-flow advances from" in f.message for f in stage)
    edited = dict((observed.flags or {})[target] or {})
    edited["new-checkout-flow"] = {**edited["new-checkout-flow"], "defaultVariant": "on"}
    hand = replace(observed, flags={**(observed.flags or {}), target: edited})
    result = plan(state, hand, recorded, at("2026-12-10T14:12:00+01:00"))
    drift = [f for f in result.findings if f.kind is FindingKind.FLAG_DRIFT]
    assert drift and "changed by hand (defaultVariant)" in drift[0].message
    assert [a.target for a in actions(result, kind=ActionKind.APPLY_FLAGS)] == [target]


def test_release_moved_twice_by_its_manifest() -> None:
    now = "2026-11-23T12:00:00+01:00"
    _, observed, recorded = run(STATE, shop_observed(STATE, at(now)), [now])
    moved = with_release(STATE, "search-2027-1", departure="2027-01-19")
    _plans, observed, recorded = run(moved, observed, ["2026-11-24T12:00:00+01:00"], recorded)
    again = with_release(STATE, "search-2027-1", departure="2027-02-02")
    _plans2, observed, recorded = run(again, observed, ["2026-11-25T12:00:00+01:00"], recorded)
    log = [d.decision for d in recorded["search-2027-1"].decisions]
    assert log == [DecisionKind.RESCHEDULED, DecisionKind.RESCHEDULED]
    assert recorded["search-2027-1"].departure == at("2027-02-02T09:00:00+01:00")
    version = observed.jira.version("PLAT", "2027.1")  # type: ignore[union-attr]
    assert version is not None and str(version.release_date) == "2027-02-02"


def test_observe_only_plan_has_no_verdicts_and_no_actions() -> None:
    now = at("2026-12-08T09:00:00+01:00")
    result = plan(STATE, Observed(), {}, now)
    assert result.actions == ()
    assert result.decisions == ()
    assert any(f.kind is FindingKind.FLAG_STAGE for f in result.findings)


def test_plan_is_deterministic() -> None:
    now = at("2026-12-08T09:00:00+01:00")
    observed = shop_observed(STATE, now)
    assert plan(STATE, observed, {}, now) == plan(STATE, observed, {}, now)


def test_a_delay_never_lands_in_a_freeze_and_go_no_go_moves_with_it() -> None:
    """NO_GO at the Dec 8 departure → DELAY. Dec 22 is inside the holiday freeze, so the
    release goes to Jan 5; nothing is decided at Dec 22's go/no-go, nothing rolls out
    when the freeze ends, the verdict is taken again at Jan 4 09:00 and the rollout
    follows at Jan 5 09:00. The Jira version follows the departure taken."""
    state, ready = go_world()
    not_ready = shop_observed(state, at("2026-12-07T09:00:00+01:00"))  # SHOP-107 blocks
    plans, observed, recorded = run(
        state, not_ready, ["2026-12-07T09:00:00+01:00", "2026-12-08T09:00:00+01:00"]
    )
    assert decisions(plans[1], "shop-2026-25")[-1] == "DELAY"
    assert recorded["shop-2026-25"].departure == at("2027-01-05T09:00:00+01:00")
    # The work gets done; the world is ready from now on.
    observed = replace(
        ready, jira=observed.jira and replace(ready.jira, versions=observed.jira.versions)
    )
    steps = [
        ("2026-12-21T09:00:00+01:00", []),  # Dec 22's go/no-go: not this release's any more
        ("2026-12-22T09:00:00+01:00", []),
        ("2027-01-04T00:00:00+01:00", []),  # the freeze ends: nothing ships by itself
        ("2027-01-04T09:00:00+01:00", ["GO"]),
        ("2027-01-05T08:59:00+01:00", []),
        ("2027-01-05T09:00:00+01:00", ["ROLLOUT"]),
    ]
    for when, expected in steps:
        result = plan(state, observed, recorded, at(when))
        assert mine(result, "shop-2026-25") == expected, when
        rolled = actions(result, "shop-2026-25", ActionKind.SET_IMAGE)
        assert bool(rolled) == (expected == ["ROLLOUT"]), when
        observed, recorded = apply(result, observed)
    assert observed.jira is not None
    version = observed.jira.version("SHOP", "2026.25")
    assert version is not None and str(version.release_date) == "2027-01-05"


def test_window_words_say_inside_a_deny_window_and_outside_an_allow_window() -> None:
    """payments-2026-25 departs Tuesday 09:00 Berlin, 03:00 in New York: outside the US
    business hours its prod-us workloads may change in. That is not "inside" them, and
    the time it would go is when they open, in the train's zone, named."""
    state, observed = go_world()
    result = plan(state, observed, {}, at("2026-12-07T09:00:00+01:00"))
    [held] = [
        f
        for f in result.findings
        if f.kind is FindingKind.BLOCKED and f.subject == "payments-2026-25"
    ]
    assert "falls outside allow window 'us-business-hours'" in held.message, held.message
    assert "inside 'us-business-hours'" not in held.message
    assert "it would go at 2026-12-08 14:00 Europe/Berlin" in held.message


def test_a_departure_moved_by_a_window_comes_back_when_the_window_goes() -> None:
    """Dec 22 is in the holiday freeze, so the release departs Jan 5. The freeze is
    lifted (its manifest deleted) on Dec 10: the release departs Dec 22 again, recorded,
    and its Jira version follows. Once a departure has passed it never moves back."""
    from controller.manifests.models import BlackoutWindow
    from controller.manifests.state import build_state

    state, observed = go_world()
    state = with_release(state, "shop-2026-25", departure="2026-12-22")
    plans, observed, recorded = run(state, observed, ["2026-12-01T09:00:00+01:00"])
    assert recorded["shop-2026-25"].departure == at("2027-01-05T09:00:00+01:00")
    lifted = build_state(
        state.root,
        [
            m
            for m in state.manifests
            if not (isinstance(m.model, BlackoutWindow) and m.name == "holiday-freeze")
        ],
    )
    plans, observed, recorded = run(lifted, observed, ["2026-12-10T09:00:00+01:00"], recorded)
    back = recorded["shop-2026-25"].decisions[-1]
    assert back.decision is DecisionKind.RESCHEDULED
    assert "no window holds 2026-12-22 09:00 Europe/Berlin any longer" in back.rationale
    assert recorded["shop-2026-25"].departure == at("2026-12-22T09:00:00+01:00")
    moved = actions(plans[0], "shop-2026-25", ActionKind.ENSURE_VERSION)
    assert [str(a.day) for a in moved] == ["2026-12-22"]


HTTP_HEALTH = """\
apiVersion: relctl.dev/v1alpha1
kind: Analysis
metadata: {name: http-health}
spec:
  metrics:
    - name: error-ratio
      query: sum(rate(errors_total{deployment="{{ deployment }}"}[5m]))
      failWhen: "> 0.05"
      interval: 1m
"""


class Answering(dict[str, Any]):
    """Prometheus answering every query so (the planner reads `readings.get(key)`)."""

    def __init__(self, reading: Any) -> None:
        super().__init__()
        self.reading = reading

    def get(self, key: str, default: Any = None) -> Any:
        from controller.plan.measurements import Readings

        return Readings(self.reading)


def analysed(tmp_path: Path, **triggers: Any) -> Any:
    """The shop with shop-2026-25 watched by the http-health analysis."""
    import shutil

    root = tmp_path / "shop"
    shutil.copytree(SHOP, root)
    (root / "releases" / "analyses").mkdir()
    (root / "releases" / "analyses" / "http-health.yaml").write_text(HTTP_HEALTH)
    state = with_release(
        desired(root), "shop-2026-25", approvals=APPROVED,
        rollback={"auto": True, "triggers": {"analysis": ["http-health"], **triggers}},
    )  # fmt: skip
    return state


@pytest.mark.parametrize(
    ("grace", "value", "at_end", "after_grace"),
    [
        # No data, no grace: held past monitoringEnd until a measurement settles it.
        (None, None, Phase.MONITORING, Phase.MONITORING),
        # No data, with a grace: held through it, then released (the record says why).
        ("1h", None, Phase.MONITORING, Phase.RELEASED),
        # Prometheus in Error: never released by a grace.
        ("1h", "error", Phase.MONITORING, Phase.MONITORING),
        # Healthy: released at monitoringEnd.
        ("1h", 0.01, Phase.RELEASED, Phase.RELEASED),
    ],
)
def test_an_unsettled_analysis_holds_a_release_past_monitoring_end(
    tmp_path: Path, grace: str | None, value: Any, at_end: Phase, after_grace: Phase
) -> None:
    from controller.plan.measurements import Reading

    triggers = {"inconclusiveGrace": grace} if grace else {}
    state, plans, observed, recorded = _shipped(state=analysed(tmp_path, **triggers))
    assert recorded["shop-2026-25"].phase is Phase.MONITORING
    reading = Reading(error="Prometheus is unreachable") if value == "error" else Reading(value)
    observed = replace(observed, readings=Answering(reading))
    times = [f"2026-12-10T{h}:{m}:00+01:00" for h, m in (("13", "50"), ("14", "10"))]
    plans, observed, recorded = run(state, observed, times, recorded)
    assert recorded["shop-2026-25"].phase is at_end
    if at_end is Phase.MONITORING:
        held = [f.message for f in plans[-1].findings if f.kind is FindingKind.ANALYSIS]
        assert any("monitoring is over, but not released" in m for m in held)
    plans, observed, recorded = run(state, observed, ["2026-12-10T15:20:00+01:00"], recorded)
    assert recorded["shop-2026-25"].phase is after_grace
    if grace and value is None:
        released = recorded["shop-2026-25"].last(DecisionKind.RELEASED)
        assert released is not None and "inconclusive grace over" in released.rationale
