"""What staff type on the command line: dates are YYYY-MM-DD, and nothing else."""

from __future__ import annotations

import datetime as dt

import pytest

from coverage.cli.options import option_date
from coverage.errors import InvalidInput


def test_extended_dates_are_read() -> None:
    assert option_date("--as-of", "2027-05-10") == dt.date(2027, 5, 10)
    assert option_date("--as-of", " 2028-02-29 ") == dt.date(2028, 2, 29)
    assert option_date("--as-of", None) is None


@pytest.mark.parametrize("text", ["20270510", "2027-5-10", "2026-02-30", "10/05/2027", "2027-05-10T00:00", ""])
def test_anything_else_is_one_line_naming_the_option(text: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        option_date("--as-of", text)
    assert raised.value.lines() == [f"--as-of: {text!r} is not a date (YYYY-MM-DD)"]
