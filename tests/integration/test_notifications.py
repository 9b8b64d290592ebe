"""Notifications through the real reconciler: a decision recorded with its pending
deliveries, each sent to its sink on the next pass (Slack, Teams, a signed webhook, an
SMTP server), the answer recorded in the status file; 429 and 5xx tried again after the
back-off or Retry-After; a receiver that refuses for good is a finding; a pass killed
between sending and recording sends again with the same event id, never loses one."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from controller.adapters.notify import NotifyError
from controller.plan.records import from_yaml
from controller.reconcile.passes import PassReport, Reconciler
from controller.sandbox.receivers import Mailbox, WebhookReceiver
from controller.sandbox.world import World, git
from tests.integration.test_reconcile_life import run
from tests.support.world import at, reconciler

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "tests" / "data" / "shop"
SECRET = "hmac-key-for-the-audit-receiver"
NO_GO_AT = at("2026-12-07T09:00:00+01:00")
SINKS = """
  sinks:
    release-slack: {type: slack, links: "https://git.shop.example/shop/releases/blob/main"}
    ops-teams: {type: teams}
    audit: {type: webhook}
    managers: {type: email, to: [rm@shop.example], from: relctl@shop.example}
    shop-jira: {type: jira}
"""
SUBSCRIPTIONS = """
apiVersion: relctl.dev/v1alpha1
kind: Subscription
metadata: {name: release-room}
spec:
  sink: release-slack
  events: [NO_GO, GO, ROLLBACK, RELEASED]
  releases: {trains: [shop-fortnightly]}
---
apiVersion: relctl.dev/v1alpha1
kind: Subscription
metadata: {name: operations}
spec:
  sink: ops-teams
  events: [NO_GO, ROLLOUT, ROLLBACK]
  releases: {names: [shop-2026-25]}
  audience: operations
---
apiVersion: relctl.dev/v1alpha1
kind: Subscription
metadata: {name: audit-log}
spec:
  sink: audit
  events: [NO_GO, GO, ROLLOUT, DEPLOYED, ROLLBACK, RELEASED]
  releases: {names: [shop-2026-25]}
---
apiVersion: relctl.dev/v1alpha1
kind: Subscription
metadata: {name: managers}
spec:
  sink: managers
  events: [NO_GO]
  releases: {components: [checkout]}
  audience: customers
---
apiVersion: relctl.dev/v1alpha1
kind: Subscription
metadata: {name: issues}
spec:
  sink: shop-jira
  events: [NO_GO]
  releases: {names: [shop-2026-25]}
"""


@dataclass
class Receivers:
    world: World
    slack: WebhookReceiver
    teams: WebhookReceiver
    audit: WebhookReceiver
    mail: Mailbox

    def status(self, release: str = "shop-2026-25") -> Any:
        text = git(self.world.remote, "show", f"main:status/releases/{release}.yaml")
        return from_yaml(text, release)

    def deliveries(self, release: str = "shop-2026-25") -> dict[str, Any]:
        return {d.subscription: d for d in self.status(release).deliveries}

    def comments(self, marker: str) -> dict[str, int]:
        """Issue → how many of its comments carry `marker`."""
        state = self.world.jira.state
        with state.lock:
            return {
                key: sum(marker in str(c.body) for c in issue.comments)
                for key, issue in state.issues.items()
                if key.startswith("SHOP-")
            }


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Receivers]:
    source = tmp_path / "source"
    shutil.copytree(SHOP, source)
    config = (source / "relctl.yaml").read_text(encoding="utf-8")
    (source / "relctl.yaml").write_text(config + SINKS, encoding="utf-8")
    (source / "releases/subscriptions.yaml").write_text(SUBSCRIPTIONS, encoding="utf-8")
    receivers = [WebhookReceiver().start(), WebhookReceiver().start()]
    receivers.append(WebhookReceiver(secret=SECRET).start())
    mail = Mailbox().start()
    world = World(
        source, tmp_path / "world", jira_seed=REPO / "tests/data/jira/shop.yaml", step=1.0
    )
    world.workspace.mkdir()
    world.simulate_time()
    try:
        with world:
            world.env.update({
                "RELCTL_SINK_RELEASE_SLACK_URL": f"{receivers[0].url}/services/T0/B0/x",
                "RELCTL_SINK_OPS_TEAMS_URL": f"{receivers[1].url}/workflows/teams",
                "RELCTL_SINK_AUDIT_URL": f"{receivers[2].url}/relctl",
                "RELCTL_SINK_AUDIT_SECRET": SECRET,
                "RELCTL_SINK_MANAGERS_URL": mail.url,
            })  # fmt: skip
            yield Receivers(world, *receivers, mail)
    finally:
        for receiver in receivers:
            receiver.stop()
        mail.stop()


def no_go(shop: Receivers, r: Reconciler) -> PassReport:
    """The NO_GO recorded (its deliveries pending), then the pass that sends them."""
    run(shop.world, r, "2026-11-23T12:00:00+01:00")
    run(shop.world, r, NO_GO_AT)
    pending = shop.deliveries()
    assert {d.state for d in pending.values()} == {"Pending"}, pending
    assert not shop.slack.received and not shop.mail.mails  # recorded first, then sent
    return run(shop.world, r, NO_GO_AT + timedelta(minutes=1))


def test_a_no_go_reaches_every_sink_once_and_is_recorded_delivered(shop: Receivers) -> None:
    with reconciler(shop.world) as r:
        no_go(shop, r)
        run(shop.world, r, NO_GO_AT + timedelta(minutes=2))  # nothing more to send
    delivered = shop.deliveries()
    assert {d.state for d in delivered.values()} == {"Delivered"}
    assert delivered["audit-log"].response == "200"
    assert delivered["managers"].response == "250"
    event = delivered["audit-log"].id
    assert event.startswith("shop-2026-25/NO_GO/20261207T080000Z/")

    # Slack: Block Kit with a text fallback; the blocker and the link to the status file.
    # The room follows the train: both of its releases said NO_GO.
    assert len(shop.slack.received) == 2
    [slack] = [m for m in shop.slack.received if m.json()["text"].startswith("shop-2026-25")]
    assert slack.path == "/services/T0/B0/x"
    payload = slack.json()
    assert payload["text"].startswith("shop-2026-25 (2026.25): NO_GO: ")
    kinds = [b["type"] for b in payload["blocks"]]
    assert kinds[0] == "header" and "actions" in kinds and kinds[-1] == "context"
    items = next(b for b in payload["blocks"][2:] if b["type"] == "section")["text"]["text"]
    assert "• blocker SHOP-107" in items
    button = next(b for b in payload["blocks"] if b["type"] == "actions")["elements"][0]
    assert button["url"] == (
        "https://git.shop.example/shop/releases/blob/main/status/releases/shop-2026-25.yaml"
    )

    # Teams: a Workflows message carrying an Adaptive Card 1.4, for operations.
    [teams] = shop.teams.received
    card = teams.json()["attachments"][0]
    assert teams.json()["type"] == "message"
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard" and card["content"]["version"] == "1.4"
    types = [element["type"] for element in card["content"]["body"]]
    assert types[:3] == ["TextBlock", "TextBlock", "FactSet"]

    # The signed webhook: the HMAC the receiver checked, and the event id in the body.
    [audit] = shop.audit.received
    assert audit.status == 200
    digest = hmac.new(SECRET.encode(), audit.body.encode(), hashlib.sha256).hexdigest()
    assert audit.headers["x-signature"] == f"sha256={digest}"
    assert audit.json()["id"] == event and audit.headers["x-relctl-event"] == event

    # Jira: the NO_GO as a comment on each of the release's issues, once.
    assert delivered["issues"].response.startswith("commented on ")
    assert set(shop.comments(f"relctl event {delivered['issues'].id}").values()) == {1}

    # Email for customers: plain words, no Jira key, text and HTML.
    [mail] = shop.mail.mails
    assert mail.recipients == ["rm@shop.example"]
    assert mail.message["Subject"] == "[relctl] Version 2026.25 is not ready to ship yet"
    assert "Version 2026.25 is not ready to ship yet." in mail.part("plain")
    assert "SHOP-" not in mail.part("plain") + mail.part("html")
    assert "<h2>Version 2026.25 is not ready to ship yet</h2>" in mail.part("html")


def test_each_verdict_gets_its_go_no_go_document_in_git(shop: Receivers) -> None:
    with reconciler(shop.world) as r:
        run(shop.world, r, "2026-11-23T12:00:00+01:00")
        run(shop.world, r, NO_GO_AT)
    text = git(shop.world.remote, "show", "main:status/decisions/shop-2026-25-1.md")
    assert text.startswith("# Go/no-go 1: shop-2026-25 2026.25: NO_GO\n")
    assert "- Decided: 2026-12-07 09:00 Europe/Berlin" in text
    assert "| criterion | required | actual | met |" in text
    assert "| blockers | \\<= 0 | 1 | **no (veto)** |" in text
    assert "| qa-lead | dana.qa | 2026-12-04 16:20 Europe/Berlin |" in text
    assert "## Blocking issues\n\n- SHOP-107: Checkout fails for gift cards" in text
    assert "- Decision log: `status/releases/shop-2026-25.yaml`" in text


def test_a_429_waits_for_its_retry_after_and_a_5xx_for_the_back_off(shop: Receivers) -> None:
    shop.slack.fail(429, retry_after="150")  # the first of the room's two: payments'
    shop.teams.fail(503)
    with reconciler(shop.world) as r:
        no_go(shop, r)
        waiting = shop.deliveries("payments-2026-25")["release-room"]
        assert (waiting.state, waiting.response) == ("Pending", "sink release-slack: HTTP 429")
        assert waiting.retry == NO_GO_AT + timedelta(minutes=1, seconds=150)
        assert shop.deliveries()["release-room"].attempts == 0  # the sink's chain stopped
        assert shop.deliveries()["operations"].retry == NO_GO_AT + timedelta(minutes=1, seconds=30)
        run(shop.world, r, NO_GO_AT + timedelta(minutes=2))  # shop's and teams go; payments waits
        assert shop.deliveries()["release-room"].state == "Delivered"
        assert shop.deliveries()["operations"].state == "Delivered"
        assert shop.deliveries("payments-2026-25")["release-room"].state == "Pending"
        run(shop.world, r, NO_GO_AT + timedelta(minutes=4))
    delivered = shop.deliveries("payments-2026-25")["release-room"]
    assert (delivered.state, delivered.attempts) == ("Delivered", 2)
    assert [r.status for r in shop.slack.received] == [429, 200, 200]
    assert [r.status for r in shop.teams.received] == [503, 200]
    assert len(shop.audit.delivered()) == 1  # the other sinks went on meanwhile


def test_a_receiver_that_refuses_for_good_is_a_finding_and_holds_up_nothing(
    shop: Receivers,
) -> None:
    shop.world.env["RELCTL_SINK_AUDIT_SECRET"] = "not-the-receivers-key"
    with reconciler(shop.world) as r:
        sent = no_go(shop, r)
        later = run(shop.world, r, NO_GO_AT + timedelta(minutes=5))
    failed = shop.deliveries()["audit-log"]
    assert (failed.state, failed.attempts, failed.response) == ("Failed", 1, "sink audit: HTTP 401")
    assert [r.status for r in shop.audit.received] == [401]  # not tried again
    assert len(shop.slack.delivered()) == 2
    assert any(f.kind == "notification" and "audit" in f.message
               for f in later.plan.findings)  # fmt: skip
    assert any(o.failed for o in sent.outcomes)  # the pass says so


def test_a_pass_killed_between_sending_and_recording_sends_again_with_the_same_id(
    shop: Receivers,
) -> None:
    with reconciler(shop.world) as r:
        run(shop.world, r, "2026-11-23T12:00:00+01:00")
        run(shop.world, r, NO_GO_AT)
        shop.world.set_time(NO_GO_AT + timedelta(minutes=1))
        killed = r.run(NO_GO_AT + timedelta(minutes=1), may_record=lambda: False)
        assert killed.commit is None
    with reconciler(shop.world) as again:  # a fresh process
        run(shop.world, again, NO_GO_AT + timedelta(minutes=1))
        run(shop.world, again, NO_GO_AT + timedelta(minutes=2))
    ids = [r.headers["x-relctl-event"] for r in shop.audit.received]
    assert len(ids) == 2 and ids[0] == ids[1]  # at least once; the id lets it drop one
    # Jira comments are looked for by their marker first: once, even after the crash.
    assert set(shop.comments(f"relctl event {shop.deliveries()['issues'].id}").values()) == {1}
    assert {d.state for d in shop.deliveries().values()} == {"Delivered"}
    assert len(shop.mail.mails) == 2
    assert len({m.message["X-Relctl-Event"] for m in shop.mail.mails}) == 1


def test_notify_render_prints_the_payload_and_notify_test_sends_one(shop: Receivers) -> None:
    with reconciler(shop.world) as r:
        run(shop.world, r, "2026-11-23T12:00:00+01:00")
        run(shop.world, r, NO_GO_AT)
    env = {**os.environ, **shop.world.env}

    def relctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "controller", *args],
            cwd=shop.world.controller, env=env, capture_output=True, text=True, timeout=60,
            check=False,
        )  # fmt: skip

    shown = relctl("status", "shop-2026-25")
    assert "    NO_GO → audit Pending\n" in shown.stdout, shown.stdout  # queued with the NO_GO
    rendered = relctl("notify", "render", "shop-2026-25", "--sink", "release-slack")
    assert rendered.returncode == 0, rendered.stderr
    header, _, payload = rendered.stdout.partition("\n")
    assert header == "# release-slack (slack, internal), subscription release-room"
    assert json.loads(payload)["blocks"][0]["text"]["text"] == "shop-2026-25 (2026.25): NO_GO"
    assert not shop.slack.received  # a dry run
    mail = relctl("notify", "render", "shop-2026-25", "--event", "NO_GO", "--sink", "managers")
    assert "Subject: [relctl] Version 2026.25 is not ready to ship yet" in mail.stdout
    sent = relctl("notify", "test", "audit")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith("audit answered 200 (event relctl-test/audit/")
    assert shop.audit.received[0].json()["decision"] == "TEST"
    del env["RELCTL_SINK_AUDIT_SECRET"]
    unsigned = relctl("notify", "test", "audit")
    assert unsigned.returncode == 1
    assert "set $RELCTL_SINK_AUDIT_SECRET" in unsigned.stderr and "Traceback" not in unsigned.stderr


HYGIENE = """
apiVersion: relctl.dev/v1alpha1
kind: Subscription
metadata: {name: flag-hygiene}
spec:
  sink: audit
  events: [STALE_FLAG, RECOVERED]
"""


def test_a_condition_is_notified_when_it_appears_and_when_it_clears(shop: Receivers) -> None:
    """legacy-cart-fallback is past its removeBy: notified once, not every pass; when
    its manifest is deleted, the clearing is notified as RECOVERED."""
    shop.world.push_change("Flag hygiene", {"releases/hygiene.yaml": HYGIENE})
    first = at("2026-11-23T12:00:00+01:00")
    with reconciler(shop.world) as r:
        run(shop.world, r, first)
        text = git(shop.world.remote, "show", "main:status/conditions.yaml")
        assert "event: STALE_FLAG\n  subject: legacy-cart-fallback" in text
        assert not shop.audit.received  # recorded first
        run(shop.world, r, first + timedelta(minutes=1))
        run(shop.world, r, first + timedelta(minutes=2))  # still stale: nothing more
        found = [m for m in shop.audit.received if "legacy-cart-fallback" in m.body]
        assert len(found) == 1
        payload = found[0].json()
        assert payload["id"].startswith("legacy-cart-fallback/STALE_FLAG/20261123T110000Z/")
        assert payload["title"] == "legacy-cart-fallback: stale flag found"
        assert "past its removeBy date 2026-10-31" in payload["summary"]
        shop.world.push_change("Remove the cart fallback", {}, delete=[
            "releases/flags/legacy-cart-fallback.yaml"])  # fmt: skip
        run(shop.world, r, first + timedelta(minutes=3))
        run(shop.world, r, first + timedelta(minutes=4))
    cleared = [m.json() for m in shop.audit.received if "RECOVERED" in m.body]
    assert len(cleared) == 1
    assert cleared[0]["title"] == "legacy-cart-fallback: stale flag cleared"
    assert cleared[0]["summary"].startswith("Recovered: no longer ")
    text = git(shop.world.remote, "show", "main:status/conditions.yaml")
    assert "legacy-cart-fallback" not in text.split("deliveries:")[0]  # no longer active


def test_mail_goes_over_starttls_when_the_server_offers_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that offers (and requires) STARTTLS: relctl upgrades and verifies its
    certificate; one it cannot verify is an error, never a fallback to plain text."""
    from controller.adapters.notify import Notifier
    from controller.manifests.notify import Sink
    from controller.plan.notices import Notice
    from controller.sandbox.tls import self_signed

    cert, key = self_signed()
    mailbox = Mailbox(tls=(cert, key)).start()
    sink = Sink.model_validate({"type": "email", "to": ["rm@shop.example"],
                                "from": "relctl@shop.example"})  # fmt: skip
    told = Notice("r/GO/1/s", "r", "1", "GO", NO_GO_AT, "then", "internal", "r: GO", "ok")
    env = {"RELCTL_SINK_MAIL_URL": mailbox.url}
    try:
        untrusted = Notifier("mail", sink, env)
        with pytest.raises(NotifyError, match="sink mail: no answer"):
            untrusted.send(told)
        assert mailbox.mails == []
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the deployment trusts its server
        assert Notifier("mail", sink, env).send(told) == "250"
    finally:
        mailbox.stop()
    assert mailbox.secure == [True]
    assert mailbox.mails[0].message["Subject"] == "[relctl] r: GO"


def test_a_sink_without_its_url_is_said_every_pass_and_its_notifications_wait(
    shop: Receivers,
) -> None:
    del shop.world.env["RELCTL_SINK_OPS_TEAMS_URL"]
    with reconciler(shop.world) as r:
        first = run(shop.world, r, "2026-11-23T12:00:00+01:00")
        run(shop.world, r, NO_GO_AT)
        sent = run(shop.world, r, NO_GO_AT + timedelta(minutes=1))
    wanted = "sink ops-teams needs $RELCTL_SINK_OPS_TEAMS_URL (or $RELCTL_SINK_OPS_TEAMS_URL_FILE)"
    assert any(
        p.startswith(wanted) and p.endswith("its notifications wait") for p in first.problems
    )
    waiting = shop.deliveries()["operations"]
    assert (waiting.state, waiting.attempts) == ("Pending", 1)  # tried, not given up
    assert wanted in waiting.response
    assert "RELCTL_SINK_OPS_TEAMS_URL" in " ".join(sent.problems)
    assert shop.deliveries()["release-room"].state == "Delivered"  # the others went on
