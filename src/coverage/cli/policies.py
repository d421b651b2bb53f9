"""``priorauth policies``: what payer policies are loaded, checking a folder, and the impact of a revision."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from coverage.cli.app import app
from coverage.settings import load_settings

policies_app = typer.Typer(
    help="Payer policies: list every version, validate a folder, see which open requests a revision changes.",
    no_args_is_help=True,
)
app.add_typer(policies_app, name="policies")


@policies_app.command("list")
def list_policies(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per version, as a list.")] = False,
) -> None:
    """Every loaded policy version: id, version, in effect from and until, what it covers, where it comes from."""
    from coverage.policies.loader import load_registry

    registry = load_registry(load_settings().policy_dir)
    rows: list[dict[str, Any]] = []
    for item in registry.all():
        p = item.policy
        until = registry.until(item)
        row: dict[str, Any] = {
            "id": p.id,
            "version": p.version,
            "from": p.effective_date.isoformat(),
            "until": until.isoformat() if until is not None else None,
            "name": p.name,
            "billing_scheme": p.billing_scheme,
            "hash": item.hash,
            "source": "shipped" if item.builtin else item.source,
        }
        for treatment in ("esketamine", "iv_ketamine"):
            terms = p.for_treatment(treatment)
            if not terms.covered:
                row[treatment] = "not covered"
            else:
                paths = ", ".join(f"{w.indication} {w.kind}" for w in terms.pathways)
                row[treatment] = ("PA: " if terms.prior_authorization else "no PA: ") + paths
        rows.append(row)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "version", "from", "until", "name", "esketamine", "iv_ketamine", "billing", "source")
    for row in rows:
        table.add_row(
            row["id"],
            row["version"],
            row["from"],
            row["until"] or "",
            row["name"],
            row["esketamine"],
            row["iv_ketamine"],
            row["billing_scheme"],
            row["source"],
        )
    Console().print(table)


@policies_app.command("validate")
def validate(folder: Annotated[Path, typer.Argument(help="A folder of policy files (.yaml).")]) -> None:
    """Check every policy file in a folder, with the shipped policies; name every problem (exit 2 when there is one)."""
    from coverage.policies.loader import PolicyRegistry, builtin_folder, load_folder

    loaded = load_folder(folder)
    # Together with the shipped versions: a new version may not take effect the day another does.
    PolicyRegistry([*load_folder(builtin_folder(), builtin=True), *loaded])
    for item in loaded:
        print(f"ok {item.policy.id} {item.policy.version} {item.source}")
    print(f"{len(loaded)} policies valid")
