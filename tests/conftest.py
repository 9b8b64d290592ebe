"""Shared fixtures: the repository root and a fixed instant for time-dependent checks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
SHOP = DATA / "shop"
"""The shop the tests are written against: a copy of the demo's manifests as they were,
so that changing the demo's releases/ changes no test."""
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@pytest.fixture
def repo() -> Path:
    return REPO


SLOW = {
    "test_guarantees_hold_over_generated_histories",
    "test_guarantees_hold_over_generated_histories_through_git",
    "test_killed_at_every_git_step_converges_without_duplicates",
    "test_crashed_after_every_write_converges_without_duplicates",
    "test_leader_killed_mid_rollout_standby_completes",
    "test_demo_runs_the_story_and_keeps_its_artifacts",
    "test_an_error_rate_above_the_threshold_rolls_back_with_its_evidence",
    "test_latency_above_twice_its_baseline_rolls_back",
    "test_a_healthy_image_is_measured_and_stays",
    "test_no_traffic_is_inconclusive_not_a_rollback",
    "test_prometheus_gone_is_an_error_never_a_pass",
    "test_a_metric_gate_says_no_go_while_production_errors_and_go_once_it_does_not",
    "test_a_query_prometheus_refuses_is_an_error_naming_the_query_in_the_manifest",
    "test_a_flag_stage_whose_analysis_passed_advances",
    "test_a_flag_stage_whose_analysis_fails_goes_back_to_the_previous_stage",
    "test_a_flag_stage_with_no_traffic_is_held",
    "test_a_metric_gate_with_no_data_or_no_prometheus_is_not_go",
    "test_a_flag_stage_without_prometheus_is_held",
    "test_an_analysis_asks_the_prometheus_its_provider_names",
    "test_a_metric_gate_fails_on_latency_above_twice_its_recent_mean",
    "test_a_flag_stage_fails_on_latency_above_twice_its_mean_before_the_rollout",
    "test_a_rollout_commits_each_image_in_dependency_order",
    "test_a_persons_commit_landing_during_the_push_is_kept",
    "test_a_failed_rollout_is_rolled_back_by_a_new_commit",
    "test_a_pass_killed_after_its_push_repeats_nothing",
    "test_a_persons_commit_to_the_environment_is_drift_and_self_heal_commits_it_back",
    "test_a_helm_values_key_is_rolled_out_and_back_by_commits",
    "test_a_flux_helmrelease_names_the_chart_revision_it_applied",
    "test_killed_at_every_environment_git_step_commits_each_image_once",
    "test_flags_are_committed_to_the_environment_and_a_persons_edit_is_undone",
    "test_an_agent_that_lags_is_waited_for_and_nothing_is_committed_twice",
    "test_the_live_dashboard_and_its_static_build_in_a_browser",
}
"""Tests over five seconds: `pytest -m 'not slow'` is the quick loop."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`e2e`: every test under tests/e2e (processes, whole lives); `slow`: see SLOW."""
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.e2e)
        if getattr(item, "originalname", item.name) in SLOW:
            item.add_marker(pytest.mark.slow)
