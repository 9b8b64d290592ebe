"""`relctl controller` as processes against the emulators and a bare remote: webhooks
with good, bad and missing signatures; metrics that parse and move; an invalid commit
pushed mid-run; two replicas with leader election (a webhook to the standby, SIGTERM
releasing the lease, the leader killed mid-rollout and the standby finishing the
release with nothing done twice)."""

from __future__ import annotations

import itertools
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from controller.adapters import rbac
from controller.plan.records import from_yaml
from controller.reconcile.webhooks import sign
from controller.sandbox.world import World, git
from tests.support.rbac import granted, used
from tests.support.replicas import SECRET, Replica, clone, wait_for

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "tests" / "data" / "shop"
"""The shop the tests are written against (not the demo's releases/, which may change)."""
CRD = REPO.parent / "shared" / "flagd" / "core.openfeature.dev_featureflags.yaml"
ELECT = ("--leader-elect", "--lease-namespace", "relctl", "--retry", "0.2")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    # The clusters authorize by RBAC: the controller may do what the chart grants, no more.
    with World(
        SHOP, tmp_path, jira_seed=REPO / "tests/data/jira/shop.yaml", crd=CRD, rbac=True
    ) as w:
        w.clusters[sorted(w.clusters)[0]].ensure_namespace("default")
        yield w


def set_clock(world: World, path: Path, when: str) -> None:
    from tests.support.world import at

    world.set_time(at(when))
    path.write_text(when, encoding="utf-8")


DELIVERIES = itertools.count(1)


def post(replica: Replica, headers: dict[str, str], body: bytes | None = None):  # type: ignore[no-untyped-def]
    """A delivery; each push has a body of its own (its `after` commit), as on a git host."""
    if body is None:
        body = b'{"ref":"refs/heads/main","after":"%d"}' % next(DELIVERIES)
    return replica.http.post("/webhook", content=body, headers=headers)


def lease_holder(world: World) -> str | None:
    sandbox = world.clusters[sorted(world.clusters)[0]]
    lease = sandbox.store.get(
        sandbox.store.find_type("coordination.k8s.io", "v1", "leases"),
        "relctl",
        "relctl-controller",
    )
    return (lease or {}).get("spec", {}).get("holderIdentity")


def test_webhooks_metrics_and_an_invalid_commit(world: World, tmp_path: Path) -> None:
    clock = tmp_path / "clock"
    set_clock(world, clock, "2026-11-23T12:00:00+01:00")
    solo = Replica(world, world.controller, "solo", clock, "--interval", "1h")
    try:
        wait_for("the first pass", lambda: solo.http.get("/readyz").status_code == 200)
        assert solo.http.get("/healthz").status_code == 200
        assert solo.passes() == 1
        first = solo.metrics()
        assert first["relctl_requests_total{system=jira}"] >= 1
        assert first["relctl_actions_total{kind=apply-flags,result=done}"] == 3
        assert first["relctl_last_success_timestamp_seconds"] > 0
        assert first["relctl_findings{kind=blocked}"] >= 1

        status = solo.status()
        phases = {r["name"]: r["phase"] for r in status["releases"]}
        assert phases["shop-2026-25"] == "Scheduled"
        ics = solo.http.get("/calendar.ics")
        assert ics.headers["content-type"].startswith("text/calendar")
        assert (
            "BEGIN:VCALENDAR" in ics.text and "Train shop-fortnightly 2026.25 departs" in ics.text
        )

        body = b'{"ref":"refs/heads/main"}'
        rejected = [
            post(solo, {}),
            post(solo, {"X-Hub-Signature-256": sign("not-the-secret", body)}, body),
            post(solo, {"X-Hub-Signature-256": sign(SECRET, body + b" ")}, body),
            post(solo, {"X-Gitlab-Token": "not-the-secret"}),
        ]
        assert [r.status_code for r in rejected] == [401] * 4
        assert "unsigned" in rejected[0].text and SECRET not in "".join(r.text for r in rejected)
        # Refused before a pass is asked for: counted as rejected, no pass (the exact
        # pass counts below would show one a rejected delivery had triggered).
        refused = solo.metrics()
        assert refused["relctl_webhooks_total{outcome=rejected}"] == 4
        assert refused.get("relctl_webhooks_total{outcome=accepted}", 0) == 0
        assert solo.passes() == 1

        accepted = post(
            solo, {"X-Hub-Signature-256": sign(SECRET, body), "X-GitHub-Event": "push"}, body
        )
        assert accepted.status_code == 202
        wait_for("the webhook's pass", lambda: solo.passes() == 2)
        assert post(solo, {"X-Gitlab-Token": SECRET}).status_code == 202
        wait_for("the GitLab webhook's pass", lambda: solo.passes() == 3)
        moved = solo.metrics()
        assert moved["relctl_webhooks_total{outcome=rejected}"] == 4
        assert moved["relctl_webhooks_total{outcome=accepted}"] == 2
        assert (
            moved["relctl_requests_total{system=jira}"]
            > first["relctl_requests_total{system=jira}"]
        )
        assert moved["relctl_pass_duration_seconds_count"] == 3

        # A person pushes an invalid manifest: the last good state is kept, and said so.
        path = "releases/releases/shop-2026-25.yaml"
        good = (world.human / path).read_text(encoding="utf-8")
        world.push_change("Break the release", {path: good.replace("version:", "verzion:", 1)})
        assert post(solo, {"X-Gitlab-Token": SECRET}).status_code == 202
        wait_for("the pass over the invalid commit", lambda: solo.passes() == 4)
        broken = solo.status()
        assert "invalid manifest(s)" in (broken["manifests"]["invalid"] or "")
        assert any(
            f["kind"] == "error" and "keeping the last good manifests" in f["message"]
            for f in broken["findings"]
        )
        assert {r["name"] for r in broken["releases"]} >= {"shop-2026-25"}
        assert solo.metrics()["relctl_manifests_invalid"] == 1
        assert solo.metrics()["relctl_findings{kind=error}"] >= 1

        world.push_change("Mend the release", {path: good})
        assert post(solo, {"X-Gitlab-Token": SECRET}).status_code == 202
        wait_for("the pass over the mended commit", lambda: solo.passes() == 5)
        assert solo.status()["manifests"]["invalid"] is None
        assert solo.metrics()["relctl_manifests_invalid"] == 0
        assert solo.terminate() == 0
        assert solo.logged("controller stopped")
        assert all("pass" in e for e in solo.logs if e["msg"] == "pass finished")
        assert SECRET not in "".join(solo.lines)
    finally:
        solo.close()


def test_standby_forwards_webhooks_and_takes_over_on_sigterm(world: World, tmp_path: Path) -> None:
    clock = tmp_path / "clock"
    set_clock(world, clock, "2026-11-23T12:00:00+01:00")
    slow = ("--interval", "1h", *ELECT, "--lease-duration", "20")
    a = Replica(world, world.controller, "replica-a", clock, *slow)
    b = None
    try:
        wait_for("a to lead and pass", lambda: a.status()["leader"] and a.passes() == 1)
        b = Replica(world, clone(world, "b"), "replica-b", clock, *slow)
        wait_for("b to stand by, ready", lambda: b.http.get("/readyz").status_code == 200)
        assert not b.status()["leader"] and lease_holder(world) == "replica-a"
        assert b.metrics()["relctl_leader"] == 0 and a.metrics()["relctl_leader"] == 1
        wait_for("b to serve the calendar", lambda: b.http.get("/calendar.ics").status_code == 200)

        # A webhook delivered to the standby reaches the leader through the Lease.
        forwarded = post(b, {"X-Gitlab-Token": SECRET})
        assert forwarded.status_code == 202 and "leader" in forwarded.text
        wait_for("a's second pass", lambda: a.passes() == 2)
        assert b.passes() == 0

        # SIGTERM: a releases the lease; b leads well before the 20 s lease would expire.
        stopped = time.monotonic()
        assert a.terminate() == 0
        assert a.logged("lease released")
        wait_for("b to lead", lambda: b.status()["leader"], timeout=10)
        assert time.monotonic() - stopped < 10
        assert lease_holder(world) == "replica-b"
        wait_for("b's first pass", lambda: b.passes() >= 1)
        for sandbox in world.clusters.values():
            assert used(sandbox) <= granted(rbac.ALL), used(sandbox) - granted(rbac.ALL)
    finally:
        a.close()
        if b is not None:
            b.close()


def remote_status(world: World, release: str):  # type: ignore[no-untyped-def]
    try:
        text = git(world.remote, "show", f"main:status/releases/{release}.yaml")
    except subprocess.CalledProcessError:
        return None
    return from_yaml(text, release)


def last_decision(world: World) -> str | None:
    status = remote_status(world, "shop-2026-25")
    return status.last().decision if status is not None and status.decisions else None


def phase(world: World) -> str | None:
    status = remote_status(world, "shop-2026-25")
    return status.phase if status is not None else None


def test_leader_killed_mid_rollout_standby_completes(world: World, tmp_path: Path) -> None:
    clock = tmp_path / "clock"
    set_clock(world, clock, "2026-11-23T12:00:00+01:00")
    fast = ("--interval", "1s", *ELECT, "--lease-duration", "3")
    a = Replica(world, world.controller, "replica-a", clock, *fast)
    b = None
    try:
        wait_for("a to lead", lambda: a.status()["leader"] and a.passes() >= 1)
        b = Replica(world, clone(world, "b"), "replica-b", clock, *fast)

        set_clock(world, clock, "2026-12-07T09:00:00+01:00")
        wait_for("NO_GO", lambda: last_decision(world) == "NO_GO")
        world.close_issues("SHOP-106", "SHOP-107", "SHOP-108")
        path = "releases/releases/shop-2026-25.yaml"
        text = (
            (world.human / path)
            .read_text(encoding="utf-8")
            .replace(
                '    - {role: qa-lead, by: dana.qa, at: "2026-12-04T16:20:00+01:00"}',
                '    - {role: qa-lead, by: dana.qa, at: "2026-12-04T16:20:00+01:00"}\n'
                '    - {role: product-owner, by: priya.po, at: "2026-12-07T14:00:00+01:00"}',
            )
        )
        signals = yaml.safe_dump({"test-coverage": 86.5, "security-scan": "passed"})
        world.push_change(
            "Approve shop 2026.25",
            {
                path: text,
                "signals/shop-2026-25.yaml": signals,
                "signals/payments-2026-25.yaml": signals,
            },
        )
        set_clock(world, clock, "2026-12-07T15:00:00+01:00")
        wait_for("GO", lambda: last_decision(world) == "GO")

        # Departure. Kill the leader as soon as its first image patch lands.
        eu = world.clusters["prod-eu"]
        set_clock(world, clock, "2026-12-08T14:00:00+01:00")
        wait_for(
            "the rollout to start",
            lambda: any("/deployments/" in p for _, p, _ in eu.requests("PATCH")),
        )
        a.kill()
        wait_for("b to take over", lambda: b.status()["leader"], timeout=15)
        wait_for(
            "the rollout to finish",
            lambda: phase(world) == "Monitoring",
            timeout=60,
        )
        set_clock(world, clock, "2026-12-10T15:00:00+01:00")
        wait_for("RELEASED", lambda: phase(world) == "Released", timeout=60)
    finally:
        a.close()
        if b is not None:
            b.close()

    status = remote_status(world, "shop-2026-25")
    kinds = Counter(d.decision for d in status.decisions)
    assert [d for d, n in kinds.items() if n > 1] == []
    assert {"NO_GO", "GO", "ROLLOUT", "DEPLOYED", "RELEASED"} <= set(kinds)
    patches = Counter(
        (name, p.rsplit("/", 1)[-1])
        for name, cluster in world.clusters.items()
        for _, p, _ in cluster.requests("PATCH")
        if "/deployments/" in p
    )
    # payments-api: the hotfix 2.4.1, then the train's 2.5.0; everything else once.
    assert patches.pop(("prod-eu", "payments-api")) == 2, patches
    assert patches.pop(("prod-us", "payments-api")) == 2, patches
    assert set(patches.values()) == {1}, patches
    with world.jira.state.lock:
        versions = Counter((v.project, v.name) for v in world.jira.state.versions.values())
        released = {v.name for v in world.jira.state.versions.values() if v.released}
        comments = Counter(
            issue.key
            for issue in world.jira.state.issues.values()
            for c in issue.comments
            if "relctl release shop-2026-25" in str(c.body)
        )
    assert max(versions.values()) == 1
    assert "2026.25" in released
    assert comments and set(comments.values()) == {1}
    bodies = git(world.remote, "log", "--format=%B%x00").split("\x00")
    released_by = [
        b for b in bodies if "Relctl-Release: shop-2026-25\nRelctl-Decision: RELEASED" in b
    ]
    assert len(released_by) == 1
    assert b is not None and b.logged("became the leader")
    # Every Kubernetes request was one the chart's RBAC grants (controller.adapters.rbac).
    for sandbox in world.clusters.values():
        assert used(sandbox) <= granted(rbac.ALL), used(sandbox) - granted(rbac.ALL)
    # The standby finished the rollout the leader had begun.
    assert any(e.get("action") == "set-image" and e["result"] == "done" for e in b.logs)
