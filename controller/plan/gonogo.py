"""The go/no-go verdict: the release's gates evaluated against Jira (completion, blockers,
critical bugs), the approvals in its manifest and the signals CI committed (test
coverage, a security scan, ...), each criterion with its required and actual value.

- GO: every criterion met.
- GO_WITH_CONDITIONS: only criteria without a veto are unmet, and at least the gates'
  `goWithConditionsMinShare` of all criteria are met.
- NO_GO: otherwise.

Purely computational: the readiness assessment and the signals come in as values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from controller.manifests.models import Gates, SignalGate
from controller.manifests.signals import SignalValue
from controller.plan.readiness import Criterion, Readiness
from controller.plan.records import DecisionKind


@dataclass(frozen=True)
class Decision:
    verdict: DecisionKind
    """GO, GO_WITH_CONDITIONS or NO_GO."""
    criteria: tuple[Criterion, ...]
    rationale: str

    @property
    def evidence_key(self) -> tuple[object, ...]:
        """What a new record is due for: a change of verdict or of any criterion's value."""
        return (self.verdict, tuple((c.name, c.actual, c.met) for c in self.criteria))


def signal_criterion(gate: SignalGate, signals: Mapping[str, SignalValue]) -> Criterion:
    name = f"signal:{gate.name}"
    if gate.equals is not None:
        required = f"== {gate.equals}"
    else:
        bounds = [
            f">= {gate.min:g}" if gate.min is not None else "",
            f"<= {gate.max:g}" if gate.max is not None else "",
        ]
        required = " and ".join(b for b in bounds if b)
    if gate.name not in signals:
        return Criterion(name, required, "missing", False, gate.veto)
    value = signals[gate.name]
    if gate.equals is not None:
        met = str(value).lower() == str(gate.equals).lower()
        return Criterion(name, required, str(value), met, gate.veto)
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = float(str(value))
        except ValueError:
            return Criterion(name, required, f"{value} (not a number)", False, gate.veto)
    met = (gate.min is None or value >= gate.min) and (gate.max is None or value <= gate.max)
    return Criterion(name, required, f"{value:g}", met, gate.veto)


def decide(
    readiness: Readiness,
    gates: Gates,
    signals: Mapping[str, SignalValue],
    metrics: Sequence[Criterion] = (),
) -> Decision:
    """The verdict from the readiness criteria, the signal gates and the metric gates'
    criteria (`analysis.gate_criteria`)."""
    criteria = (
        *readiness.criteria,
        *(signal_criterion(g, signals) for g in gates.signals),
        *metrics,
    )
    unmet = [c for c in criteria if not c.met]
    share = 1.0 if not criteria else (len(criteria) - len(unmet)) / len(criteria)
    if not unmet:
        return Decision(DecisionKind.GO, criteria, "every criterion is met")
    vetoes = [c.name for c in unmet if c.veto]
    names = ", ".join(c.name for c in unmet)
    if vetoes:
        return Decision(DecisionKind.NO_GO, criteria, f"veto criteria unmet: {', '.join(vetoes)}")
    if share >= gates.go_with_conditions_min_share:
        return Decision(
            DecisionKind.GO_WITH_CONDITIONS,
            criteria,
            f"{share:.0%} of criteria met; conditions: {names}",
        )
    return Decision(
        DecisionKind.NO_GO,
        criteria,
        f"only {share:.0%} of criteria met (at least "
        f"{gates.go_with_conditions_min_share:.0%} needed); unmet: {names}",
    )
