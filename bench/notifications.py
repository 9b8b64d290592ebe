"""Benchmark: what notifications cost a pass, and a delivery.

- Planning: `deliveries.plan` over R releases, each with D recorded decisions (and an
  outbox of D x S delivered notifications), with S Subscriptions that follow every
  release and event: the work each pass does to find what is due (nothing, here) —
  against the same fleet with no Subscription at all.
- Sending: one Slack payload to a webhook receiver on 127.0.0.1, with a new HTTP client
  each time and with the client the controller keeps between passes, and one mail to the
  SMTP server (aiosmtpd, a session per mail): the medians.

    .venv/bin/python bench/notifications.py [--releases 50] [--decisions 12] [--subscriptions 4]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from controller.adapters.notify import Notifier
from controller.manifests.documents import Manifest
from controller.manifests.loading import load
from controller.manifests.notify import Sink, Subscription
from controller.plan import deliveries
from controller.plan.notices import Notice
from controller.plan.outbox import Delivery, DeliveryState
from controller.plan.records import DecisionKind, DecisionRecord, ReleaseStatus
from controller.sandbox.receivers import Mailbox, WebhookReceiver

REPO = Path(__file__).resolve().parents[1]
AT = datetime(2026, 12, 7, 8, tzinfo=UTC)


def median_ms(run: object, times: int) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def fleet(
    releases: int, decisions: int, subscriptions: int
) -> tuple[object, dict[str, ReleaseStatus]]:
    state = load(REPO).states[0]
    template = next(iter(state.subscriptions.values()))
    subs = {}
    for n in range(subscriptions):
        model = Subscription.model_validate({
            "apiVersion": "relctl.dev/v1alpha1", "kind": "Subscription",
            "metadata": {"name": f"s{n}"},
            "spec": {"sink": "audit", "events": [k.value for k in DecisionKind]},
        })  # fmt: skip
        subs[f"s{n}"] = Manifest(model, template.file, template.document)
    state = replace(state, subscriptions=subs)
    names = sorted(state.releases)
    statuses = {}
    for r in range(releases):
        name = names[r % len(names)] if r < len(names) else f"{names[0]}-{r}"
        records = tuple(
            DecisionRecord(DecisionKind.GO, AT + timedelta(minutes=d), "ok", revision="abc")
            for d in range(decisions)
        )
        outbox = tuple(
            Delivery(deliveries.event_id(name, rec, f"s{s}"), f"s{s}", "audit", "GO", rec.at,
                     DeliveryState.DELIVERED, 1, rec.at)
            for rec in records for s in range(subscriptions)
        )[-deliveries.KEEP:]  # fmt: skip
        statuses[name] = ReleaseStatus(name, "1", decisions=records, deliveries=outbox)
    return state, statuses


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--releases", type=int, default=50)
    parser.add_argument("--decisions", type=int, default=12)
    parser.add_argument("--subscriptions", type=int, default=4)
    parser.add_argument("--times", type=int, default=30)
    args = parser.parse_args()

    for subs in (0, args.subscriptions):
        state, statuses = fleet(args.releases, args.decisions, subs)

        def due(state: object = state, statuses: dict[str, ReleaseStatus] = statuses) -> None:
            deliveries.plan(state, dict(statuses), {}, AT + timedelta(days=1))  # type: ignore[arg-type]

        ms = median_ms(due, args.times)
        print(f"plan: {args.releases} releases x {args.decisions} decisions, {subs} "
              f"subscriptions: median {ms:.2f} ms")  # fmt: skip

    told = Notice("r/GO/1/s", "r", "1", "GO", AT, "then", "internal", "r (1): GO",
                  "every criterion is met", (("Version", "1"),), ("blocker none",))  # fmt: skip
    hook = WebhookReceiver().start()
    mailbox = Mailbox().start()
    try:
        slack = Notifier("room", Sink.model_validate({"type": "slack"}),
                         {"RELCTL_SINK_ROOM_URL": f"{hook.url}/services/x"})  # fmt: skip
        mail = Notifier("news", Sink.model_validate({"type": "email", "to": ["a@b.example"],
                                                     "from": "r@b.example"}),
                        {"RELCTL_SINK_NEWS_URL": mailbox.url})  # fmt: skip

        def one_slack() -> None:
            slack.close()
            slack._client = None  # a new client and connection (its TLS context included)
            slack.send(told)

        fresh = median_ms(one_slack, args.times)
        kept = median_ms(lambda: slack.send(told), args.times)
        mailed = median_ms(lambda: mail.send(told), args.times)
        print(f"send: one Slack payload to 127.0.0.1, a new client: median {fresh:.2f} ms")
        print(f"send: one Slack payload, the client kept between passes: median {kept:.2f} ms")
        print(f"send: one mail over SMTP to 127.0.0.1: median {mailed:.2f} ms")
    finally:
        hook.stop()
        mailbox.stop()


if __name__ == "__main__":
    main()
