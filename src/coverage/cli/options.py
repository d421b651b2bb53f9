"""Parsing what staff type on the command line, with one-line errors naming the option."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

from coverage.errors import InvalidInput

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def option_date(option: str, value: str | None) -> dt.date | None:
    """A ``YYYY-MM-DD`` date (``None`` stays ``None``); anything else is an error naming ``option``.

    Only the extended form: Python's ``fromisoformat`` would also take ``20270510``, which the
    README and the case format never promise.
    """
    if value is None:
        return None
    text = value.strip()
    if ISO_DATE.fullmatch(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    raise InvalidInput([f"{option}: {value!r} is not a date (YYYY-MM-DD)"])


def option_id(option: str, value: str) -> int:
    """A database id typed on the command line (1 to 2,147,483,647), or one line naming ``option``."""
    from coverage.fields import parse_id

    return parse_id(option, value)


def option_count(option: str, value: str | None, *, low: int, high: int) -> int | None:
    """A whole number from ``low`` to ``high`` (``None`` stays ``None``), or one line naming ``option``."""
    if value is None:
        return None
    text = value.strip()
    if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 12:
        raise InvalidInput([f"{option}: {value!r} is not a whole number"])
    number = int(text)
    if not low <= number <= high:
        raise InvalidInput([f"{option}: must be {low} to {high}"])
    return number


def check_out(out: Path, option: str = "--out") -> None:
    """Refuse, before anything is recorded, a destination that cannot be written: a folder, a folder
    that does not exist or is not writable, a file that is not writable."""
    folder = out.parent if str(out.parent) else Path(".")
    problem = None
    if out.is_dir():
        problem = "is a folder"
    elif not folder.is_dir():
        problem = f"no folder {folder}"
    elif out.exists() and not os.access(out, os.W_OK):
        problem = "the file is not writable"
    elif not out.exists() and not os.access(folder, os.W_OK | os.X_OK):
        problem = f"the folder {folder} is not writable"
    if problem is not None:
        raise InvalidInput([f"{option}: cannot write {out} ({problem})"])


def write_out(out: Path, data: bytes, option: str = "--out") -> None:
    """A document the user asked for with ``--out``: it holds PHI, so it is readable by its owner only."""
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as sink:
            sink.write(data)
        os.chmod(out, 0o600)
    except OSError as error:
        raise InvalidInput([f"{option}: cannot write {out} ({error.strerror})"]) from None
