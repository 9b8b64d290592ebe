"""People in control, through git: a Release's `suspend`, `abort` and `attempt`.

- `suspend: true`: nothing is done for the release (no rollout, rollback, Jira write or
  tag), recorded SUSPENDED once; its rollback triggers are still reported as findings.
  Removing it records RESUMED and the release goes on from its recorded state.
- `abort: true` during a rollout: ABORTED is recorded once and every component rolled out
  so far is a trigger, so the rollback policy decides (`monitoring.watch`): rolled back
  with `rollback.auto`, else a person is asked (ROLLBACK_RECOMMENDED). Nothing more rolls
  out. Before the rollout, `abort` stops the release where it is (and is a validation
  error).
- `attempt: N` above the recorded attempt, once the last one is over (rolled back,
  aborted, held, or never started): RETRY is recorded and the release starts again from
  scheduling with its per-attempt state cleared, so a fresh go/no-go decides. Earlier
  attempts' decisions stay in the log, apart (`ReleaseStatus.last` reads the current
  attempt only); Jira comments and tags done stay done.
"""

from __future__ import annotations

from controller.plan.phases import Context, Draft, Step
from controller.plan.phases import monitoring as monitoring_step
from controller.plan.plans import FindingKind
from controller.plan.records import DecisionKind, Evidence, Phase, ReleaseStatus


def who(context: Context, field: str) -> str:
    """Who set the release's control `field`, as git says ("" when unknown)."""
    return context.fleet.observed.controls.get(context.name, {}).get(field, "")


def _reason(context: Context) -> str:
    reason = " ".join(context.spec.reason.split())
    return f": {reason}" if reason else ""


def attempt(context: Context, status: ReleaseStatus) -> Step:
    """A new attempt when the manifest raises `attempt` and the last one is over."""
    draft = Draft(context, status)
    wanted = context.spec.attempt
    if wanted == status.attempt:
        return draft.done()
    if wanted < status.attempt:
        draft.find(
            FindingKind.ERROR,
            f"attempt {wanted} is below attempt {status.attempt}, the one recorded: attempts "
            "only go up; nothing is done for the release until it is fixed",
        )
        return draft.stop()
    phase = status.phase
    if phase.deployed or phase is Phase.RELEASED:
        draft.find(
            FindingKind.WAITING,
            f"attempt {wanted} waits: attempt {status.attempt} is {phase.value}; a new "
            "attempt starts once the last one is rolled back, aborted or held",
        )
        return draft.done()
    ended = "aborted" if status.last(DecisionKind.ABORTED) else phase.value
    draft.update(
        attempt=wanted,
        phase=Phase.SCHEDULED,
        delayed=None,
        images={},
        rolled_back=(),
        unhealthy_since={},
        verdict_digest="",
        measurements=(),
        baselines={},
        steps=(),
        maintenance=(),
    )
    draft.record(
        DecisionKind.RETRY,
        f"attempt {wanted}: attempt {status.attempt} ended {ended}; it ships only after a fresh GO",
        Evidence(departure=status.departure),
    )
    return draft.done()


def suspended(context: Context, status: ReleaseStatus) -> Step:
    """A suspended release: SUSPENDED once, its triggers reported, nothing else."""
    draft = Draft(context, status)
    if not status.suspended:
        draft.record(
            DecisionKind.SUSPENDED,
            f"suspended{_reason(context)}; nothing is done for the release until "
            "`suspend` is removed",
            Evidence(by=who(context, "suspend")),
        )
    draft.find(
        FindingKind.WAITING,
        f"suspended{_reason(context)}: no rollout, rollback or Jira change (relctl resume)",
    )
    if status.phase.deployed:
        watched = monitoring_step.watch(context, draft.status)
        for finding in watched.findings:
            draft.find(finding.kind, f"{finding.message} (suspended: not acted on)")
    return draft.stop()


def resumed(context: Context, status: ReleaseStatus) -> Step:
    """`suspend` removed: RESUMED, and the release goes on from its recorded state."""
    draft = Draft(context, status)
    if status.suspended:
        draft.record(
            DecisionKind.RESUMED,
            f"resumed: it goes on from {status.phase.value}",
            Evidence(),
        )
    return draft.done()


def before_rollout(context: Context, status: ReleaseStatus) -> Step:
    """`abort` on a release that has not started: it stops where it is (nothing to roll
    back, nothing rolls out)."""
    draft = Draft(context, status)
    if not context.spec.abort or status.phase.deployed or status.phase.final:
        return draft.done()
    draft.find(
        FindingKind.ERROR,
        f"abort{_reason(context)}: the release has not started its rollout; `abort` stops "
        "a rollout. It waits here: remove `abort`, or raise `attempt` to decide again",
    )
    return draft.stop()
