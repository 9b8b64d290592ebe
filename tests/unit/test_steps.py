"""Steps around a rollout, rule by rule: the order (pre steps → image → rollout complete →
post steps), a Job's identity across restarts, failures as rollback triggers, the
down-migration before a rollback restores images, irreversible steps, the judgement of a
Job's conditions, and the redaction of logs. The world is `tests.support.world`'s."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from controller.plan import steps
from controller.plan.actions import ActionKind, RollbackImage, RunJob, SetImage
from controller.plan.planner import plan
from controller.plan.plans import Observed, Plan
from controller.plan.records import DecisionKind, Phase, ReleaseStatus, from_yaml, to_yaml
from controller.plan.steps import Condition, JobState, When
from tests.support.world import apply, at, with_flag, with_release
from tests.unit.test_planner import go_world

NAME = "payments-2026-25"
MIGRATE = {"name": "migrate", "command": ["ledger", "migrate", "up"], "timeout": "15m"}
DOWN = {"name": "migrate-down", "command": ["ledger", "migrate", "down"]}
SMOKE = {
    "name": "smoke",
    "image": "registry.shop.example/shop/smoke:7",
    "env": [{"name": "API_TOKEN", "secret": {"name": "smoke-credentials", "key": "token"}}],
}


def state_with(ledger: dict[str, Any], payments: dict[str, Any] | None = None) -> Any:
    components = [
        {"name": "ledger", "version": "5.1.0", "steps": ledger},
        {"name": "payments", "version": "2.5.0", **({"steps": payments} if payments else {})},
    ]
    return with_release(go_world()[0], NAME, components=components)


STEPS = ({"preRollout": [MIGRATE], "onRollback": [DOWN]}, {"postRollout": [SMOKE]})
TIMES = [f"2026-12-08T14:{m:02d}:00+01:00" for m in range(12)]


def run(
    state: Any, failing: dict[str, tuple[str, int, str]] | None = None, times: list[str] = TIMES
) -> tuple[list[Plan], Observed, dict[str, ReleaseStatus]]:
    observed = replace(go_world()[1], jobs={})  # the shell lists them: none yet
    recorded: dict[str, ReleaseStatus] = {}
    plans = []
    for text in ["2026-12-07T09:00:00+01:00", *times]:
        result = plan(state, observed, recorded, at(text))
        plans.append(result)
        observed, recorded = apply(result, observed, failing=failing)
    return plans, observed, recorded


def mine(result: Plan) -> list[Any]:
    return [a for a in result.actions if a.release == NAME and a.kind is not ActionKind.TAG_RELEASE]


def describe(action: Any) -> str:
    if isinstance(action, RunJob):
        return f"job {action.job.name} {action.job.cluster}"
    if isinstance(action, SetImage | RollbackImage):
        return f"{action.kind} {action.change.deployment} {action.change.cluster}"
    return str(action.kind)


def sequence(plans: list[Plan]) -> list[list[str]]:
    return [sorted(describe(a) for a in mine(p)) for p in plans if mine(p)]


def test_pre_steps_before_the_image_and_post_steps_after_the_rollout() -> None:
    plans, _, recorded = run(state_with(*STEPS))
    assert sequence(plans) == [
        ["job payments-2026-25-ledger-migrate-pre1 prod-eu",
         "job payments-2026-25-ledger-migrate-pre1 prod-us"],
        ["set-image ledger prod-eu", "set-image ledger prod-us"],
        ["set-image payments-api prod-eu", "set-image payments-api prod-us"],
        ["job payments-2026-25-payments-smoke-post1 prod-eu",
         "job payments-2026-25-payments-smoke-post1 prod-us"],
    ]  # fmt: skip
    status = recorded[NAME]
    assert status.phase is Phase.MONITORING
    deployed = status.last(DecisionKind.DEPLOYED)
    assert deployed is not None
    checklist = [(r.item, r.state) for r in deployed.evidence.steps]
    assert checklist == [
        ("ledger preRollout migrate on prod-eu/payments", JobState.SUCCEEDED),
        ("ledger preRollout migrate on prod-us/payments", JobState.SUCCEEDED),
        ("payments postRollout smoke on prod-eu/payments", JobState.SUCCEEDED),
        ("payments postRollout smoke on prod-us/payments", JobState.SUCCEEDED),
        ("ledger onRollback migrate-down on prod-eu/payments", JobState.PENDING),
        ("ledger onRollback migrate-down on prod-us/payments", JobState.PENDING),
    ]
    # The Job runs the component's image at the release's tag unless the step names one.
    jobs = [a.job for p in plans for a in mine(p) if isinstance(a, RunJob)]
    assert {j.image for j in jobs} == {
        "registry.shop.example/shop/ledger:5.1.0",
        "registry.shop.example/shop/smoke:7",
    }
    assert jobs[0].deadline == 900 and jobs[0].command == ("ledger", "migrate", "up")
    assert dict(jobs[0].labels)["relctl.dev/release"] == NAME


def test_a_job_is_found_again_after_a_restart_and_never_created_twice() -> None:
    state = state_with(*STEPS)
    plans, observed, recorded = run(state, times=TIMES[:1])
    created = [a for a in mine(plans[-1]) if isinstance(a, RunJob)]
    assert len(created) == 2
    # The Job runs: a pass (a restarted controller, the same records) waits for it.
    running = {k: replace(j, state=JobState.RUNNING) for k, j in (observed.jobs or {}).items()}
    again = plan(state, replace(observed, jobs=running), recorded, at(TIMES[1]))
    assert mine(again) == []
    assert any("running ledger preRollout migrate" in f.message for f in again.findings)
    # Killed after the create, before the record: the Job is there, found by its name.
    unrecorded = {**recorded, NAME: replace(recorded[NAME], done=())}
    again = plan(state, replace(observed, jobs=running), unrecorded, at(TIMES[1]))
    assert mine(again) == []
    # Created (recorded) but gone before its outcome was seen: failed, never re-run.
    gone = plan(state, replace(observed, jobs={}), recorded, at(TIMES[1]))
    assert not [a for a in mine(gone) if isinstance(a, RunJob)]
    rollback = gone.statuses[NAME].last(DecisionKind.ROLLBACK)
    assert rollback is not None and "Vanished" in rollback.evidence.triggers[0]
    # Jobs not observed at all (a cluster down): the steps wait; nothing is created.
    dark = replace(observed, jobs=None)
    waiting = plan(state, dark, unrecorded, at(TIMES[1]))
    assert mine(waiting) == []


def test_a_failed_pre_step_changes_no_image_and_triggers_the_rollback_policy() -> None:
    log = "applying 0042_ledger_split\nDATABASE_URL=postgres://ledger:hunter2@db/ledger\nerror"
    plans, _observed, recorded = run(
        state_with(*STEPS), failing={"ledger-migrate": ("BackoffLimitExceeded", 3, log)}
    )
    assert not [a for p in plans for a in mine(p) if isinstance(a, SetImage)]
    status = recorded[NAME]
    assert status.phase is Phase.ROLLED_BACK
    rollback = status.last(DecisionKind.ROLLBACK)
    assert rollback is not None
    assert rollback.evidence.triggers[0] == (
        "ledger: step ledger preRollout migrate on prod-eu/payments: Failed "
        "(BackoffLimitExceeded, exit 3)"
    )
    assert "nothing (no component was rolled out yet)" in rollback.rationale
    failed = [r for r in rollback.evidence.steps if r.state is JobState.FAILED]
    assert failed and failed[0].exit_code == 3
    assert "hunter2" not in failed[0].log and "applying 0042_ledger_split" in failed[0].log
    # Nothing was migrated: no down-migration.
    assert not [a for p in plans for a in mine(p) if isinstance(a, RunJob) and "undo" in a.job.name]


def test_a_failed_post_step_rolls_back_running_the_down_migration_first() -> None:
    plans, observed, recorded = run(
        state_with(*STEPS), failing={"payments-smoke": ("BackoffLimitExceeded", 1, "503")}
    )
    status = recorded[NAME]
    assert status.phase is Phase.ROLLED_BACK
    rollback = status.last(DecisionKind.ROLLBACK)
    assert rollback is not None and rollback.evidence.components == ("ledger", "payments")
    assert "payments postRollout smoke" in rollback.evidence.triggers[0]
    after = sequence(plans)[4:]
    assert after == [
        # payments (no onRollback steps) first, in reverse dependency order; the ledger's
        # down-migration, with the image of the release being rolled back, before its image.
        ["job payments-2026-25-ledger-migrate-down-undo1 prod-eu",
         "job payments-2026-25-ledger-migrate-down-undo1 prod-us",
         "rollback-image payments-api prod-eu", "rollback-image payments-api prod-us"],
        ["rollback-image ledger prod-eu", "rollback-image ledger prod-us"],
    ]  # fmt: skip
    down = [a.job for p in plans for a in mine(p) if isinstance(a, RunJob) and "undo" in a.job.name]
    assert down[0].image == "registry.shop.example/shop/ledger:5.1.0"
    ledger = observed.workloads[("prod-eu", "payments", "ledger")]  # type: ignore[index]
    assert ledger.images["ledger"] == "registry.shop.example/shop/ledger:1.0.0"  # before


def test_a_failed_down_migration_leaves_the_previous_image_to_a_person() -> None:
    plans, _observed, _recorded = run(
        state_with(*STEPS),
        failing={"payments-smoke": ("BackoffLimitExceeded", 1, ""), "migrate-down": ("", 2, "")},
    )
    assert not [
        a for p in plans for a in mine(p) if isinstance(a, RollbackImage) and "ledger" in a.key
    ]
    last = plans[-1]
    assert any("onRollback step failed" in f.message for f in last.findings)


def test_an_irreversible_step_that_ran_forbids_an_automatic_rollback() -> None:
    irreversible = {**MIGRATE, "reversible": False}
    plans, _, recorded = run(
        state_with({"preRollout": [irreversible]}, STEPS[1]),
        failing={"payments-smoke": ("BackoffLimitExceeded", 1, "")},
    )
    status = recorded[NAME]
    assert status.phase is Phase.ROLLBACK_RECOMMENDED
    recommended = status.last(DecisionKind.ROLLBACK_RECOMMENDED)
    assert recommended is not None and "roll forward" in recommended.rationale
    assert "irreversible step ledger preRollout migrate" in recommended.rationale
    assert not [a for p in plans for a in mine(p) if isinstance(a, RollbackImage)]


def test_job_names_differ_per_release_and_attempt_and_fit_a_label() -> None:
    names = {
        steps.job_name(release, "ledger", "migrate", When.PRE, 1)
        for release in ("payments-2026-25", "payments-2027-1")
    }
    assert len(names) == 2
    long = steps.job_name("r" * 60, "c" * 60, "s" * 60, When.POST, 1)
    assert len(long) <= 63 and long == steps.job_name("r" * 60, "c" * 60, "s" * 60, When.POST, 1)
    assert long != steps.job_name("r" * 60, "c" * 60, "s" * 60, When.POST, 2)


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([], (JobState.RUNNING, "")),
        ([("Complete", "True", "")], (JobState.SUCCEEDED, "")),
        ([("Complete", "False", "")], (JobState.RUNNING, "")),
        ([("SuccessCriteriaMet", "True", "CompletionsReached")],
         (JobState.SUCCEEDED, "CompletionsReached")),
        ([("FailureTarget", "True", "DeadlineExceeded")], (JobState.FAILED, "DeadlineExceeded")),
        ([("FailureTarget", "True", "BackoffLimitExceeded"),
          ("Failed", "True", "BackoffLimitExceeded")],
         (JobState.FAILED, "BackoffLimitExceeded")),
        ([("Failed", "Unknown", "DeadlineExceeded")], (JobState.RUNNING, "")),
        ([("Suspended", "True", "JobSuspended")], (JobState.RUNNING, "")),
    ],
)  # fmt: skip
def test_a_job_is_judged_by_its_conditions_with_their_status(
    conditions: list[tuple[str, str, str]], expected: tuple[JobState, str]
) -> None:
    assert steps.judge([Condition(*c) for c in conditions]) == expected


def test_logs_are_bounded_and_redacted() -> None:
    log = "\n".join(f"line {n}" for n in range(100)) + (
        "\nAPI_TOKEN=s3cr3t-value\npassword: 'hunter2'\nAuthorization: Bearer abcdefghijkl\n"
        "GET https://bot:tok3n@api.example/health -> 503\x1b[31m\n"
    )
    kept = steps.redact(log, ("API_TOKEN",))
    assert len(kept.splitlines()) == steps.LOG_LINES and "line 79" not in kept
    for secret in ("s3cr3t-value", "hunter2", "abcdefghijkl", "tok3n", "\x1b"):
        assert secret not in kept
    assert "GET https://[redacted]@api.example/health -> 503" in kept
    assert len(steps.redact("x" * 10_000)) == steps.LOG_CHARS


def test_step_records_survive_the_status_file() -> None:
    _, _, recorded = run(
        state_with(*STEPS), failing={"payments-smoke": ("BackoffLimitExceeded", 1, "HTTP 503")}
    )
    status = recorded[NAME]
    again = from_yaml(to_yaml(status), "status/releases/x.yaml")
    assert again.steps == status.steps
    assert again.decisions == status.decisions


def test_maintenance_mode_is_on_before_the_first_step_and_off_after_the_rollout() -> None:
    flag = "legacy-cart-fallback"
    state = with_flag(
        state_with({"preRollout": [MIGRATE], "maintenance": {"flag": flag}}),
        flag,
        defaultVariant="off",
    )
    plans, _, recorded = run(state)
    timeline: list[str] = []
    for result in plans:
        for action in result.actions:
            if action.kind is ActionKind.APPLY_FLAGS:
                held = json.loads(action.document)["flags"]
                if flag in held:
                    timeline.append(f"{flag} {held[flag]['defaultVariant']}")
            elif action.release == NAME and action.kind is not ActionKind.TAG_RELEASE:
                timeline.append(describe(action).rsplit(" ", 1)[0])
    ordered = [t for n, t in enumerate(timeline) if n == 0 or timeline[n - 1] != t]
    assert ordered == [
        f"{flag} off",  # the flag's own state, applied ahead of time
        f"{flag} on",  # before the ledger's first step; the migration waits to see it on
        "job payments-2026-25-ledger-migrate-pre1",
        "set-image ledger",
        "set-image payments-api",  # the ledger's rollout complete: payments goes, and
        f"{flag} off",  # in the same pass the flag goes off
    ]
    assert recorded[NAME].maintenance == ()
    assert recorded[NAME].phase is Phase.MONITORING


def test_a_rolled_back_release_leaves_the_jobs_of_its_rollout_unjudged() -> None:
    """Once rolled back, only its onRollback Jobs are looked for: a post step Job it left
    behind, unseen, is not recorded as vanished."""
    state = state_with(*STEPS)
    _, observed, recorded = run(state, failing={"ledger-migrate": ("BackoffLimitExceeded", 3, "")})
    status = recorded[NAME]
    assert status.phase is Phase.ROLLED_BACK
    smoke = f"job:prod-eu/payments/{NAME}-payments-smoke-post1"
    left = {**recorded, NAME: replace(status, done=(*status.done, smoke))}
    later = plan(state, replace(observed, jobs={}), left, at("2026-12-08T15:00:00+01:00"))
    assert [r.reason for r in later.statuses[NAME].steps if r.step == "smoke"] == []


def test_a_release_replaces_only_the_step_lists_it_gives() -> None:
    from controller.manifests.steps import Steps

    component = Steps.model_validate({"preRollout": [MIGRATE], "onRollback": [DOWN]})
    backfill = {"name": "backfill", "reversible": False}
    release = Steps.model_validate({"preRollout": [MIGRATE, backfill], "onRollback": []})
    merged = component.over(release)
    assert [s.name for s in merged.pre_rollout or ()] == ["migrate", "backfill"]
    assert merged.on_rollback == ()
    assert component.over(Steps.model_validate({"postRollout": [SMOKE]})).on_rollback == (
        component.on_rollback
    )
    assert component.over(None) is component
