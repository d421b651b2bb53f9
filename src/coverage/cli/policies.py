"""``priorauth policies``: what payer policies are loaded, checking a folder, and the impact of a revision."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from coverage.cli.app import app
from coverage.settings import load_settings

if TYPE_CHECKING:
    import datetime as dt

    from coverage.policies.loader import LoadedPolicy
    from coverage.services.impact import Comparison

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
    texts: list[dict[str, str]] = []  # each row's terms, shorter, for the text listing
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
        shorts: dict[str, str] = {}
        for treatment in ("esketamine", "iv_ketamine"):
            terms = p.for_treatment(treatment)
            if not terms.covered:
                row[treatment] = shorts[treatment] = "not covered"
            else:
                paths = ", ".join(f"{w.indication} {w.kind}" for w in terms.pathways)
                row[treatment] = ("PA: " if terms.prior_authorization else "no PA: ") + paths
                kinds: dict[str, list[str]] = {}
                for w in terms.pathways:
                    kinds.setdefault(w.indication, []).append(w.kind)
                short = "; ".join(f"{indication} {', '.join(k)}" for indication, k in kinds.items())
                shorts[treatment] = ("PA: " if terms.prior_authorization else "no PA: ") + short
        rows.append(row)
        texts.append(shorts)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    from coverage.cli.columns import print_columns

    print_columns(
        ["id", "version", "from", "until", "billing", "source"],
        [[r["id"], r["version"], r["from"], r["until"] or "", r["billing_scheme"], r["source"]] for r in rows],
    )
    for r, shortened in zip(rows, texts, strict=True):
        print(f"\n{r['id']} {r['version']}: {r['name']}")
        for treatment in ("esketamine", "iv_ketamine"):
            print(f"  {treatment + ':':<12} {shortened[treatment]}")


@policies_app.command("validate")
def validate(folder: Annotated[Path, typer.Argument(help="A folder of policy files (.yaml or .yml).")]) -> None:
    """Check every policy file in a folder, with the shipped policies; name every problem (exit 2 when there is one).

    With the folder installed, every policy id must have a version in effect today (the clinic's)
    and on the ``as_of`` day of each of its open requests.
    """
    from coverage.errors import InvalidPolicy
    from coverage.policies.loader import PolicyRegistry, builtin_folder, load_folder, read_folder
    from coverage.requests.clocks import clinic_today
    from coverage.services.impact import open_request_days
    from coverage.store.db import open_database

    loaded, problems = read_folder(folder)
    # Together with the shipped versions: a new version may not take effect the day another does.
    registry = PolicyRegistry([*load_folder(builtin_folder(), builtin=True), *loaded], strict=False)
    problems.extend(registry.problems)
    if not registry.problems:
        problems.extend(registry.gaps([(clinic_today(), "today")]))
        database = open_database(load_settings())
        try:
            by_id = open_request_days(database.unit_of_work(), registry.ids())
        finally:
            database.dispose()
        for policy_id, days in sorted(by_id.items()):
            problems.extend(
                registry.gaps([(day, "the as_of of an open request") for day in sorted(days)], ids=[policy_id])
            )
    if problems:
        raise InvalidPolicy(problems)
    for item in loaded:
        print(f"ok {item.policy.id} {item.policy.version} {item.source}")
    print(f"{len(loaded)} policies valid")


@policies_app.command("impact")
def impact(
    file: Annotated[Path, typer.Argument(help="A revised policy file (.yaml or .yml) of a loaded policy id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Which open requests a policy revision changes; stores nothing.

    Each open request of the file's policy id (draft, ready, pended and submitted requests, and
    approved ones whose continuation is not yet sent) is evaluated as of the later of the file's
    effective date and today (the clinic's): under the version in effect that day without the
    file, and under the one in effect with it installed. Each request whose outcome or any
    criterion changes is listed with the criteria that changed.
    """
    import sys

    from coverage.policies.loader import read_policy_file, shown
    from coverage.policies.service import Checker
    from coverage.requests.clocks import clinic_today
    from coverage.services.impact import RequestChange, compare
    from coverage.services.impact import impact as run_impact
    from coverage.store.db import open_database

    revision = read_policy_file(file)
    settings = load_settings()
    checker = Checker.from_settings(settings)
    today = clinic_today()
    comparison = compare(revision, checker.registry, today)  # refuse a bad revision before any output
    policy = revision.policy
    out = sys.stdout
    first = True

    def changed(change: RequestChange) -> None:
        nonlocal first
        if as_json:
            out.write(("\n    " if first else ",\n    ") + json.dumps(change.to_dict(), separators=(", ", ": ")))
        else:
            out.write(f"request {change.request_id}: {change.outcome_from} -> {change.outcome_to}\n")
            for c in change.criteria:
                out.write(f"  {c.id}: {c.before or 'not listed'} -> {c.after or 'not listed'}: {c.detail}\n")
        first = False

    header = _impact_header(comparison, policy.effective_date, today)
    if as_json:
        out.write(f'{{\n  "policy_id": {json.dumps(policy.id)},\n  "version": {json.dumps(policy.version)},\n')
        heading = {
            "as_of": comparison.day.isoformat(),
            "version_before": _version(comparison.before),
            "version_after": _version(comparison.after),
            "installed": comparison.installed,
        }
        out.write("".join(f"  {json.dumps(k)}: {json.dumps(v)},\n" for k, v in heading.items()))
        out.write('  "changed": [')
    else:
        out.write(f"{policy.id} {policy.version} ({shown(file)}): {header}\n")
    database = open_database(settings)
    try:
        summary = run_impact(
            revision,
            uow=database.unit_of_work(),
            checker=checker,
            changed=changed,
            today=today,
            comparison=comparison,
        )
    finally:
        database.dispose()
    problems = [*comparison.problems, *summary.problems]
    if as_json:
        out.write("\n  ]" if not first else "]")
        out.write(f',\n  "evaluated": {summary.evaluated},\n  "unreadable": {summary.unreadable},\n')
        out.write(f'  "problems": {json.dumps(problems)}\n}}\n')
        return
    out.write(
        f"{summary.evaluated} open requests of {policy.id} evaluated as of {comparison.day.isoformat()}: "
        f"version {_version(comparison.before)} -> {_version(comparison.after)}; {summary.changed} changed"
        + (f"; {summary.unreadable} stored cases could not be read" if summary.unreadable else "")
        + "\n"
    )
    for problem in problems:
        out.write(f"warning: with this file installed, {problem}\n")


def _version(item: LoadedPolicy | None) -> str:
    return item.policy.version if item is not None else "none"


def _impact_header(comparison: Comparison, effective: dt.date, today: dt.date) -> str:
    """The rule ``policies impact`` follows, with its day and the two versions compared."""
    header = (
        f"evaluated as of {comparison.day.isoformat()} (the later of the file's effective date "
        f"{effective.isoformat()} and today {today.isoformat()}): the version in effect that day without "
        f"the file ({_version(comparison.before)}) against the one with it ({_version(comparison.after)})"
    )
    if comparison.installed:
        header += "; this file is already installed (the same content is loaded): it is compared with itself"
    return header
