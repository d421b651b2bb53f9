"""The Typer application that every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="priorauth",
    help="Coverage and prior-authorization workflow for ketamine and esketamine treatment.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
