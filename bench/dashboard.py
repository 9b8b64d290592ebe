"""Benchmark: the dashboard's server-side cost over a large history.

R releases (default 1,000) with D decisions each (default 10: 10,000 decisions), the
shop's manifests beside them:

- the overview, rendered from a new `Site` each time (a new revision: nothing cached);
- a release's page and the calendar's month, likewise;
- a cached page (the same revision asked again: what a second viewer costs);
- the commit links: `git log -p` of the status folder parsed (`web.history`), from a
  real repository with one commit per decision, read whole and then incrementally
  after one more commit;
- the static site written whole (`relctl dashboard build`).

    .venv/bin/python bench/dashboard.py [--releases 1000] [--decisions 10] [--commits 2000]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from controller.manifests.loading import load
from controller.plan.readiness import Criterion
from controller.plan.records import (
    DecisionKind,
    DecisionRecord,
    Evidence,
    Phase,
    ReleaseStatus,
    to_yaml,
)
from controller.reconcile.dashboard import Dashboard
from controller.web.model import Snapshot
from controller.web.site import Site

REPO = Path(__file__).resolve().parents[1]
SHOP = REPO / "tests" / "data" / "shop"
NOW = datetime(2026, 12, 7, 8, tzinfo=UTC)
KINDS = [
    DecisionKind.NO_GO, DecisionKind.GO, DecisionKind.ROLLOUT, DecisionKind.DEPLOYED,
    DecisionKind.RELEASED,
]  # fmt: skip
PHASES = [Phase.SCHEDULED, Phase.DECIDING, Phase.WAITING, Phase.MONITORING, Phase.RELEASED]
CRITERIA = (
    Criterion("completion", ">= 90%", "62.5%", False, False),
    Criterion("blockers", "<= 0", "1", False, True),
    Criterion("approvals", "qa-lead, product-owner", "qa-lead", False, True),
)


def statuses(releases: int, decisions: int) -> dict[str, ReleaseStatus]:
    found = {}
    for n in range(releases):
        name = f"svc-{n:04d}"
        start = NOW - timedelta(days=n % 300)
        records = tuple(
            DecisionRecord(
                KINDS[i % len(KINDS)],
                start + timedelta(hours=i),
                f"decision {i} of {name}: every criterion is met",
                criteria=CRITERIA if KINDS[i % len(KINDS)] is DecisionKind.NO_GO else (),
                evidence=Evidence(blockers=("SHOP-107",), components=("checkout",)),
            )
            for i in range(decisions)
        )
        found[name] = ReleaseStatus(
            name, f"{name}-1.0", PHASES[n % len(PHASES)], departure=start, decisions=records
        )
    return found


def median_ms(run: Callable[[], object], times: int) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@example", *args],
        cwd=cwd, check=True, capture_output=True,
    )  # fmt: skip


def history_repository(folder: Path, commits: int) -> Path:
    """The shop with `commits` commits, each appending one decision to one of 50 files."""
    root = folder / "repo"
    shutil.copytree(SHOP, root)
    git(root, "init", "-q", "-b", "main")
    logs: dict[str, list[DecisionRecord]] = {}
    records = root / "status" / "releases"
    records.mkdir(parents=True)
    # fast-import: thousands of commits in a second, each a real commit with a real diff.
    stream = []
    for i in range(commits):
        name = f"svc-{i % 50:04d}"
        logs.setdefault(name, []).append(
            DecisionRecord(KINDS[i % len(KINDS)], NOW + timedelta(minutes=i), f"decision {i}")
        )
        text = to_yaml(ReleaseStatus(name, "1.0", decisions=tuple(logs[name]))).encode()
        message = f"relctl: {name} {KINDS[i % len(KINDS)].value}".encode()
        stream.append(b"commit refs/heads/main\n")
        stream.append(
            f"mark :{i + 1}\ncommitter b <b@example> {1_700_000_000 + i} +0000\n".encode()
        )
        stream.append(b"data %d\n%s\n" % (len(message), message))
        stream.append(
            b"M 100644 inline status/releases/%s.yaml\ndata %d\n%s\n"
            % (name.encode(), len(text), text)
        )
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=b"".join(stream), check=True)
    git(root, "checkout", "-q", "-f", "main")
    return root


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--releases", type=int, default=1000)
    parser.add_argument("--decisions", type=int, default=10)
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--times", type=int, default=15)
    args = parser.parse_args()
    state = load(SHOP).states[0]
    found = statuses(args.releases, args.decisions)
    snapshot = Snapshot("r", NOW, state, found)
    total = sum(len(s.decisions) for s in found.values())
    print(f"{args.releases} releases, {total} decisions (medians of {args.times})")
    for label, path in (
        ("overview", "/"),
        ("release page", "/releases/svc-0001/"),
        ("calendar month", "/calendar/2026-12/"),
        ("delivery metrics", "/delivery/"),
    ):
        ms = median_ms(lambda p=path: Site(snapshot).get(p), args.times)
        print(f"  {label:<28} {ms:8.1f} ms  (new revision: rendered)")
    warm = Site(snapshot)
    warm.get("/")
    print(f"  {'overview, cached':<28} {median_ms(lambda: warm.get('/'), args.times * 10):8.3f} ms")
    with tempfile.TemporaryDirectory() as folder:
        root = history_repository(Path(folder), args.commits)
        settings = state.config.spec.git
        whole = median_ms(lambda: Dashboard(root).snapshot(state, settings, NOW, {}), 5)
        print(f"  {'commit links, whole history':<28} {whole:8.1f} ms  ({args.commits} commits)")
        dashboard = Dashboard(root)
        dashboard.snapshot(state, settings, NOW, {})
        grown = root / "status/releases/svc-0000.yaml"
        more = "- decision: GO\n  at: '2027-01-01T00:00:00+00:00'\n  rationale: x\n"
        grown.write_text(grown.read_text() + more)
        git(root, "commit", "-qam", "one more")
        started = time.perf_counter()
        dashboard.snapshot(state, settings, NOW, {})
        took = (time.perf_counter() - started) * 1000
        print(f"  {'commit links, one new commit':<28} {took:8.1f} ms")
    started = time.perf_counter()
    written = sum(1 for _ in Site(snapshot, static=True).pages())
    took = (time.perf_counter() - started) * 1000
    print(f"  {'static site, rendered whole':<28} {took:8.1f} ms  ({written} files)")


if __name__ == "__main__":
    main()
