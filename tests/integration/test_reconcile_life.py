"""A release's whole life through the real reconciler: the Jira and Kubernetes emulators
over HTTP, a bare git remote, a person's clone, and a simulated clock. After each step
the Jira state, the cluster and the git log are asserted."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from controller.plan.records import from_yaml
from controller.reconcile.passes import PassReport, Reconciler
from controller.sandbox.world import World, git
from tests.support.world import at

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "tests" / "data" / "shop"
"""The shop the tests are written against (not the demo's releases/, which may change)."""
CRD = REPO.parent / "shared" / "flagd" / "core.openfeature.dev_featureflags.yaml"
CHECKOUT_BAD = "registry.shop.example/shop/checkout:3.8.0"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    world = World(
        SHOP, tmp_path, jira_seed=REPO / "tests/data/jira/shop.yaml", crd=CRD, step=1.0, rbac=True
    )
    world.simulate_time()  # rollouts progress as the test moves the clock, not the wall's
    with world as w:
        yield w


def run(world: World, reconciler: Reconciler, when: str | datetime) -> PassReport:
    now = at(when) if isinstance(when, str) else when
    world.set_time(now)
    report = reconciler.run(now)
    assert report.error is None, report.error
    # The clusters authorize by the chart's RBAC: nothing relctl does may be refused.
    refused = [o.detail for o in report.outcomes if re.search(r"\b403\b", o.detail)]
    assert refused == [], refused
    return report


def remote_status(world: World, release: str) -> object:
    text = git(world.remote, "show", f"main:status/releases/{release}.yaml")
    return from_yaml(text, release)


def image(world: World, cluster: str, namespace: str, name: str) -> str:
    obj = world.clusters[cluster].store.get(
        world.clusters[cluster].store.find_type("apps", "v1", "deployments"), namespace, name
    )
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


def test_full_release_life(world: World) -> None:
    reconciler = Reconciler(world.controller, {**os.environ, **world.env})
    try:
        _life(world, reconciler)
    finally:
        reconciler.close()


def _life(world: World, reconciler: Reconciler) -> None:
    # 1. Ahead of time: records created, flags applied, Jira versions already in place.
    first = run(world, reconciler, "2026-11-23T12:00:00+01:00")
    assert first.commit is not None
    assert world.log()[0].startswith("relctl: ")
    assert remote_status(world, "shop-2026-25").phase == "Scheduled"  # type: ignore[attr-defined]
    quiet = run(world, reconciler, "2026-11-23T12:01:00+01:00")
    assert quiet.commit is None and quiet.outcomes == []
    assert quiet.requests[0] == 1  # one incremental search

    # 2. Go/no-go: NO_GO, with the evidence.
    run(world, reconciler, "2026-12-07T09:00:00+01:00")
    status = remote_status(world, "shop-2026-25")
    verdict = status.last()  # type: ignore[attr-defined]
    body = git(world.remote, "log", "-1", "--format=%B")
    assert "Relctl-Release: shop-2026-25\nRelctl-Decision: NO_GO" in body
    no_go = next(d for d in status.decisions if d.decision == "NO_GO")  # type: ignore[attr-defined]
    assert no_go.evidence.blockers == ("SHOP-107",)
    assert no_go.revision == git(world.remote, "rev-parse", "main~1")
    assert verdict.decision == "NO_GO"

    # 3. People fix the bugs in Jira and approve by pull request; CI commits its signals.
    world.close_issues("SHOP-106", "SHOP-107", "SHOP-108")
    release_file = world.human / "releases/releases/shop-2026-25.yaml"
    text = release_file.read_text(encoding="utf-8").replace(
        '    - {role: qa-lead, by: dana.qa, at: "2026-12-04T16:20:00+01:00"}',
        '    - {role: qa-lead, by: dana.qa, at: "2026-12-04T16:20:00+01:00"}\n'
        '    - {role: product-owner, by: priya.po, at: "2026-12-07T14:00:00+01:00"}',
    )
    assert "product-owner" in text
    signals = yaml.safe_dump({"test-coverage": 86.5, "security-scan": "passed"})
    approval = world.push_change(
        "Approve shop 2026.25 (product owner)",
        {
            "releases/releases/shop-2026-25.yaml": text,
            "signals/shop-2026-25.yaml": signals,
            "signals/payments-2026-25.yaml": signals,
        },
    )
    go = run(world, reconciler, "2026-12-07T15:00:00+01:00")
    assert go.commit is not None
    assert f"Relctl-Source-Revision: {approval}" in go.commit.message
    assert "Relctl-Release: shop-2026-25\nRelctl-Decision: GO" in go.commit.message
    assert [d.decision for d in remote_status(world, "shop-2026-25").decisions] == ["NO_GO", "GO"]  # type: ignore[attr-defined]

    # 4. Departure: roll out in dependency order; checkout's new image is bad.
    world.clusters["prod-eu"].rollouts.mark_bad(CHECKOUT_BAD)
    now = at("2026-12-08T14:00:00+01:00")
    for _ in range(40):
        run(world, reconciler, now)
        phase = remote_status(world, "shop-2026-25").phase  # type: ignore[attr-defined]
        if phase == "RolledBack" and image(world, "prod-eu", "shop", "checkout").endswith(":0.0.0"):
            break
        now += timedelta(minutes=1)
        world.advance(60.0)
    status = remote_status(world, "shop-2026-25")
    assert status.phase == "RolledBack"  # type: ignore[attr-defined]
    assert status.rolled_back == ("checkout",)  # type: ignore[attr-defined]
    assert (
        image(world, "prod-eu", "shop", "checkout") == "registry.shop.example/shop/checkout:0.0.0"
    )
    assert image(world, "prod-eu", "shop", "catalog") == "registry.shop.example/shop/catalog:2.3.1"
    assert image(world, "prod-eu", "shop", "storefront").endswith(":0.0.0")  # never started
    assert image(world, "prod-eu", "payments", "payments-api").endswith(":2.5.0")
    # The order of image patches: ledger, payments, then checkout (the hotfix shipped
    # payments 2.4.1 the day before, as soon as the US window opened).
    patches = [
        path.rsplit("/", 1)[-1]
        for method, path, _ in world.clusters["prod-eu"].requests("PATCH")
        if "/deployments/" in path
    ]
    train_payments = max(n for n, name in enumerate(patches) if name == "payments-api")
    assert patches.index("ledger") < train_payments < patches.index("checkout")
    assert patches.count("payments-api") == 2  # hotfix 2.4.1, then train 2.5.0
    assert patches.count("checkout") == 2  # the rollout and the rollback, nothing more
    kinds = [d.decision for d in status.decisions]  # type: ignore[attr-defined]
    assert kinds.count("ROLLOUT") == 1 and kinds.count("ROLLBACK") == 1
    assert kinds[-1] == "ROLLBACK"
    bodies = git(world.remote, "log", "--format=%B")
    assert "Relctl-Release: shop-2026-25\nRelctl-Decision: ROLLBACK" in bodies

    # 5. Jira: one version per name per project; nothing created twice.
    with world.jira.state.lock:
        names = Counter((v.project, v.name) for v in world.jira.state.versions.values())
    assert max(names.values()) == 1


def test_push_race_keeps_the_human_commit_and_the_record(world: World) -> None:
    """A person pushes between the controller's fetch and its push: both commits land."""
    pushed: list[str] = []

    def human_pushes(_: object) -> None:
        if not pushed:
            pushed.append(world.push_change("Tune the search release", {"NOTES.txt": "hi\n"}))

    reconciler = Reconciler(world.controller, {**os.environ, **world.env}, on_outcome=human_pushes)
    try:
        report = run(world, reconciler, "2026-11-23T12:00:00+01:00")
    finally:
        reconciler.close()
    assert pushed and report.commit is not None
    history = git(world.remote, "log", "--format=%H %s").splitlines()
    assert history[0].split(" ", 1)[1].startswith("relctl: ")
    assert any(line.startswith(pushed[0]) for line in history)
    assert git(world.remote, "show", "main:NOTES.txt") == "hi"
    changed = git(world.remote, "show", "--name-only", "--format=", "main").splitlines()
    assert changed and all(path.startswith("status/") for path in changed)


def test_an_unreachable_cluster_holds_only_the_releases_deploying_there(world: World) -> None:
    """prod-us is down: the pass does not fail; it says so, and the releases with nothing
    on prod-us (shop-2026-25) are recorded and go on as if nothing happened."""
    world.clusters["prod-us"].stop()
    reconciler = Reconciler(world.controller, {**os.environ, **world.env})
    try:
        report = run(world, reconciler, "2026-11-23T12:00:00+01:00")
    finally:
        reconciler.close()
    assert any("cluster prod-us could not be observed" in p for p in report.problems)
    assert remote_status(world, "shop-2026-25").phase == "Scheduled"  # type: ignore[attr-defined]
    assert report.plan is not None
    flags_on_eu = [a for a in report.plan.actions if a.kind == "apply-flags"]
    assert flags_on_eu and all(a.target and a.target.cluster == "prod-eu" for a in flags_on_eu)


def test_one_invalid_release_is_left_alone_and_the_others_go_on(world: World) -> None:
    """A person pushes a release naming a component nobody declared (CI would have said
    so; it landed anyway). The controller, starting with it there, reports it, leaves it
    alone, and plans every other release; when it is fixed it is planned too."""
    broken = """apiVersion: relctl.dev/v1alpha1
kind: Release
metadata:
  name: broken-1
spec:
  version: "2026.26"
  train: shop-fortnightly
  components:
    - {name: no-such-component, version: 1.0.0}
"""
    world.push_change("Add a release with a typo", {"releases/releases/broken-1.yaml": broken})
    reconciler = Reconciler(world.controller, {**os.environ, **world.env})
    try:
        report = run(world, reconciler, "2026-11-23T12:00:00+01:00")
        assert report.frozen == {"broken-1"}
        [problem] = [p for p in report.problems if "broken-1" in p]
        assert "releases/releases/broken-1.yaml:9:" in problem and "no-such-component" in problem
        assert remote_status(world, "shop-2026-25").phase == "Scheduled"  # type: ignore[attr-defined]
        assert report.plan is not None and "broken-1" not in report.plan.statuses
        fixed = broken.replace("no-such-component", "catalog")
        world.push_change("Fix the typo", {"releases/releases/broken-1.yaml": fixed})
        again = run(world, reconciler, "2026-11-23T12:05:00+01:00")
        assert again.frozen == frozenset() and not again.problems
        assert remote_status(world, "broken-1").version == "2026.26"  # type: ignore[attr-defined]
    finally:
        reconciler.close()
