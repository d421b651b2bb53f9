"""The Typer application that every command module registers on."""

from __future__ import annotations

import gc
import os

import typer

# Every command module imports this one first. A command lives for a second and makes few,
# short-lived objects: the cyclic collector costs more than it frees while the modules load.
# Commands that run long (demo, web, batches) turn it on again.
gc.disable()
# pydantic looks for plugins among every installed package's entry points at first use (a
# twentieth of a second); priorauth uses none.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

app = typer.Typer(
    name="priorauth",
    help="Coverage and prior-authorization workflow for ketamine and esketamine treatment.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
