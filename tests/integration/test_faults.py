"""Fault injection: every call relctl makes to Jira, a cluster or the git remote has a
deadline and fails with a classified error — slow, black-holed, 429, 5xx, reset — within
bounded time; nothing hangs. Each fault is a real socket on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.adapters.git import GitError, StatusRepository
from controller.adapters.jira import JiraClient, JiraError, settings_from
from controller.adapters.kube import KubeCluster, KubeError
from controller.errors import Disposition
from controller.manifests.config import ClusterConfig, GitConfig, JiraConfig
from controller.sandbox.jira import JiraSandbox
from tests.support.faults import Fault

ENV = {"RELCTL_JIRA_EMAIL": "relctl@shop.example", "RELCTL_JIRA_TOKEN": "t0ps3cret"}


def jira_client(url: str, timeout: float = 0.5) -> JiraClient:
    config = JiraConfig.model_validate(
        {
            "url": "https://jira.invalid",
        }
    )
    settings = dataclasses.replace(
        settings_from(config, {**ENV, "RELCTL_JIRA_URL": url}), timeout=timeout, max_attempts=3
    )
    return JiraClient(settings, sleep=lambda _: None)


@pytest.fixture
def jira() -> Iterator[JiraSandbox]:
    with JiraSandbox("cloud") as sandbox:
        sandbox.state.add_user(ENV["RELCTL_JIRA_EMAIL"], ENV["RELCTL_JIRA_TOKEN"])
        sandbox.state.add_project("PAY")
        yield sandbox


@pytest.mark.parametrize("kind", ["black-hole", "reset"])
def test_jira_unreachable_fails_in_bounded_time(kind: str) -> None:
    with Fault(kind) as fault, jira_client(fault.url) as jc:
        started = time.monotonic()
        with pytest.raises(JiraError) as error:
            jc.versions("PAY")
        assert time.monotonic() - started < 5
    assert error.value.disposition is Disposition.TRANSIENT
    assert fault.accepted >= 1


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_jira_errors_are_retried_then_classified(jira: JiraSandbox, status: int) -> None:
    jira.inject(status, count=2)
    with jira_client(jira.url) as jc:
        assert jc.versions("PAY") == []  # recovered on the third attempt
    jira.inject(status, count=3)
    with jira_client(jira.url) as jc, pytest.raises(JiraError) as error:
        jc.versions("PAY")
    assert error.value.disposition is Disposition.TRANSIENT


def test_a_jira_500_is_left_to_the_next_pass(jira: JiraSandbox) -> None:
    jira.inject(500, count=1)
    with jira_client(jira.url) as jc, pytest.raises(JiraError) as error:
        jc.versions("PAY")
    assert error.value.disposition is Disposition.TRANSIENT


def test_a_slow_jira_times_out(jira: JiraSandbox) -> None:
    jira.latency = 2.0
    with jira_client(jira.url, timeout=0.3) as jc:
        started = time.monotonic()
        with pytest.raises(JiraError, match="did not answer"):
            jc.versions("PAY")
        assert time.monotonic() - started < 3


def kubeconfig(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: '{url}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    return path


@pytest.mark.parametrize("kind", ["black-hole", "reset", "503", "429"])
def test_a_cluster_unreachable_fails_in_bounded_time(tmp_path: Path, kind: str) -> None:
    with Fault(kind) as fault:
        settings = ClusterConfig(context="c", kubeconfig=str(kubeconfig(tmp_path, fault.url)))
        cluster = KubeCluster.connect("prod", settings)
        cluster.set_timeout(1.0, 1.0)
        started = time.monotonic()
        with pytest.raises(KubeError) as error:
            cluster.observe(["shop"])
        assert time.monotonic() - started < 8
        cluster.close()
    # Too many requests is a wait the server asks for; the others are retried with back-off.
    expected = Disposition.WAITING if kind == "429" else Disposition.TRANSIENT
    assert error.value.disposition is expected
    # The wait the server named (Retry-After: 1) is carried to the loop.
    assert error.value.requeue_after == (1.0 if kind in ("503", "429") else None)


def test_the_default_cluster_deadline_is_set(tmp_path: Path) -> None:
    settings = ClusterConfig(
        context="c", kubeconfig=str(kubeconfig(tmp_path, "http://127.0.0.1:9"))
    )
    cluster = KubeCluster.connect("prod", settings)
    assert cluster.api.timeout == (5.0, 30.0)
    cluster.close()


@pytest.mark.parametrize("kind", ["black-hole", "reset", "503"])
def test_a_git_remote_unreachable_fails_in_bounded_time(tmp_path: Path, kind: str) -> None:
    work = tmp_path / "work"
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(work),
            "-c",
            "user.name=a",
            "-c",
            "user.email=a@b.c",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "start",
        ],
        check=True,
    )
    with Fault(kind) as fault:
        subprocess.run(
            ["git", "-C", str(work), "remote", "add", "origin", f"{fault.url}/repo.git"],
            check=True,
        )
        repo = StatusRepository(work, GitConfig())
        repo.network_timeout = 2.0
        started = time.monotonic()
        with pytest.raises(GitError) as error:
            repo.fetch()
        with pytest.raises(GitError):
            repo.push()
        assert time.monotonic() - started < 10
        repo.close()
    assert error.value.disposition is Disposition.TRANSIENT
    if kind == "black-hole":
        assert "no answer within 2 s" in str(error.value)


def test_clusters_retry_a_failed_connection_once(tmp_path: Path) -> None:
    settings = ClusterConfig(
        context="c", kubeconfig=str(kubeconfig(tmp_path, "http://127.0.0.1:9"))
    )
    cluster = KubeCluster.connect("prod", settings)
    assert cluster.api.configuration.retries == 1
    cluster.close()
