"""The CLI's output conventions, as kubectl, argocd, flux and helm users expect them:
`-o/--output FORMAT` on every command that prints data (yaml wherever there is json),
`--output-file FILE` where a file is written, the old spellings kept one release with a
notice, colour never with NO_COLOR or --no-color, options from $RELCTL_* variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from controller.cli import cli
from tests.conftest import NOW, REPO, SHOP

DATA_COMMANDS = [
    ["validate", "--root", str(SHOP)],
    ["plan", "--offline", "--root", str(SHOP), "--at", NOW.isoformat()],
    ["status", "--root", str(SHOP)],
    ["calendar", "--root", str(SHOP), "--now", NOW.isoformat()],
    ["windows", "check", "checkout", "--root", str(SHOP), "--at", NOW.isoformat()],
    ["flags", "status", "--root", str(SHOP), "--at", NOW.isoformat(), "--no-drift"],
    ["flags", "render", "--root", str(SHOP), "--at", NOW.isoformat()],
]


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controller", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=REPO,
        check=False,
    )


@pytest.mark.parametrize("argv", DATA_COMMANDS, ids=[" ".join(a[:2]) for a in DATA_COMMANDS])
def test_every_data_command_prints_json_and_yaml(argv: list[str]) -> None:
    as_json = CliRunner().invoke(cli, [*argv, "-o", "json"])
    as_yaml = CliRunner().invoke(cli, [*argv, "-o", "yaml"])
    assert as_json.exit_code in (0, 1), as_json.output
    assert as_yaml.exit_code == as_json.exit_code
    assert yaml.safe_load(as_yaml.stdout) == json.loads(as_json.stdout)


def test_a_format_that_does_not_exist_names_those_that_do() -> None:
    done = CliRunner().invoke(cli, ["status", "--root", str(SHOP), "-o", "xml"])
    assert done.exit_code == 2
    assert "'xml' is not an output format; choose text, json, yaml" in done.output


def test_old_spellings_work_with_a_notice(tmp_path: Path) -> None:
    old = run("plan", "--offline", "--root", str(SHOP), "--at", NOW.isoformat(), "--format", "json")
    assert old.returncode == 0
    assert json.loads(old.stdout)["at"]
    assert "--format json is deprecated" in old.stderr and "use -o json" in old.stderr
    out = tmp_path / "cal.ics"
    old_file = run("calendar", "--root", str(SHOP), "--now", NOW.isoformat(), "--format", "ics",
                   "-o", str(out))  # fmt: skip
    assert old_file.returncode == 0 and out.read_bytes().startswith(b"BEGIN:VCALENDAR")
    assert f"use --output-file {out}" in old_file.stderr
    clash = run("status", "--root", str(SHOP), "-o", "json", "--format", "text")
    assert clash.returncode == 2 and "disagree" in clash.stderr


def test_options_come_from_relctl_variables() -> None:
    done = run("plan", "--offline", "--at", NOW.isoformat(), RELCTL_OUTPUT="json",
               RELCTL_ROOT=str(SHOP))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["at"]
    # Any option of any command: $RELCTL_<COMMAND>_<OPTION>.
    done = run("plan", "--at", NOW.isoformat(), "-o", "json", RELCTL_PLAN_OFFLINE="1",
               RELCTL_ROOT=str(SHOP))  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_no_colour_when_asked_or_not_a_terminal() -> None:
    """Through a pseudo-terminal: colour by default, none with NO_COLOR or --no-color."""
    case = str(REPO / "tests/data/invalid/warning-zone-without-dst.yaml")
    args = ("validate", "--root", str(REPO / "tests/data/invalid"), case)
    assert "\x1b[" in on_a_terminal(*args)
    assert "\x1b[" not in on_a_terminal(*args, NO_COLOR="1")
    assert "\x1b[" not in on_a_terminal("--no-color", *args)
    assert "\x1b[" not in run(*args).stdout  # a pipe is not a terminal


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell: str) -> None:
    done = run("completion", shell)
    assert done.returncode == 0 and "_RELCTL_COMPLETE" in done.stdout


def complete(words: str, cwd: Path) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "controller"],
        env={**os.environ, "_RELCTL_COMPLETE": "bash_complete", "COMP_WORDS": words,
             "COMP_CWORD": str(len(words.split()) - 1)},
        cwd=cwd, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return [line.split(",", 1)[1] for line in done.stdout.splitlines() if "," in line]


def test_release_and_component_names_complete_from_the_repository() -> None:
    assert complete("relctl status shop", SHOP) == ["shop-2026-25"]
    assert complete("relctl suspend pay", SHOP) == ["payments-2026-25", "payments-hotfix-2-4-1"]
    assert complete("relctl windows check chec", SHOP) == ["checkout"]
    assert "suspend" in complete("relctl sus", SHOP)


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    ctx = click.Context(group)
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        found.append((*path, name))
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
    return found


@pytest.mark.parametrize("path", _commands(cli), ids=lambda p: " ".join(p))
def test_every_command_shows_an_example(path: tuple[str, ...]) -> None:
    done = CliRunner().invoke(cli, [*path, "--help"])
    assert done.exit_code == 0
    assert "Example" in done.output, f"relctl {' '.join(path)} --help shows no example"


KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- {name: one, cluster: {server: "https://127.0.0.1:6441"}}
- {name: two, cluster: {server: "https://127.0.0.1:6442"}}
users:
- {name: u, user: {token: t}}
contexts:
- {name: first, context: {cluster: one, user: u}}
- {name: second, context: {cluster: two, user: u}}
current-context: first
"""


def test_kubeconfig_and_context_override_relctl_yaml(tmp_path: Path) -> None:
    from controller.adapters.kube import KubeCluster
    from controller.manifests.config import ClusterConfig

    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    declared = ClusterConfig.model_validate({"context": "first", "kubeconfig": "/nowhere"})

    def host(env: dict[str, str]) -> str:
        cluster = KubeCluster.connect("prod-eu", declared, env)
        return str(cluster.api.configuration.host)

    assert host({"RELCTL_KUBECONFIG": str(path)}) == "https://127.0.0.1:6441"
    assert host({"RELCTL_KUBECONFIG": str(path), "RELCTL_CONTEXT": "second"}).endswith(":6442")
    assert host(
        {"RELCTL_KUBECONFIG": str(path), "RELCTL_CONTEXT_PROD_EU": "second",
         "RELCTL_CONTEXT": "first"}
    ).endswith(":6442")  # fmt: skip
    done = CliRunner().invoke(cli, ["--context", "=", "status", "--root", str(SHOP)])
    assert done.exit_code == 2 and "CLUSTER=CONTEXT" in done.output


def on_a_terminal(*args: str, **env: str) -> str:
    """A command's output through a pseudo-terminal, as a person sees it."""
    import pty

    primary, secondary = pty.openpty()
    try:
        subprocess.run(
            [sys.executable, "-m", "controller", *args],
            stdout=secondary, stderr=secondary, env={**os.environ, "COLUMNS": "160", **env},
            cwd=REPO, check=False, timeout=60,
        )  # fmt: skip
    finally:
        os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    return b"".join(chunks).decode(errors="replace")


def test_plan_is_a_table_in_a_terminal_and_plain_text_elsewhere() -> None:
    args = ("plan", "--offline", "--root", str(SHOP), "--at", NOW.isoformat())
    coloured = on_a_terminal(*args)
    assert "Releases" in coloured and "─" in coloured and "\x1b[" in coloured
    plain_table = on_a_terminal(*args, NO_COLOR="1")
    assert "─" in plain_table and "\x1b[" not in plain_table
    piped = run(*args).stdout
    assert piped.startswith("Plan at ") and "─" not in piped and "\x1b[" not in piped
