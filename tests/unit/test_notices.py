"""What a notification says and how the outbox moves: hostile text escaped for each
format, the audiences' content, the back-off, and the bounds of the outbox."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from controller.manifests.notify import ConfluenceConfig
from controller.plan import deliveries, notices, publications, verdicts
from controller.plan.outbox import Delivery, DeliveryState
from controller.plan.readiness import Criterion
from controller.plan.records import DecisionKind, DecisionRecord, Evidence, ReleaseStatus
from tests.support.world import desired

AT = datetime(2026, 12, 7, 8, tzinfo=UTC)
HOSTILE = "<!channel> **boom** [click](https://evil.example) | <script>x</script> & co"


def decided(rationale: str = HOSTILE) -> tuple[ReleaseStatus, DecisionRecord, Delivery]:
    record = DecisionRecord(
        DecisionKind.NO_GO, AT, rationale,
        (Criterion("blockers", "<= 0", "1", False, True),),
        Evidence(blockers=("SHOP-107",), triggers=(HOSTILE,)), "abc123",
    )  # fmt: skip
    status = ReleaseStatus("shop-2026-25", "2026.25", decisions=(record,))
    delivery = Delivery(deliveries.event_id("shop-2026-25", record, "room"), "room", "room",
                        "NO_GO", AT)  # fmt: skip
    return status, record, delivery


def test_slack_text_cannot_mention_or_link() -> None:
    status, record, delivery = decided()
    payload = notices.slack(notices.notice(delivery, status, record, "internal", "UTC"))
    text = str(payload)
    assert "<!channel>" not in text and "<https" not in text and "<script>" not in text
    assert "&lt;!channel&gt;" in payload["blocks"][1]["text"]["text"]
    assert "&amp; co" in payload["text"]


def test_teams_text_cannot_link_or_emphasise() -> None:
    status, record, delivery = decided()
    card = notices.teams(notices.notice(delivery, status, record, "internal", "UTC"))
    summary = card["attachments"][0]["content"]["body"][1]["text"]
    assert "\\*\\*boom\\*\\*" in summary and "\\[click\\]\\(https://evil" in summary


def test_email_html_is_escaped_and_the_subject_is_one_line() -> None:
    status, record, delivery = decided(rationale="line one\r\nBcc: everyone@example.com")
    told = notices.notice(delivery, status, record, "internal", "UTC")
    subject, _, markup = notices.email(told)
    assert "\n" not in subject and "\r" not in subject
    assert "&lt;script&gt;" in markup and "<script>" not in markup


def test_customers_hear_one_plain_sentence_and_no_jira_key() -> None:
    status, record, delivery = decided()
    told = notices.notice(delivery, status, record, "customers", "Europe/Berlin")
    assert told.summary == "Version 2026.25 is not ready to ship yet."
    assert not told.items and "SHOP" not in str(notices.webhook(told))


def test_the_go_no_go_document_escapes_markdown() -> None:
    assert verdicts.md(HOSTILE) == (
        "\\<!channel\\> \\*\\*boom\\*\\* \\[click\\](https://evil.example) \\| "
        "\\<script\\>x\\</script\\> & co"
    )
    assert verdicts.md("two\nlines") == "two lines"


def test_back_off_doubles_honours_retry_after_and_gives_up() -> None:
    _, _, delivery = decided()
    status = deliveries.settle(
        ReleaseStatus("r", "1", deliveries=(delivery,)), delivery.id, AT, "HTTP 503",
        delivered=False,
    )  # fmt: skip
    assert status.deliveries[0].retry == AT + timedelta(seconds=30)
    status = deliveries.settle(status, delivery.id, AT, "HTTP 503", delivered=False)
    assert status.deliveries[0].retry == AT + timedelta(seconds=60)
    status = deliveries.settle(status, delivery.id, AT, "HTTP 429", delivered=False,
                               retry_after=600)  # fmt: skip
    assert status.deliveries[0].retry == AT + timedelta(seconds=600)
    for _ in range(deliveries.MAX_ATTEMPTS):
        status = deliveries.settle(status, delivery.id, AT, "HTTP 503", delivered=False)
    assert status.deliveries[0].state is DeliveryState.FAILED
    assert status.deliveries[0].attempts == deliveries.MAX_ATTEMPTS


def test_the_outbox_is_bounded_and_never_drops_a_pending_delivery() -> None:
    many = tuple(
        Delivery(f"r/GO/{n}/s", "s", "s", "GO", AT + timedelta(minutes=n),
                 DeliveryState.DELIVERED if n % 2 else DeliveryState.PENDING)
        for n in range(deliveries.KEEP + 20)
    )  # fmt: skip
    kept = deliveries.bounded(many)
    assert len(kept) == deliveries.KEEP
    assert {d.id for d in many if d.state is DeliveryState.PENDING} <= {d.id for d in kept}


def test_a_document_is_published_only_once_an_earlier_pass_recorded_it() -> None:
    """A release recorded for the first time has its document written in this pass's
    commit: publishing it now would read a file not yet there."""
    shop = desired()
    config = shop.config.model_copy(update={"spec": shop.config.spec.model_copy(
        update={"confluence": ConfluenceConfig.model_validate({"space": "SHOP"})})})  # fmt: skip
    state = replace(shop, config=config)
    fresh = ReleaseStatus("hotfix-1", "1.0.1")
    written = {"hotfix-1": {"decisions/hotfix-1-1.md": "# Go/no-go 1\n"}}
    statuses = {"hotfix-1": fresh}
    actions, _ = publications.plan(state, statuses, {}, written, AT)
    assert actions == [] and statuses["hotfix-1"].publications[0].state is DeliveryState.PENDING
    recorded = dict(statuses)
    actions, _ = publications.plan(state, dict(statuses), recorded, {}, AT)
    assert [a.path for a in actions] == ["decisions/hotfix-1-1.md"]


def test_every_decision_kind_can_be_subscribed_to() -> None:
    """A Subscription may name every kind of decision relctl records (control included)."""
    from controller.manifests.notify import EVENTS
    from controller.plan.records import DecisionKind

    assert {k.value for k in DecisionKind} <= set(EVENTS)
