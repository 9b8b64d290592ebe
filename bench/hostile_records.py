"""Benchmark: what a hostile status file costs a pass. A commit replaces one release's
status file with a 402-byte YAML alias bomb (nine levels of nine aliases: 9^9 values if
expanded). `relctl reconcile --once` then runs as its own process over the emulators;
reported: wall time, peak RSS, the exit code, and the size of the largest file the pass
committed — beside the same pass with the file intact.

    .venv/bin/python bench/hostile_records.py
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from controller.sandbox.hostile import alias_bomb
from controller.sandbox.world import World, git

REPO = Path(__file__).resolve().parents[1]
CRD = REPO.parent / "shared" / "flagd" / "core.openfeature.dev_featureflags.yaml"
TARGET = "status/releases/shop-2026-25.yaml"
BOMB = alias_bomb("shop-2026-25")


def one_pass(world: World, when: str) -> tuple[float, float, int]:
    """(seconds, peak RSS in MiB so far, exit code) of one `reconcile --once` process."""
    world.set_time(datetime.fromisoformat(when))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "controller", "reconcile", "--once", "--at", when],
        cwd=world.controller,
        env={**os.environ, **world.env},
        capture_output=True,
        check=False,
    )
    seconds = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024, done.returncode


def largest_committed(world: World, since: str) -> int:
    names = git(world.remote, "log", "--format=", "--name-only", f"{since}..main").split()
    sizes = [
        int(git(world.remote, "cat-file", "-s", f"main:{name}"))
        for name in set(names)
        if name.startswith("status/")
    ]
    return max(sizes, default=0)


def scenario(bomb: bool) -> str:
    with tempfile.TemporaryDirectory() as folder:
        seed = REPO / "tests/data/jira/shop.yaml"
        with World(REPO, Path(folder), jira_seed=seed, crd=CRD) as world:
            one_pass(world, "2026-11-23T12:00:00+01:00")
            if bomb:
                git(world.human, "pull", "-q", "--rebase")
                (world.human / TARGET).write_text(BOMB)
                git(world.human, "commit", "-qam", "Hostile: an alias bomb")
                git(world.human, "push", "-q")
            since = git(world.remote, "rev-parse", "main")
            seconds, rss, code = one_pass(world, "2026-12-07T09:00:00+01:00")
            size = largest_committed(world, since)
    label = "alias bomb in one status file" if bomb else "intact status files"
    return f"| {label} | {seconds:.2f} s | {rss:.0f} MiB | {code} | {size} bytes |"


def main() -> None:
    print("| status files | pass wall time | peak RSS | exit | largest file committed |")
    print("|---|---|---|---|---|")
    for bomb in (False, True):
        print(scenario(bomb), flush=True)


if __name__ == "__main__":
    main()
