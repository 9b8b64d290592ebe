"""Steps around a rollout through the real reconciler, against the Kubernetes emulator
(authorizing every request by the chart's RBAC) running the Jobs, a bare git remote and a
simulated clock: a migration before the ledger's image changes and a smoke test after
payments', their failures, a Job's deadline, a restart that finds its Job, the
down-migration before a rollback, an irreversible step, and the release's git tag."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.plan.records import from_yaml
from controller.reconcile.passes import Reconciler
from controller.sandbox.world import World, git
from tests.e2e.test_crash_safety import Crasher, crash_passes
from tests.integration.test_reconcile_life import run
from tests.support.world import at

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "tests" / "data" / "steps"
NAME = "payments-3-0-0"
LEDGER = "registry.shop.example/shop/ledger"
SMOKE = "registry.shop.example/shop/smoke:7"
DEPARTURE = at("2026-12-08T14:00:00+01:00")


def release(**spec: Any) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "relctl.dev/v1alpha1",
            "kind": "Release",
            "metadata": {"name": NAME},
            "spec": {
                "version": "payments-3.0.0",
                "date": DEPARTURE.isoformat(),
                "components": [
                    {"name": "ledger", "version": "6.0.0"},
                    {"name": "payments", "version": "3.0.0"},
                ],
                "rollback": {"auto": True},
                **spec,
            },
        },
        sort_keys=False,
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    (tmp_path / "source").mkdir()
    source = tmp_path / "source"
    for path in SOURCE.rglob("*"):
        if path.is_file():
            target = source / path.relative_to(SOURCE)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    (source / "releases/releases").mkdir(parents=True)
    (source / "releases/releases" / f"{NAME}.yaml").write_text(release(), encoding="utf-8")
    world = World(
        source,
        tmp_path / "world",
        jira_seed=REPO / "tests/data/jira/shop.yaml",
        running={"ledger": "5.0.0", "payments": "2.5.0"},
        step=1.0,
        rbac=True,
    )
    world.workspace.mkdir()
    world.simulate_time()
    with world as w:
        yield w


def status(world: World) -> Any:
    return from_yaml(git(world.remote, "show", f"main:status/releases/{NAME}.yaml"), NAME)


def image(world: World, deployment: str) -> str:
    store = world.clusters["prod"].store
    found = store.get(store.find_type("apps", "v1", "deployments"), "payments", deployment)
    return str(found["spec"]["template"]["spec"]["containers"][0]["image"])


def jobs(world: World) -> dict[str, dict[str, Any]]:
    store = world.clusters["prod"].store
    with store.lock:
        return {name: job for (_, name), job in store.objects[("batch", "v1", "jobs")].items()}


def drive(
    world: World,
    until: Callable[[Any], bool],
    reconciler: Reconciler | None = None,
    passes: int = 30,
    watch: Callable[[], None] = lambda: None,
) -> Any:
    """A pass a minute (and a minute of the cluster's time) until the record says so."""
    own = reconciler is None
    reconciler = reconciler or Reconciler(world.controller, {**os.environ, **world.env})
    now = DEPARTURE
    try:
        for _ in range(passes):
            run(world, reconciler, now)
            watch()
            found = status(world)
            if until(found):
                return found
            now += timedelta(minutes=1)
            world.advance(60.0)
    finally:
        if own:
            reconciler.close()
    raise AssertionError(f"never got there: {status(world)}")


def phase(name: str) -> Callable[[Any], bool]:
    return lambda found: found.phase.value == name


def test_migration_before_the_image_and_smoke_test_after_the_rollout(world: World) -> None:
    seen: list[tuple[str, str, set[str]]] = []

    def watch() -> None:
        seen.append((image(world, "ledger"), image(world, "payments-api"), set(jobs(world))))

    done = drive(world, phase("Monitoring"), watch=watch)
    migrate, smoke = f"{NAME}-ledger-migrate-pre1", f"{NAME}-payments-smoke-post1"
    # The migration Job existed before the ledger's image changed; the smoke test only
    # once payments ran its new image.
    first_ledger = next(n for n, (ledger, _, _) in enumerate(seen) if ledger.endswith(":6.0.0"))
    assert migrate in seen[first_ledger - 1][2] and seen[first_ledger - 1][0] == LEDGER + ":5.0.0"
    first_smoke = next(n for n, (_, _, made) in enumerate(seen) if smoke in made)
    assert seen[first_smoke][1].endswith(":3.0.0")
    made = jobs(world)
    container = made[migrate]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == LEDGER + ":6.0.0"  # the release's own image
    assert container["env"] == [
        {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "ledger-db", "key": "url"}}}
    ]
    assert made[migrate]["spec"]["activeDeadlineSeconds"] == 300
    assert made[smoke]["spec"]["template"]["spec"]["containers"][0]["image"] == SMOKE
    deployed = done.last("DEPLOYED")
    assert [(r.item, r.state.value) for r in deployed.evidence.steps] == [
        ("ledger preRollout migrate on prod/payments", "Succeeded"),
        ("payments postRollout smoke on prod/payments", "Succeeded"),
        ("ledger onRollback migrate-down on prod/payments", "Pending"),
    ]
    # Each Job was created once.
    posts = [p for m, p, _ in world.clusters["prod"].requests("POST") if p.endswith("/jobs")]
    assert len(posts) == 2


def test_a_restarted_controller_finds_its_job_and_creates_no_second(world: World) -> None:
    world.clusters["prod"].rollouts.mark_job(LEDGER + ":6.0.0", hang=True)
    drive(world, lambda found: bool(jobs(world)))
    for _ in range(3):  # three restarts while the migration runs
        drive(world, lambda found: True)
    posts = [p for m, p, _ in world.clusters["prod"].requests("POST") if p.endswith("/jobs")]
    assert len(posts) == 1
    assert image(world, "ledger") == LEDGER + ":5.0.0"  # still migrating


def test_a_migration_past_its_deadline_fails_and_changes_no_image(world: World) -> None:
    world.clusters["prod"].rollouts.mark_job(
        LEDGER + ":6.0.0", hang=True, log="waiting for a lock on ledger_entries"
    )
    done = drive(world, phase("RolledBack"))
    assert image(world, "ledger") == LEDGER + ":5.0.0"
    assert image(world, "payments-api").endswith(":2.5.0")
    rollback = done.last("ROLLBACK")
    assert "(DeadlineExceeded, exit 137)" in rollback.evidence.triggers[0]
    failed = next(r for r in rollback.evidence.steps if r.state.value == "Failed")
    assert "waiting for a lock on ledger_entries" in failed.log
    condition = jobs(world)[f"{NAME}-ledger-migrate-pre1"]["status"]["conditions"][-1]
    assert (condition["type"], condition["reason"]) == ("Failed", "DeadlineExceeded")
    # Nothing migrated: no down-migration either.
    assert f"{NAME}-ledger-migrate-down-undo1" not in jobs(world)


def test_a_failed_smoke_test_rolls_back_after_the_down_migration(world: World) -> None:
    world.clusters["prod"].rollouts.mark_job(
        SMOKE,
        exit_code=2,
        log="GET /health 503\nSMOKE_TOKEN=tok-very-secret-1234\nsmoke: 3 of 12 checks failed",
    )
    order: list[tuple[str, bool]] = []

    def watch() -> None:
        order.append((image(world, "ledger"), f"{NAME}-ledger-migrate-down-undo1" in jobs(world)))

    done = drive(
        world,
        lambda found: phase("RolledBack")(found) and image(world, "ledger").endswith("5.0.0"),
        watch=watch,
    )
    rollback = done.last("ROLLBACK")
    assert rollback.evidence.components == ("ledger", "payments")
    assert "payments postRollout smoke on prod/payments: Failed" in rollback.evidence.triggers[0]
    assert "exit 2" in rollback.evidence.triggers[0]
    smoke = next(r for r in rollback.evidence.steps if r.step == "smoke")
    assert smoke.exit_code == 2 and "3 of 12 checks failed" in smoke.log
    assert "tok-very-secret-1234" not in git(world.remote, "log", "-p", "--format=")
    # The down-migration ran with the image of the release being rolled back, and the
    # ledger's image went back only after it existed.
    down = jobs(world)[f"{NAME}-ledger-migrate-down-undo1"]
    assert down["spec"]["template"]["spec"]["containers"][0]["image"] == LEDGER + ":6.0.0"
    upgraded = next(n for n, (ledger, _) in enumerate(order) if ledger.endswith(":6.0.0"))
    restored = next(
        n for n, (ledger, _) in enumerate(order) if n > upgraded and ledger.endswith(":5.0.0")
    )
    assert order[restored - 1][1], "the ledger was restored before its down-migration"
    assert image(world, "payments-api").endswith(":2.5.0")
    undo = next(r for r in done.steps if r.step == "migrate-down")
    assert undo.state.value == "Succeeded"


def test_an_irreversible_migration_recommends_rolling_forward(world: World) -> None:
    component = yaml.safe_load((SOURCE / "releases/components/ledger.yaml").read_text())
    component["spec"]["steps"]["preRollout"][0]["reversible"] = False
    del component["spec"]["steps"]["onRollback"]
    world.push_change(
        "The ledger split cannot be undone",
        {"releases/components/ledger.yaml": yaml.safe_dump(component, sort_keys=False)},
    )
    world.clusters["prod"].rollouts.mark_job(SMOKE, exit_code=1)
    done = drive(world, phase("RollbackRecommended"))
    recommended = done.last("ROLLBACK_RECOMMENDED")
    assert "irreversible step ledger preRollout migrate" in recommended.rationale
    assert "roll forward" in recommended.rationale
    assert image(world, "ledger").endswith(":6.0.0")  # not rolled back


def test_the_release_is_tagged_at_its_go_once_and_a_foreign_tag_is_never_moved(
    world: World,
) -> None:
    done = drive(world, phase("Monitoring"))
    go = done.last("GO")
    tagged = git(world.remote, "rev-parse", f"refs/tags/{NAME}^{{commit}}")
    assert tagged == go.revision
    assert git(world.remote, "cat-file", "-t", f"refs/tags/{NAME}") == "tag"  # annotated
    message = git(world.remote, "tag", "-l", "--format=%(contents)", NAME)
    assert f"relctl: {NAME} payments-3.0.0" in message and "GO at" in message
    assert git(world.remote, "ls-remote", "--tags", ".").count(NAME) == 2  # tag and ^{}


def test_a_tag_of_the_same_name_elsewhere_is_reported_not_moved(world: World) -> None:
    git(world.human, "tag", NAME, "HEAD~0")
    git(world.human, "commit", "-q", "--allow-empty", "-m", "move on")
    git(world.human, "push", "-q", "origin", "main", f"refs/tags/{NAME}")
    before = git(world.remote, "rev-parse", f"refs/tags/{NAME}")
    reconciler = Reconciler(world.controller, {**os.environ, **world.env})
    failures: list[str] = []
    try:
        drive(
            world,
            phase("Monitoring"),
            reconciler,
            watch=lambda: failures.extend(
                o.detail
                for o in (reconciler.last_report.outcomes if reconciler.last_report else [])
                if o.failed
            ),
        )
    finally:
        reconciler.close()
    assert git(world.remote, "rev-parse", f"refs/tags/{NAME}") == before
    assert any(f"tag {NAME} exists" in f and "never moves a tag" in f for f in failures)


REFUSE_TAG_ONCE = """#!/bin/sh
# Refuses the first push of a tag: the pass dies between its tag and the tag's push.
while read old new ref; do
  case "$ref" in refs/tags/*)
    [ -f "{marker}" ] && exit 0
    touch "{marker}"; echo "refused once" >&2; exit 1;;
  esac
done
"""


def test_crashed_after_every_job_and_image_write_converges_without_duplicates(
    world: World, tmp_path: Path
) -> None:
    """After each Job create and image patch the reply is lost and the pass dies (a fresh
    Reconciler stands for the restarted process); the remote refuses the tag's first push.
    One Job per step, one patch per Deployment, one tag, every decision once."""
    crasher = Crasher()
    world.clusters["prod"].after_write = crasher
    hook = world.remote / "hooks" / "pre-receive"
    hook.write_text(REFUSE_TAG_ONCE.format(marker=tmp_path / "refused"), encoding="utf-8")
    hook.chmod(0o755)
    now = DEPARTURE
    for _ in range(12):
        crash_passes(world, crasher, now.isoformat())
        now += timedelta(minutes=1)
        world.advance(60.0)
    kills = Counter(path.rsplit("/", 1)[-1] for _, path in crasher.kills)
    assert kills["jobs"] == 2 and kills["ledger"] == kills["payments-api"] == 1, kills
    requests = world.clusters["prod"].requests
    assert len([p for _, p, _ in requests("POST") if p.endswith("/jobs")]) == 2
    patches = Counter(p.rsplit("/", 1)[-1] for _, p, _ in requests("PATCH"))
    assert patches["ledger"] == patches["payments-api"] == 1
    done = status(world)
    assert [d.decision.value for d in done.decisions] == ["GO", "ROLLOUT", "DEPLOYED"]
    assert (tmp_path / "refused").exists()
    tagged = git(world.remote, "rev-parse", f"refs/tags/{NAME}^{{commit}}")
    assert tagged == done.last("GO").revision
