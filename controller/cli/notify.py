"""`relctl notify`: what a notification would say to each sink (a dry run of the
payload), and a test message to a sink, with the deployment's URL and secrets."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import click

from controller.adapters.errors import AdapterError
from controller.adapters.notify import Notifier
from controller.cli import common, completion, options
from controller.manifests.notify import EVENTS
from controller.plan import deliveries
from controller.plan.notices import RENDERERS, Notice, email, notice
from controller.plan.outbox import Delivery


@click.group("notify")
def group() -> None:
    """Notifications: render what a sink would receive, or send it a test.

    \b
    Examples:
      relctl notify render shop-2026-25 --event GO --sink release-room
      relctl notify test release-room
    """


@group.command("render")
@click.argument("release", shell_complete=completion.RELEASES)
@click.option("--event", type=click.Choice(EVENTS), help="Decision kind (default: the last).")
@click.option("--sink", help="Only this sink (default: every subscription that follows).")
@common.ROOT_OPTION
def render_command(release: str, event: str | None, sink: str | None, root: Path | None) -> None:
    """Print exactly what each subscribed sink would receive for RELEASE's last recorded
    decision (of kind --event): JSON for Slack, Teams and webhooks, the mail for email.
    Nothing is sent.

    \b
    Example:
      relctl notify render shop-2026-25 --event GO --sink release-room
    """
    workdir = (root or options.find_root(Path.cwd())).resolve()
    state = common.build_state(workdir, datetime.now().astimezone())
    statuses = common.recorded_statuses(workdir, state.config.spec.git)
    status = statuses.get(release)
    manifest = state.releases.get(release)
    if status is None or manifest is None:
        known = ", ".join(sorted(set(statuses) & set(state.releases))) or "none recorded yet"
        raise click.UsageError(f"no status recorded for release {release!r} ({known})")
    decision = next(
        (d for d in reversed(status.decisions) if event is None or d.decision.value == event),
        None,
    )
    if decision is None:
        raise click.UsageError(
            f"{release} has no {event or ''} decision recorded".replace("  ", " ")
        )
    sinks = state.config.spec.sinks
    chosen = [
        s for name, s in sorted(state.subscriptions.items())
        if (sink is None or s.model.spec.sink == sink)
        and deliveries.follows(s.model, release, manifest.model)
        and decision.decision.value in s.model.spec.events
    ]  # fmt: skip
    if sink is not None and sink not in sinks:
        raise click.BadParameter(f"relctl.yaml declares no sink {sink!r}", param_hint="--sink")
    if not chosen:
        click.echo(f"no subscription follows {release}'s {decision.decision.value}", err=True)
        raise SystemExit(1)
    zone = state.config.spec.timezone
    for subscription in chosen:
        spec = subscription.model.spec
        target = sinks.get(spec.sink)
        if target is None:
            continue
        delivery = Delivery(
            deliveries.event_id(release, decision, subscription.name),
            subscription.name, spec.sink, decision.decision.value, decision.at,
        )  # fmt: skip
        told = notice(delivery, status, decision, spec.audience, zone, target.links)
        click.echo(
            f"# {spec.sink} ({target.type}, {spec.audience}), subscription {subscription.name}"
        )
        click.echo(_payload(target.type, told))


def _payload(kind: str, told: Notice) -> str:
    if kind == "jira":
        return f"(a comment on each of the release's issues)\n{email(told)[1]}"
    if kind == "email":
        subject, text, markup = email(told)
        return f"Subject: {subject}\n\n{text}\n--- HTML ---\n{markup}"
    return json.dumps(RENDERERS[kind](told), indent=2, ensure_ascii=False)


@group.command("test")
@click.argument("sink")
@common.ROOT_OPTION
def test_command(sink: str, root: Path | None) -> None:
    """Send SINK a test message, with the URL and secrets the environment gives it
    ($RELCTL_SINK_<NAME>_URL, …); print what the receiver answered.

    \b
    Example:
      relctl notify test release-room
    """
    workdir = (root or options.find_root(Path.cwd())).resolve()
    state = common.build_state(workdir, datetime.now().astimezone())
    target = state.config.spec.sinks.get(sink)
    if target is None:
        known = ", ".join(sorted(state.config.spec.sinks)) or "none"
        raise click.BadParameter(f"relctl.yaml declares no sink {sink!r} ({known})")
    now = datetime.now(UTC)
    told = Notice(
        f"relctl-test/{sink}/{now:%Y%m%dT%H%M%SZ}", "relctl-test", "-", "TEST", now,
        now.isoformat(timespec="seconds"), "internal", f"relctl: a test message to {sink}",
        "If you read this, relctl can notify this sink.",
    )  # fmt: skip
    try:
        notifier = Notifier(sink, target, os.environ)
        try:
            answer = notifier.send(told)
        finally:
            notifier.close()
    except AdapterError as exc:
        click.echo(f"relctl: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(f"{sink} answered {answer} (event {told.id})")
