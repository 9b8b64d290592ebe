"""Status files are as hostile as any file in the repository: a commit can put anything
under status/. A bad record is reported by name, leaves that one release alone (no action,
no record) and never stops, slows or bloats the pass for the others."""

from __future__ import annotations

import os
import resource
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.plan.records import from_yaml
from controller.reconcile.passes import Reconciler
from controller.sandbox.hostile import alias_bomb
from controller.sandbox.world import World, git
from tests.support.world import at

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "tests" / "data" / "shop"
"""The shop the tests are written against (not the demo's releases/, which may change)."""
CRD = REPO.parent / "shared" / "flagd" / "core.openfeature.dev_featureflags.yaml"
TARGET = "status/releases/shop-2026-25.yaml"
BOMB = alias_bomb("shop-2026-25")


def show(world: World, path: str) -> bytes:
    return subprocess.run(
        ["git", "show", f"main:{path}"], cwd=world.remote, capture_output=True, check=True
    ).stdout


def hostile(world: World, kind: str) -> None:
    human = world.human
    git(human, "pull", "-q", "--rebase")
    path = human / TARGET
    original = path.read_text(encoding="utf-8")
    if kind == "not UTF-8":
        path.write_bytes(original.encode() + b"# \xff\xfe\n")
    elif kind == "far future":
        path.write_text(
            original.replace("format:", "departure: '9999-12-31T23:59:59-12:00'\nformat:", 1)
        )
    elif kind == "alias bomb":
        path.write_text(BOMB)
    elif kind == "symlink":
        path.unlink()
        path.symlink_to("payments-2026-25.yaml")
    elif kind == "publication outside the status folder":
        path.write_text(
            original.replace(
                "format:",
                "publications:\n- {path: ../../relctl.yaml, title: t, digest: d}\nformat:",
                1,
            )
        )
    elif kind == "a delivery id that would inject a mail header":
        delivery = (
            'deliveries:\n- {id: "x\\nBcc: all@example.com", subscription: s, sink: s, '
            "event: GO, decided: '2026-11-23T12:00:00+01:00'}\nformat:"
        )
        path.write_text(original.replace("format:", delivery, 1))
    elif kind == "copy claiming another release":
        (path.parent / "copy.yaml").write_text(original)
        path.write_text(original.replace("release: shop-2026-25", "release: payments-2026-25"))
    git(human, "add", "-A")
    git(human, "commit", "-q", "-m", f"Hostile: {kind}")
    git(human, "push", "-q")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with World(SHOP, tmp_path, jira_seed=REPO / "tests/data/jira/shop.yaml", crd=CRD) as w:
        yield w


@pytest.mark.parametrize(
    "kind",
    [
        "not UTF-8",
        "far future",
        "alias bomb",
        "symlink",
        "copy claiming another release",
        "publication outside the status folder",
        "a delivery id that would inject a mail header",
    ],
)
def test_a_bad_record_is_named_and_harms_no_other_release(world: World, kind: str) -> None:
    reconciler = Reconciler(world.controller, {**os.environ, **world.env})
    try:
        world.set_time(at("2026-11-23T12:00:00+01:00"))
        assert reconciler.run(at("2026-11-23T12:00:00+01:00")).error is None
        hostile(world, kind)
        shown_before = show(world, TARGET)
        hostile_commit = git(world.remote, "rev-parse", "main")
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for when in ("2026-12-07T09:00:00+01:00", "2026-12-07T09:05:00+01:00"):
            world.set_time(at(when))
            report = reconciler.run(at(when))
            assert report.error is None, report.error
            assert report.seconds < 20  # the issue measured 37.6 s; bench: 1.9 s
            assert "shop-2026-25" in report.frozen
            assert any(TARGET in p and "left alone" in p for p in report.problems), report
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before  # KiB
        assert grown < 100_000  # KiB; the issue measured 2.57 GB
        # The other releases went on: payments reached its go/no-go and recorded it.
        payments = from_yaml(
            git(world.remote, "show", "main:status/releases/payments-2026-25.yaml"), "p"
        )
        assert payments.last() is not None
        assert payments.last().decision in ("GO", "NO_GO", "GO_WITH_CONDITIONS")
        # The bad file is left as it is: not rewritten, not amplified; one commit, not two.
        assert show(world, TARGET) == shown_before
        changed = git(
            world.remote, "log", "--format=", "--name-only", f"{hostile_commit}..main"
        ).split()
        assert changed  # the pass recorded the others
        assert TARGET not in changed
        assert git(world.controller, "status", "--porcelain") == ""
        # No action was taken for the frozen release.
        assert not any(
            o.action.release == "shop-2026-25" and o.result == "done" for o in report.outcomes
        )
    finally:
        reconciler.close()


@pytest.mark.parametrize("kind", ["garbage", "symlink", "alias bomb"])
def test_a_bad_conditions_file_is_named_and_the_pass_goes_on(world: World, kind: str) -> None:
    """status/conditions.yaml is as hostile as a record: named, left as it is, findings
    not notified until it is fixed; every release goes on."""
    reconciler = Reconciler(world.controller, {**os.environ, **world.env})
    try:
        world.set_time(at("2026-11-23T12:00:00+01:00"))
        assert reconciler.run(at("2026-11-23T12:00:00+01:00")).error is None
        human = world.human
        git(human, "pull", "-q", "--rebase")
        target = human / "status/conditions.yaml"
        target.unlink(missing_ok=True)
        if kind == "garbage":
            target.write_text("format: relctl.dev/conditions/v1\nactive: [{event: 1}]\n")
        elif kind == "symlink":
            target.symlink_to("releases/shop-2026-25.yaml")
        else:
            target.write_text(BOMB)
        git(human, "add", "-A")
        git(human, "commit", "-q", "-m", f"Hostile conditions: {kind}")
        git(human, "push", "-q")
        before = show(world, "status/conditions.yaml")
        world.set_time(at("2026-12-07T09:00:00+01:00"))
        report = reconciler.run(at("2026-12-07T09:00:00+01:00"))
        assert report.error is None, report.error
        assert any("status/conditions.yaml" in p and "not notified" in p for p in report.problems)
        assert show(world, "status/conditions.yaml") == before  # left as it is
        shop = from_yaml(git(world.remote, "show", f"main:{TARGET}"), "s")
        assert shop.last() is not None  # the releases went on
    finally:
        reconciler.close()
