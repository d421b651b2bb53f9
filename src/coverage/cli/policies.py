"""``priorauth policies``: what payer policies are loaded, and checking a folder of policy files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from coverage.cli.app import app
from coverage.settings import load_settings

policies_app = typer.Typer(help="Payer policies: list what is loaded, validate a folder.", no_args_is_help=True)
app.add_typer(policies_app, name="policies")


@policies_app.command("list")
def list_policies() -> None:
    """The loaded policies: id, version, what each covers, and where it comes from."""
    from rich.console import Console
    from rich.table import Table

    from coverage.policies.loader import load_registry

    registry = load_registry(load_settings().policy_dir)
    table = Table("id", "version", "name", "esketamine", "iv_ketamine", "billing", "source")
    for item in registry.all():
        p = item.policy
        cells = []
        for treatment in ("esketamine", "iv_ketamine"):
            terms = p.for_treatment(treatment)
            if not terms.covered:
                cells.append("not covered")
            else:
                paths = ", ".join(f"{w.indication} {w.kind}" for w in terms.pathways)
                cells.append(("PA: " if terms.prior_authorization else "no PA: ") + paths)
        table.add_row(p.id, p.version, p.name, *cells, p.billing_scheme, "shipped" if item.builtin else item.source)
    Console().print(table)


@policies_app.command("validate")
def validate(folder: Annotated[Path, typer.Argument(help="A folder of policy files (.yaml).")]) -> None:
    """Check every policy file in a folder; name every problem (exit 2 when there is one)."""
    from coverage.policies.loader import load_folder

    loaded = load_folder(folder)
    for item in loaded:
        print(f"ok {item.policy.id} {item.policy.version} {item.source}")
    print(f"{len(loaded)} policies valid")
