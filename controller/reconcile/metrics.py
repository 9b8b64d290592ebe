"""The controller's Prometheus metrics, in a registry of their own (so two controllers in
one process, as in tests, never share counters). Fed one pass report at a time; reads
nothing and changes nothing else."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from controller.plan.plans import FindingKind
from controller.reconcile.passes import PassReport, findings_of

DRIFT_KINDS = frozenset({FindingKind.DRIFT, FindingKind.FLAG_DRIFT})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.pass_seconds = Histogram(
            "relctl_pass_duration_seconds",
            "Wall time of a reconcile pass.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.passes = Counter(
            "relctl_passes", "Reconcile passes, by result.", ["result"], registry=r
        )
        self.actions = Counter(
            "relctl_actions", "Actions run, by kind and result.", ["kind", "result"], registry=r
        )
        self.findings = Gauge(
            "relctl_findings", "Findings of the last pass, by kind.", ["kind"], registry=r
        )
        self.drift = Gauge(
            "relctl_drift", "Drifted workloads and flags seen by the last pass.", registry=r
        )
        self.requests = Counter(
            "relctl_requests", "Requests to Jira and Kubernetes.", ["system"], registry=r
        )
        self.request_errors = Counter(
            "relctl_request_errors",
            "Requests to Jira and Kubernetes that failed.",
            ["system"],
            registry=r,
        )
        self.leader = Gauge("relctl_leader", "1 while this replica leads.", registry=r)
        self.last_success = Gauge(
            "relctl_last_success_timestamp_seconds",
            "Unix time at which the last successful pass ended.",
            registry=r,
        )
        self.manifests_invalid = Gauge(
            "relctl_manifests_invalid",
            "1 while the branch head's manifests are invalid (the last good ones are used).",
            registry=r,
        )
        self.webhooks = Counter(
            "relctl_webhooks", "Git webhook deliveries, by outcome.", ["outcome"], registry=r
        )
        for kind in FindingKind:
            self.findings.labels(kind.value).set(0)
        for system in ("jira", "kubernetes"):
            self.requests.labels(system)
            self.request_errors.labels(system)
        for outcome in ("accepted", "rejected", "duplicate"):
            self.webhooks.labels(outcome)

    def record(
        self, report: PassReport, errors: tuple[int, int], ended: float, *, invalid: bool
    ) -> None:
        """One pass: its duration, actions, findings, requests, and request `errors`
        (Jira, Kubernetes) made during it."""
        self.pass_seconds.observe(report.seconds)
        self.passes.labels("ok" if report.ok else "error").inc()
        for outcome in report.outcomes:
            self.actions.labels(outcome.action.kind.value, outcome.result.value).inc()
        counts = dict.fromkeys(FindingKind, 0)
        for finding in findings_of(report):
            counts[finding.kind] += 1
        for kind, count in counts.items():
            self.findings.labels(kind.value).set(count)
        self.drift.set(sum(counts[k] for k in DRIFT_KINDS))
        jira, kube = report.requests
        self.requests.labels("jira").inc(jira)
        self.requests.labels("kubernetes").inc(kube)
        self.request_errors.labels("jira").inc(errors[0])
        self.request_errors.labels("kubernetes").inc(errors[1])
        self.manifests_invalid.set(1 if invalid else 0)
        if report.ok:
            self.last_success.set(ended)

    def text(self) -> bytes:
        return generate_latest(self.registry)
