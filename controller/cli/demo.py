"""`relctl demo`: the whole controller, for real, on the built-in sandbox.

Starts the Jira and Kubernetes emulators on free ports of 127.0.0.1, seeded from
`releases/` and the shop's Jira seed; a bare git remote and clones in a temporary folder;
then runs the real controller (its loop, leader election, HTTP server, webhook, git
recording) through a train cycle on a simulated clock. People's actions (closing Jira
issues, merging an approval, scheduling a release) are made the way people make them:
in Jira over its REST API state, and as git pushes followed by a signed webhook.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import click
import httpx
import yaml

from controller.adapters.kube import KubeCluster
from controller.adapters.lease import Elector
from controller.cli.common import build_state
from controller.cli.dashboard import write_site
from controller.cli.demo_manifests import NEW_RELEASE, NEW_RELEASE_PATH
from controller.cli.demo_scenes import (
    Agent,
    Inboxes,
    approvals_told,
    approvers,
    control,
    dashboard_tour,
    gitops_hotfix,
    metric_rollback,
    signed_approval,
    smoke_rollback,
)
from controller.errors import RelctlError
from controller.manifests.config import ClusterConfig
from controller.reconcile import logs
from controller.reconcile.dashboard import Dashboard
from controller.reconcile.loop import Controller, Timing
from controller.reconcile.passes import Reconciler
from controller.reconcile.server import Server
from controller.reconcile.webhooks import sign
from controller.sandbox.prometheus import binary as prometheus_binary
from controller.sandbox.world import World, git

SOURCE = Path(__file__).resolve().parents[2]
SEED = Path("tests/data/jira/shop.yaml")
BAD_IMAGE = "registry.shop.example/shop/notifications:1.9.0"
NARRATED = ("blocked", "trigger", "error", "flag-stage", "flag-drift", "drift")
TRAIN_RELEASES = ("shop-2026-25", "payments-2026-25")


class Narrator:
    def __init__(self, color: bool) -> None:
        self.color = color
        self.started = time.monotonic()
        self.step = 0
        self.steps = 0

    def _style(self, text: str, **kw: Any) -> str:
        return click.style(text, **kw) if self.color else text

    def header(self, when: str, title: str) -> None:
        self.step += 1
        elapsed = time.monotonic() - self.started
        bar = "#" * self.step + "." * (self.steps - self.step)
        click.echo()
        click.echo(
            self._style(f"[{bar}] {self.step}/{self.steps}", fg="cyan")
            + self._style(f"  {elapsed:4.1f}s  ", dim=True)
            + self._style(when, fg="yellow")
            + "  "
            + self._style(title, bold=True)
        )

    def say(self, text: str, mark: str = "·", **kw: Any) -> None:
        click.echo(f"   {mark} " + (self._style(text, **kw) if kw else text))


class Demo:
    def __init__(self, workspace: Path, narrator: Narrator) -> None:
        self.workspace = workspace
        self.out = narrator
        self.secret = secrets.token_hex(16)
        self.deliveries = 0
        self.world = World(
            SOURCE,
            workspace,
            jira_seed=SOURCE / SEED,
            crd=SOURCE.parent / "shared/flagd/core.openfeature.dev_featureflags.yaml",
            step=0.05,
            deadline=1.0,
            metrics=prometheus_binary() is not None,
        )
        self.clock_now: datetime | None = None
        self.seen_commit = ""
        self.seen_findings: set[str] = set()
        self.http: httpx.Client | None = None
        self.controller: Controller | None = None
        self.thread: threading.Thread | None = None
        self.server: Server | None = None
        self.log_file: IO[str] | None = None
        self.agent: Agent | None = None
        """The GitOps agent applying the environment repository (None without kubectl)."""
        self.inboxes: Inboxes | None = None

    # -- setting up -------------------------------------------------------------------

    def start(self) -> None:
        world = self.world.start()
        world.env["RELCTL_WEBHOOK_SECRET"] = self.secret
        self.agent = Agent.start(self.workspace, world)
        self.inboxes = Inboxes.start(world)
        self.log_file = (self.workspace / "controller.log").open("w", encoding="utf-8")
        logs.configure(self.log_file, logging.INFO)
        lease_cluster = sorted(world.clusters)[0]
        world.clusters[lease_cluster].ensure_namespace("relctl")
        cluster = KubeCluster.connect(
            lease_cluster,
            ClusterConfig(context=lease_cluster, kubeconfig=str(world.kubeconfig)),
            world.env,
        )
        elector = Elector(cluster, "relctl", "relctl-controller", "relctl-demo", duration=15)
        self.controller = Controller(
            Reconciler(world.controller, world.env),
            clock=self.now,
            elector=elector,
            timing=Timing(interval=3600, retry=0.2),
        )
        self.server = Server(
            self.controller,
            "127.0.0.1",
            0,
            lambda: self.secret,
            dashboard=Dashboard(world.controller),
        ).start()
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.server.port}", timeout=30)
        self.seen_commit = git(world.remote, "rev-parse", "HEAD")

    def now(self) -> datetime:
        assert self.clock_now is not None
        return self.clock_now

    def stop(self) -> None:
        if self.agent is not None:
            self.agent.stop()
        if self.inboxes is not None:
            self.inboxes.stop()
        if self.controller is not None:
            self.controller.stop()
        if self.thread is not None:
            self.thread.join(timeout=30)
        if self.server is not None:
            self.server.stop()
        if self.http is not None:
            self.http.close()
        self.world.stop()
        if self.log_file is not None:
            self.log_file.close()
        logging.getLogger(logs.LOGGER).handlers.clear()

    # -- driving ----------------------------------------------------------------------

    def set_time(self, when: str) -> None:
        self.clock_now = datetime.fromisoformat(when)
        self.world.set_time(self.clock_now)

    def status(self) -> dict[str, Any]:
        assert self.http is not None
        return dict(self.http.get("/api/status").json())

    def run_controller(self) -> None:
        assert self.controller is not None
        self.thread = threading.Thread(target=self.controller.run, name="controller", daemon=True)
        self.thread.start()
        self._until(lambda s: s["lastPass"] is not None, "the first pass")

    def webhook(self) -> dict[str, Any]:
        """A push reached the git host: it calls the controller's webhook, signed."""
        assert self.http is not None
        before = (self.status()["lastPass"] or {}).get("id", 0)
        self.deliveries += 1
        # As a git host sends it: the branch's new head and a delivery id of its own (the
        # controller ignores a delivery it has seen, so a replay triggers nothing).
        head = git(self.world.remote, "rev-parse", "main")
        body = json.dumps({"ref": "refs/heads/main", "after": head, "n": self.deliveries})
        reply = self.http.post(
            "/webhook",
            content=body.encode(),
            headers={
                "X-Hub-Signature-256": sign(self.secret, body.encode()),
                "X-GitHub-Event": "push",
                "X-GitHub-Delivery": f"demo-{self.deliveries}",
            },
        )
        if reply.status_code != 202:
            raise RelctlError(f"the webhook was refused: {reply.status_code} {reply.text}")
        return self._until(lambda s: (s["lastPass"] or {}).get("id", 0) > before, "a pass")

    def _until(self, check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = self.status()
            if check(status):
                return status
            time.sleep(0.05)
        raise RelctlError(f"the demo timed out waiting for {what}")

    def passes_until(self, check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        """Passes (each triggered by a webhook) until `check` holds of the status."""
        for _ in range(80):
            status = self.webhook()
            self.narrate(status)
            if check(status):
                return status
            time.sleep(0.1)
        raise RelctlError(f"the demo never saw {what}")

    def push(self, message: str, files: dict[str, str]) -> None:
        sha = self.world.push_change(message, files)
        self.out.say(f"pushed {sha[:8]} {message!r}", mark="⇡", fg="blue")

    # -- narrating --------------------------------------------------------------------

    def narrate(self, status: dict[str, Any]) -> None:
        last = status["lastPass"] or {}
        told: dict[str, list[str]] = {}
        for action in last.get("actions", []):
            what = action["description"].split(" ", 1)[1]
            if action["kind"] == "notify" and action["result"] == "done":
                sink, _, title = what.partition(": ")
                told.setdefault(title, []).append(sink)
                continue
            if action["kind"] == "apply-flags":
                what = action["reason"]
            if action["result"] == "done":
                self.out.say(f"{action['kind']:<15} {what}", mark="✓", fg="green")
            elif action["result"] == "failed":
                self.out.say(f"{action['kind']:<15} {what}: {action['detail']}", mark="✗", fg="red")
        for title, sinks in told.items():
            self.out.say(f"{title} → {', '.join(sorted(sinks))}", mark="✉", fg="green")
        for finding in status["findings"]:
            if finding["kind"] not in NARRATED:
                continue
            key = f"{finding['kind']}|{finding['subject']}|{finding['message']}"
            if key in self.seen_findings:
                continue
            self.seen_findings.add(key)
            if finding["kind"] == "flag-stage":
                self.out.say(finding["message"], mark="⚑", fg="yellow")
            else:
                text = f"{finding['kind']}: {finding['subject']}: {finding['message']}"
                self.out.say(text, mark="!", fg="magenta")
        head = git(self.world.remote, "rev-parse", "HEAD")
        if head != self.seen_commit:
            log = git(self.world.remote, "log", "--format=%h %s", f"{self.seen_commit}..{head}")
            for line in reversed(log.splitlines()):
                if line.split(" ", 1)[1].startswith("relctl:"):
                    self.out.say(f"committed {line}", mark="⎇", fg="cyan")
            self.seen_commit = head

    @property
    def base_url(self) -> str:
        return str(self.http.base_url) if self.http is not None else ""

    def verdict(self, status: dict[str, Any], release: str) -> None:
        verdict = self.decision(status, release)
        self.out.say(
            f"{release}: {verdict.get('decision')}: {verdict.get('rationale')}",
            mark="⚖",
            bold=True,
        )

    @staticmethod
    def _release(status: dict[str, Any], name: str) -> dict[str, Any]:
        return next((r for r in status["releases"] if r["name"] == name), {})

    def phase(self, status: dict[str, Any], release: str) -> str:
        return str(self._release(status, release).get("phase", ""))

    def decision(self, status: dict[str, Any], release: str) -> dict[str, Any]:
        return dict(self._release(status, release).get("lastDecision") or {})


def run(demo: Demo) -> None:
    """The story, step by step."""
    out, world = demo.out, demo.world
    out.steps = 13

    out.header("2026-11-23 12:00", "The controller starts and takes the lease")
    demo.set_time("2026-11-23T12:00:00+01:00")
    signing = approvers(demo)
    demo.run_controller()
    status = demo.status()
    out.say(f"leader: {status['leader']}, serving {demo.base_url}")
    out.say(f"dashboard (while the demo runs): {demo.base_url}/", mark="▣", fg="cyan")
    demo.narrate(status)
    phases = ", ".join(f"{r['name']} {r['phase']}" for r in status["releases"])
    out.say(f"phases: {phases}")

    out.header("2026-11-30 15:00", "Code freeze for 2026.25; the payments hotfix goes out")
    demo.set_time("2026-11-30T15:00:00+01:00")
    status = demo.passes_until(
        lambda s: demo.phase(s, "payments-hotfix-2-4-1") in ("Monitoring", "Released"),
        "the hotfix deployed",
    )
    for finding in status["findings"]:
        if finding["kind"] == "readiness" and finding["subject"] == "shop-2026-25":
            out.say(f"readiness of shop-2026-25: {finding['message']}", mark="☰")

    out.header("2026-12-03 14:30", "notifications 1.9.0 ships a bad image: auto rollback")
    world.clusters["prod-eu"].rollouts.mark_bad(BAD_IMAGE)
    out.say(f"(the sandbox cluster will never make {BAD_IMAGE} available)", mark=" ", dim=True)
    demo.set_time("2026-12-03T14:30:00+01:00")
    demo.passes_until(lambda s: demo.phase(s, "notifications-1-9") == "RolledBack", "a rollback")
    demo.narrate(demo.webhook())

    out.header("2026-12-07 09:00", "Go/no-go for train 2026.25")
    demo.set_time("2026-12-07T09:00:00+01:00")
    status = demo.passes_until(lambda s: bool(demo.decision(s, "shop-2026-25")), "a verdict")
    demo.verdict(status, "shop-2026-25")
    demo.narrate(demo.webhook())  # the recorded verdicts, sent to their subscribers

    out.header("2026-12-07 15:00", "Bugs fixed in Jira; the product owner approves, signed")
    world.close_issues("SHOP-106", "SHOP-107", "SHOP-108")
    out.say("SHOP-106, SHOP-107 and SHOP-108 moved to Done in Jira", mark="⇡", fg="blue")
    checks = yaml.safe_dump({"test-coverage": 86.5, "security-scan": "passed"})
    demo.set_time("2026-12-07T15:00:00+01:00")
    changes = {"signals/shop-2026-25.yaml": checks, "signals/payments-2026-25.yaml": checks}
    if signing:
        signed_approval(demo)
    else:
        path = "releases/releases/shop-2026-25.yaml"
        approval = '    - {role: product-owner, by: priya.po, at: "2026-12-07T14:00:00+01:00"}\n'
        text = (world.human / path).read_text(encoding="utf-8")
        changes[path] = text.replace("  approvals:\n", "  approvals:\n" + approval)
    demo.push("CI signals for 2026.25", changes)
    status = demo.webhook()
    demo.narrate(status)
    demo.verdict(status, "shop-2026-25")
    approvals_told(demo, status, "shop-2026-25")
    demo.narrate(demo.webhook())

    out.header("2026-12-08 14:00", "Departure: components roll out in dependency order")
    demo.set_time("2026-12-08T14:00:00+01:00")
    demo.passes_until(
        lambda s: all(demo.phase(s, r) == "Monitoring" for r in TRAIN_RELEASES),
        "both releases deployed",
    )

    out.header("2026-12-10 15:00", "Monitoring over: versions released, notes written")
    demo.set_time("2026-12-10T15:00:00+01:00")
    demo.passes_until(
        lambda s: all(demo.phase(s, r) == "Released" for r in TRAIN_RELEASES),
        "both releases released",
    )
    demo.narrate(demo.webhook())  # the flag gated on shop-2026-25 starts its rollout

    out.header("2026-12-10 16:00", "A team puts catalog 2.4.0 on the next train")
    demo.set_time("2026-12-10T16:00:00+01:00")
    demo.push("Put catalog 2.4.0 on the next train", {NEW_RELEASE_PATH: NEW_RELEASE})
    status = demo.webhook()
    demo.narrate(status)
    demo.verdict(status, "catalog-2026-26")  # the next departure is in the holiday freeze

    out.header(
        "2026-12-10 16:30", "A storefront hotfix raises the error rate: analysis rolls it back"
    )
    metric_rollback(demo)

    out.header(
        "2026-12-10 17:00",
        "A payments hotfix fails its smoke test: down-migration first, then rollback",
    )
    smoke_rollback(demo)

    out.header("2026-12-10 17:30", "search moves to Argo CD: its hotfix is a commit, not a patch")
    gitops_hotfix(demo)

    out.header("2026-12-11 10:30", "new-checkout-flow advances from 10% to 50%")
    demo.set_time("2026-12-11T10:30:00+01:00")
    demo.narrate(demo.webhook())
    assert demo.http is not None
    (demo.workspace / "calendar.ics").write_bytes(demo.http.get("/calendar.ics").content)

    out.header(
        "2026-12-11 11:00", "A release manager pauses catalog 2.4.0 through git, then resumes"
    )
    demo.set_time("2026-12-11T11:00:00+01:00")
    control(demo)
    dashboard_tour(demo)


def _keep(demo: Demo, keep: Path) -> Path:
    keep.mkdir(exist_ok=True)  # its parent must exist: a typo never makes a tree of folders
    repo = keep / "repo"
    if repo.exists():
        raise click.UsageError(f"{repo} exists already; give an empty --keep folder")
    git(demo.workspace, "clone", "-q", str(demo.world.remote), str(repo))
    for name in ("calendar.ics", "controller.log"):
        shutil.copy2(demo.workspace / name, keep / name)
    if demo.agent is not None:
        shutil.copytree(demo.agent.environment, keep / "environment.git")
    if demo.inboxes is not None:
        demo.inboxes.dump(keep / "notifications", keep / "confluence")
    now = demo.now()
    state = build_state(repo, now)
    write_site(repo, state, now, keep / "dashboard", "")
    return repo


@click.command("demo")
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the results in DIR: a clone of the git remote with the decisions, the "
    "release notes and records under status/, calendar.ics and the controller's log.",
)
def command(keep: Path | None) -> None:
    """Run the real controller on the built-in sandbox, in under a minute.

    The Jira and Kubernetes emulators start on free ports of 127.0.0.1, seeded from
    releases/; a bare git remote and working clones are made in a temporary folder. The
    controller (its loop, leader election, HTTP endpoints, signed webhook and git
    recording, unchanged) then lives through a train cycle on a simulated clock: a
    release scheduled by a push, code freeze, a hotfix, a bad image rolled back, a NO_GO
    then GO after an approval commit, a rollout in dependency order with a migration
    before and a smoke test after, versions released with notes and tagged in git, a
    release held by the holiday freeze, rollbacks on an error rate and on a failed smoke
    test (its down-migration first), a hotfix and a flag shipped by commits to the
    environment repository a GitOps agent applies, and a flag advancing 10% → 50%.
    Nothing leaves 127.0.0.1; nothing outside the temporary folder (and --keep DIR) is
    written.

    \b
    Examples:
      relctl demo
      relctl demo --keep /tmp/relctl-demo
    """
    if keep is not None and not keep.parent.resolve().is_dir():
        raise click.BadParameter(f"{keep.parent} does not exist", param_hint="--keep")
    if not (SOURCE / SEED).is_file() or not (SOURCE / "releases").is_dir():
        raise RelctlError(
            "relctl demo runs from a source checkout of relctl: it needs releases/ and "
            f"{SEED} beside the controller package (looked in {SOURCE})"
        )
    narrator = Narrator(color=sys.stdout.isatty())
    click.echo("relctl demo: the controller on the built-in sandbox (simulated clock)")
    with tempfile.TemporaryDirectory(prefix="relctl-demo-") as folder:
        demo = Demo(Path(folder), narrator)
        try:
            demo.start()
            run(demo)
        finally:
            demo.stop()
        click.echo()
        click.echo(f"done in {time.monotonic() - narrator.started:.1f} s. The decisions, in git:")
        for line in git(demo.world.remote, "log", "--format=%h %s", "-40").splitlines():
            click.echo(f"  {line}")
        tags = git(demo.world.remote, "tag", "-l").split()
        click.echo(f"Release tags, each at the revision of its GO: {', '.join(tags)}")
        if demo.inboxes is not None:
            click.echo(f"Notifications delivered: {demo.inboxes.summary()}")
        if keep is None:
            click.echo("\nRerun with --keep DIR to keep the repository, notes, calendar and log.")
            return
        repo = _keep(demo, keep)
    click.echo()
    for what, where in (
        ("the decisions", f"git -C {repo} log --format='%h %s%n%b'"),
        ("the release notes", f"{repo}/status/notes/"),
        ("the decision records", f"{repo}/status/releases/"),
        ("the release tags", f"git -C {repo} tag -n3"),
        ("the environment repository", f"git -C {keep}/environment.git log --format='%h %s%n%b'"),
        ("what each sink received", f"{keep}/notifications/<sink>.jsonl"),
        ("the Confluence pages", f"{keep}/confluence/"),
        ("the dashboard, as a static site", f"{keep}/dashboard/index.html"),
        ("the calendar (ICS)", f"{keep}/calendar.ics"),
        ("the controller's JSON log", f"{keep}/controller.log"),
    ):
        click.echo(f"  {what + ':':<28} {where}")
