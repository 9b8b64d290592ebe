"""relctl's guarantees over generated histories (README, "What relctl guarantees").

A hypothesis state machine takes the steps of `tests.support.histories` at random — but
realistic — and the real controller runs a pass after each one, over the emulators and a
bare git remote, on a simulated clock; every guarantee is checked after every pass.
The default run is bounded and derandomized (the same histories every time, a few
minutes at most); `-m histories` runs many more, seeded by $RELCTL_HISTORY_SEED.
Every history that once failed is kept under tests/data/histories/ and replayed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from tests.support.histories import COMPONENTS, DATA, History, replay

CASES = sorted(DATA.glob("case-*.yaml"))

release_index = st.integers(min_value=0, max_value=5)
tuesday = st.none() | st.integers(min_value=0, max_value=5)
component = st.sampled_from(COMPONENTS)


class Histories(RuleBasedStateMachine):
    """One example is one history, from a fresh world."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory(prefix="relctl-history-")
        self.history: History | None = None

    @initialize()
    def start(self) -> None:
        self.history = History(Path(self.tmp.name))
        self.history.run_pass()

    def step(self, **step: Any) -> None:
        assert self.history is not None
        self.history.apply(step)

    @precondition(lambda self: self.history is not None and len(self.history.declared) < 4)
    @rule(
        components=st.lists(component, min_size=1, max_size=3, unique=True),
        departure=tuesday,
        approved=st.booleans(),
        auto=st.booleans(),
        partial=st.booleans(),
        on_no_go=st.sampled_from(["delay", "hold"]),
        issues=st.integers(min_value=0, max_value=2),
    )
    def add_release(self, **fields: Any) -> None:
        self.step(op="add-release", **fields)

    # Time passing is what moves a release through its life: four rules (of twenty-one)
    # let it pass, so that most histories reach departures, rollouts and monitoring.
    @rule(minutes=st.sampled_from([10, 30, 60]), rollouts=st.sampled_from([0.5, 60.0]))
    def wait_minutes(self, minutes: int, rollouts: float) -> None:
        self.step(op="wait", minutes=minutes, rollouts=rollouts)

    @rule(minutes=st.sampled_from([120, 300, 720]))
    def wait_hours(self, minutes: int) -> None:
        self.step(op="wait", minutes=minutes)

    @rule(minutes=st.sampled_from([1440, 1680]))
    def wait_a_day(self, minutes: int) -> None:
        self.step(op="wait", minutes=minutes)

    @rule(minutes=st.sampled_from([2880, 4320, 10080]))
    def wait_days(self, minutes: int) -> None:
        self.step(op="wait", minutes=minutes)

    @rule(release=release_index, departure=tuesday)
    def move_release(self, release: int, departure: int | None) -> None:
        self.step(op="move-release", release=release, departure=departure)

    @rule(release=release_index, component=component)
    def add_component(self, release: int, component: str) -> None:
        self.step(op="add-component", release=release, component=component)

    @rule(release=release_index)
    def approve(self, release: int) -> None:
        self.step(op="approve", release=release)

    @rule(release=release_index, days=st.integers(min_value=-1, max_value=20))
    def override(self, release: int, days: int) -> None:
        self.step(op="override", release=release, days=days)

    @rule(release=release_index)
    def typo(self, release: int) -> None:
        self.step(op="typo", release=release)

    @rule(release=release_index)
    def delete_release(self, release: int) -> None:
        self.step(op="delete-release", release=release)

    @rule(start_hours=st.integers(min_value=-12, max_value=24 * 14), hours=st.integers(1, 72))
    def add_window(self, start_hours: int, hours: int) -> None:
        self.step(op="add-window", start_hours=start_hours, hours=hours)

    @rule(window=st.integers(min_value=0, max_value=3))
    def remove_window(self, window: int) -> None:
        self.step(op="remove-window", window=window)

    @rule(release=release_index, blocker=st.booleans())
    def open_issue(self, release: int, blocker: bool) -> None:
        self.step(op="open-issue", release=release, blocker=blocker)

    @rule(release=release_index)
    def close_issues(self, release: int) -> None:
        self.step(op="close-issues", release=release)

    @rule(release=release_index)
    def reopen_issue(self, release: int) -> None:
        self.step(op="reopen-issue", release=release)

    @rule(name=st.sampled_from(["v1", "v2", "v3", "v4", "2026.50"]))
    def create_version(self, name: str) -> None:
        self.step(op="create-version", name=name)

    @rule(release=release_index, component=component)
    def bad_image(self, release: int, component: str) -> None:
        self.step(op="bad-image", release=release, component=component)

    @rule(component=component)
    def hand_edit(self, component: str) -> None:
        self.step(op="hand-edit", component=component)

    @rule()
    def restart(self) -> None:
        self.step(op="restart")

    # People in control: suspend (or resume), abort, try again.
    @rule(release=release_index)
    def suspend(self, release: int) -> None:
        self.step(op="suspend", release=release)

    @rule(release=release_index)
    def abort(self, release: int) -> None:
        self.step(op="abort", release=release)

    @rule(release=release_index)
    def retry(self, release: int) -> None:
        self.step(op="retry", release=release)

    def teardown(self) -> None:
        try:
            if self.history is not None:
                try:
                    self.history.finish()
                finally:
                    self.history.close()
        finally:
            self.tmp.cleanup()


class GitHistories(Histories):
    """The same histories with api deployed by commits to an environment repository
    that a GitOps agent applies: the guarantees hold for both methods."""

    @initialize()
    def start(self) -> None:
        self.history = History(Path(self.tmp.name), method="git")
        self.history.run_pass()


EXAMPLES = int(os.environ.get("RELCTL_HISTORIES", "0") or 0)
CI_HISTORIES = 12
"""Histories the default run takes (about 7 s each here)."""


def bounded(machine: type[Histories], examples: int) -> None:
    """`examples` derandomized histories of 30 steps, no shrinking: what CI runs."""
    run = machine.TestCase
    run.settings = settings(
        max_examples=examples,
        stateful_step_count=30,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
        database=None,
    )
    run().runTest()


@pytest.mark.timeout(900)
def test_guarantees_hold_over_generated_histories() -> None:
    """The bounded run CI does: the same histories every time. No shrinking here (a
    failure names every step of its history; `-m histories` shrinks)."""
    bounded(Histories, CI_HISTORIES)


@pytest.mark.timeout(900)
def test_guarantees_hold_over_generated_histories_through_git() -> None:
    """The bounded run again, with the git method (fewer histories: each pass also runs
    the agents' kubectl)."""
    bounded(GitHistories, CI_HISTORIES // 2)


@pytest.mark.histories
@pytest.mark.timeout(0)
def test_guarantees_hold_over_many_seeded_histories() -> None:
    """`pytest -m histories`: $RELCTL_HISTORIES histories (default 200), seeded by
    $RELCTL_HISTORY_SEED (default 0)."""
    from hypothesis import seed

    run = seed(int(os.environ.get("RELCTL_HISTORY_SEED", "0")))(Histories.TestCase)
    run.settings = settings(
        max_examples=EXAMPLES or 200,
        stateful_step_count=40,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
        database=None,
    )
    run().runTest()


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_a_history_that_once_failed_holds(case: Path, tmp_path: Path) -> None:
    """Each kept history: what it found stays fixed."""
    document = yaml.safe_load(case.read_text(encoding="utf-8"))
    history = replay(tmp_path / "world", document["steps"])
    assert history.passes == len(document["steps"]) + 1
    for release, decisions in (document.get("expect") or {}).items():
        assert [d.decision.value for d in history.final[release].decisions] == decisions
