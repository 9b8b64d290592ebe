"""Control through git, end to end: a person runs `relctl suspend` and `relctl resume` in
their clone; the controller's passes (the real reconciler, the emulators, the bare remote)
record SUSPENDED with who did it, change nothing in the cluster while suspended, and go
on from where the rollout stood once resumed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from controller.cli import cli
from controller.plan.records import DecisionKind, Phase
from controller.reconcile.passes import Reconciler
from controller.sandbox.world import World, git
from tests.integration.test_reconcile_life import CRD, REPO, remote_status, run

SHOP = REPO / "tests" / "data" / "shop"
RELEASE = "shop-2026-25"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    world = World(
        SHOP, tmp_path, jira_seed=REPO / "tests/data/jira/shop.yaml", crd=CRD, step=1.0, rbac=True
    )
    world.simulate_time()
    with world as w:
        yield w


def person(world: World, *args: str) -> None:
    """The person's own clone: pull, then the command (which commits and pushes)."""
    git(world.human, "pull", "-q", "--rebase")
    done = CliRunner().invoke(cli, [*args, "--root", str(world.human)])
    assert done.exit_code == 0, done.output


def patches(world: World) -> int:
    """Image changes to the release's Deployments (namespace shop; payments is another's)."""
    return sum(
        1
        for _, path, _ in world.clusters["prod-eu"].requests("PATCH")
        if "/namespaces/shop/deployments/" in path
    )


def test_suspend_and_resume_through_git(world: World) -> None:
    git(world.human, "config", "user.name", "Rita Release")
    git(world.human, "config", "user.email", "rita@shop.example")
    reconciler = Reconciler(world.controller, {**os.environ, **world.env})
    try:
        # The approvals and fixes that make it GO, as in the release's life.
        world.close_issues("SHOP-106", "SHOP-107", "SHOP-108")
        text = (world.human / "releases/releases/shop-2026-25.yaml").read_text()
        text = text.replace(
            '    - {role: qa-lead, by: dana.qa, at: "2026-12-04T16:20:00+01:00"}',
            '    - {role: qa-lead, by: dana.qa, at: "2026-12-04T16:20:00+01:00"}\n'
            '    - {role: product-owner, by: priya.po, at: "2026-12-07T14:00:00+01:00"}',
        )
        signals = "test-coverage: 86.5\nsecurity-scan: passed\n"
        world.push_change(
            "Approve", {"releases/releases/shop-2026-25.yaml": text,
                        "signals/shop-2026-25.yaml": signals,
                        "signals/payments-2026-25.yaml": signals},
        )  # fmt: skip
        run(world, reconciler, "2026-12-07T15:00:00+01:00")
        run(world, reconciler, "2026-12-08T14:00:00+01:00")
        assert remote_status(world, RELEASE).phase == "RollingOut"  # type: ignore[attr-defined]

        person(world, "suspend", RELEASE, "--reason", "payments incident INC-42")
        before = patches(world)
        for minute in range(1, 5):
            world.advance(60.0)
            run(world, reconciler, f"2026-12-08T14:{minute:02d}:00+01:00")
        assert patches(world) == before  # nothing changed in the cluster
        status = remote_status(world, RELEASE)
        suspended = status.last_ever(DecisionKind.SUSPENDED)  # type: ignore[attr-defined]
        assert suspended is not None and status.suspended  # type: ignore[attr-defined]
        assert "payments incident INC-42" in suspended.rationale
        assert suspended.evidence.by.startswith("Rita Release <rita@shop.example> in ")
        assert suspended.evidence.by.endswith(", unsigned")
        body = git(world.remote, "log", "--format=%B", "-1", "--grep=SUSPENDED")
        assert f"Relctl-Release: {RELEASE}\nRelctl-Decision: SUSPENDED" in body

        person(world, "resume", RELEASE)
        for minute in range(5, 25):
            world.advance(60.0)
            run(world, reconciler, f"2026-12-08T14:{minute:02d}:00+01:00")
            if remote_status(world, RELEASE).phase == "Monitoring":  # type: ignore[attr-defined]
                break
        status = remote_status(world, RELEASE)
        kinds = [d.decision for d in status.decisions]  # type: ignore[attr-defined]
        assert kinds.count(DecisionKind.SUSPENDED) == 1 and kinds.count(DecisionKind.RESUMED) == 1
        assert kinds.count(DecisionKind.ROLLOUT) == 1 and DecisionKind.DEPLOYED in kinds
        assert status.phase is Phase.MONITORING  # type: ignore[attr-defined]
    finally:
        reconciler.close()
