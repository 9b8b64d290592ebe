"""`relctl plan`, `relctl reconcile --once` and `relctl status`."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click

from controller.adapters.approvals import Verifier
from controller.adapters.git import GitError
from controller.adapters.history import export_tree
from controller.cli import completion, options, output, tables
from controller.cli.common import ROOT_OPTION, build_state, recorded_statuses
from controller.manifests.state import DesiredState
from controller.plan import compare, planner, render
from controller.plan.measurements import Measurement, measurement_document
from controller.plan.outbox import delivery_document
from controller.plan.plans import Observed
from controller.plan.records import DecisionKind, ReleaseStatus, decision_document
from controller.reconcile.connect import connect
from controller.reconcile.executor import Outcome, Result
from controller.reconcile.observe import observe, verified_approvals
from controller.reconcile.passes import Reconciler, findings_of
from controller.schedule.zones import wall

AT_OPTION = click.option(
    "--at",
    "at_text",
    metavar="TIME",
    help="Plan for TIME instead of now: now, +2d, tomorrow 09:00, a date or ISO 8601 "
    "(default now, or $RELCTL_NOW).",
)


@click.command("plan")
@ROOT_OPTION
@AT_OPTION
@output.formats(["text", "markdown", "json"], "text")
@click.option(
    "--offline",
    is_flag=True,
    help="Observe nothing: no Jira or cluster credentials needed. Shows the trains, "
    "windows, flag stages and decisions due from the manifests and the records alone.",
)
@click.option(
    "--base",
    metavar="REF",
    help="Show what this branch changes in the plan compared with REF (e.g. origin/main): "
    "decisions, actions and blocks added or gone, departures moved.",
)
def plan_command(
    root: Path | None, at_text: str | None, fmt: str, offline: bool, base: str | None
) -> None:
    """Show what the controller would do at a time, and why: decisions, actions in order,
    what is blocked by which window and until when. Changes nothing.

    \b
    Examples:
      relctl plan                                 # now
      relctl plan --at 'tomorrow 09:00' --offline
      relctl plan -o markdown > plan.md            # the plan, as Markdown
      relctl plan --base origin/main -o markdown   # what a pull request changes
    """
    now = options.parse_now(at_text)
    wall = datetime.now(UTC)
    state = build_state(root, now)
    workdir = (root or options.find_root(Path.cwd())).resolve()
    recorded = recorded_statuses(workdir, state.config.spec.git)
    if offline:
        problems: list[str] = []
        observed = Observed(
            approvals=verified_approvals(state, Verifier(workdir), problems)
        )  # signatures are checked locally, with git
    else:
        adapters = connect(state.config, os.environ)
        with tempfile.TemporaryDirectory(prefix="relctl-plan-") as clones:
            # Environment repositories are read from fresh clones: a locator whose file or
            # key is missing there is said here, before the controller would fail on it.
            adapters.clones = Path(clones)
            try:
                observed, problems = observe(
                    state, adapters, workdir, now, recorded=recorded, wall=wall
                )
            finally:
                adapters.close()
        for problem in problems:
            click.echo(f"warning: {problem}", err=True)
    result = planner.plan(state, observed, recorded, now)
    if base is not None:
        with tempfile.TemporaryDirectory(prefix="relctl-base-") as folder:
            try:
                commit = export_tree(workdir, base, Path(folder))
            except GitError as exc:
                raise click.BadParameter(str(exc), param_hint="--base") from None
            before = planner.plan(build_state(Path(folder), now), observed, recorded, now)
        change = compare.compare(before, result)
        shown = f"{base} ({commit[:12]})"
        differ = {"text": compare.to_text, "markdown": compare.to_markdown, "json": compare.to_json}
        click.echo(differ[fmt](change, shown), nl=False)
        return
    if fmt == "text" and output.terminal():
        tables.plan(result)
        return
    renderer = {"text": render.to_text, "markdown": render.to_markdown, "json": render.to_json}
    click.echo(renderer[fmt](result), nl=False)


def _outcome_line(outcome: Outcome) -> str:
    mark = {Result.DONE: "done", Result.FAILED: "FAILED", Result.SKIPPED: "skipped"}
    line = f"  {mark[outcome.result]:<7} {outcome.action.describe()}"
    if outcome.detail and outcome.result is not Result.DONE:
        line += f" ({outcome.detail})"
    return line


@click.command("reconcile")
@ROOT_OPTION
@AT_OPTION
@click.option("--once", is_flag=True, required=True, help="Run one pass and exit.")
@click.option(
    "--dry-run", is_flag=True, help="Plan and print; change nothing anywhere, record nothing."
)
def reconcile_command(root: Path | None, at_text: str | None, once: bool, dry_run: bool) -> None:
    """Run one reconcile pass: sync git, load, observe Jira and the clusters, plan, act
    (in enforce mode), and commit the decisions under the status path.

    For the continuous loop, use `relctl controller`. Exit status: 0 the pass succeeded,
    1 it failed, an action failed (the next pass resumes), a cluster could not be observed
    (its releases waited), or a release was left alone because its status file is not a
    relctl record.

    \b
    Examples:
      relctl reconcile --once --dry-run
      relctl reconcile --once --at +1h
    """
    del once
    now = options.parse_now(at_text)
    workdir = (root or options.find_root(Path.cwd())).resolve()
    reconciler = Reconciler(
        workdir, os.environ, dry_run=dry_run, on_outcome=lambda o: click.echo(_outcome_line(o))
    )
    try:
        report = reconciler.run(now)
    finally:
        reconciler.close()
    if report.plan is not None:
        for release, record in report.plan.decisions:
            click.echo(f"  decided {release} {record.decision}: {record.rationale}")
    for finding in findings_of(report):
        if finding.kind.value in ("error", "blocked", "trigger", "drift", "flag-drift"):
            click.echo(f"  {finding.kind:<10} {finding.subject}: {finding.message}")
    if report.commit is not None:
        subject = report.commit.message.splitlines()[0]
        click.echo(f"recorded {report.commit.sha[:12]} {subject}")
    elif not dry_run and report.error is None:
        click.echo("nothing to record")
    jira, kube = report.requests
    click.echo(
        f"pass {report.id} at {wall(now, options.default_zone(root))}: "
        f"{len(report.outcomes)} action(s), "
        f"{jira} Jira and {kube} Kubernetes request(s), {report.seconds:.2f} s"
    )
    if report.error is not None:
        raise click.ClickException(str(report.error))
    if not report.ok or report.frozen:
        raise SystemExit(1)


def _zone(state: DesiredState, release: str) -> str:
    """The zone a release's times are written in: its train's, else the config's."""
    manifest = state.releases.get(release)
    train = state.trains.get(manifest.model.spec.train or "") if manifest else None
    return train.model.spec.timezone if train is not None else state.config.spec.timezone


def _status_text(status: ReleaseStatus, full: bool, timezone: str) -> str:
    departure = wall(status.departure, timezone) if status.departure else "-"
    if status.planned is not None and status.departure not in (None, status.planned):
        departure += f" (asked for {wall(status.planned, timezone)})"
    lines = [f"{status.release}  {status.version}  {status.phase}  departs {departure}"]
    lines += _control_lines(status, timezone)
    shown = status.decisions if full else status.decisions[-3:]
    for record in shown:
        attempt = f" (attempt {record.attempt})" if status.attempt > 1 else ""
        lines.append(
            f"  {wall(record.at, timezone)}  {record.decision:<20} {record.rationale}{attempt}"
        )
        if record.evidence.by:
            lines.append(f"      by {record.evidence.by}")
        if full:
            for c in record.criteria:
                mark = "met" if c.met else ("UNMET (veto)" if c.veto else "unmet")
                lines.append(f"      {c.name:<24} {c.required:<14} {c.actual:<14} {mark}")
            for m in record.evidence.measurements:
                lines.append(f"      measured {_measurement(m, timezone)}")
            lines += [f"      trigger {t}" for t in record.evidence.triggers]
            if record.revision:
                lines.append(f"      source revision {record.revision[:12]}")
    if status.steps:
        lines.append("  steps (item, status, evidence):")
        for step in status.steps:
            at = f" at {wall(step.at, timezone)}" if step.at else ""
            lines.append(f"    {step.describe()}{at}, Job {step.job}")
            if full and step.log:
                lines += [f"      | {line}" for line in step.log.splitlines()]
    if status.maintenance:
        lines.append(f"  maintenance mode on for {', '.join(status.maintenance)}")
    if status.deliveries:
        shown_deliveries = status.deliveries if full else status.deliveries[-5:]
        lines.append("  notifications (event, sink, state):")
        for d in shown_deliveries:
            at = f" at {wall(d.at, timezone)}" if d.at else ""
            tried = f", {d.attempts} attempt(s): {d.response}" if d.attempts else ""
            retry = f", next try {wall(d.retry, timezone)}" if d.retry else ""
            lines.append(f"    {d.event} → {d.sink} {d.state}{at}{tried}{retry}")
    latest: dict[str, Measurement] = {m.key: m for m in status.measurements}
    if latest:
        lines.append("  analyses (latest measurement of each metric and workload):")
        lines += [f"    {_measurement(m, timezone)}" for m in latest.values()]
        if full:
            lines += [f"      query {m.query}" for m in latest.values()]
    return "\n".join(lines)


def _control_lines(status: ReleaseStatus, timezone: str) -> list[str]:
    """Suspended, aborted, attempt: what people set, and who."""
    lines = []
    if status.attempt > 1:
        retry = status.last(DecisionKind.RETRY)
        by = f", by {retry.evidence.by}" if retry and retry.evidence.by else ""
        lines.append(f"  attempt {status.attempt}{by}")
    if status.suspended:
        record = status.last_ever(DecisionKind.SUSPENDED)
        assert record is not None
        by = f", by {record.evidence.by}" if record.evidence.by else ""
        lines.append(f"  SUSPENDED since {wall(record.at, timezone)}{by}: {record.rationale}")
    aborted = status.last(DecisionKind.ABORTED)
    if aborted is not None:
        by = f", by {aborted.evidence.by}" if aborted.evidence.by else ""
        lines.append(f"  ABORTED at {wall(aborted.at, timezone)}{by}: {aborted.rationale}")
    return lines


def _measurement(m: Measurement, timezone: str) -> str:
    value = "no data" if m.value is None else f"{m.value:.6g}"
    baseline = "" if m.baseline is None else f", baseline {m.baseline:.6g}"
    return f"{m.key} {m.outcome.value} at {wall(m.at, timezone)}: {value} ({m.reason}{baseline})"


@click.command("status")
@click.argument("release", required=False, shell_complete=completion.RELEASES)
@ROOT_OPTION
@output.formats(["text", "json"], "text")
def status_command(release: str | None, root: Path | None, fmt: str) -> None:
    """Phase and last decisions of every release (or the whole decision log of RELEASE),
    read from the status files the controller committed to git.

    \b
    Examples:
      relctl status
      relctl status shop-2026-25 -o yaml
    """
    workdir = (root or options.find_root(Path.cwd())).resolve()
    state = build_state(workdir, datetime.now().astimezone())
    statuses = recorded_statuses(workdir, state.config.spec.git)
    if release is not None:
        if release not in statuses:
            known = ", ".join(sorted(statuses)) or "none recorded yet"
            raise click.UsageError(f"no status recorded for release {release!r} ({known})")
        statuses = {release: statuses[release]}
    if fmt == "json":
        document = {
            name: {
                "version": s.version,
                "phase": s.phase.value,
                "departure": s.departure.isoformat() if s.departure else None,
                "planned": s.planned.isoformat() if s.planned else None,
                "attempt": s.attempt,
                "suspended": s.suspended,
                "aborted": s.last(DecisionKind.ABORTED) is not None,
                "decisions": [decision_document(d) for d in s.decisions],
                "measurements": [measurement_document(m) for m in s.measurements],
                "deliveries": [delivery_document(d) for d in s.deliveries],
            }
            for name, s in sorted(statuses.items())
        }
        click.echo(json.dumps(document, indent=2))
        return
    if not statuses:
        click.echo("no release status recorded yet (the controller has not run)")
        return
    if release is None and output.terminal():
        tables.statuses(statuses, lambda name: _zone(state, name))
        return
    click.echo(
        "\n\n".join(
            _status_text(s, release is not None, _zone(state, name))
            for name, s in sorted(statuses.items())
        )
    )
