"""The payer directory service: add, list and look up payers.

A case's ``coverage.payer_name`` links it to a payer here by name (case and spacing ignored);
an unknown payer gets the default turnaround from the settings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from coverage.errors import InvalidInput, NotFound
from coverage.fields import MAX_ID, text_problem
from coverage.requests.lifecycle import CHANNELS
from coverage.store import tables as t
from coverage.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class PayerView:
    """A payer as the directory knows it."""

    id: int
    name: str
    fax: str | None
    phone: str | None
    portal_url: str | None
    channel: str
    policy_id: str | None
    turnaround_days: int
    urgent_turnaround_hours: int
    appeal_window_days: int | None
    created_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "fax": self.fax,
            "phone": self.phone,
            "portal_url": self.portal_url,
            "channel": self.channel,
            "policy_id": self.policy_id,
            "turnaround_days": self.turnaround_days,
            "urgent_turnaround_hours": self.urgent_turnaround_hours,
            "appeal_window_days": self.appeal_window_days,
        }


def _view(row: t.Payer) -> PayerView:
    return PayerView(
        id=row.id,
        name=row.name,
        fax=row.fax,
        phone=row.phone,
        portal_url=row.portal_url,
        channel=row.channel,
        policy_id=row.policy_id,
        turnaround_days=row.turnaround_days,
        urgent_turnaround_hours=row.urgent_turnaround_hours,
        appeal_window_days=row.appeal_window_days,
        created_at=row.created_at,
    )


#: Bounds of a payer's clocks: days to answer, hours to answer an urgent request, days to appeal.
CLOCK_BOUNDS = {"turnaround_days": (1, 365), "urgent_turnaround_hours": (1, 720), "appeal_window_days": (1, 730)}


#: What a payer sending by each channel needs in the directory.
CHANNEL_NEEDS = {"fax": "fax", "portal": "portal_url", "phone": "phone"}


def _checked(values: dict[str, Any], known_policies: Collection[str] | None) -> dict[str, Any]:
    """The payer's fields cleaned, or :class:`InvalidInput` with one line per problem."""
    problems = []
    clean = dict(values)
    for field, kind in (
        ("name", "title"),
        ("fax", "short"),
        ("phone", "short"),
        ("portal_url", "title"),
        ("policy_id", "id"),
    ):
        value = values.get(field)
        if field == "name" and value is not None:
            value = " ".join(value.split())
        problem = text_problem(value, kind=kind) if value is not None else None
        if problem is not None:
            problems.append(f"{field}: {problem}")
        clean[field] = value.strip() if value is not None and value.strip() else None
    if clean["name"] is None:
        problems.append("name: required")
    channel = clean["channel"]
    if channel not in CHANNELS:
        problems.append(f"channel: {channel!r} is not one of {', '.join(CHANNELS)}")
    elif channel in CHANNEL_NEEDS and clean[CHANNEL_NEEDS[channel]] is None:
        need = CHANNEL_NEEDS[channel]
        problems.append(f"{need}: a payer reached by {channel} needs its {need.replace('_', ' ')}")
    policy_id = clean["policy_id"]
    if policy_id is not None and known_policies is not None and policy_id not in known_policies:
        problems.append(f"policy_id: {policy_id!r} is not a known policy id")
    for field, (low, high) in CLOCK_BOUNDS.items():
        number = clean.get(field)
        if number is not None and not low <= number <= high:
            problems.append(f"{field}: must be {low} to {high}")
    if problems:
        raise InvalidInput(problems)
    return clean


def add_payer(
    name: str,
    *,
    uow: UnitOfWork,
    turnaround_days: int,
    urgent_turnaround_hours: int,
    channel: str = "fax",
    fax: str | None = None,
    phone: str | None = None,
    portal_url: str | None = None,
    policy_id: str | None = None,
    appeal_window_days: int | None = None,
    known_policies: Collection[str] | None = None,
) -> PayerView:
    """Add a payer to the directory; a name already there (ignoring case) is refused.

    With ``known_policies``, a ``policy_id`` that is not one of them is refused.
    """
    clean = _checked(
        {
            "name": name,
            "channel": channel,
            "fax": fax,
            "phone": phone,
            "portal_url": portal_url,
            "policy_id": policy_id,
            "turnaround_days": turnaround_days,
            "urgent_turnaround_hours": urgent_turnaround_hours,
            "appeal_window_days": appeal_window_days,
        },
        known_policies,
    )
    with uow:
        if uow.payers.by_name(clean["name"]) is not None:
            raise InvalidInput([f"name: a payer named {clean['name']!r} is already in the directory"])
        row = uow.payers.add(t.Payer(**clean, created_at=t.utcnow()))
        uow.flush()
        view = _view(row)
        uow.commit()
    return view


#: The fields ``payers edit`` can change.
EDITABLE = ("name", "channel", "fax", "phone", "portal_url", "policy_id", "turnaround_days",
            "urgent_turnaround_hours", "appeal_window_days")  # fmt: skip


def edit_payer(
    name_or_id: str | int,
    changes: dict[str, Any],
    *,
    uow: UnitOfWork,
    known_policies: Collection[str] | None = None,
) -> tuple[PayerView, PayerView]:
    """Correct a payer's entry (a mistyped fax number, a new portal): the entry before and after.

    An empty string clears an optional field. Requests already sent keep what they were sent to;
    the next sending uses the new entry.
    """
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput([f"{field}: cannot be edited" for field in unknown])
    if not changes:
        raise InvalidInput(["payer: nothing to change (give an option)"])
    before = get_payer(name_or_id, uow=uow)
    values = {field: getattr(before, field) for field in EDITABLE}
    values.update({k: (None if v == "" else v) for k, v in changes.items()})
    clean = _checked(values, known_policies if "policy_id" in changes else None)
    with uow:
        row = uow.payers.get(before.id)
        assert row is not None
        if clean["name"].casefold() != before.name.casefold():
            other = uow.payers.by_name(clean["name"])
            if other is not None and other.id != before.id:
                raise InvalidInput([f"name: a payer named {clean['name']!r} is already in the directory"])
        for field in EDITABLE:
            setattr(row, field, clean[field])
        uow.flush()
        after = _view(row)
        uow.commit()
    return before, after


def list_payers(*, uow: UnitOfWork) -> list[PayerView]:
    """Every payer, by name."""
    with uow:
        return [_view(row) for row in uow.payers.all()]


def get_payer(name_or_id: str | int, *, uow: UnitOfWork) -> PayerView:
    """A payer by id or by name (ignoring case), or :class:`NotFound`."""
    with uow:
        row = None
        if isinstance(name_or_id, int) or (name_or_id.isascii() and name_or_id.isdigit()):
            number = int(name_or_id)
            row = uow.payers.get(number) if number <= MAX_ID else None
        if row is None and isinstance(name_or_id, str):
            row = uow.payers.by_name(name_or_id)
        if row is None:
            raise NotFound(f"payer {name_or_id!r}: not in the directory")
        return _view(row)
