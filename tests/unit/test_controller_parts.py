"""The controller's pure parts: webhook verification, the wait before the next pass
(interval, backoff, stalled), the simulated clock file, and the JSON log lines."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.adapters.jira import JiraError
from controller.errors import Disposition, RelctlError
from controller.reconcile import logs, webhooks
from controller.reconcile.loop import Controller, Timing, file_clock
from controller.reconcile.passes import PassReport, Reconciler

BODY = b'{"ref":"refs/heads/main","after":"1f0c"}'
SECRET = "s3cr3t"


@pytest.mark.parametrize(
    ("headers", "ok", "provider", "reason"),
    [
        ({"x-hub-signature-256": webhooks.sign(SECRET, BODY)}, True, "github", "verified"),
        ({"x-hub-signature-256": webhooks.sign("other", BODY)}, False, "github", "not match"),
        ({"x-hub-signature-256": webhooks.sign(SECRET, BODY + b"x")}, False, "github", "match"),
        ({"x-hub-signature-256": "sha1=deadbeef"}, False, "github", "does not match"),
        ({"x-gitlab-token": SECRET}, True, "gitlab", "verified"),
        ({"x-gitlab-token": SECRET + " "}, False, "gitlab", "wrong"),
        ({"x-gitlab-token": ""}, False, "gitlab", "wrong"),
        ({}, False, "", "unsigned"),
        ({"x-hub-signature": "sha1=whatever"}, False, "", "unsigned"),
    ],
)
def test_verify(headers: dict[str, str], ok: bool, provider: str, reason: str) -> None:
    verdict = webhooks.verify(headers, BODY, SECRET)
    assert (verdict.ok, verdict.provider) == (ok, provider)
    assert reason in verdict.reason
    assert SECRET not in verdict.reason


def test_verify_without_a_configured_secret_refuses_everything() -> None:
    signed = {"x-hub-signature-256": webhooks.sign("", BODY)}
    assert not webhooks.verify(signed, BODY, None).ok
    assert not webhooks.verify({"x-gitlab-token": ""}, BODY, "").ok


def test_sign_matches_githubs_documented_example() -> None:
    # GitHub's docs: secret "It's a Secret to Everybody", payload "Hello, World!".
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert webhooks.sign("It's a Secret to Everybody", b"Hello, World!") == expected


def _controller(tmp_path: Path, interval: float = 60.0) -> Controller:
    return Controller(
        Reconciler(tmp_path, {}), timing=Timing(interval=interval, backoff=5, backoff_max=300)
    )


def test_clock_file(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    clock = file_clock(path)
    before = datetime.now(UTC)
    assert clock() >= before  # no file yet: the system clock
    path.write_text("2026-12-08T14:00:00+01:00\n", encoding="utf-8")
    assert clock() == datetime(2026, 12, 8, 13, tzinfo=UTC)
    path.write_text("2026-12-08T14:00:00", encoding="utf-8")
    with pytest.raises(RelctlError, match="no UTC offset"):
        clock()


def test_json_log_lines_carry_the_pass_id() -> None:
    stream = io.StringIO()
    log = logs.configure(stream, logging.INFO)
    try:
        log.info("outside")
        with logs.in_pass(7):
            log.info("inside", extra=logs.fields(action="set-image", result="done"))
        log.debug("hidden")
    finally:
        log.handlers.clear()
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert "pass" not in first and first["msg"] == "outside" and first["level"] == "info"
    assert second == {
        "time": second["time"],
        "level": "info",
        "msg": "inside",
        "pass": 7,
        "action": "set-image",
        "result": "done",
    }
    assert datetime.fromisoformat(second["time"]).tzinfo is not None


def _waiting(seconds: float) -> PassReport:
    error = JiraError("Jira answered 429", disposition=Disposition.WAITING, requeue_after=seconds)
    return PassReport(1, datetime.now(UTC), error=error)


class Scripted(Reconciler):
    """A reconciler whose passes report what the test says; it records when each ran."""

    def __init__(self, root: Path, reports: list[PassReport]) -> None:
        super().__init__(root, {})
        self.reports = reports
        self.ran: list[float] = []
        self.second = threading.Event()

    def run(self, now: datetime, **_: object) -> PassReport:  # type: ignore[override]
        self.ran.append(time.monotonic())
        if len(self.ran) >= 2:
            self.second.set()
        return self.reports.pop(0) if self.reports else PassReport(9, now)


def test_webhooks_do_not_cut_a_retry_after_short(tmp_path: Path) -> None:
    reconciler = Scripted(tmp_path, [_waiting(1.0)])
    controller = Controller(reconciler, timing=Timing(interval=3600, backoff=0.1))
    runner = threading.Thread(target=controller.run)
    runner.start()
    try:
        for _ in range(50):  # a flood of verified webhooks during the wait
            controller.request_pass("github push")
        assert reconciler.second.wait(10)
    finally:
        controller.stop()
        runner.join(10)
    first, second = reconciler.ran[:2]
    assert second - first >= 1.0
    assert len(reconciler.ran) == 2  # the flood made one pass, when the wait was over


def test_a_replica_whose_passes_keep_failing_is_not_ready(tmp_path: Path) -> None:
    failing = [PassReport(n, datetime.now(UTC), error=RelctlError("boom")) for n in range(3)]
    controller = Controller(
        Scripted(tmp_path, [PassReport(0, datetime.now(UTC)), *failing]),
        timing=Timing(interval=3600, give_up_after=3),
    )
    controller._pass()
    assert controller.ready and controller.healthy
    controller._pass()
    controller._pass()
    assert controller.ready  # two failures: still ready
    controller._pass()
    assert not controller.ready and not controller.healthy


def test_a_stuck_loop_is_not_live(tmp_path: Path) -> None:
    controller = Controller(Reconciler(tmp_path, {}), timing=Timing(interval=60, pass_deadline=1))
    assert controller.live
    controller.heartbeat -= 1 + 60 + 121
    assert not controller.live
