"""Histories: the real `Reconciler` driven over the emulators, a bare git remote and a
simulated clock through a sequence of steps people and systems take — releases added,
moved, extended and deleted, windows added and removed, Jira issues opened and closed,
versions created by hand, approvals pushed, images that never become ready, images
changed by hand, the controller restarted — with relctl's guarantees checked after
every pass.

A step is a small mapping (`{"op": "add-release", ...}`), so a history is data: the
hypothesis state machine generates them, and every history that once failed is kept as
a YAML case under `tests/data/histories/` and replayed.

Each guarantee is a method named `invariant_...` (README, "What relctl guarantees").
Rollouts advance on a clock the history moves (the emulators' rollout simulator reads
it), never on real time, so a history is the same every time it runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from controller.manifests.loading import load
from controller.manifests.models import Release
from controller.manifests.state import DesiredState, build_state
from controller.plan import render
from controller.plan.actions import ActionKind
from controller.plan.observed import RELEASE_ANNOTATION
from controller.plan.planner import plan
from controller.plan.plans import FindingKind
from controller.plan.records import VERDICTS, DecisionKind, ReleaseStatus, from_yaml
from controller.reconcile.connect import connect
from controller.reconcile.executor import Result
from controller.reconcile.observe import observe
from controller.reconcile.passes import PassReport, Reconciler
from controller.sandbox.gitops import GitOpsSyncer, SyncError
from controller.sandbox.jira_state import Issue
from controller.sandbox.world import World, git
from controller.schedule import departures, windows
from controller.schedule.zones import to_local

DATA = Path(__file__).resolve().parents[1] / "data" / "histories"
BASE = DATA / "base"
SEED = DATA / "jira.yaml"
START = datetime.fromisoformat("2026-11-30T10:00:00+01:00")
COMPONENTS = ("db", "api", "web")
IMAGES = {c: f"registry.acme.example/{c}" for c in COMPONENTS}
RELEASES_DIR = "releases/releases"
WINDOWS_DIR = "releases/windows"
ZONE = "Europe/Berlin"
GO = (DecisionKind.GO, DecisionKind.GO_WITH_CONDITIONS)


class Violation(AssertionError):
    """A guarantee did not hold."""


@dataclass
class Declared:
    """What the history declared for one release (its manifest, as people wrote it)."""

    name: str
    version: str
    components: dict[str, str]
    departure: str | None = None
    """A local date (a Tuesday) or None: the train's next departure."""
    approved: bool = False
    auto: bool = True
    partial: bool = False
    on_no_go: str = "delay"
    override_expires: str | None = None
    """An override passing every deny window until then (ISO 8601)."""
    typo: bool = False
    """The manifest names a component nobody declared (it is invalid on its own)."""
    suspend: bool = False
    abort: bool = False
    attempt: int = 1

    def manifest(self) -> str:
        spec: dict[str, Any] = {
            "version": self.version,
            "train": "weekly",
            "components": [{"name": c, "version": v} for c, v in sorted(self.components.items())]
            + ([{"name": "no-such-component", "version": "1.0.0"}] if self.typo else []),
            "onNoGo": self.on_no_go,
            "rollback": {
                "auto": self.auto,
                "partial": self.partial,
                "triggers": {"rolloutFailed": True},
            },
        }
        if self.departure is not None:
            spec["departure"] = self.departure
        if self.override_expires is not None:
            spec["override"] = {
                "reason": "The fix cannot wait for the freeze to end.",
                "by": "cto",
                "expires": self.override_expires,
            }
        if self.approved:
            spec["approvals"] = [{"role": "qa-lead", "by": "qa", "at": "2026-11-01T00:00:00Z"}]
        if self.suspend:
            spec["suspend"] = True
        if self.abort:
            spec["abort"] = True
        if self.suspend or self.abort:
            spec["reason"] = "a person said so"
        if self.attempt > 1:
            spec["attempt"] = self.attempt
        document = {
            "apiVersion": "relctl.dev/v1alpha1",
            "kind": "Release",
            "metadata": {"name": self.name},
            "spec": spec,
        }
        return yaml.safe_dump(document, sort_keys=False)


GIT_COMPONENT = "api"
"""With the git method, api deploys by commits to the environment repository `acme-env`,
which a GitOps agent per cluster applies (the others are patched)."""


def git_base(workspace: Path) -> tuple[Path, Path]:
    """BASE with api on the git method, and its environment repository (bare): the
    manifests' folder and the repository's path."""
    base = workspace / "base-git"
    shutil.copytree(BASE, base)
    config = yaml.safe_load((base / "relctl.yaml").read_text(encoding="utf-8"))
    config["spec"]["environments"] = {"acme-env": {"branch": "main"}}
    (base / "relctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    path = base / "releases/components" / f"{GIT_COMPONENT}.yaml"
    component = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec = component["spec"]
    spec["deploy"] = {"method": "git", "environment": "acme-env"}
    image = spec["image"]
    for w in spec["workloads"]:
        w["locator"] = {"file": f"{w['cluster']}/kustomization.yaml", "kustomizeImage": image}
    path.write_text(yaml.safe_dump(component, sort_keys=False), encoding="utf-8")
    environment = workspace / "acme-env.git"
    git(workspace, "init", "-q", "--bare", "-b", "main", str(environment))
    seed = workspace / "acme-env-seed"
    git(workspace, "clone", "-q", str(environment), str(seed))
    for w in spec["workloads"]:
        folder = seed / w["cluster"]
        folder.mkdir()
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": w["deployment"], "namespace": w["namespace"],
                         "labels": {"app": w["deployment"]}},
            "spec": {
                "replicas": 2,
                "progressDeadlineSeconds": 5,
                "selector": {"matchLabels": {"app": w["deployment"]}},
                "template": {
                    "metadata": {"labels": {"app": w["deployment"]}},
                    "spec": {"containers": [{"name": w["container"], "image": image}]},
                },
            },
        }  # fmt: skip
        (folder / "deployment.yaml").write_text(yaml.safe_dump(deployment), encoding="utf-8")
        (folder / "kustomization.yaml").write_text(
            "resources: [deployment.yaml]\nimages:\n"
            f'  - name: {image}\n    newTag: "0.0.0"  # promoted by relctl\n',
            encoding="utf-8",
        )
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "acme's environments")
    git(seed, "push", "-q", "origin", "main")
    return base, environment


@dataclass
class History:
    """One history: a world, a controller and what was done to them. With `method`
    git, api deploys through an environment repository that a GitOps agent applies."""

    workspace: Path
    method: str = "kubernetes"
    world: World = field(init=False)
    reconciler: Reconciler = field(init=False)
    now: datetime = START
    declared: dict[str, Declared] = field(default_factory=dict)
    changed: dict[str, datetime] = field(default_factory=dict)
    """Release → when its manifest last changed (simulated time)."""
    windows_added: list[str] = field(default_factory=list)
    serial: int = 0
    passes: int = 0
    steps: list[dict[str, Any]] = field(default_factory=list)
    seen_decisions: dict[str, tuple[tuple[str, str, str, str], ...]] = field(default_factory=dict)
    rolled_back: set[tuple[str, int]] = field(default_factory=set)
    """(release, attempt) rolled back: that attempt never rolls out again."""
    """Releases that recorded a ROLLBACK: never rolled out again."""
    final: dict[str, ReleaseStatus] = field(default_factory=dict)
    """The records on the remote when the history finished."""

    def __post_init__(self) -> None:
        base, environment, where = BASE, None, self.workspace
        if self.method == "git":
            self.workspace.mkdir(parents=True, exist_ok=True)
            base, environment = git_base(self.workspace)
            where = self.workspace / "world"
            where.mkdir()
        self.world = World(base, where, jira_seed=SEED, step=1.0, deadline=5.0)
        self.world.simulate_time()  # the rollouts' clock is moved by the history alone
        self.world.start()
        self.agents: list[GitOpsSyncer] = []
        if environment is not None:
            self.world.env["RELCTL_ENVIRONMENT_ACME_ENV_URL"] = str(environment)
            self.agents = [
                GitOpsSyncer(environment, sandbox, {"api": name}, self.workspace / f"agent-{name}")
                for name, sandbox in sorted(self.world.clusters.items())
            ]
            self.sync_agents()
        self.reconciler = self._reconciler()

    def sync_agents(self) -> None:
        """The GitOps agents apply the environment repository (git method only)."""
        for agent in self.agents:
            try:
                agent.sync()
            except SyncError as exc:
                self._fail("the environment repository applies", str(exc))

    def _reconciler(self) -> Reconciler:
        return Reconciler(self.world.controller, {**os.environ, **self.world.env})

    def close(self) -> None:
        self.reconciler.close()
        self.world.stop()

    # --- steps -------------------------------------------------------------------------

    def apply(self, step: Mapping[str, Any]) -> None:
        """Take one step, then let the controller run a pass and check every guarantee."""
        self.steps.append(dict(step))
        op = str(step["op"]).replace("-", "_")
        getattr(self, f"_{op}")(**{k.replace("-", "_"): v for k, v in step.items() if k != "op"})
        self.run_pass()

    def _wait(self, minutes: int, rollouts: float = 60.0) -> None:
        """Time passes: the simulated clock moves, and rollouts progress."""
        self.now += timedelta(minutes=minutes)
        self.settle(rollouts)

    def settle(self, seconds: float) -> None:
        self.world.advance(seconds)

    def _add_release(
        self,
        components: list[str],
        departure: int | None = None,
        approved: bool = False,
        auto: bool = True,
        partial: bool = False,
        on_no_go: str = "delay",
        issues: int = 1,
    ) -> None:
        self.serial += 1
        name = f"r{self.serial}"
        declared = Declared(
            name,
            f"v{self.serial}",
            dict.fromkeys(components, f"{self.serial}.0.0"),
            self._tuesday(departure),
            approved,
            auto,
            partial,
            on_no_go,
        )
        self.declared[name] = declared
        with self.world.jira.state.lock:
            for n in range(issues):  # work done long before the release was declared
                self.world.jira.state.add_issue(
                    "APP",
                    f"{name} change {n}",
                    fix_versions=(declared.version,),
                    status="Done",
                    created=START - timedelta(days=30),
                )
        self._push(f"Add release {name}", declared)

    def _tuesday(self, index: int | None) -> str | None:
        """The `index`-th Tuesday from now (0: this week's or the next), as a date."""
        if index is None:
            return None
        day = to_local(self.now, ZONE).date()
        day += timedelta(days=(1 - day.weekday()) % 7 + 7 * index)
        return day.isoformat()

    def _move_release(self, release: int, departure: int | None) -> None:
        declared = self._pick(release)
        if declared is None:
            return
        declared.departure = self._tuesday(departure)
        self._push(f"Move {declared.name}", declared)

    def _add_component(self, release: int, component: str) -> None:
        declared = self._pick(release)
        if declared is None or component in declared.components:
            return
        declared.components[component] = f"{declared.name[1:]}.1.0"
        self._push(f"Add {component} to {declared.name}", declared)

    def _approve(self, release: int) -> None:
        declared = self._pick(release)
        if declared is None or declared.approved:
            return
        declared.approved = True
        self._push(f"Approve {declared.name}", declared)

    def _override(self, release: int, days: int) -> None:
        """Someone lets a release through the deny windows for `days` days."""
        declared = self._pick(release)
        if declared is None:
            return
        declared.override_expires = (self.now + timedelta(days=days)).isoformat()
        self._push(f"Override the windows for {declared.name}", declared)

    def _typo(self, release: int) -> None:
        """Someone breaks a release manifest (or fixes the break): CI would object, but
        it landed."""
        declared = self._pick(release)
        if declared is None:
            return
        declared.typo = not declared.typo
        self._push(f"{'Break' if declared.typo else 'Fix'} {declared.name}", declared)

    def _suspend(self, release: int) -> None:
        """Someone suspends a release (or resumes it): `relctl suspend` / `resume`."""
        declared = self._pick(release)
        if declared is None:
            return
        declared.suspend = not declared.suspend
        verb = "Suspend" if declared.suspend else "Resume"
        self._push(f"{verb} {declared.name}", declared, control=True)

    def _abort(self, release: int) -> None:
        """Someone aborts a release, whatever its phase (`abort` before a rollout stops it
        where it is)."""
        declared = self._pick(release)
        if declared is None or declared.abort:
            return
        declared.abort = True
        self._push(f"Abort {declared.name}", declared, control=True)

    def _retry(self, release: int) -> None:
        """Someone tries a release again: the next attempt, its abort cleared."""
        declared = self._pick(release)
        if declared is None:
            return
        declared.attempt += 1
        declared.abort = False
        self._push(f"Retry {declared.name}: attempt {declared.attempt}", declared)

    def _delete_release(self, release: int) -> None:
        declared = self._pick(release)
        if declared is None:
            return
        del self.declared[declared.name]
        (self.world.human / RELEASES_DIR / f"{declared.name}.yaml").unlink()
        self._commit(f"Delete release {declared.name}")

    def _pick(self, index: int) -> Declared | None:
        names = sorted(self.declared)
        return self.declared[names[index % len(names)]] if names else None

    def _push(self, message: str, declared: Declared, control: bool = False) -> None:
        """Commit the release's manifest; `control`: only a control field changed (what
        it ships did not: no fresh GO is owed)."""
        path = self.world.human / RELEASES_DIR / f"{declared.name}.yaml"
        text = declared.manifest()
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return  # nothing changed: nothing to push
        if not control:
            self.changed[declared.name] = self.now
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self._commit(message)

    def _commit(self, message: str) -> None:
        git(self.world.human, "add", "-A")
        git(self.world.human, "commit", "-q", "-m", message)
        git(self.world.human, "pull", "-q", "--rebase")
        git(self.world.human, "push", "-q")

    def _add_window(self, start_hours: int, hours: int) -> None:
        self.serial += 1
        name = f"w{self.serial}"
        start = to_local(self.now + timedelta(hours=start_hours), ZONE).replace(
            minute=0, second=0, microsecond=0
        )
        end = start + timedelta(hours=max(1, hours))
        document = {
            "apiVersion": "relctl.dev/v1alpha1",
            "kind": "BlackoutWindow",
            "metadata": {"name": name},
            "spec": {
                "kind": "deny",
                "reason": "An incident review.",
                "start": start.isoformat(),
                "end": end.isoformat(),
                "timezone": ZONE,
            },
        }
        self.windows_added.append(name)
        self.world.push_change(
            f"Add window {name}", {f"{WINDOWS_DIR}/{name}.yaml": yaml.safe_dump(document)}
        )

    def _remove_window(self, window: int) -> None:
        if not self.windows_added:
            return
        name = self.windows_added.pop(window % len(self.windows_added))
        (self.world.human / WINDOWS_DIR / f"{name}.yaml").unlink()
        self._commit(f"Remove window {name}")

    def _open_issue(self, release: int, blocker: bool = False) -> None:
        declared = self._pick(release)
        if declared is None:
            return
        with self.world.jira.state.lock:
            self.world.jira.state.add_issue(
                "APP",
                f"Late finding in {declared.name}",
                fix_versions=(declared.version,),
                priority="Blocker" if blocker else "Medium",
            )

    def _issues(self, version: str) -> list[Issue]:
        """The issues Jira holds in APP's `version`, by key (the caller holds the lock)."""
        state = self.world.jira.state
        found = state.version_named("APP", version)
        if found is None:
            return []
        mine = [i for i in state.issues.values() if found.id in i.fix_versions]
        return sorted(mine, key=lambda i: i.key)

    def _close_issues(self, release: int) -> None:
        declared = self._pick(release)
        if declared is None:
            return
        with self.world.jira.state.lock:
            for issue in self._issues(declared.version):
                if issue.status != "Done":
                    issue.status = "Done"
                    self.world.jira.state.touch(issue)

    def _reopen_issue(self, release: int) -> None:
        declared = self._pick(release)
        if declared is None:
            return
        with self.world.jira.state.lock:
            for issue in self._issues(declared.version)[:1]:
                issue.status = "To Do"
                self.world.jira.state.touch(issue)

    def _create_version(self, name: str) -> None:
        """A person creates a version in Jira (perhaps one a release will ask for)."""
        state = self.world.jira.state
        with state.lock:
            if state.version_named("APP", name) is None:
                state.add_version("APP", name, release_date=self.now.date())

    def _bad_image(self, release: int, component: str) -> None:
        declared = self._pick(release)
        if declared is None or component not in declared.components:
            return
        image = f"{IMAGES[component]}:{declared.components[component]}"
        for sandbox in self.world.clusters.values():
            sandbox.rollouts.mark_bad(image)

    def _hand_edit(self, component: str) -> None:
        """Someone sets an image by hand (kubectl set image), over real HTTP."""
        spec = self.world.state().components[component].model.spec
        for w in spec.workloads:
            url = self.world.clusters[w.cluster].url
            response = httpx.patch(
                f"{url}/apis/apps/v1/namespaces/{w.namespace}/deployments/{w.deployment}",
                json=[
                    {
                        "op": "replace",
                        "path": "/spec/template/spec/containers/0/image",
                        "value": f"{IMAGES[component]}:hotpatch",
                    }
                ],
                headers={"Content-Type": "application/json-patch+json"},
                timeout=10,
            )
            response.raise_for_status()

    def _restart(self) -> None:
        """The controller process is replaced: nothing it kept in memory survives."""
        self.reconciler.close()
        self.reconciler = self._reconciler()

    # --- a pass ------------------------------------------------------------------------

    def run_pass(self) -> PassReport:
        before = self._deployments()
        self.world.set_time(self.now)
        report = self.reconciler.run(self.now)
        self.sync_agents()
        self.passes += 1
        state = load(self.world.controller).states[0]
        for check in (
            self.invariant_a_pass_never_fails_because_of_one_release,
            self.invariant_rollouts_follow_a_fresh_go,
            self.invariant_no_change_inside_a_closed_window,
            self.invariant_images_come_from_releases,
            self.invariant_nothing_twice,
            self.invariant_departures_agree,
            self.invariant_verdicts_see_every_issue,
        ):
            check(report, state, before)
        self.settle(0.5)
        return report

    def _deployments(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        """Every Deployment as the clusters hold it: image, owner annotation, done."""
        found = {}
        for name, sandbox in self.world.clusters.items():
            store = sandbox.store
            with store.lock:
                kind = store.find_type("apps", "v1", "deployments")
                for obj in store.list(kind, None)[0]:
                    meta, spec = obj["metadata"], obj.get("spec") or {}
                    status = obj.get("status") or {}
                    replicas = int(spec.get("replicas", 1))
                    done = (
                        int(status.get("observedGeneration", 0)) >= int(meta.get("generation", 1))
                        and int(status.get("updatedReplicas", 0)) == replicas
                        and int(status.get("availableReplicas", 0)) == replicas
                        and int(status.get("replicas", 0)) == replicas
                    )
                    image = spec["template"]["spec"]["containers"][0]["image"]
                    owner = (meta.get("annotations") or {}).get("relctl.dev/release", "")
                    found[(name, meta["namespace"], meta["name"])] = {
                        "image": image,
                        "owner": owner,
                        "done": done,
                    }
        return found

    def _fail(self, guarantee: str, message: str) -> None:
        raise Violation(
            f"{guarantee} at {self.now.isoformat()} after pass {self.passes}: {message}\n"
            f"steps: {json.dumps(self.steps)}"
        )

    def _done(self, report: PassReport, *kinds: ActionKind) -> list[Any]:
        return [
            o.action for o in report.outcomes if o.result is Result.DONE and o.action.kind in kinds
        ]

    @staticmethod
    def _component_of(state: DesiredState, cluster: str, namespace: str, name: str) -> str:
        for component in state.components.values():
            for w in component.model.spec.workloads:
                if (w.cluster, w.namespace, w.deployment) == (cluster, namespace, name):
                    return component.name
        return ""

    # --- the guarantees --------------------------------------------------------------------

    def invariant_a_pass_never_fails_because_of_one_release(
        self, report: PassReport, state: DesiredState, before: Any
    ) -> None:
        """A pass completes whatever one release declares: no error, no failed action."""
        if report.error is not None:
            self._fail("a pass never fails", f"the pass failed: {report.error}")
        failed = [o for o in report.outcomes if o.result is Result.FAILED]
        if failed:
            self._fail(
                "a pass never fails",
                "; ".join(f"{o.action.describe()}: {o.detail}" for o in failed),
            )

    def invariant_rollouts_follow_a_fresh_go(
        self, report: PassReport, state: DesiredState, before: Any
    ) -> None:
        """An image rolls out only with a GO judged in this very pass, after a go/no-go
        milestone of the effective departure that followed the manifest's last change,
        and never before that departure."""
        assert report.plan is not None
        for action in self._done(report, ActionKind.SET_IMAGE):
            name = action.release
            status = report.plan.statuses[name]
            verdicts = [
                f
                for f in report.plan.findings
                if f.kind is FindingKind.VERDICT and f.subject == name
            ]
            if not verdicts or not verdicts[-1].message.startswith("GO"):
                self._fail("rollouts follow a fresh GO", f"{name} rolled out without GO now")
            departure = status.departure
            if departure is None or self.now < departure:
                self._fail("rollouts follow a fresh GO", f"{name} rolled out before departure")
            assert departure is not None
            milestone = departure - timedelta(days=1)
            since = max(milestone, self.changed.get(name, START))
            fresh = [
                d
                for d in status.decisions
                if d.decision in VERDICTS and d.at >= since and d.attempt == status.attempt
            ]
            if not fresh or fresh[-1].decision not in GO:
                self._fail(
                    "rollouts follow a fresh GO",
                    f"{name} rolled out with no GO recorded since {since.isoformat()} "
                    f"(departure {departure.isoformat()})",
                )
            if (name, status.attempt) in self.rolled_back:
                self._fail("a rollback is never rolled back", f"{name} rolled out again")
            if status.last(DecisionKind.ABORTED) is not None:
                self._fail("nothing rolls out after an abort", f"{name} rolled out, aborted")

    def invariant_no_change_inside_a_closed_window(
        self, report: PassReport, state: DesiredState, before: Any
    ) -> None:
        """No rollout or drift repair changes a cluster inside an active deny window, or
        outside every allow window that applies, unless the release carries an override
        valid now and recorded as OVERRIDE (no release here is a hotfix). A rollback
        restores what ran before and is let through."""
        evaluator = windows.Evaluator(
            [windows.Window(n, m.model.spec) for n, m in sorted(state.windows.items())]
        )
        assert report.plan is not None
        for action in self._done(report, ActionKind.SET_IMAGE, ActionKind.RESTORE_IMAGE):
            change = action.change
            component = self._component_of(state, *change.workload)
            manifest = state.releases.get(action.release)
            exceptions = windows.Exceptions()
            recorded = report.plan.statuses[action.release].last(DecisionKind.OVERRIDE)
            if action.kind is ActionKind.SET_IMAGE and manifest is not None and recorded:
                exceptions = departures.exceptions_of(manifest.model)  # a recorded override
            verdict = evaluator.evaluate(
                windows.Target(component, change.cluster, "APP"), self.now, exceptions
            )
            if not verdict.allowed:
                self._fail(
                    "no change inside a closed window",
                    f"{action.describe()} while {verdict.blocking or verdict.allow_windows} "
                    "held it",
                )

    def invariant_images_come_from_releases(
        self, report: PassReport, state: DesiredState, before: Any
    ) -> None:
        """Every image set is a release's own, set by its ROLLOUT in dependency order;
        or the image recorded before the rollout, set by a ROLLBACK; or what a release
        put there, set back by a recorded REPAIRED."""
        assert report.plan is not None
        statuses = report.plan.statuses
        for action in self._done(
            report, ActionKind.SET_IMAGE, ActionKind.ROLLBACK_IMAGE, ActionKind.RESTORE_IMAGE
        ):
            change, name = action.change, action.release
            status = statuses[name]
            component = self._component_of(state, *change.workload)
            key = "/".join((*change.workload, change.container))
            manifest = state.releases.get(name)
            if action.kind is ActionKind.SET_IMAGE:
                assert manifest is not None
                wanted = {i.name: i.tag or i.version for i in manifest.model.spec.components}
                if change.image != f"{IMAGES[component]}:{wanted.get(component)}":
                    self._fail("images come from releases", f"{name} set {change.image}")
                if status.last(DecisionKind.ROLLOUT) is None:
                    self._fail("images come from releases", f"{name} set images with no ROLLOUT")
                deps = state.components[component].model.spec.depends_on
                for dep in (d for d in deps if d in wanted):
                    target = f"{IMAGES[dep]}:{wanted[dep]}"
                    for w in state.components[dep].model.spec.workloads:
                        seen = before[(w.cluster, w.namespace, w.deployment)]
                        if not seen["done"] or (seen["image"] != target and seen["owner"] == name):
                            self._fail(
                                "rollouts go in dependency order",
                                f"{name} set {component} before {dep} was rolled out "
                                f"({w.cluster}: {seen})",
                            )
            elif action.kind is ActionKind.ROLLBACK_IMAGE:
                if status.last(DecisionKind.ROLLBACK) is None:
                    self._fail("images come from releases", f"{name} rolled back unrecorded")
                if change.image != status.images.get(key):
                    self._fail(
                        "images come from releases",
                        f"{name} rolled {key} back to {change.image}, recorded "
                        f"{status.images.get(key)}",
                    )
                self.rolled_back.add((name, status.attempt))
            else:
                repaired = status.last(DecisionKind.REPAIRED)
                if repaired is None or repaired.evidence.images.get(key) != change.image:
                    self._fail("images come from releases", f"unrecorded repair {change}")
                recorded_previous = status.images.get(key)
                rolled_out = status.last(DecisionKind.DEPLOYED) is not None
                if not rolled_out and before[change.workload]["owner"] != name:
                    self._fail(
                        "images come from releases",
                        f"{name} repaired {key} to {change.image}, which its rollout never reached",
                    )
                assert manifest is not None
                wanted = {i.name: i.tag or i.version for i in manifest.model.spec.components}
                if change.image not in (
                    f"{IMAGES[component]}:{wanted.get(component)}",
                    recorded_previous,
                ):
                    self._fail("images come from releases", f"{name} repaired to {change.image}")
        for name, status in statuses.items():
            if status.last(DecisionKind.ROLLBACK) is not None:
                self.rolled_back.add((name, status.attempt))

    def invariant_a_suspended_release_changes_nothing(
        self, report: PassReport, state: DesiredState, before: Any
    ) -> None:
        """While its manifest says `suspend: true`, nothing is done for a release: no
        image, Job, Jira version, comment or tag (its SUSPENDED record may be notified)."""
        changes = (
            ActionKind.SET_IMAGE, ActionKind.ROLLBACK_IMAGE, ActionKind.RUN_JOB,
            ActionKind.ENSURE_VERSION, ActionKind.RELEASE_VERSION, ActionKind.COMMENT,
            ActionKind.TAG_RELEASE,
        )  # fmt: skip
        for action in self._done(report, *changes):
            manifest = state.releases.get(getattr(action, "release", ""))
            if manifest is not None and manifest.model.spec.suspend:
                self._fail("a suspended release changes nothing", action.describe())

    def invariant_nothing_twice(self, report: PassReport, state: DesiredState, before: Any) -> None:
        """No Jira version is created twice, no issue gets two relctl comments for one
        release, and the decision log of every release only grows, with no record twice,
        across restarts."""
        jira = self.world.jira.state
        with jira.lock:
            names = Counter((v.project, v.name) for v in jira.versions.values())
            comments = [
                (issue.key, c.body)
                for issue in jira.issues.values()
                for c in issue.comments
                if "relctl release" in c.body
            ]
        twice = [k for k, n in names.items() if n > 1]
        if twice:
            self._fail("nothing twice", f"Jira versions created twice: {twice}")
        marks = Counter(
            (key, body.rsplit("relctl release ", 1)[1].split()[0].rstrip("."))
            for key, body in comments
        )
        if any(n > 1 for n in marks.values()):
            self._fail("nothing twice", f"comments twice: {marks}")
        for name, status in self.remote_statuses().items():
            log = tuple(
                (d.decision.value, d.at.isoformat(), d.rationale, d.revision)
                for d in status.decisions
            )
            if len(set(log)) != len(log):
                self._fail("nothing twice", f"{name} holds a decision twice: {log}")
            earlier = self.seen_decisions.get(name, ())
            if log[: len(earlier)] != earlier:
                self._fail("decisions are only appended", f"{name}: {earlier} became {log}")
            self.seen_decisions[name] = log

    def invariant_verdicts_see_every_issue(
        self, report: PassReport, state: DesiredState, before: Any
    ) -> None:
        """A go/no-go verdict judges the release's whole scope: every issue Jira holds
        in its version, however long ago it was last updated."""
        assert report.plan is not None
        jira = self.world.jira.state
        for name, record in report.plan.decisions:
            if record.decision not in VERDICTS or name not in state.releases:
                continue
            version_name = state.releases[name].model.spec.version
            with jira.lock:
                issues = self._issues(version_name)
            if record.evidence.issues != len(issues):
                self._fail(
                    "verdicts see every issue",
                    f"{name}'s {record.decision} counted {record.evidence.issues} issues; "
                    f"Jira holds {len(issues)} in {version_name}",
                )

    def invariant_departures_agree(
        self, report: PassReport, state: DesiredState, before: Any
    ) -> None:
        """Every release still to depart, and not suspended, has one effective departure:
        the record's, the Jira version's date, and one no window holds back for longer
        than the go/no-go lead time."""
        assert report.plan is not None
        evaluator = windows.Evaluator(
            [windows.Window(n, m.model.spec) for n, m in sorted(state.windows.items())]
        )
        jira = self.world.jira.state
        for name, manifest in state.releases.items():
            if name in report.frozen:
                continue  # left alone while its manifest is broken: its record waits
            if manifest.model.spec.suspend:
                continue  # nothing is decided for it while suspended: resuming reschedules
            status = report.plan.statuses.get(name)
            if status is None or status.departure is None or status.phase.final:
                continue
            if status.phase.deployed or status.phase.name in ("WAITING", "HELD"):
                continue
            with jira.lock:
                version = jira.version_named("APP", manifest.model.spec.version)
                due = version.release_date if version is not None else None
            declared = self.declared.get(name)
            asked = declared.departure if declared is not None else None
            planned = to_local(status.planned, ZONE).date() if status.planned else None
            if asked is not None and planned is not None and planned.isoformat() != asked:
                self._fail(
                    "departures agree", f"{name} asks for {asked}; its record says {planned}"
                )
            local = to_local(status.departure, ZONE).date()
            if due != local:
                self._fail(
                    "departures agree",
                    f"{name} departs {local} but its Jira version is due {due}",
                )
            if status.departure > self.now:
                held = departures.hold(
                    evaluator,
                    departures.targets(state, manifest.model),
                    status.departure,
                    departures.exceptions_of(manifest.model),
                )
                if held is not None and (
                    held.opens is None or held.opens - status.departure > timedelta(days=1)
                ):
                    self._fail(
                        "departures agree",
                        f"{name} departs {status.departure.isoformat()} inside {held.windows}",
                    )

    # --- at the end ----------------------------------------------------------------------

    def remote_statuses(self) -> dict[str, ReleaseStatus]:
        listed = git(self.world.remote, "ls-tree", "--name-only", "main", "status/releases/")
        found = {}
        for path in listed.splitlines():
            text = git(self.world.remote, "show", f"main:{path}")
            status = from_yaml(text, path)
            found[status.release] = status
        return found

    def finish(self) -> None:
        """The guarantees that are checked once a history is over: `relctl status`
        prints the recorded departures, and `plan` is the same whatever the hash seed."""
        git(self.world.controller, "pull", "-q", "--rebase")
        recorded = self.final = self.remote_statuses()
        shown = self._relctl("status", "--root", str(self.world.controller), "-o", "json")
        document = json.loads(shown)
        for name, status in recorded.items():
            expected = status.departure.isoformat() if status.departure else None
            if document.get(name, {}).get("departure") != expected:
                self._fail("departures agree", f"relctl status shows {document.get(name)}")
        plans = {
            seed: self._relctl(
                "plan",
                "--offline",
                "--root",
                str(self.world.controller),
                "--at",
                self.now.isoformat(),
                "-o",
                "json",
                seed=seed,
            )
            for seed in ("1", "4242")
        }
        if len(set(plans.values())) != 1:
            self._fail("plan is deterministic", "plans differ between hash seeds")
        self.check_names_do_not_decide(recorded)

    def check_names_do_not_decide(self, recorded: Mapping[str, ReleaseStatus]) -> None:
        """The same plan when every release is renamed so that the planner visits them in
        the opposite order (r1 … r9 become q009 … q001)."""
        state = load(self.world.controller).states[0]
        names = sorted(state.releases)
        mapping = {name: f"q{len(names) - n:03d}" for n, name in enumerate(names)}
        manifests = []
        for manifest in state.manifests:
            if isinstance(manifest.model, Release):
                model = manifest.model.model_copy(
                    update={
                        "metadata": manifest.model.metadata.model_copy(
                            update={"name": mapping[manifest.name]}
                        )
                    }
                )
                manifest = replace(manifest, model=model)
            manifests.append(manifest)
        renamed = build_state(state.root, manifests)
        statuses = {
            mapping.get(n, n): replace(
                status,
                release=mapping.get(n, n),
                # What is done under a release's name (its tag) is renamed with it.
                done=tuple(
                    d.replace(n, mapping[n]) if n in mapping and d.startswith("tag:") else d
                    for d in status.done
                ),
            )
            for n, status in recorded.items()
        }
        adapters = connect(state.config, {**os.environ, **self.world.env})
        try:
            observed, _ = observe(state, adapters, self.world.controller, self.now)
        finally:
            adapters.close()
        workloads = {
            key: replace(
                seen,
                annotations={
                    k: mapping.get(v, v) if k == RELEASE_ANNOTATION else v
                    for k, v in seen.annotations.items()
                },
            )
            for key, seen in (observed.workloads or {}).items()
        }
        moved = replace(
            observed,
            workloads=workloads,
            signals={mapping.get(k, k): v for k, v in observed.signals.items()},
        )
        mine = render.to_json(plan(state, observed, dict(recorded), self.now))
        theirs = render.to_json(plan(renamed, moved, statuses, self.now))
        for name, other in mapping.items():
            theirs = theirs.replace(other, name)
        ours, renamed_plan = _by_release(json.loads(mine)), _by_release(json.loads(theirs))
        if ours != renamed_plan:
            differ = {k: (ours[k], renamed_plan[k]) for k in ours if ours[k] != renamed_plan[k]}
            self._fail(
                "plan is deterministic",
                f"release names change the plan: {json.dumps(differ)[:1500]}",
            )

    def _relctl(self, *args: str, seed: str = "0") -> str:
        env = {**os.environ, "PYTHONHASHSEED": seed, **self.world.env}
        done = subprocess.run(
            [sys.executable, "-m", "controller", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            self._fail("relctl answers", f"relctl {' '.join(args)}: {done.stderr}")
        return done.stdout


def _by_release(document: dict[str, Any]) -> dict[str, Any]:
    """A plan as what it decides and does for each release (in order within one release):
    the order of a listing across releases follows their names by design."""
    grouped: dict[str, Any] = {"releases": document["releases"]}
    for part, owner in (("decisions", "release"), ("actions", "chain")):
        per: dict[str, list[Any]] = {}
        for item in document[part]:
            per.setdefault(item[owner], []).append(item)
        grouped[part] = per
    grouped["findings"] = sorted(json.dumps(f, sort_keys=True) for f in document["findings"])
    return grouped


def replay(workspace: Path, steps: list[dict[str, Any]]) -> History:
    """Run a recorded history (a failing one, kept as a case) from a clean world."""
    if workspace.exists():
        shutil.rmtree(workspace)
    workspace.mkdir(parents=True)
    history = History(workspace)
    try:
        history.run_pass()
        for step in steps:
            history.apply(step)
        history.finish()
    finally:
        history.close()
    return history
