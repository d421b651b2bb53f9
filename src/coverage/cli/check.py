"""``priorauth check``: what the payer's policy says about a case, criterion by criterion."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from coverage.cli.app import app
from coverage.determinations import Determination
from coverage.errors import InvalidCase, InvalidInput
from coverage.fields import MAX_CASE_BYTES
from coverage.settings import load_settings

STATUS_STYLE = {"met": "green", "not_met": "red", "missing": "yellow"}


def read_case_text(path: Path) -> bytes:
    """A case file's bytes, or a one-line error naming the file."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CASE_BYTES + 1)
    except OSError as error:
        raise InvalidInput([f"{path}: cannot read ({error.strerror})"]) from None
    if len(data) > MAX_CASE_BYTES:
        raise InvalidInput([f"{path}: larger than {MAX_CASE_BYTES // 1024} KB; a case is a few KB"])
    return data


def print_determination(determination: Determination) -> None:
    """A readable table of one determination."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    d = determination
    policy = f"{d.policy_id} {d.policy_version}" if d.policy_id else "no policy (self-pay)"
    console.print(
        f"[bold]{d.case_id}[/bold]  {d.treatment} {d.indication} {d.kind}  policy {policy}\n"
        f"outcome [bold]{d.outcome}[/bold]  next step [bold]{d.next_step}[/bold]"
    )
    table = Table(show_header=True, header_style="bold")
    table.add_column("criterion")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for c in d.criteria:
        table.add_row(c.id, f"[{STATUS_STYLE[c.status]}]{c.status}[/]", c.detail)
    console.print(table)
    days = f"{d.authorization_days} days" if d.authorization_days is not None else "none"
    billing = ", ".join(f"{b.code} x{b.units}" + (f"-{b.modifier}" if b.modifier else "") for b in d.billing)
    alternatives = ", ".join(f"{a.treatment} {a.indication}: {a.outcome}" for a in d.alternatives)
    console.print(f"authorization period: {days}\nbilling: {billing or 'none'}\nalternative: {alternatives}\n")


def _run_batch(batch: Path, out: Path | None) -> None:
    import gc

    from coverage.policies.service import Checker, check_batch

    gc.enable()  # a long run: the command line starts with the collector off (check_batch freezes what lasts)
    if out is None:
        raise InvalidInput(["--out: required with --batch"])
    checker = Checker.from_settings(load_settings())
    try:
        source = batch.open("rb")
    except OSError as error:
        raise InvalidInput([f"--batch: cannot read {batch} ({error.strerror})"]) from None
    if out.exists() and out.resolve() == batch.resolve():
        source.close()
        raise InvalidInput([f"--out: {out} is the input file; write the determinations elsewhere"])
    try:
        sink = out.open("w", encoding="utf-8")
    except OSError as error:
        source.close()
        raise InvalidInput([f"--out: cannot write {out} ({error.strerror})"]) from None
    with source, sink:
        if sys.stderr.isatty():
            from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

            columns = (BarColumn(), DownloadColumn(), TimeRemainingColumn())
            with Progress(*columns, transient=True) as bar:
                task = bar.add_task("checking", total=batch.stat().st_size)
                summary = check_batch(checker, source, sink, progress=lambda n: bar.advance(task, n))
        else:
            summary = check_batch(checker, source, sink)
    print(f"{summary.lines} cases checked, {summary.invalid} invalid; determinations in {out}", file=sys.stderr)


@app.command()
def check(
    cases: Annotated[list[Path] | None, typer.Argument(help="Case files (JSON).", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the determination as JSON.")] = False,
    batch: Annotated[Path | None, typer.Option("--batch", help="A JSON Lines file of cases.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Where --batch writes its JSON Lines.")] = None,
) -> None:
    """Check cases against their payer's policy: outcome, next step and every criterion."""
    if batch is not None:
        if cases:
            raise InvalidInput(["CASES: give case files or --batch, not both"])
        _run_batch(batch, out)
        return
    if not cases:
        raise InvalidInput(["CASES: give at least one case file, or --batch"])
    from coverage.policies.service import Checker

    checker = Checker.from_settings(load_settings())
    determinations: list[Determination] = []
    problems: list[str] = []
    for path in cases:
        try:
            determinations.append(checker.check(read_case_text(path)))
        except InvalidCase as error:
            prefix = f"{path}: " if len(cases) > 1 else ""
            problems.extend(prefix + problem for problem in error.problems)
    if problems:
        raise InvalidCase(problems)
    for determination in determinations:
        if as_json:
            indent = 2 if len(determinations) == 1 else None
            print(json.dumps(determination.to_dict(), indent=indent))
        else:
            print_determination(determination)
