"""The `relctl` command line: click parses, small `build_*` functions wire the pieces, and
reporters render. Only `main` catches broad exceptions, mapping them to exit codes:
0 ok, 1 findings or invalid input, 2 usage, 3 internal error."""

from __future__ import annotations

import os
import sys

import click

from controller import __version__
from controller.cli import calendar, flags, jira, leader, sandbox, schema, validate, windows
from controller.errors import RelctlError, UsageError

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="relctl")
def cli() -> None:
    """relctl: releases, trains, feature flags and blackout windows, declared in git and
    reconciled against Jira and Kubernetes."""


cli.add_command(validate.command)
cli.add_command(calendar.command)
cli.add_command(schema.group)
cli.add_command(windows.group)
cli.add_command(jira.readiness_command)
cli.add_command(jira.notes_command)
cli.add_command(sandbox.group)
cli.add_command(flags.group)
cli.add_command(leader.command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point; never lets a traceback reach the user unless RELCTL_DEBUG=1."""
    try:
        code = cli.main(args=argv, prog_name="relctl", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        code = 130
    except click.ClickException as exc:
        exc.show()
        code = EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code
    except UsageError as exc:
        click.echo(f"relctl: {exc}", err=True)
        code = EXIT_USAGE
    except RelctlError as exc:
        click.echo(f"relctl: {exc}", err=True)
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
