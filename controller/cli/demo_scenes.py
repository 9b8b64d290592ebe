"""The longer scenes of `relctl demo`: a hotfix that an analysis rolls back on the error
rate users see (with a flag held where nobody calls), a payments hotfix whose smoke test
fails, so that its rollback runs the down-migration before the previous image, and a
search hotfix shipped by a commit to an environment repository that a GitOps agent
applies (the agent's thread is here too)."""

from __future__ import annotations

import html
import json
import secrets
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import yaml
from click.testing import CliRunner

from controller.cli import cli
from controller.cli.control import approve_command
from controller.cli.demo_manifests import (
    ENVIRONMENT,
    GITOPS,
    HOTFIX,
    HOTFIX_IMAGE,
    SMOKE_FAILS,
    SMOKE_RELEASE,
    digest_flag,
)
from controller.errors import RelctlError
from controller.sandbox.confluence import ConfluenceSandbox
from controller.sandbox.gitops import GitOpsSyncer, SyncError
from controller.sandbox.receivers import Mailbox, WebhookReceiver
from controller.sandbox.traffic import ERRORING
from controller.sandbox.world import World, git

if TYPE_CHECKING:
    from controller.cli.demo import Demo


def metric_rollback(demo: Demo) -> None:
    """A hotfix whose image answers 12% of requests with errors: the traffic simulator
    serves what users would see, Prometheus scrapes it, the analysis measures it pass
    after pass (the simulated clock moving a second a pass) and rolls back."""
    out, world = demo.out, demo.world
    if world.prometheus is None:
        out.say("Prometheus is not installed (apt-get install prometheus): step skipped", mark="!")
        return
    world.mark_image(HOTFIX_IMAGE, ERRORING)
    out.say(f"(the sandbox's users will get errors from {HOTFIX_IMAGE})", mark=" ", dim=True)
    start = datetime.fromisoformat("2026-12-10T16:30:00+01:00")
    demo.set_time(start.isoformat())
    demo.push("Ship storefront 4.2.1 as a hotfix, watched by an analysis", HOTFIX)
    for tick in range(120):
        demo.set_time((start + timedelta(seconds=tick)).isoformat())
        status = demo.webhook()
        demo.narrate(status)
        if demo.phase(status, "storefront-4-2-1") == "RolledBack":
            break
        time.sleep(0.25)  # real seconds pass for the simulated users and for Prometheus
    else:
        raise RelctlError("the demo never saw the analysis roll storefront 4.2.1 back")
    text = git(world.remote, "show", "HEAD:status/releases/storefront-4-2-1.yaml")
    decision = next(d for d in yaml.safe_load(text)["decisions"] if d["decision"] == "ROLLBACK")
    for m in decision["evidence"]["measurements"]:
        baseline = f", baseline {m['baseline']:.3g}" if "baseline" in m else ""
        out.say(f"{m['key']}: {m['value']:.3g} ({m['reason']}{baseline})", mark="⌁")
        out.say(f"query: {m['query']}", mark=" ", dim=True)
    # A flag staged behind an analysis, where nobody calls: no data holds it at 10%.
    _quiet(world, "prod-eu", "platform", "notifications")
    first = start + timedelta(seconds=tick + 1)
    demo.push("Stage digest-emails behind the namespace-health analysis", digest_flag(first))
    began = time.monotonic()
    for _ in range(120):
        # The clock moves with the wall's now: the stage's window is what Prometheus saw.
        demo.set_time((first + timedelta(seconds=time.monotonic() - began)).isoformat())
        status = demo.webhook()
        demo.narrate(status)
        if any("held at stage 1" in f["message"] for f in status["findings"]):
            return
        time.sleep(0.25)
    raise RelctlError("the demo never saw digest-emails held at its first stage")


def _quiet(world: World, cluster: str, namespace: str, deployment: str) -> None:
    """Nobody calls `namespace`'s only Deployment any more: until Prometheus' rates
    there are no data."""
    world.traffic[cluster].set_idle(namespace, deployment)
    assert world.prometheus is not None
    query = f'sum(rate(http_requests_total{{cluster="{cluster}",namespace="{namespace}"}}[6s]))'
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = httpx.get(f"{world.prometheus.url}/api/v1/query", params={"query": query})
        result = found.json()["data"]["result"]
        if not result or float(result[0]["value"][1]) == 0:
            return
        time.sleep(0.2)
    raise RelctlError(f"Prometheus still sees traffic in {cluster}/{namespace}")


def smoke_rollback(demo: Demo) -> None:
    """payments 2.5.1 migrates its schema, rolls out, and fails its smoke test (the
    sandbox's Job exits 1 with a log): the rollback runs the down-migration with the
    2.5.1 image, then restores 2.5.0. The record keeps the exit code and the log."""
    out, world = demo.out, demo.world
    image, command, log = SMOKE_FAILS
    for cluster in world.clusters.values():
        cluster.rollouts.mark_job(image, exit_code=1, log=log, command=command)
    out.say(f"(the sandbox's smoke test of {image} will fail)", mark=" ", dim=True)
    demo.set_time("2026-12-10T17:00:00+01:00")
    demo.push("Ship payments 2.5.1 as a hotfix", SMOKE_RELEASE)
    name = "payments-2-5-1"

    def restored(status: dict[str, Any]) -> bool:
        if demo.phase(status, name) != "RolledBack":
            return False
        text = git(world.remote, "show", f"HEAD:status/releases/{name}.yaml")
        steps = yaml.safe_load(text).get("steps") or []
        undone = [s for s in steps if s["when"] == "onRollback" and s["status"] == "Succeeded"]
        return len(undone) == 2

    demo.passes_until(restored, "payments 2.5.1 rolled back after its down-migration")
    demo.narrate(demo.webhook())  # the images restored after the down-migration
    text = git(world.remote, "show", f"HEAD:status/releases/{name}.yaml")
    record = yaml.safe_load(text)
    for item in record["steps"]:
        out.say(f"{item['item']}: {item['status']}", mark="☑")
    failed = next(s for s in record["steps"] if s["status"] == "Failed")
    last = failed.get("log", "").splitlines()[-1:]
    out.say(f"{failed['job']}: exit {failed.get('exitCode')}; its log ends {last}", mark="⌁")


@dataclass
class Agent:
    """Argo CD's part: the environment repository shop-env applied to prod-us, every
    0.2 s, by the sandbox's GitOps agent (the real kubectl)."""

    environment: Path
    syncer: GitOpsSyncer
    stopping: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    error: str = ""

    @classmethod
    def start(cls, workspace: Path, world: World) -> Agent | None:
        """None without kubectl: the demo says so and skips the GitOps step."""
        if shutil.which("kubectl") is None:
            return None
        environment = workspace / "environment.git"
        git(workspace, "init", "-q", "--bare", "-b", "main", str(environment))
        seed = workspace / "environment-seed"
        git(workspace, "clone", "-q", str(environment), str(seed))
        for relative, text in ENVIRONMENT.items():
            (seed / relative).parent.mkdir(parents=True, exist_ok=True)
            (seed / relative).write_text(text, encoding="utf-8")
        git(seed, "add", "-A")
        git(seed, "-c", "user.name=Platform team", "-c", "user.email=platform@shop.example",
            "commit", "-q", "-m", "The shop's production environment")  # fmt: skip
        git(seed, "push", "-q", "origin", "main")
        world.env["RELCTL_ENVIRONMENT_SHOP_ENV_URL"] = str(environment)
        syncer = GitOpsSyncer(
            environment, world.clusters["prod-us"], {"search": "apps/search"}, workspace / "agent"
        )
        agent = cls(environment, syncer)
        agent.thread = threading.Thread(target=agent._run, name="gitops-agent", daemon=True)
        agent.thread.start()
        return agent

    def _run(self) -> None:
        while not self.stopping.wait(0.2):
            try:
                self.syncer.sync()
                self.error = ""
            except SyncError as exc:
                self.error = str(exc)

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=10)


def gitops_hotfix(demo: Demo) -> None:
    """search moves to the git method; its hotfix is committed to shop-env, the agent
    applies it, and relctl judges the rollout in the cluster as for a patch."""
    out, world, agent = demo.out, demo.world, demo.agent
    if agent is None:
        out.say(
            "kubectl is not installed (apt-get install kubernetes-client): step skipped", mark="!"
        )
        return
    demo.set_time("2026-12-10T17:30:00+01:00")
    demo.push("search: deploy through shop-env (Argo CD); ship 6.9.1", GITOPS)
    demo.passes_until(
        lambda s: demo.phase(s, "search-6-9-1") in ("Monitoring", "Released"),
        "search 6.9.1 deployed through the environment repository",
    )
    log = git(agent.environment, "log", "--format=%h %s (%an)", "main").splitlines()
    for line in reversed(log):
        out.say(f"shop-env {line}", mark="⎇", fg="cyan")
    commit = git(agent.environment, "log", "-1", "--format=%H", "--grep=ROLLOUT search", "main")
    body = git(agent.environment, "log", "-1", "--format=%b", commit).strip()
    out.say(" ".join(body.splitlines()), mark=" ", dim=True)
    diff = git(agent.environment, "show", "--format=", "-U0", commit).splitlines()
    for line in diff:
        if line[:1] in "+-" and line[:3] not in ("+++", "---"):
            out.say(line, mark="±")
    store = world.clusters["prod-us"].store
    found = store.get(store.find_type("apps", "v1", "deployments"), "platform", "search")
    image = found["spec"]["template"]["spec"]["containers"][0]["image"]
    head = git(agent.environment, "rev-parse", "main")
    deadline = time.monotonic() + 10
    while agent.syncer.revision != head and time.monotonic() < deadline:
        time.sleep(0.05)  # the agent's next sync (every 0.2 s) applies the head
    if agent.error:
        out.say(f"the GitOps agent's last sync failed: {agent.error}", mark="!")
    applied = agent.syncer.revision[:8]
    out.say(f"prod-us/platform/search runs {image}, as the agent applied {applied}", mark="✓")
    flags = store.get(
        store.find_type("core.openfeature.dev", "v1beta1", "featureflags"),
        "platform",
        "search-flags",
    )["spec"]["flagSpec"]["flags"]
    out.say(
        f"prod-us/platform/search-flags serves {', '.join(sorted(flags))}: the flag relctl "
        "committed to shop-env, applied by the agent",
        mark="✓",
    )


@dataclass
class Inboxes:
    """The receivers of the demo's notification sinks (relctl.yaml's `sinks`): Slack's and
    Teams' webhooks and the audit service (signed) as one recording receiver each, and the
    newsletter editors' mail server (a real SMTP server)."""

    hooks: dict[str, WebhookReceiver]
    mailbox: Mailbox
    wiki: ConfluenceSandbox

    @classmethod
    def start(cls, world: World) -> Inboxes:
        secret = secrets.token_hex(16)
        hooks = {
            "release-room": WebhookReceiver().start(),
            "operations": WebhookReceiver().start(),
            "audit": WebhookReceiver(secret=secret).start(),
        }
        mailbox = Mailbox().start()
        wiki = ConfluenceSandbox().start()
        wiki.space("SHOP", "Shop releases")
        world.env.update({
            "RELCTL_CONFLUENCE_URL": wiki.url,
            "RELCTL_CONFLUENCE_EMAIL": wiki.email,
            "RELCTL_CONFLUENCE_TOKEN": wiki.token,
            "RELCTL_SINK_RELEASE_ROOM_URL": f"{hooks['release-room'].url}/services/T0/B0/demo",
            "RELCTL_SINK_OPERATIONS_URL": f"{hooks['operations'].url}/workflows/operations",
            "RELCTL_SINK_AUDIT_URL": f"{hooks['audit'].url}/relctl",
            "RELCTL_SINK_AUDIT_SECRET": secret,
            "RELCTL_SINK_CUSTOMER_NEWS_URL": mailbox.url,
        })  # fmt: skip
        return cls(hooks, mailbox, wiki)

    def stop(self) -> None:
        for hook in self.hooks.values():
            hook.stop()
        self.mailbox.stop()
        self.wiki.stop()

    def summary(self) -> str:
        counts = [f"{name} {len(hook.delivered())}" for name, hook in self.hooks.items()]
        counts.append(f"customer-news {len(self.mailbox.mails)} mail(s)")
        pages = [p for p in self.wiki.pages.values() if p.get("parentId")]
        return ", ".join(counts) + f"; {len(pages)} Confluence page(s) published"

    def dump(self, folder: Path, pages: Path) -> None:
        """`folder/<sink>.jsonl`: each request a receiver got (headers and body);
        `pages/<id>.html`: each Confluence page as stored, and `pages/index.json`."""
        for name, hook in self.hooks.items():
            hook.dump(folder / f"{name}.jsonl")
        self.mailbox.dump(folder / "customer-news.jsonl")
        pages.mkdir(parents=True, exist_ok=True)
        index = []
        for page_id, page in sorted(self.wiki.pages.items()):
            latest = self.wiki.versions[page_id][-1]
            (pages / f"{page_id}.html").write_text(latest["storage"], encoding="utf-8")
            index.append({"id": page_id, "title": page["title"], "version": latest["number"]})
        (pages / "index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")


def dashboard_tour(demo: Demo) -> None:
    """What a release manager opens instead of the YAML: the dashboard's answers, read
    over HTTP from the controller's own pages."""
    assert demo.http is not None
    started = time.monotonic()
    overview = demo.http.get("/")
    held = demo.http.get("/releases/catalog-2026-26/")
    rolled = demo.http.get("/releases/storefront-4-2-1/")
    took = (time.monotonic() - started) * 1000
    for page in (overview, held, rolled):
        page.raise_for_status()
    for name, page in (("catalog-2026-26", held), ("storefront-4-2-1", rolled)):
        why = _why_of(page.text)
        demo.out.say(f"dashboard: {name}: {why}", mark="▣", fg="cyan")
    demo.out.say(f"dashboard: 3 pages in {took:.0f} ms at {demo.base_url}/", mark="▣", fg="cyan")


def _why_of(page: str) -> str:
    start = page.find('id="why">')
    if start < 0:
        return "(no why on the page)"
    text = page[start + len('id="why">') : page.find("</p>", start)]
    return html.unescape(text).strip()


APPROVERS = """\
  # Who may approve for which role, and the keys their approval commits are signed with.
  # The shop is not ready to sign every approval: unsigned ones still count, said so.
  approvers:
    requireSignatures: false
    roles:
      qa-lead: [dana.qa]
      product-owner: [priya.po]
      payments-oncall: [sam.oncall]
    keys:
"""


def approvers(demo: Demo) -> bool:
    """The QA lead and the product owner get SSH keys, which relctl.yaml lists; the
    product owner will approve in a signed commit. False (said) without ssh-keygen."""
    out, human = demo.out, demo.world.human
    if shutil.which("ssh-keygen") is None:
        out.say("ssh-keygen is not installed (apt-get install openssh-client): approvals "
                "stay unsigned", mark="!")  # fmt: skip
        return False
    keys = demo.workspace / "keys"
    keys.mkdir(exist_ok=True)
    lines = []
    for who in ("dana.qa", "priya.po", "sam.oncall"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who, "-f", str(keys / who)],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        key = " ".join((keys / f"{who}.pub").read_text(encoding="utf-8").split()[:2])
        lines.append(f'      - {{principal: {who}, ssh: "{key}"}}\n')
    text = (human / "relctl.yaml").read_text(encoding="utf-8") + APPROVERS + "".join(lines)
    demo.push("Approvers: the release roles' SSH keys", {"relctl.yaml": text})
    git(human, "config", "user.name", "Priya PO")
    git(human, "config", "user.email", "priya.po@shop.example")
    git(human, "config", "gpg.format", "ssh")
    git(human, "config", "user.signingkey", str(keys / "priya.po"))
    return True


def signed_approval(demo: Demo) -> None:
    """`relctl approve`: the product owner's approval, in a commit signed with her key."""
    done = CliRunner().invoke(
        approve_command,
        ["shop-2026-25", "--role", "product-owner", "--by", "priya.po",
         "--root", str(demo.world.human)],
    )  # fmt: skip
    if done.exit_code != 0:
        raise RelctlError(f"relctl approve failed: {done.output}{done.exception or ''}")
    head = git(demo.world.human, "log", "-1", "--format=%h %s", "HEAD")
    demo.out.say(f"relctl approve: {head}, signed with priya.po's key", mark="⇡", fg="blue")


def approvals_told(demo: Demo, status: dict[str, Any], release: str) -> None:
    """The approvals a verdict counted, as its record keeps them: signer, key, commit."""
    evidence = demo.decision(status, release).get("evidence", {})
    for line in evidence.get("approvals", []):
        demo.out.say(f"approval {line}", mark="✍")


def control(demo: Demo) -> None:
    """A release manager suspends the next train's release through git and resumes it."""
    human = demo.world.human
    git(human, "config", "user.name", "Rita Release")
    git(human, "config", "user.email", "rita@shop.example")
    for args in (
        ["suspend", "catalog-2026-26", "--reason", "catalog data migration under review"],
        ["resume", "catalog-2026-26"],
    ):
        done = CliRunner().invoke(cli, [*args, "--root", str(human)])
        if done.exit_code != 0:
            raise RelctlError(f"relctl {args[0]} failed: {done.output}{done.exception or ''}")
        demo.out.say(f"relctl {' '.join(args)}", mark="⇡", fg="blue")
        status = demo.webhook()
        demo.narrate(status)
        record = demo.decision(status, "catalog-2026-26")
        by = record.get("evidence", {}).get("by")
        demo.out.say(
            f"catalog-2026-26: {record.get('decision')}: {record.get('rationale')}"
            + (f" (by {by})" if by else ""),
            mark="⏸" if args[0] == "suspend" else "▶",
        )
