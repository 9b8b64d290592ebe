"""Flag stage selection, gates, dependencies, staleness and the fractional rule."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from controller.manifests.models import FeatureFlagSpec
from controller.plan import flags
from tests.conftest import SHOP


def spec(**extra: Any) -> FeatureFlagSpec:
    body = {
        "owner": "team",
        "variants": {"on": True, "off": False},
        "defaultVariant": "off",
        "target": {"cluster": "prod", "namespace": "shop", "name": "flags"},
        "rollout": {
            "variant": "on",
            "stages": [
                {"percent": 10, "at": "2026-12-09T10:00:00+01:00"},
                {"percent": 12.5, "at": "2026-12-10T10:00:00+01:00"},
                {"percent": 100, "at": "2026-12-16T10:00:00+01:00"},
            ],
        },
    }
    body.update(extra)
    return FeatureFlagSpec.model_validate(body)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("when", "percent", "stage"),
    [
        ("2026-12-09T08:59:59Z", 0, 0),  # one second before the first stage
        ("2026-12-09T09:00:00Z", 10, 1),  # exactly at it
        ("2026-12-10T09:00:00Z", 12.5, 2),
        ("2027-06-01T00:00:00Z", 100, 3),
    ],
)
def test_stage_due_at(when: str, percent: float, stage: int) -> None:
    due = flags.stages({"f": spec()}, at(when), lambda name: True)["f"]
    assert (due.percent, due.stage) == (percent, stage)


def test_gated_on_a_release_and_held_by_a_dependency() -> None:
    gated = spec(
        rollout={**spec().rollout.model_dump(by_alias=True, mode="json"), "afterRelease": "r1"}
    )
    child = spec(dependsOn=["parent"])
    when = at("2026-12-12T00:00:00Z")
    due = flags.stages({"parent": gated, "child": child}, when, lambda name: False)
    assert due["parent"].percent == 0 and "waiting for release r1" in due["parent"].reason
    assert due["child"].percent == 0 and "depends on parent" in due["child"].reason
    later = flags.stages(
        {"parent": gated, "child": child}, at("2027-01-01T00:00:00Z"), lambda name: True
    )
    assert later["child"].percent == 100


def test_fractional_rule_uses_integer_weights_with_the_rollout_variant_first() -> None:
    due = flags.stages({"f": spec()}, at("2026-12-11T00:00:00Z"), lambda name: True)["f"]
    body = flags.flag_json("f", spec(), due)
    assert body["targeting"] == {"fractional": [["on", 12500], ["off", 87500]]}
    assert body["defaultVariant"] == "off" and body["metadata"]["rolloutPercent"] == 12.5


@pytest.mark.parametrize(
    ("when", "remove_by", "reason"),
    [
        ("2027-01-14T00:00:00Z", None, None),
        ("2027-01-16T00:00:00Z", None, "at 100% for 30 days (since 2026-12-16)"),
        ("2026-12-20T00:00:00Z", "2026-12-19", "past its removeBy date 2026-12-19"),
    ],
)
def test_staleness(when: str, remove_by: str | None, reason: str | None) -> None:
    flag = spec(removeBy=remove_by) if remove_by else spec()
    due = flags.stages({"f": flag}, at(when), lambda name: True)["f"]
    assert flags.stale_reason(flag, due, at(when), 30) == reason


def test_targets_group_flags(tmp_path: Any) -> None:
    target = flags.target_of(
        spec(
            target={"kind": "ConfigMap", "cluster": "prod", "namespace": "pay", "name": "pay-flags"}
        )
    )
    assert target.describe() == "ConfigMap prod/pay/pay-flags key flags.flagd.json"
    assert flags.target_of(spec()).describe() == "FeatureFlag prod/shop/flags"


def test_cli_render_and_status() -> None:
    from click.testing import CliRunner

    from controller.cli import cli

    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "flags",
            "render",
            "--root",
            str(SHOP),
            "--at",
            "2026-12-12T12:00:00Z",
            "--released",
            "shop-2026-25",
            "--target",
            "prod-eu/shop/shop-flags",
        ],
    )
    assert result.exit_code == 0, result.output
    assert '"fractional"' in result.output and "one-click-pay" not in result.output
    status = runner.invoke(
        cli,
        [
            "flags",
            "status",
            "--root",
            str(SHOP),
            "--at",
            "2026-12-12T12:00:00Z",
            "--released",
            "shop-2026-25",
        ],
    )
    assert status.exit_code == 1  # legacy-cart-fallback is past removeBy
    assert "STALE: past its removeBy date 2026-10-31" in status.output
    assert re.search(r"new-checkout-flow +50%  stage 2", status.output)
