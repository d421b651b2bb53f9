"""The ``priorauth`` command line.

Each command group lives in its own module and registers itself on :data:`app`. Modules keep
heavy imports (SQLAlchemy, Prefect, WeasyPrint) inside the command bodies, so that
``priorauth check`` starts fast and stays small.
"""

from __future__ import annotations

import os
import sys

# Importing a command module registers its commands on ``app``.
from coverage.cli import check as _check  # noqa: F401  # registration by import
from coverage.cli import demo as _demo  # noqa: F401  # registration by import
from coverage.cli import letters as _letters  # noqa: F401  # registration by import
from coverage.cli import payments as _payments  # noqa: F401  # registration by import
from coverage.cli import policies as _policies  # noqa: F401  # registration by import
from coverage.cli import records as _records  # noqa: F401  # registration by import
from coverage.cli import web as _web  # noqa: F401  # registration by import
from coverage.cli.app import app
from coverage.errors import PriorAuthError

__all__ = ["app", "main", "run"]


def main() -> None:
    """Run the command line: domain and usage errors become one line each, exit 2 (``SystemExit``).

    The one exception is ``priorauth worker`` when all it found is a server or database that does not
    answer now: exit 75 (``EX_TEMPFAIL``), so its supervisor starts it again.
    """
    sys.exit(_run())


def run() -> None:
    """Entry point of the ``priorauth`` console script: :func:`main`, then a quick exit.

    Tearing down the interpreter's modules takes longer than most commands: once the output is
    flushed the process leaves at once, unless Prefect ran (its local server cleans up at exit).
    """
    code = _run()
    sys.stdout.flush()
    sys.stderr.flush()
    if "prefect" not in sys.modules:
        import logging

        logging.shutdown()
        os._exit(code)
    sys.exit(code)


def _run() -> int:
    import typer

    try:
        code = app(standalone_mode=False, prog_name="priorauth")
    except PriorAuthError as error:
        for line in error.lines():
            print(f"error: {line}", file=sys.stderr)
        return error.exit_status
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        return 1
    except typer.TyperException as error:
        # Typer's own parsing errors (a missing argument, an unknown option): one line, and where to look.
        format_message = getattr(error, "format_message", None)
        message = format_message() if callable(format_message) else str(error)
        context = getattr(error, "ctx", None)
        hint = f" (see `{context.command_path} --help`)" if context is not None else ""
        if message.strip():  # empty when the help was shown for a command given no arguments
            print(f"error: {message}{hint}", file=sys.stderr)
        exit_code = getattr(error, "exit_code", 2)
        return exit_code if isinstance(exit_code, int) else 2
    return code if isinstance(code, int) else 0
