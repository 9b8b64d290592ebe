"""The Kubernetes adapter over real HTTP against the emulator: observe with one LIST per
namespace, guarded image changes that re-decide on conflict, failure classification,
rollback to the recorded image, events, and two clusters that never mix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.adapters.kube import PREVIOUS_IMAGE, RELEASE_ANNOTATION, KubeCluster, KubeError
from controller.errors import Disposition
from controller.manifests.config import ClusterConfig
from controller.plan.observed import RolloutState
from controller.sandbox.kube import KubeSandbox


def deployment(name: str, namespace: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": image},
                        {"name": "envoy", "image": "envoy:1.30"},
                    ]
                },
            },
        },
    }


class Ticks:
    """The rollout simulator's clock, moved by `settle` alone."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[KubeSandbox, KubeCluster]]:
    with KubeSandbox() as sandbox:
        sandbox.rollouts.clock = Ticks()
        sandbox.rollouts.step = 0.05
        sandbox.rollouts.deadline = 0.5
        for namespace in ("shop", "payments", "platform"):
            for n in range(3):
                sandbox.apply(deployment(f"svc-{n}", namespace, f"registry/svc-{n}:1.0"))
        path = sandbox.kubeconfig(tmp_path / "kubeconfig", context="prod-eu")
        kube = KubeCluster.connect(
            "prod-eu", ClusterConfig.model_validate({"context": "prod-eu", "kubeconfig": str(path)})
        )
        yield sandbox, kube
        kube.close()


def settle(
    cluster: tuple[KubeSandbox, KubeCluster],
    namespace: str,
    name: str,
    state: RolloutState = RolloutState.COMPLETE,
) -> Any:
    """The Deployment once its rollout is in `state`, simulated time passing meanwhile."""
    sandbox, kube = cluster
    clock = sandbox.rollouts.clock
    assert isinstance(clock, Ticks)
    for _ in range(100):
        seen = kube.get(namespace, name)
        if seen.rollout is state:
            return seen
        clock.now += 0.05
        sandbox.rollouts.tick()
    raise AssertionError(f"{name} never became {state} in 5 simulated seconds")


def test_observe_lists_once_per_namespace(cluster: tuple[KubeSandbox, KubeCluster]) -> None:
    sandbox, kube = cluster
    before = len(sandbox.requests("GET"))
    seen = kube.observe(["shop", "payments", "platform", "shop"])
    assert len(seen) == 9
    assert len(sandbox.requests("GET")) - before == 3
    assert seen[("shop", "svc-0")].images == {"app": "registry/svc-0:1.0", "envoy": "envoy:1.30"}


def test_set_image_annotates_and_keeps_the_sidecar(
    cluster: tuple[KubeSandbox, KubeCluster],
) -> None:
    _, kube = cluster
    seen = settle(cluster, "shop", "svc-0")
    changed = kube.set_image(seen, "app", "registry/svc-0:1.1", "shop-2026-25")
    assert changed.images == {"app": "registry/svc-0:1.1", "envoy": "envoy:1.30"}
    assert changed.annotations[RELEASE_ANNOTATION] == "shop-2026-25"
    assert changed.annotations[PREVIOUS_IMAGE + "app"] == "registry/svc-0:1.0"
    assert settle(cluster, "shop", "svc-0").rollout is RolloutState.COMPLETE
    again = kube.set_image(kube.get("shop", "svc-0"), "app", "registry/svc-0:1.1", "shop-2026-25")
    assert again.generation == changed.generation  # idempotent: nothing patched


def test_conflict_rereads_and_redecides(cluster: tuple[KubeSandbox, KubeCluster]) -> None:
    sandbox, kube = cluster
    seen = settle(cluster, "shop", "svc-1")
    sandbox.rollouts.stop()  # no status writes meanwhile: only the other writer conflicts
    # Someone scales the Deployment between our read and our patch: not our container.
    sandbox.store.update(
        sandbox.store.find_type("apps", "v1", "deployments"),
        "shop",
        "svc-1",
        {
            **sandbox.store.get(
                sandbox.store.find_type("apps", "v1", "deployments"), "shop", "svc-1"
            ),
            "spec": {**deployment("svc-1", "shop", "registry/svc-1:1.0")["spec"], "replicas": 4},
        },
    )
    changed = kube.set_image(seen, "app", "registry/svc-1:1.1", "r1")
    assert changed.images["app"] == "registry/svc-1:1.1" and changed.replicas == 4
    statuses = [s for m, p, s in sandbox.requests("PATCH") if p.endswith("/svc-1")]
    assert statuses == [409, 200]


def test_someone_elses_image_change_is_not_overwritten(
    cluster: tuple[KubeSandbox, KubeCluster],
) -> None:
    sandbox, kube = cluster
    seen = settle(cluster, "shop", "svc-2")
    deployments = sandbox.store.find_type("apps", "v1", "deployments")
    sandbox.store.update(
        deployments, "shop", "svc-2", deployment("svc-2", "shop", "registry/svc-2:hotfix")
    )
    with pytest.raises(KubeError, match="not overwriting someone else's change") as refused:
        kube.set_image(seen, "app", "registry/svc-2:1.1", "r1")
    assert refused.value.disposition is Disposition.WAITING
    assert kube.get("shop", "svc-2").images["app"] == "registry/svc-2:hotfix"


def test_failed_rollout_and_rollback(cluster: tuple[KubeSandbox, KubeCluster]) -> None:
    sandbox, kube = cluster
    sandbox.rollouts.mark_bad("registry/svc-0:bad")
    seen = settle(cluster, "payments", "svc-0")
    kube.set_image(seen, "app", "registry/svc-0:bad", "payments-2026-25")
    failed = settle(cluster, "payments", "svc-0", RolloutState.FAILED)
    assert failed.unavailable_replicas == 1
    assert failed.message == "deployment exceeded its progress deadline"
    restored = kube.rollback(failed, "app")
    assert restored.images["app"] == "registry/svc-0:1.0"
    assert settle(cluster, "payments", "svc-0").images["app"] == "registry/svc-0:1.0"
    kube.event(restored, "RolledBack", "payments-2026-25: app back to registry/svc-0:1.0")
    events = sandbox.store.list(sandbox.store.find_type("", "v1", "events"), "payments")[0]
    assert [(e["reason"], e["involvedObject"]["name"]) for e in events] == [("RolledBack", "svc-0")]


def test_two_clusters_never_mix(tmp_path: Path) -> None:
    with KubeSandbox() as eu, KubeSandbox() as us:
        eu.apply(deployment("web", "shop", "web:eu"))
        us.apply(deployment("web", "shop", "web:us"))
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "prod-eu",
            "clusters": [
                {"name": n, "cluster": {"server": s.url}}
                for n, s in (("prod-eu", eu), ("prod-us", us))
            ],
            "users": [{"name": "u", "user": {"token": "x"}}],
            "contexts": [
                {"name": n, "context": {"cluster": n, "user": "u"}} for n in ("prod-eu", "prod-us")
            ],
        }
        path = tmp_path / "kubeconfig"
        path.write_text(yaml.safe_dump(config))
        clusters = [
            KubeCluster.connect(
                n, ClusterConfig.model_validate({"context": n, "kubeconfig": str(path)})
            )
            for n in ("prod-eu", "prod-us")
        ]
        images = [c.observe(["shop"])[("shop", "web")].images["app"] for c in clusters]
        assert images == ["web:eu", "web:us"]
        for c in clusters:
            c.close()


def test_flags_applied_read_back_and_drift(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from controller.adapters.kube import apply_flags, read_flags
    from controller.manifests import loading
    from controller.plan import flags
    from tests.conftest import REPO, SHOP

    state = loading.load(SHOP).states[0]
    at = datetime(2026, 12, 12, 12, tzinfo=UTC)
    documents = flags.render(state, at, lambda name: True)
    crd = REPO.parent / "shared" / "flagd" / "core.openfeature.dev_featureflags.yaml"
    with KubeSandbox() as sandbox:
        sandbox.load_crd(crd)
        for namespace in ("shop", "payments"):
            sandbox.ensure_namespace(namespace)
        path = sandbox.kubeconfig(tmp_path / "kubeconfig", context="prod-eu")
        kube = KubeCluster.connect(
            "prod-eu", ClusterConfig.model_validate({"context": "prod-eu", "kubeconfig": str(path)})
        )
        eu = {t: d for t, d in documents.items() if t.cluster == "prod-eu"}
        assert {t.kind for t in eu} == {"FeatureFlag", "ConfigMap"}
        for target, document in eu.items():
            assert read_flags(kube, target) is None
            assert apply_flags(kube, target, document) is True
            assert apply_flags(kube, target, document) is False  # converged: no write
            assert flags.drift(document["flags"], read_flags(kube, target)) == []
        # Someone edits a flag by hand in the cluster: drift, flag by flag.
        shop = next(t for t in eu if t.kind == "FeatureFlag")
        custom_type = sandbox.store.find_type("core.openfeature.dev", "v1beta1", "featureflags")
        edited = sandbox.store.get(custom_type, "shop", shop.name)
        edited["spec"]["flagSpec"]["flags"]["new-checkout-flow"]["defaultVariant"] = "on"
        del edited["spec"]["flagSpec"]["flags"]["holiday-banner"]
        sandbox.store.update(custom_type, "shop", shop.name, edited)
        found = flags.drift(eu[shop]["flags"], read_flags(kube, shop))
        assert [(d.flag, d.field, d.desired, d.actual) for d in found] == [
            ("holiday-banner", "flag", "present", "absent"),
            ("new-checkout-flow", "defaultVariant", "off", "on"),
        ]
        assert apply_flags(kube, shop, eu[shop]) is True  # enforce mode reverts it
        assert flags.drift(eu[shop]["flags"], read_flags(kube, shop)) == []
        kube.close()


def test_flags_status_reports_drift_when_clusters_are_reachable(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from click.testing import CliRunner

    from controller.adapters.kube import apply_flags
    from controller.cli import cli
    from controller.manifests import loading
    from controller.plan import flags
    from tests.conftest import REPO, SHOP

    state = loading.load(SHOP).states[0]
    at = datetime(2026, 12, 12, 12, tzinfo=UTC)
    documents = flags.render(state, at, lambda name: name == "shop-2026-25")
    crd = REPO.parent / "shared" / "flagd" / "core.openfeature.dev_featureflags.yaml"
    with KubeSandbox() as sandbox:
        sandbox.load_crd(crd)
        for namespace in ("shop", "payments", "platform"):
            sandbox.ensure_namespace(namespace)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "prod-eu",
            "clusters": [{"name": "sandbox", "cluster": {"server": sandbox.url}}],
            "users": [{"name": "u", "user": {"token": "x"}}],
            "contexts": [
                {"name": n, "context": {"cluster": "sandbox", "user": "u"}}
                for n in ("prod-eu", "prod-us")
            ],
        }
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(config))
        kube = KubeCluster.connect(
            "prod-eu",
            ClusterConfig.model_validate({"context": "prod-eu", "kubeconfig": str(kubeconfig)}),
        )
        for target, document in documents.items():
            apply_flags(kube, target, document)
        kube.close()
        custom = sandbox.store.find_type("core.openfeature.dev", "v1beta1", "featureflags")
        edited = sandbox.store.get(custom, "shop", "shop-flags")
        edited["spec"]["flagSpec"]["flags"]["new-checkout-flow"]["state"] = "DISABLED"
        sandbox.store.update(custom, "shop", "shop-flags", edited)
        result = CliRunner().invoke(
            cli,
            [
                "flags",
                "status",
                "--root",
                str(SHOP),
                "--at",
                at.isoformat(),
                "--released",
                "shop-2026-25",
                "-o",
                "json",
            ],
            env={"KUBECONFIG": str(kubeconfig)},
        )
        # Days later the banner's stage is due: what the cluster holds is relctl's own
        # earlier stage, a rollout advancing, not a hand edit.
        later = CliRunner().invoke(
            cli,
            [
                *("flags", "status", "--root", str(SHOP), "--at", "2026-12-17T12:00:00+01:00"),
                *("--released", "shop-2026-25", "-o", "json"),
            ],
            env={"KUBECONFIG": str(kubeconfig)},
        )
    rows = {row["flag"]: row["cluster"] for row in json.loads(result.output)}
    assert rows["new-checkout-flow"] == ('DRIFT state: desired "ENABLED", actual "DISABLED"')
    assert rows["one-click-pay"] == "in sync" and rows["search-ranking"] == "in sync"
    assert rows["holiday-banner"] == "in sync"
    moved = {row["flag"]: row["cluster"] for row in json.loads(later.output)}
    assert moved["holiday-banner"].startswith("holiday-banner advances from 0% to 100%")
    assert moved["new-checkout-flow"].startswith("DRIFT state:")
