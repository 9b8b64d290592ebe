"""The git deployment method through the real reconciler: images committed to an
environment repository (a bare repository on disk) that the sandbox's GitOps agent
applies to the Kubernetes emulator with the real kubectl. The rollout in dependency
order, a rollback as a new commit, a person's commit landing during relctl's push kept,
a file whose shape changed refused, and a self-healing agent that reverts the kubernetes
method's patch while the git method's change stays."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.plan.records import from_yaml
from controller.reconcile.passes import Reconciler
from controller.sandbox.gitops import GitOpsSyncer, SyncError
from controller.sandbox.world import World, git
from tests.integration.test_reconcile_life import run
from tests.support.world import at

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "gitops"
DEPARTURE = at("2026-12-08T14:00:00+01:00")
CATALOG = "registry.shop.example/shop/catalog"
STOREFRONT = "registry.shop.example/shop/storefront"
PAYMENTS = "registry.shop.example/shop/payments"
KUSTOMIZATION = "apps/storefront/kustomization.yaml"
VALUES = "apps/payments/values.yaml"
FLAGS = "apps/flags/shop-flags.yaml"
CRD = REPO.parent / "shared" / "argocd" / "application-crd.yaml"
"""Argo CD's published Application CRD: the agent's status is written in its shape."""


def release(name: str, components: dict[str, str], **spec: Any) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "relctl.dev/v1alpha1",
            "kind": "Release",
            "metadata": {"name": name},
            "spec": {
                "version": name,
                "date": DEPARTURE.isoformat(),
                "components": [{"name": c, "version": v} for c, v in components.items()],
                "rollback": {"auto": True, **spec.pop("rollback", {})},
                **spec,
            },
        },
        sort_keys=False,
    )


@dataclass
class Shop:
    world: World
    environment: Path
    """The environment repository (bare)."""
    agent: GitOpsSyncer
    person: Path
    """A person's clone of the environment repository."""

    def image(self, deployment: str) -> str:
        store = self.world.clusters["prod"].store
        found = store.get(store.find_type("apps", "v1", "deployments"), "shop", deployment)
        return str(found["spec"]["template"]["spec"]["containers"][0]["image"])

    def status(self, name: str) -> Any:
        return from_yaml(git(self.world.remote, "show", f"main:status/releases/{name}.yaml"), name)

    def commits(self) -> list[str]:
        return git(self.environment, "log", "--format=%s", "main").splitlines()

    def push(self, message: str, files: dict[str, str]) -> str:
        git(self.person, "pull", "-q", "--rebase")
        for relative, text in files.items():
            (self.person / relative).write_text(text, encoding="utf-8")
        git(self.person, "add", "-A")
        git(self.person, "commit", "-q", "-m", message)
        git(self.person, "push", "-q")
        return git(self.person, "rev-parse", "HEAD")

    def drive(
        self, until: Callable[[], bool], passes: int = 25, start: datetime = DEPARTURE
    ) -> list[Any]:
        """A pass a minute from `start`, the agent syncing after each, until `until()`."""
        reconciler = Reconciler(self.world.controller, {**os.environ, **self.world.env})
        reports = []
        now = start
        try:
            for _ in range(passes):
                reports.append(run(self.world, reconciler, now))
                with contextlib.suppress(SyncError):  # a failing agent fails its sync only
                    self.agent.sync()
                if until():
                    return reports
                now += timedelta(minutes=1)
                self.world.advance(60.0)
        finally:
            reconciler.close()
        raise AssertionError(f"never got there; environment log: {self.commits()}")


def waiting_for_the_agent(reports: list[Any]) -> list[str]:
    """What the passes said they wait for from the GitOps agent."""
    return [
        f.message for r in reports if r.plan is not None for f in r.plan.findings
        if "waiting for the GitOps agent" in f.message
    ]  # fmt: skip


@contextlib.contextmanager
def shop_with(tmp_path: Path, *releases: tuple[str, str], flux: bool = False) -> Iterator[Shop]:
    source = tmp_path / "source"
    shutil.copytree(DATA, source, ignore=shutil.ignore_patterns("environment"))
    (source / "releases/releases").mkdir()
    for name, text in releases:
        (source / f"releases/releases/{name}.yaml").write_text(text, encoding="utf-8")
    environment = tmp_path / "environment.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(environment))
    seed = tmp_path / "person"
    git(tmp_path, "clone", "-q", str(environment), str(seed))
    shutil.copytree(DATA / "environment", seed, dirs_exist_ok=True)
    git(seed, "add", "-A")
    git(seed, "-c", "user.name=Dana Ops", "-c", "user.email=dana@shop.example", "commit", "-q",
        "-m", "The shop's production environment")  # fmt: skip
    git(seed, "config", "user.name", "Dana Ops")
    git(seed, "config", "user.email", "dana@shop.example")
    git(seed, "push", "-q", "origin", "main")
    world = World(
        source,
        tmp_path / "world",
        jira_seed=REPO / "tests/data/jira/shop.yaml",
        running={"catalog": "2.3.0", "storefront": "4.2.0", "search": "7.0.0", "payments": "5.0.0"},
        step=1.0,
        rbac=True,
    )
    world.workspace.mkdir()
    world.simulate_time()
    with world:
        world.env["RELCTL_ENVIRONMENT_SHOP_ENV_URL"] = str(environment)
        apps = {
            "catalog": "apps/catalog",
            "storefront": "apps/storefront",
            "search": "apps/search",
            "payments": "apps/payments",  # a Helm chart
            "flags": "apps/flags",  # a FeatureFlag relctl's flags are committed to
        }
        agent = GitOpsSyncer(
            environment,
            world.clusters["prod"],
            apps,
            tmp_path / "agent",
            crd=CRD,
            flux=flux,
            namespace="shop",
        )
        agent.sync()
        yield Shop(world, environment, agent, seed)


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    shop_3 = release("shop-3", {"catalog": "2.4.0", "storefront": "4.3.0"})
    with shop_with(tmp_path, ("shop-3", shop_3)) as shop:
        yield shop


def test_a_rollout_commits_each_image_in_dependency_order(shop: Shop) -> None:
    shop.drive(lambda: shop.status("shop-3").phase.value == "Monitoring")
    assert shop.image("catalog") == f"{CATALOG}:2.4.0"
    assert shop.image("storefront") == f"{STOREFRONT}:4.3.0"
    mine = [c for c in shop.commits() if c.startswith("relctl:")]
    assert mine == [
        f"relctl: shop-3 ROLLOUT storefront {STOREFRONT}:4.3.0",
        f"relctl: shop-3 ROLLOUT catalog {CATALOG}:2.4.0",
    ]  # newest first: catalog (which storefront dependsOn) went first
    body = git(shop.environment, "log", "-1", "--format=%B", "main")
    assert (
        "Relctl-Release: shop-3\nRelctl-Component: storefront\nRelctl-Decision: ROLLOUT\n" in body
    )
    assert f"Relctl-Previous-Image: {STOREFRONT}:4.2.0" in body
    # One file a commit, one line of it: the comments and the quotes are kept.
    changed = git(shop.environment, "show", "--format=", "--name-only", "main").splitlines()
    assert changed == [KUSTOMIZATION]
    diff = git(shop.environment, "show", "--format=", "-U0", "main").splitlines()
    assert [d for d in diff if d[:1] in "+-" and d[:3] not in ("+++", "---")] == [
        '-    newTag: "4.2.0"  # promoted by relctl',
        '+    newTag: "4.3.0"  # promoted by relctl',
    ]


def test_a_failed_rollout_is_rolled_back_by_a_new_commit(shop: Shop) -> None:
    shop.world.clusters["prod"].rollouts.mark_bad(f"{STOREFRONT}:4.3.0")
    shop.drive(
        lambda: (
            shop.status("shop-3").phase.value == "RolledBack"
            and shop.image("storefront").endswith(":4.2.0")
            and shop.image("catalog").endswith(":2.3.0")
        )
    )
    mine = [c for c in shop.commits() if c.startswith("relctl:")]
    assert mine[:2] == [  # newest first: in reverse dependency order, storefront first
        f"relctl: shop-3 ROLLBACK catalog {CATALOG}:2.3.0",
        f"relctl: shop-3 ROLLBACK storefront {STOREFRONT}:4.2.0",
    ]
    assert len(mine) == 4  # two rollouts, two rollbacks: history is never rewritten
    text = git(shop.environment, "show", f"main:{KUSTOMIZATION}")
    assert 'newTag: "4.2.0"  # promoted by relctl' in text


def test_a_helm_values_key_is_rolled_out_and_back_by_commits(tmp_path: Path) -> None:
    """The Helm form: relctl edits image.tag in the chart's values.yaml (that one scalar,
    its quotes and comment kept), the agent renders the chart with the real Helm engine,
    and a failed rollout is undone by a new commit of the previous tag."""
    with shop_with(tmp_path, ("pay-1", release("pay-1", {"payments": "5.1.0"}))) as shop:
        assert shop.image("payments") == f"{PAYMENTS}:5.0.0"  # the chart, rendered
        shop.world.clusters["prod"].rollouts.mark_bad(f"{PAYMENTS}:5.1.0")
        shop.drive(
            lambda: (
                shop.status("pay-1").phase.value == "RolledBack"
                and shop.image("payments").endswith(":5.0.0")
            )
        )
        mine = [c for c in shop.commits() if c.startswith("relctl:")]
        assert mine == [
            f"relctl: pay-1 ROLLBACK payments {PAYMENTS}:5.0.0",
            f"relctl: pay-1 ROLLOUT payments {PAYMENTS}:5.1.0",
        ]
        rollout = git(shop.environment, "rev-parse", "main~1")
        diff = git(shop.environment, "show", "--format=", "-U0", rollout).splitlines()
        assert [d for d in diff if d[:1] in "+-" and d[:3] not in ("+++", "---")] == [
            '-  tag: "5.0.0"  # promoted by relctl',
            '+  tag: "5.1.0"  # promoted by relctl',
        ]
        assert git(shop.environment, "show", f"main:{VALUES}") == (
            DATA / "environment" / VALUES
        ).read_text(encoding="utf-8").rstrip("\n")  # back, byte for byte
        assert shop.agent.revision == git(shop.environment, "rev-parse", "main")


REFUSE_ONCE = """#!/bin/sh
# A person's commit lands while relctl pushes: relctl's first push is refused.
[ -f "{marker}" ] && exit 0
touch "{marker}"
# Outside receive-pack's quarantine, as another push would be.
unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
tree=$(git rev-parse main^{{tree}})
export GIT_AUTHOR_NAME=Dana GIT_AUTHOR_EMAIL=dana@shop.example
export GIT_COMMITTER_NAME=Dana GIT_COMMITTER_EMAIL=dana@shop.example
human=$(echo "Scale search for the sale" | git commit-tree "$tree" -p main)
git update-ref refs/heads/main "$human"
echo "main moved" >&2
exit 1
"""


def test_a_persons_commit_landing_during_the_push_is_kept(shop: Shop, tmp_path: Path) -> None:
    hook = shop.environment / "hooks" / "pre-receive"
    hook.write_text(REFUSE_ONCE.format(marker=tmp_path / "refused"), encoding="utf-8")
    hook.chmod(0o755)
    shop.drive(lambda: shop.status("shop-3").phase.value == "Monitoring")
    assert (tmp_path / "refused").exists()
    log = shop.commits()
    assert "Scale search for the sale" in log
    assert log.index(f"relctl: shop-3 ROLLOUT catalog {CATALOG}:2.4.0") < log.index(
        "Scale search for the sale"
    )  # relctl's commit went on top of the person's


def test_a_file_whose_shape_changed_stops_the_release_naming_it(shop: Shop) -> None:
    text = (shop.person / KUSTOMIZATION).read_text(encoding="utf-8")
    shop.push(
        "Pin storefront by digest",
        {KUSTOMIZATION: text.replace('newTag: "4.2.0"', "digest: sha256:" + "a" * 64)},
    )
    failures: list[str] = []
    reconciler = Reconciler(shop.world.controller, {**os.environ, **shop.world.env})
    now = DEPARTURE
    try:
        for _ in range(10):
            report = run(shop.world, reconciler, now)
            failures += [o.detail for o in report.outcomes if o.failed]
            shop.agent.sync()
            if failures:
                break
            now += timedelta(minutes=1)
            shop.world.advance(60.0)
    finally:
        reconciler.close()
    assert failures and f"shop-env:{KUSTOMIZATION}" in failures[0] and "digest" in failures[0]
    assert shop.image("storefront").startswith(f"{STOREFRONT}@sha256:")  # the person's pin
    assert not any("storefront" in c for c in shop.commits() if c.startswith("relctl:"))


def test_a_self_healing_agent_reverts_a_patch_but_keeps_a_commit(tmp_path: Path) -> None:
    both = release("mixed-1", {"catalog": "2.4.0", "search": "7.1.0"}, rollback={"partial": True})
    with shop_with(tmp_path, ("mixed-1", both)) as shop:
        shop.drive(lambda: shop.status("mixed-1").phase.value in ("RolledBack", "Monitoring"))
        # relctl patched search; the agent applied the repository's 7.0.0 over it.
        patches = [p for m, p, _ in shop.world.clusters["prod"].requests("PATCH") if "/search" in p]
        assert patches, "relctl never patched search"
        assert shop.image("search") == "registry.shop.example/shop/search:7.0.0"
        # The git method's change is the repository's: it stays.
        assert shop.image("catalog") == f"{CATALOG}:2.4.0"
        status = shop.status("mixed-1")
        rollback = status.last("ROLLBACK")
        assert (
            rollback is not None
            and "runs its previous image again" in rollback.evidence.triggers[0]
        )
        assert rollback.evidence.components == ("search",)


def test_a_pass_killed_after_its_push_repeats_nothing(shop: Shop) -> None:
    """Each minute a pass commits and pushes, then dies before recording (a fresh process
    takes over): every image is committed once, every decision recorded once."""
    env = {**os.environ, **shop.world.env}
    now = DEPARTURE
    for _ in range(20):
        shop.world.set_time(now)
        doomed = Reconciler(shop.world.controller, env)
        try:
            doomed.run(now, may_record=lambda: False)  # killed before its record
        finally:
            doomed.close()
        shop.agent.sync()
        survivor = Reconciler(shop.world.controller, env)
        try:
            run(shop.world, survivor, now)
        finally:
            survivor.close()
        shop.agent.sync()
        if shop.status("shop-3").phase.value == "Monitoring":
            break
        now += timedelta(minutes=1)
        shop.world.advance(60.0)
    mine = [c for c in shop.commits() if c.startswith("relctl:")]
    assert len(mine) == 2, mine
    kinds = [d.decision.value for d in shop.status("shop-3").decisions]
    assert kinds == ["GO", "ROLLOUT", "DEPLOYED"]


def test_a_persons_commit_to_the_environment_is_drift_and_self_heal_commits_it_back(
    shop: Shop,
) -> None:
    component = yaml.safe_load((DATA / "releases/components/storefront.yaml").read_text())
    component["spec"]["selfHeal"] = True
    shop.world.push_change(
        "storefront heals itself",
        {"releases/components/storefront.yaml": yaml.safe_dump(component, sort_keys=False)},
    )
    shop.drive(lambda: shop.status("shop-3").phase.value == "Monitoring")
    git(shop.person, "pull", "-q", "--rebase")
    text = (shop.person / KUSTOMIZATION).read_text(encoding="utf-8")
    sha = shop.push("Try storefront 9.9.9", {KUSTOMIZATION: text.replace('"4.3.0"', '"9.9.9"')})
    reconciler = Reconciler(shop.world.controller, {**os.environ, **shop.world.env})
    try:
        report = run(shop.world, reconciler, DEPARTURE + timedelta(minutes=30))
    finally:
        reconciler.close()
    assert report.plan is not None
    drift = [f.message for f in report.plan.findings if f.kind == "drift"]
    author = git(shop.environment, "log", "-1", "--format=%an <%ae>", sha)
    assert drift == [
        f"shop-env:{KUSTOMIZATION} holds {STOREFRONT}:9.9.9 since {sha[:12]} by {author}; "
        f"release shop-3 put {STOREFRONT}:4.3.0 there (prod/shop/storefront container web)"
    ]
    assert shop.commits()[0] == f"relctl: shop-3 REPAIRED storefront {STOREFRONT}:4.3.0"
    assert 'newTag: "4.3.0"' in git(shop.environment, "show", f"main:{KUSTOMIZATION}")
    assert shop.commits()[1] == "Try storefront 9.9.9"  # a new commit over theirs


def test_a_commit_the_agent_never_applies_is_a_rollback_trigger(shop: Shop) -> None:
    """The agent fails every sync: relctl commits once, says what it waits for, and after
    the component's applyDeadline (10 minutes) rolls the release back."""
    shop.agent.failing = "ComparisonError: rpc error: code = Unknown"
    reports = shop.drive(lambda: shop.status("shop-3").phase.value == "RolledBack", passes=15)
    waiting = set(waiting_for_the_agent(reports))
    synced = git(shop.environment, "rev-parse", "main~2")[:12]  # the agent's last success
    assert waiting == {
        f"catalog: {CATALOG}:2.4.0 is committed to shop-env:apps/catalog/deployment.yaml "
        f"({git(shop.environment, 'rev-parse', 'main~1')[:12]}); waiting for the GitOps agent "
        f"(Argo CD Application prod/argocd/catalog: OutOfSync at {synced}, Degraded; sync "
        "Failed: ComparisonError: rpc error: code = Unknown)"
    }
    rollback = shop.status("shop-3").last("ROLLBACK")
    assert (
        "the GitOps agent has not applied it since 2026-12-08 14:01"
        in rollback.evidence.triggers[0]
    )
    assert rollback.at - DEPARTURE >= timedelta(minutes=11)  # seen at 14:01, plus 10m
    mine = [c for c in shop.commits() if c.startswith("relctl:")]
    assert mine == [
        f"relctl: shop-3 ROLLBACK catalog {CATALOG}:2.3.0",
        f"relctl: shop-3 ROLLOUT catalog {CATALOG}:2.4.0",
    ]  # committed once; storefront (after catalog) never started


def test_relctl_plan_names_a_locator_the_environment_no_longer_has(shop: Shop) -> None:
    text = (shop.person / KUSTOMIZATION).read_text(encoding="utf-8")
    shop.push("Drop the image override", {KUSTOMIZATION: text.split("images:")[0]})
    done = subprocess.run(
        [sys.executable, "-m", "controller", "plan", "--at", DEPARTURE.isoformat()],
        cwd=shop.world.controller,
        env={**os.environ, **shop.world.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (
        f"warning: environment shop-env could not be read: shop-env:{KUSTOMIZATION} has no "
        f"images entry named {STOREFRONT}"
    ) in done.stderr


def test_a_clone_a_killed_pass_left_locked_is_made_again(shop: Shop) -> None:
    shop.drive(lambda: any(c.startswith("relctl:") for c in shop.commits()))
    clone = shop.world.controller / ".git" / "relctl-environments" / "shop-env"
    (clone / ".git" / "index.lock").write_text("", encoding="utf-8")  # git died holding it
    shop.drive(lambda: shop.status("shop-3").phase.value == "Monitoring")
    assert shop.image("storefront") == f"{STOREFRONT}:4.3.0"
    assert not (clone / ".git" / "index.lock").exists()


def test_a_locator_file_that_is_a_symbolic_link_is_refused(shop: Shop, tmp_path: Path) -> None:
    """A hostile commit to the environment repository cannot make relctl read or write a
    file outside its clone."""
    outside = tmp_path / "outside.yaml"
    outside.write_text("images: []\n", encoding="utf-8")
    (shop.person / KUSTOMIZATION).unlink()
    (shop.person / KUSTOMIZATION).symlink_to(outside)
    git(shop.person, "add", "-A")
    git(shop.person, "commit", "-q", "-m", "Point the overlay elsewhere")
    git(shop.person, "push", "-q")
    reconciler = Reconciler(shop.world.controller, {**os.environ, **shop.world.env})
    try:
        report = run(shop.world, reconciler, DEPARTURE)
    finally:
        reconciler.close()
    assert any(
        f"{KUSTOMIZATION} leaves the repository or is a symbolic link" in p for p in report.problems
    )
    assert outside.read_text(encoding="utf-8") == "images: []\n"


def test_a_flux_kustomization_says_why_a_commit_is_not_applied(tmp_path: Path) -> None:
    """The same wait with Flux: the Kustomization's Ready condition and its message."""
    shop_3 = release("shop-3", {"catalog": "2.4.0"})
    with shop_with(tmp_path, ("shop-3", shop_3), flux=True) as shop:
        component = yaml.safe_load((DATA / "releases/components/catalog.yaml").read_text())
        component["spec"]["deploy"]["application"] = {
            "kind": "Kustomization", "cluster": "prod", "namespace": "flux-system",
            "name": "catalog",
        }  # fmt: skip
        shop.world.push_change(
            "catalog is applied by Flux",
            {"releases/components/catalog.yaml": yaml.safe_dump(component, sort_keys=False)},
        )
        shop.agent.sync()
        shop.agent.failing = "kustomize build failed: accumulating resources"
        reports = shop.drive(
            lambda: any(c.startswith("relctl: shop-3 ROLLOUT") for c in shop.commits()), passes=3
        )
        applied = shop.agent.revision[:12]
        more = shop.drive(lambda: True, passes=1)
        waiting = waiting_for_the_agent([*reports, *more])
        assert waiting and waiting[-1].endswith(
            f"(Flux Kustomization prod/flux-system/catalog: NotReady at {applied}, "
            "ReconciliationFailed; sync Failed: kustomize build failed: accumulating resources)"
        ), waiting


def test_a_flux_helmrelease_names_the_chart_revision_it_applied(tmp_path: Path) -> None:
    """A chart applied by Flux's helm-controller: relctl reads the HelmRelease's
    lastAttemptedRevision (chart version + commit) and its Ready condition."""
    with shop_with(tmp_path, ("pay-1", release("pay-1", {"payments": "5.1.0"})), flux=True) as shop:
        component = yaml.safe_load((DATA / "releases/components/payments.yaml").read_text())
        component["spec"]["deploy"]["application"] = {
            "kind": "HelmRelease", "cluster": "prod", "namespace": "flux-system",
            "name": "payments",
        }  # fmt: skip
        shop.world.push_change(
            "payments is applied by Flux",
            {"releases/components/payments.yaml": yaml.safe_dump(component, sort_keys=False)},
        )
        shop.agent.sync()
        store = shop.world.clusters["prod"].store
        found = store.get(
            store.find_type("helm.toolkit.fluxcd.io", "v2", "helmreleases"),
            "flux-system",
            "payments",
        )
        head = git(shop.environment, "rev-parse", "main")
        assert found["status"]["lastAttemptedRevision"] == f"1.4.0+{head[:12]}"
        shop.agent.failing = "Helm upgrade failed: context deadline exceeded"
        reports = shop.drive(
            lambda: any(c.startswith("relctl: pay-1 ROLLOUT") for c in shop.commits()), passes=3
        )
        more = shop.drive(lambda: True, passes=1)
        waiting = waiting_for_the_agent([*reports, *more])
        assert waiting and waiting[-1].endswith(
            f"(Flux HelmRelease prod/flux-system/payments: NotReady at {head[:12]}, "
            "UpgradeFailed; sync Failed: Helm upgrade failed: context deadline exceeded)"
        ), waiting


def test_flags_are_committed_to_the_environment_and_a_persons_edit_is_undone(
    tmp_path: Path,
) -> None:
    """A flag whose target lives in the environment repository: each stage is a commit
    of the FeatureFlag's flags (the file's comments kept) that the agent applies; a
    person's edit of the file is drift, committed back."""
    with shop_with(tmp_path) as shop:
        flag = {
            "apiVersion": "relctl.dev/v1alpha1",
            "kind": "FeatureFlag",
            "metadata": {"name": "one-page-checkout"},
            "spec": {
                "owner": "team-storefront",
                "variants": {"on": True, "off": False},
                "defaultVariant": "off",
                "rollout": {
                    "variant": "on",
                    "stages": [
                        {"percent": 25, "at": (DEPARTURE - timedelta(hours=1)).isoformat()},
                        {"percent": 50, "at": (DEPARTURE + timedelta(minutes=2)).isoformat()},
                    ],
                },
                "target": {
                    "kind": "FeatureFlag", "cluster": "prod", "namespace": "shop",
                    "name": "shop-flags", "environment": "shop-env", "file": FLAGS,
                },
            },
        }  # fmt: skip
        shop.world.push_change(
            "One-page checkout, in stages",
            {"releases/flags/one-page-checkout.yaml": yaml.safe_dump(flag, sort_keys=False)},
        )
        store = shop.world.clusters["prod"].store
        kind = store.find_type("core.openfeature.dev", "v1beta1", "featureflags")

        def served() -> Any:
            flags = store.get(kind, "shop", "shop-flags")["spec"]["flagSpec"].get("flags", {})
            return flags.get("one-page-checkout", {}).get("targeting")

        half = {"fractional": [["on", 50000], ["off", 50000]]}
        shop.drive(lambda: served() == half)
        mine = [c for c in shop.commits() if c.startswith("relctl:")]
        assert mine == [
            "relctl: FLAGS shop/shop-flags: one-page-checkout 50%",
            "relctl: FLAGS shop/shop-flags: one-page-checkout 25%",
        ]
        text = git(shop.environment, "show", f"main:{FLAGS}")
        assert "    shop.example/owner: team-storefront  # who to ask" in text
        assert '"on": true' in text  # a YAML 1.1 reader's boolean, quoted
        body = git(shop.environment, "log", "-1", "--format=%B", "main")
        assert "Relctl-Decision: FLAGS" in body

        # A person serves everyone the new checkout by hand.
        git(shop.person, "pull", "-q", "--rebase")
        edited = (shop.person / FLAGS).read_text(encoding="utf-8")
        sha = shop.push("Everyone gets it", {FLAGS: edited.replace("50000", "100000", 1)})
        reports = shop.drive(
            lambda: served() == half and shop.commits()[1] == "Everyone gets it",
            start=DEPARTURE + timedelta(minutes=30),
        )
        drift = [
            f.message for r in reports if r.plan is not None for f in r.plan.findings
            if f.kind == "flag-drift"
        ]  # fmt: skip
        author = git(shop.environment, "log", "-1", "--format=%an <%ae>", sha)
        assert drift[0] == (
            f"one-page-checkout at shop-env:{FLAGS} (FeatureFlag prod/shop/shop-flags) was "
            f"changed by hand (targeting) in {sha[:12]} by {author}; "
            "restoring 50%"
        ), drift
        assert shop.commits()[0] == "relctl: FLAGS shop/shop-flags: one-page-checkout 50%"


def test_a_component_kept_in_two_files_names_the_file_in_each_commit(tmp_path: Path) -> None:
    """catalog runs in two namespaces, each from its own file: one commit per file, each
    subject naming it, each with the workload in a trailer."""
    with shop_with(tmp_path, ("shop-3", release("shop-3", {"catalog": "2.4.0"}))) as shop:
        canary = "apps/catalog-canary/deployment.yaml"
        text = (DATA / "environment/apps/catalog/deployment.yaml").read_text(encoding="utf-8")
        (shop.person / canary).parent.mkdir(parents=True)
        shop.push(
            "catalog's canary", {canary: text.replace("namespace: shop", "namespace: canary")}
        )
        shop.world.clusters["prod"].ensure_namespace("canary")
        shop.agent.apps["catalog-canary"] = "apps/catalog-canary"
        shop.agent.sync()
        component = yaml.safe_load((DATA / "releases/components/catalog.yaml").read_text())
        first = component["spec"]["workloads"][0]
        component["spec"]["workloads"].append(
            {**first, "namespace": "canary", "locator": {"file": canary, "container": "catalog"}}
        )
        shop.world.push_change(
            "catalog has a canary",
            {"releases/components/catalog.yaml": yaml.safe_dump(component, sort_keys=False)},
        )
        shop.drive(lambda: shop.status("shop-3").phase.value == "Monitoring")
        mine = sorted(c for c in shop.commits() if c.startswith("relctl:"))
        assert mine == [
            f"relctl: shop-3 ROLLOUT catalog {CATALOG}:2.4.0 in {canary}",
            f"relctl: shop-3 ROLLOUT catalog {CATALOG}:2.4.0 in apps/catalog/deployment.yaml",
        ]
        log = git(shop.environment, "log", "--format=%B", "main")
        assert "Relctl-Workload: prod/canary/catalog" in log
        assert "Relctl-Workload: prod/shop/catalog" in log


def test_an_agent_that_lags_is_waited_for_and_nothing_is_committed_twice(shop: Shop) -> None:
    """Each new commit is applied only three syncs after it lands: relctl says what it
    waits for, commits each image once, and the rollout completes."""
    shop.agent.lag = 3
    reports = shop.drive(lambda: shop.status("shop-3").phase.value == "Monitoring")
    waiting = waiting_for_the_agent(reports)
    assert len(waiting) >= 3, waiting
    assert any("(Argo CD Application prod/argocd/catalog: Synced at" in w for w in waiting)
    mine = [c for c in shop.commits() if c.startswith("relctl:")]
    assert len(mine) == 2, mine
    kinds = [d.decision.value for d in shop.status("shop-3").decisions]
    assert kinds == ["GO", "ROLLOUT", "DEPLOYED"]
    assert shop.image("storefront") == f"{STOREFRONT}:4.3.0"
