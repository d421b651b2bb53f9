"""Parsing what staff type on the command line, with one-line errors naming the option."""

from __future__ import annotations

import datetime as dt
import re

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
