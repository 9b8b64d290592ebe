"""Crash safety, through a release's whole life, restarted at the same instant after
each crash; the end state has no duplicate Jira version, comment, rollout or decision
record, and every record reached the remote.

- In process, at every write boundary: right after each write lands in Jira or the
  cluster, its reply is never sent and the pass stops there (nothing more acted, nothing
  recorded); a fresh `Reconciler` stands for the restarted process.
- As a process, `relctl reconcile --once` killed with SIGKILL at each step of recording
  in git (before its commit lands, after it lands but before the work tree is written,
  before the push, after the push lands but before it is acknowledged), with a push the
  remote refuses once, and after the writes of its first passes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from controller.plan.records import from_yaml
from controller.reconcile.passes import Reconciler
from controller.sandbox.world import World, git
from tests.support.world import at

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "tests" / "data" / "shop"
"""The shop the tests are written against (not the demo's releases/, which may change)."""
CRD = REPO.parent / "shared" / "flagd" / "core.openfeature.dev_featureflags.yaml"


class Killer:
    """Kills the running controller after the next write, once per process."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self.enabled = False
        """Arm each process started while enabled."""
        self.armed = False
        self.kills: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, method: str, path: str) -> None:
        if "/events" in path:
            return
        with self.lock:
            if self.armed and self.process is not None:
                self.armed = False
                self.kills.append((method, path))
                os.kill(self.process.pid, signal.SIGKILL)


GIT_STAGES = ("prepared", "committed", "pre-push", "post-receive", "rejected")
KILL_HOOK = """#!/bin/sh
# Kills the relctl process named in the arm file, once: a crash at this step of git.
arm="{arm}"
{condition}
[ -f "$arm" ] || exit 0
pid=$(cat "$arm"); rm -f "$arm"; echo "$pid {stage}" >> "{fired}"
kill -9 "$pid" 2>/dev/null
exit 1
"""


class GitKills:
    """Git hooks that kill the pass (or refuse its push) at one armed stage."""

    def __init__(self, world: World, folder: Path) -> None:
        self.folder = folder
        folder.mkdir()
        self.fired = folder / "fired"
        self.fired.touch()
        self.armed: str | None = None
        self._round = 0
        main = "refs/heads/main"
        controller = world.controller / ".git" / "hooks"
        self._hook(
            controller / "reference-transaction",
            "$1",
            f'read -r old new ref; [ "$ref" = "{main}" ] || exit 0',
        )
        self._hook(controller / "pre-push", "pre-push", "")
        remote = world.remote / "hooks"
        self._hook(remote / "post-receive", "post-receive", "")
        (remote / "pre-receive").write_text(
            "#!/bin/sh\n"
            f'arm="{folder}/rejected"\n'
            'read -r old new ref; [ -f "$arm" ] || exit 0\n'
            '[ "$(git log -1 --format=%an "$new")" = relctl ] || exit 0\n'
            f'rm -f "$arm"; echo "- rejected" >> "{self.fired}"\n'
            "echo 'main is frozen for a moment' >&2; exit 1\n"
        )
        (remote / "pre-receive").chmod(0o755)

    def _hook(self, path: Path, stage: str, condition: str) -> None:
        text = KILL_HOOK.format(
            arm=f"{self.folder}/{stage}", condition=condition, stage=stage, fired=self.fired
        )
        path.write_text(text)
        path.chmod(0o755)

    def arm(self, stage: str | None) -> None:
        self.armed = stage
        for name in GIT_STAGES:
            (self.folder / name).unlink(missing_ok=True)
        if stage == "rejected":
            (self.folder / stage).touch()

    def started(self, pid: int) -> None:
        """A new process: the armed stage kills it, unless it already fired this round."""
        if self.armed in (None, "rejected") or self.armed in self.fired_stages(since=self.round):
            return
        (self.folder / self.armed).write_text(str(pid))

    def fired_stages(self, since: int = 0) -> list[str]:
        lines = self.fired.read_text().splitlines()[since:]
        return [line.split()[1] for line in lines]

    @property
    def round(self) -> int:
        return self._round

    def new_round(self, stage: str | None) -> None:
        self._round = len(self.fired.read_text().splitlines())
        self.arm(stage)


def run_passes(world: World, killer: Killer, when: str, kills: GitKills | None = None) -> int:
    """Run `relctl reconcile --once` at `when` until a pass finishes; returns how many
    were killed."""
    world.set_time(at(when))
    killed = 0
    for _ in range(60):
        with killer.lock:
            killer.armed = killer.enabled
            killer.process = subprocess.Popen(
                [sys.executable, "-m", "controller", "reconcile", "--once", "--at", when],
                cwd=world.controller,
                env={**os.environ, **world.env},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            if kills is not None:
                kills.started(killer.process.pid)
        out, _ = killer.process.communicate(timeout=120)
        if killer.process.returncode == -signal.SIGKILL:
            killed += 1
            continue
        assert killer.process.returncode in (0, 1), out
        return killed
    raise AssertionError("the pass never finished")


class Crash(ConnectionAbortedError):
    """The process died: the reply to the write that just landed is never sent."""


class Crasher:
    """Crashes the pass under way after its next write, once per (simulated) process."""

    def __init__(self) -> None:
        self.armed = False
        self.crashed = False
        self.kills: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, method: str, path: str) -> None:
        if "/events" in path:
            return
        with self.lock:
            if not self.armed:
                return
            self.armed, self.crashed = False, True
            self.kills.append((method, path))
        raise Crash(f"crashed after {method} {path}")  # the server hangs up, no reply

    def alive(self) -> bool:
        return not self.crashed


def crash_passes(world: World, crasher: Crasher, when: str) -> int:
    """Passes at `when`, each by a fresh Reconciler (a restarted process), each crashed
    after its first write while `crasher` is armed, until one finishes; returns how many
    crashed. A crasher never hooked into the emulators crashes nothing."""
    world.set_time(at(when))
    for crashed in range(80):
        with crasher.lock:
            crasher.armed, crasher.crashed = True, False
        reconciler = Reconciler(world.controller, {**os.environ, **world.env})
        try:
            reconciler.run(at(when), proceed=crasher.alive, may_record=crasher.alive)
        finally:
            reconciler.close()
        if not crasher.crashed:
            return crashed
    raise AssertionError("the pass never finished")


def live_a_release(world: World, reconcile: Callable[[str], object]) -> None:
    """The shop release from scheduling to RELEASED, a pass at each moment that matters."""
    reconcile("2026-11-23T12:00:00+01:00")
    reconcile("2026-12-07T09:00:00+01:00")
    world.close_issues("SHOP-106", "SHOP-107", "SHOP-108")
    release = (world.human / "releases/releases/shop-2026-25.yaml").read_text(encoding="utf-8")
    release = release.replace(
        "  approvals:\n",
        "  approvals:\n"
        '    - {role: product-owner, by: priya.po, at: "2026-12-07T14:00:00+01:00"}\n',
    )
    signals = "test-coverage: 90\nsecurity-scan: passed\n"
    world.push_change(
        "Approve shop 2026.25",
        {
            "releases/releases/shop-2026-25.yaml": release,
            "signals/shop-2026-25.yaml": signals,
            "signals/payments-2026-25.yaml": signals,
        },
    )
    reconcile("2026-12-07T15:00:00+01:00")
    for minute in range(10):
        reconcile(f"2026-12-08T14:{minute:02d}:00+01:00")
        world.advance(60.0)  # a simulated minute: the rollouts under way progress
    reconcile("2026-12-10T15:00:00+01:00")
    reconcile("2026-12-10T15:01:00+01:00")


def assert_converged(world: World) -> None:
    assert git(world.controller, "status", "--porcelain") == ""
    assert git(world.controller, "rev-parse", "HEAD") == git(world.remote, "rev-parse", "main")
    status = from_yaml(git(world.remote, "show", "main:status/releases/shop-2026-25.yaml"), "x")
    kinds = [d.decision.value for d in status.decisions]
    assert kinds == ["NO_GO", "GO", "ROLLOUT", "DEPLOYED", "RELEASED"]
    assert status.phase == "Released"
    state = world.jira.state
    with state.lock:
        versions = Counter((v.project, v.name) for v in state.versions.values())
        comments = {
            key: sum("relctl release shop-2026-25" in str(c.body) for c in issue.comments)
            for key, issue in state.issues.items()
            if key.startswith("SHOP-")
        }
        shop = next(
            v for v in state.versions.values() if (v.project, v.name) == ("SHOP", "2026.25")
        )
        assert shop.released
    assert max(versions.values()) == 1
    assert set(comments.values()) == {1}, comments
    eu = world.clusters["prod-eu"]
    patches = Counter(
        path.rsplit("/", 1)[-1]
        for method, path, _ in eu.requests("PATCH")
        if "/deployments/" in path
    )
    # One image change per Deployment of the shop release: no rollout repeated.
    assert patches["catalog"] == patches["checkout"] == patches["storefront"] == 1
    log = git(world.remote, "log", "--format=%B")
    for name in ("shop-2026-25", "payments-2026-25", "notifications-1-9"):
        assert log.count(f"Relctl-Release: {name}\nRelctl-Decision: RELEASED") == 1


def shop_world(tmp_path: Path) -> World:
    world = World(
        SHOP, tmp_path, jira_seed=REPO / "tests/data/jira/shop.yaml", crd=CRD, step=1.0, rbac=True
    )
    world.simulate_time()
    return world


@pytest.mark.timeout(300)
def test_crashed_after_every_write_converges_without_duplicates(tmp_path: Path) -> None:
    crasher = Crasher()
    with shop_world(tmp_path) as world:
        world.jira.after_write = crasher
        for cluster in world.clusters.values():
            cluster.after_write = crasher
        live_a_release(world, lambda when: crash_passes(world, crasher, when))
        with crasher.lock:
            crasher.armed = False
        crash_passes(world, crasher, "2026-12-10T15:02:00+01:00")  # records what is left

        kinds = Counter(method for method, _ in crasher.kills)
        assert len(crasher.kills) >= 20, crasher.kills  # every write boundary was hit
        assert kinds["POST"] and kinds["PUT"] and kinds["PATCH"], kinds  # Jira and clusters
        assert_converged(world)


@pytest.mark.timeout(600)
def test_killed_at_every_git_step_converges_without_duplicates(tmp_path: Path) -> None:
    killer = Killer()
    with shop_world(tmp_path) as world:
        world.jira.after_write = killer
        for cluster in world.clusters.values():
            cluster.after_write = killer
        kills = GitKills(world, tmp_path / "git-kills")
        stages = iter(GIT_STAGES)
        stage = next(stages)
        rounds = 0

        def reconcile(when: str) -> int:
            # One git stage armed at a time, until it has fired; then the next one. The
            # first pass is also killed after each of its writes to Jira: a real process
            # dying between a write and its reply. Once every stage has fired, the rest
            # of the life runs in process (nothing left to kill).
            nonlocal stage, rounds
            if stage is not None and stage in kills.fired_stages():
                stage = next(stages, None)
            if stage is None:
                return crash_passes(world, Crasher(), when)
            kills.new_round(stage)
            rounds += 1
            killer.enabled = rounds == 1
            return run_passes(world, killer, when, kills)

        live_a_release(world, reconcile)
        crash_passes(world, Crasher(), "2026-12-10T15:02:00+01:00")  # pushes what is left

        assert killer.kills, "no write was killed"
        assert set(kills.fired_stages()) == set(GIT_STAGES), kills.fired_stages()
        assert_converged(world)
