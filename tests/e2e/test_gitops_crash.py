"""Crash safety at the git method's write boundary: `relctl reconcile --once` killed with
SIGKILL at each step of changing an image in the environment repository — right after
its commit lands in its clone, before the push, and after the push lands but before it
is acknowledged. Restarted at the same instant each time, it commits each image once and
records each decision once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from controller.sandbox.world import git
from tests.integration.test_gitops import DEPARTURE, Shop, release, shop_with

STAGES = ("reference-transaction", "pre-push", "post-receive")
HOOK = """#!/bin/sh
# Kills the relctl process named in the arm file, once, at one step of the environment
# repository's change: its commit landed in relctl's clone (reference-transaction), its
# push about to start (pre-push, which then refuses it: the process is gone), its push
# landed in the remote (post-receive).
stage=$(basename "$0")
arm="{folder}/$stage"
[ -f "$arm" ] || exit 0
where=$(git rev-parse --absolute-git-dir)
case "$stage" in
  reference-transaction)
    [ "$1" = committed ] && [ "$where" = "{clone}" ] || exit 0
    commit=""
    while read -r old new ref; do
      case "$ref" in HEAD|refs/heads/main) commit=$new ;; esac
    done
    [ -n "$commit" ] && [ "$(git log -1 --format=%an "$commit")" = relctl ] || exit 0 ;;
  pre-push) [ "$where" = "{clone}" ] || exit 0 ;;
  post-receive) [ "$where" = "{remote}" ] || exit 0 ;;
esac
pid=$(cat "$arm"); rm -f "$arm"; echo "$stage" >> "{fired}"
kill -9 "$pid"
[ "$stage" = pre-push ] && exit 1
exit 0
"""


def test_killed_at_every_environment_git_step_commits_each_image_once(tmp_path: Path) -> None:
    shop_3 = release("shop-3", {"catalog": "2.4.0", "storefront": "4.3.0"})
    with shop_with(tmp_path, ("shop-3", shop_3)) as shop:
        hooks, arms = tmp_path / "hooks", tmp_path / "arms"
        hooks.mkdir()
        arms.mkdir()
        fired = arms / "fired"
        fired.touch()
        clone = shop.world.controller / ".git" / "relctl-environments" / "shop-env" / ".git"
        text = HOOK.format(folder=arms, clone=clone, remote=shop.environment.resolve(), fired=fired)
        # Every git process relctl starts runs these hooks (git keeps the setting from
        # the remote's receive-pack, whose hook is the remote's own); each acts only in
        # the repository it names.
        for path in (hooks / "reference-transaction", hooks / "pre-push",
                     shop.environment / "hooks" / "post-receive"):  # fmt: skip
            path.write_text(text, encoding="utf-8")
            path.chmod(0o755)
        env = {
            **os.environ,
            **shop.world.env,
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "core.hooksPath",
            "GIT_CONFIG_VALUE_0": str(hooks),
        }
        pending = list(STAGES)
        killed = 0
        now = DEPARTURE
        for _ in range(30):
            shop.world.set_time(now)
            while True:
                stage = next((s for s in pending if s not in fired.read_text().split()), None)
                done = _pass(shop, env, now, arms, stage)
                if done.returncode != -signal.SIGKILL:
                    assert done.returncode in (0, 1), done.stdout
                    break
                killed += 1
                assert killed < 20, fired.read_text()
            shop.agent.sync()
            if shop.status("shop-3").phase.value == "Monitoring":
                break
            now += timedelta(minutes=1)
            shop.world.advance(60.0)
        assert fired.read_text().split() == list(STAGES)
        assert killed == len(STAGES)
        mine = [c for c in shop.commits() if c.startswith("relctl:")]
        assert len(mine) == 2, mine  # each image committed once
        kinds = [d.decision.value for d in shop.status("shop-3").decisions]
        assert kinds == ["GO", "ROLLOUT", "DEPLOYED"]
        assert shop.image("storefront").endswith(":4.3.0")
        assert git(shop.world.controller, "status", "--porcelain") == ""


def _pass(
    shop: Shop, env: dict[str, str], now: object, arms: Path, stage: str | None
) -> subprocess.CompletedProcess[str]:
    """One `relctl reconcile --once`, the pending stage armed with its pid."""
    process = subprocess.Popen(
        [sys.executable, "-m", "controller", "reconcile", "--once", "--at", str(now)],
        cwd=shop.world.controller,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if stage is not None:
        (arms / stage).write_text(str(process.pid), encoding="utf-8")
    out, _ = process.communicate(timeout=120)
    for leftover in STAGES:
        (arms / leftover).unlink(missing_ok=True)
    return subprocess.CompletedProcess(process.args, process.returncode, out, "")
