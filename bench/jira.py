"""Benchmark: observing Jira, relctl's batched way against the naive way.

The emulator holds 20 projects, 20,000 issues and 500 versions (25 per project), and
answers every request after 20 ms of artificial latency. Measured, over real HTTP:

- full observe: every project's versions, and the issues of every version, as relctl
  does it (one JQL search across projects and versions, paged);
- incremental observe after 50 issues changed (one search for what was updated since);
- naive: what a hand-written script does, one search per project per release.

Usage:

    .venv/bin/python bench/jira.py [--flavor cloud|datacenter] [--latency 0.02]
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

from controller.adapters.jira import JiraClient, settings_from
from controller.manifests.config import JiraConfig
from controller.plan.jql import quote
from controller.sandbox.jira import JiraSandbox

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
ENV = {"RELCTL_JIRA_EMAIL": "bench@relctl.local", "RELCTL_JIRA_TOKEN": "bench"}


def populate(sandbox: JiraSandbox, projects: int, issues: int, versions: int) -> None:
    rng = random.Random(3)
    state = sandbox.state
    state.clock = NOW - timedelta(hours=1)  # the issues exist before the first pass
    state.add_user(ENV["RELCTL_JIRA_EMAIL"], ENV["RELCTL_JIRA_TOKEN"])
    keys = [f"P{n:02d}" for n in range(projects)]
    per_project = versions // projects
    for key in keys:
        state.add_project(key)
        for n in range(per_project):
            state.add_version(key, f"2026.{n + 1}")
    for n in range(issues):
        key = keys[n % projects]
        state.add_issue(
            key,
            f"Change {n}",
            fix_versions=(f"2026.{rng.randrange(per_project) + 1}",),
            issuetype=rng.choice(["Story", "Bug", "Task", "Improvement"]),
            status=rng.choice(["To Do", "In Progress", "Done", "Done"]),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flavor", choices=["cloud", "datacenter"], default="cloud")
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--issues", type=int, default=20_000)
    parser.add_argument("--versions", type=int, default=500)
    args = parser.parse_args()

    with JiraSandbox(args.flavor) as sandbox:
        populate(sandbox, args.projects, args.issues, args.versions)
        sandbox.latency = args.latency
        config = JiraConfig.model_validate(
            {
                "url": sandbox.url,
                "flavor": args.flavor,
                "pageSize": 100,
            }
        )
        settings = settings_from(config, ENV, url=sandbox.url)
        wanted = {
            p.key: [v.name for v in sandbox.state.versions.values() if v.project == p.key]
            for p in sandbox.state.projects.values()
        }

        with JiraClient(settings) as client:
            started = time.perf_counter()
            full = client.observe(wanted, now=NOW)
            full_time = time.perf_counter() - started

            sandbox.state.clock = NOW + timedelta(minutes=10)
            for issue in random.Random(5).sample(list(sandbox.state.issues.values()), 50):
                issue.status = "Done"
                sandbox.state.touch(issue)
            started = time.perf_counter()
            incremental = client.observe(wanted, now=NOW + timedelta(minutes=11), previous=full)
            incremental_time = time.perf_counter() - started

        with JiraClient(settings) as naive:
            started = time.perf_counter()
            found = 0
            for project, names in wanted.items():
                naive.versions(project)
                for name in names:
                    jql = f"project = {quote(project)} AND fixVersion = {quote(name)}"
                    found += sum(1 for _ in naive.search(jql, naive.fields()))
            naive_time = time.perf_counter() - started

    pages = -(-args.issues // 100)
    print(
        f"{args.flavor}: {args.projects} projects, {args.issues} issues, {args.versions} "
        f"versions, {args.latency * 1000:g} ms latency per request\n"
    )
    print(f"{'observe':<34}{'requests':>9}{'time':>10}{'issues':>8}")
    print(f"{'relctl, full':<34}{full.requests:>9}{full_time:>9.2f}s{len(full.issues):>8}")
    print(
        f"{'relctl, incremental (50 changed)':<34}{incremental.requests:>9}"
        f"{incremental_time:>9.2f}s{len(incremental.issues):>8}"
    )
    print(
        f"{'naive, search per project+release':<34}{naive.requests:>9}{naive_time:>9.2f}s{found:>8}"
    )
    print(
        f"\ntarget full <= issues/page + projects + 2 = {pages + args.projects + 2}; "
        "target incremental <= 3"
    )
    print(
        f"naive / relctl: {naive.requests / full.requests:.1f}x the requests, "
        f"{naive_time / full_time:.1f}x the time"
    )


if __name__ == "__main__":
    main()
