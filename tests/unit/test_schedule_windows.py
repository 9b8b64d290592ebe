"""Window evaluation, table-driven from tests/data/schedule/windows.yaml."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import yaml

from controller.manifests.models import BlackoutWindowSpec
from controller.schedule import windows
from tests.conftest import DATA

CASES: list[dict[str, Any]] = yaml.safe_load((DATA / "schedule" / "windows.yaml").read_text())
TARGET = windows.Target("api", "prod-eu", "API")


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _windows(case: dict[str, Any]) -> list[windows.Window]:
    found = []
    for item in case["windows"]:
        spec = dict(item)
        name = spec.pop("name")
        spec.setdefault("reason", f"test window {name}")
        found.append(windows.Window(name, BlackoutWindowSpec.model_validate(spec)))
    return found


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_window_case(case: dict[str, Any]) -> None:
    exceptions = windows.Exceptions(
        hotfix=case.get("hotfix", False),
        override_expires=_instant(case.get("overrideExpires")),
    )
    verdict = windows.evaluate(_windows(case), TARGET, _instant(case["at"]), exceptions)
    expect = case["expect"]
    assert verdict.allowed is expect["allowed"]
    if "blocking" in expect:
        assert set(verdict.blocking) == set(expect["blocking"])
    if "passed" in expect:
        assert set(verdict.passed) == set(expect["passed"])
    if "activeAllow" in expect:
        assert set(verdict.active_allow) == set(expect["activeAllow"])
    if "overrideUsed" in expect:
        assert verdict.override_used is expect["overrideUsed"]
    if "nextOpen" in expect:
        assert verdict.next_open == _instant(expect["nextOpen"])
    if "nextClose" in expect:
        assert verdict.next_close == _instant(expect["nextClose"])
    if verdict.allowed:
        assert verdict.next_open is None
    else:
        assert verdict.next_close is None


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_next_open_is_really_open_and_just_before_it_is_not(case: dict[str, Any]) -> None:
    """The reported change points agree with evaluating at those instants."""
    from datetime import timedelta

    exceptions = windows.Exceptions(
        hotfix=case.get("hotfix", False),
        override_expires=_instant(case.get("overrideExpires")),
    )
    found = _windows(case)
    verdict = windows.evaluate(found, TARGET, _instant(case["at"]), exceptions)
    change = verdict.next_open or verdict.next_close
    if change is None:
        return
    after = windows.evaluate(found, TARGET, change, exceptions)
    before = windows.evaluate(found, TARGET, change - timedelta(seconds=1), exceptions)
    assert after.allowed is not verdict.allowed
    assert before.allowed is verdict.allowed
