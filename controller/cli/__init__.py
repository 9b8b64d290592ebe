"""The `relctl` command line: click parses, small `build_*` functions wire the pieces, and
reporters render. Only `main` catches broad exceptions, mapping them to exit codes:
0 ok, 1 findings or invalid input, 2 usage, 3 internal error."""

from __future__ import annotations

import importlib
import os
import sys

import click

from controller import __version__
from controller.errors import RelctlError

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


# Command name → "module:attribute". Commands load on first use, so `relctl validate` does
# not pay for importing the Kubernetes client, httpx and icalendar (~0.2 s).
COMMANDS = {
    "validate": "controller.cli.validate:command",
    "calendar": "controller.cli.calendar:command",
    "schema": "controller.cli.schema:group",
    "windows": "controller.cli.windows:group",
    "readiness": "controller.cli.jira:readiness_command",
    "notes": "controller.cli.jira:notes_command",
    "sandbox": "controller.cli.sandbox:group",
    "flags": "controller.cli.flags:group",
    "notify": "controller.cli.notify:group",
    "leader": "controller.cli.leader:command",
    "plan": "controller.cli.reconcile:plan_command",
    "reconcile": "controller.cli.reconcile:reconcile_command",
    "status": "controller.cli.reconcile:status_command",
    "controller": "controller.cli.controller:command",
    "demo": "controller.cli.demo:command",
    "dashboard": "controller.cli.dashboard:group",
    "suspend": "controller.cli.control:suspend_command",
    "resume": "controller.cli.control:resume_command",
    "abort": "controller.cli.control:abort_command",
    "retry": "controller.cli.control:retry_command",
    "approve": "controller.cli.control:approve_command",
    "completion": "controller.cli.completion:command",
}


class LazyGroup(click.Group):
    """click's lazily loading group: subcommands are imported when invoked or listed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="relctl")
@click.option(
    "--no-color",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=lambda _ctx, _param, value: os.environ.__setitem__("NO_COLOR", "1") if value else None,
    help="No colour (also: $NO_COLOR, or output that is not a terminal).",
)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False),
    expose_value=False,
    callback=lambda _ctx, _param, value: _set_env("RELCTL_KUBECONFIG", value),
    help="kubeconfig file for every cluster, instead of relctl.yaml's (and $KUBECONFIG).",
)
@click.option(
    "--context",
    "contexts",
    multiple=True,
    metavar="[CLUSTER=]CONTEXT",
    expose_value=False,
    callback=lambda _ctx, _param, value: _set_contexts(value),
    help="kubeconfig context for CLUSTER (or, bare, for every cluster) instead of "
    "relctl.yaml's. Repeatable.",
)
def cli() -> None:
    """relctl: releases, trains, feature flags and blackout windows, declared in git and
    reconciled against Jira and Kubernetes."""


def _set_env(name: str, value: str | None) -> None:
    if value:
        os.environ[name] = value


def _set_contexts(values: tuple[str, ...]) -> None:
    for value in values:
        cluster, _, context = value.rpartition("=")
        if not context:
            raise click.BadParameter(f"{value!r}: give CONTEXT or CLUSTER=CONTEXT")
        variable = "RELCTL_CONTEXT" + (
            "_" + "".join(c if c.isalnum() else "_" for c in cluster.upper()) if cluster else ""
        )
        os.environ[variable] = context


def main(argv: list[str] | None = None) -> None:
    """Console entry point; never lets a traceback reach the user unless RELCTL_DEBUG=1."""
    try:
        # Every option can also come from $RELCTL_<COMMAND>_<OPTION> (e.g. RELCTL_PLAN_OUTPUT).
        code = cli.main(
            args=argv, prog_name="relctl", standalone_mode=False, auto_envvar_prefix="RELCTL"
        )
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        code = 130
    except click.ClickException as exc:
        exc.show()
        code = EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code
    except RelctlError as exc:
        click.echo(f"relctl: {exc}", err=True)
        code = EXIT_FINDINGS
    except OSError as exc:
        # A file the user named cannot be read or written (no such folder, disk full, ...).
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"relctl: {where}{exc.strerror or exc}", err=True)
        code = EXIT_FINDINGS
    except Exception as exc:
        if os.environ.get("RELCTL_DEBUG") == "1":
            raise
        click.echo(
            f"relctl: internal error: {type(exc).__name__}: {exc} "
            "(set RELCTL_DEBUG=1 for a traceback)",
            err=True,
        )
        code = EXIT_INTERNAL
    sys.exit(code if isinstance(code, int) else EXIT_OK)
