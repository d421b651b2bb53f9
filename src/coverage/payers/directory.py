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
        created_at=row.created_at,
    )


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
    known_policies: Collection[str] | None = None,
) -> PayerView:
    """Add a payer to the directory; a name already there (ignoring case) is refused.

    With ``known_policies``, a ``policy_id`` that is not one of them is refused.
    """
    name = " ".join(name.split())
    problems = []
    if not name:
        problems.append("name: required")
    if channel not in CHANNELS:
        problems.append(f"channel: {channel!r} is not one of {', '.join(CHANNELS)}")
    if policy_id is not None and known_policies is not None and policy_id not in known_policies:
        problems.append(f"policy_id: {policy_id!r} is not a known policy id")
    if turnaround_days < 1:
        problems.append("turnaround_days: must be at least 1")
    if urgent_turnaround_hours < 1:
        problems.append("urgent_turnaround_hours: must be at least 1")
    if problems:
        raise InvalidInput(problems)
    with uow:
        if uow.payers.by_name(name) is not None:
            raise InvalidInput([f"name: a payer named {name!r} is already in the directory"])
        row = uow.payers.add(
            t.Payer(
                name=name,
                fax=fax,
                phone=phone,
                portal_url=portal_url,
                channel=channel,
                policy_id=policy_id,
                turnaround_days=turnaround_days,
                urgent_turnaround_hours=urgent_turnaround_hours,
                created_at=t.utcnow(),
            )
        )
        uow.flush()
        view = _view(row)
        uow.commit()
    return view


def list_payers(*, uow: UnitOfWork) -> list[PayerView]:
    """Every payer, by name."""
    with uow:
        return [_view(row) for row in uow.payers.all()]


def get_payer(name_or_id: str | int, *, uow: UnitOfWork) -> PayerView:
    """A payer by id or by name (ignoring case), or :class:`NotFound`."""
    with uow:
        row = None
        if isinstance(name_or_id, int) or name_or_id.isdigit():
            row = uow.payers.get(int(name_or_id))
        if row is None and isinstance(name_or_id, str):
            row = uow.payers.by_name(name_or_id)
        if row is None:
            raise NotFound(f"payer {name_or_id!r}: not in the directory")
        return _view(row)
