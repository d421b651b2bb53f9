"""The patient's account: one ledger of self-pay money, every cent once, every correction recorded.

Pure domain, no database. A ledger is a list of entries that only grows:

- ``charge``: care priced from the clinic's price list, one per billing code of a course;
- ``adjustment``: a negative charge with a reason (the pay-in-full discount, care not given, a
  write-off); it never turns the balance into a credit;
- ``payment``: money received, by one of :data:`METHODS`, dated not in the future and not before
  the patient's first intake; more than the balance leaves a credit on the account;
- ``refund``: money given back, to the method of the payment it refunds, at most what is left of
  that payment;
- ``void``: its own row naming the entry it cancels (a refunded payment is voided only after its
  refunds are).

Balance = charges - adjustments - payments + refunds, voided rows (and the voids) excluded; below
zero it is a credit. Nothing is edited or deleted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from coverage.errors import IllegalTransition, InvalidInput, NotFound
from coverage.payments.plans import CENT, MAX_AMOUNT

#: How a patient can pay; nothing else is recorded.
METHODS: tuple[str, ...] = ("card", "cash", "check", "hsa", "fsa")

EntryKind = Literal["charge", "adjustment", "payment", "refund", "void"]
ENTRY_KINDS: tuple[EntryKind, ...] = ("charge", "adjustment", "payment", "refund", "void")
ZERO = Decimal("0.00")


def check_amount(amount: Decimal, option: str = "--amount") -> Decimal:
    """A positive amount in whole cents up to :data:`MAX_AMOUNT`, with two decimal places."""
    if not amount.is_finite() or amount <= 0:
        raise InvalidInput([f"{option}: must be more than 0, got {amount}"])
    if amount > MAX_AMOUNT:
        raise InvalidInput([f"{option}: must be at most {MAX_AMOUNT:,}, got {amount}"])
    if amount != amount.quantize(CENT):
        raise InvalidInput([f"{option}: must be in whole cents, got {amount}"])
    return amount.quantize(CENT)


def check_method(method: str | None) -> str | None:
    """One of :data:`METHODS` (any case, spaces around ignored), or ``None`` when not given."""
    if method is None:
        return None
    cleaned = method.strip(" ").lower()
    if cleaned not in METHODS:
        shown = method if method.isprintable() else method.encode("unicode_escape").decode("ascii")
        raise InvalidInput([f"--method: {shown[:40]!r} is not one of {', '.join(METHODS)}"])
    return cleaned


def check_paid_on(paid_on: dt.date, *, today: dt.date, opened: dt.date | None) -> None:
    """A payment's date: not after the clinic's today, not before the patient's first intake."""
    if paid_on > today:
        raise InvalidInput([f"--date: {paid_on.isoformat()} is in the future (today is {today.isoformat()})"])
    if opened is not None and paid_on < opened:
        raise InvalidInput(
            [f"--date: {paid_on.isoformat()} is before the patient's first intake ({opened.isoformat()})"]
        )


@dataclass(frozen=True, slots=True)
class Entry:
    """One row of the ledger; ``id`` is ``None`` until stored."""

    kind: EntryKind
    amount: Decimal
    on: dt.date
    id: int | None = None
    method: str | None = None
    code: str | None = None
    units: int | None = None
    description: str | None = None
    reason: str | None = None
    request_id: int | None = None
    plan_id: int | None = None
    #: A refund's payment, a void's entry.
    refers_to: int | None = None
    recorded_at: dt.datetime | None = None
    recorded_by: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "entry_id": self.id,
            "kind": self.kind,
            "amount": str(self.amount),
            "date": self.on.isoformat(),
            "method": self.method,
            "code": self.code,
            "units": self.units,
            "description": self.description,
            "reason": self.reason,
            "request_id": self.request_id,
            "plan_id": self.plan_id,
            "refers_to": self.refers_to,
            "recorded_at": self.recorded_at.isoformat() if self.recorded_at else None,
            "recorded_by": self.recorded_by,
        }


def _sum(entries: Iterable[Entry]) -> Decimal:
    return sum((e.amount for e in entries), ZERO)


class Ledger:
    """An account's entries, oldest first, and what follows from them."""

    def __init__(self, entries: Sequence[Entry], *, opened: dt.date | None = None) -> None:
        self.entries = tuple(entries)
        #: The patient's first intake: no payment is dated before it.
        self.opened = opened
        self._by_id = {e.id: e for e in self.entries if e.id is not None}
        self._voided = {e.refers_to for e in self.entries if e.kind == "void" and e.refers_to is not None}
        self._live = tuple(e for e in self.entries if e.kind != "void" and not self.is_voided(e))
        self._refunds: dict[int, Decimal] = {}
        for e in self._live:
            if e.kind == "refund" and e.refers_to is not None:
                self._refunds[e.refers_to] = self._refunds.get(e.refers_to, ZERO) + e.amount

    # --- reading ---------------------------------------------------------------------------------

    def is_voided(self, entry: Entry) -> bool:
        return entry.id is not None and entry.id in self._voided

    def live(self, kind: EntryKind | None = None) -> tuple[Entry, ...]:
        """Entries that count: neither voids nor voided, of ``kind`` if given."""
        return tuple(e for e in self._live if kind is None or e.kind == kind)

    def total(self, kind: EntryKind) -> Decimal:
        return _sum(self.live(kind))

    @property
    def balance(self) -> Decimal:
        """What the patient owes; below zero, a credit."""
        return (
            self.total("charge") - self.total("adjustment") - self.total("payment") + self.total("refund")
        ).quantize(CENT)

    @property
    def credit(self) -> Decimal:
        return max(-self.balance, ZERO)

    def entry(self, entry_id: int) -> Entry:
        found = self._by_id.get(entry_id)
        if found is None:
            raise NotFound(f"entry {entry_id}: not on this account")
        return found

    def refunded(self, payment_id: int) -> Decimal:
        """What has been refunded of a payment (refunds not voided)."""
        return self._refunds.get(payment_id, ZERO)

    def paid_on_plan(self, plan_id: int) -> Decimal:
        """Payments received on a plan less what was refunded of them."""
        payments = [e for e in self.live("payment") if e.plan_id == plan_id]
        return _sum(payments) - sum((self.refunded(p.id) for p in payments if p.id is not None), ZERO)

    def owed_on_plan(self, plan_id: int, total: Decimal) -> Decimal:
        """What a plan still asks for: its total less what was paid on it, never more than the balance."""
        return max(min(total - self.paid_on_plan(plan_id), self.balance), ZERO)

    def charged_for(self, request_id: int) -> bool:
        """Whether a request's course has been charged (a voided charge counts: it was posted once)."""
        return any(e.kind == "charge" and e.request_id == request_id for e in self.entries)

    # --- the entries a clerk can add (checked here; stored by the caller) ------------------------

    def with_entry(self, entry: Entry) -> Ledger:
        """The ledger with one more entry (in memory)."""
        return Ledger((*self.entries, entry), opened=self.opened)

    def charge(
        self, amount: Decimal, on: dt.date, *, code: str, units: int, description: str, request_id: int | None
    ) -> Entry:
        if amount < 0:
            raise InvalidInput([f"charge: {code} must not be negative, got {amount}"])
        return Entry(
            "charge", amount.quantize(CENT), on, code=code, units=units, description=description, request_id=request_id
        )

    def payment(
        self,
        amount: Decimal,
        paid_on: dt.date,
        *,
        today: dt.date,
        method: str | None,
        plan_id: int | None = None,
        request_id: int | None = None,
    ) -> Entry:
        """Money received; more than the balance leaves a credit."""
        problems: list[str] = []
        for check in (
            lambda: check_amount(amount),
            lambda: check_method(method),
            lambda: check_paid_on(paid_on, today=today, opened=self.opened),
        ):
            try:
                check()
            except InvalidInput as error:
                problems += error.problems
        if problems:
            raise InvalidInput(problems)
        return Entry(
            "payment",
            check_amount(amount),
            paid_on,
            method=check_method(method),
            plan_id=plan_id,
            request_id=request_id,
        )

    def adjustment(
        self, amount: Decimal, on: dt.date, *, reason: str, request_id: int | None = None, plan_id: int | None = None
    ) -> Entry:
        """A negative charge; it never makes a credit."""
        amount = check_amount(amount)
        if amount > self.balance:
            raise InvalidInput(
                [
                    f"--amount: {amount} is more than the balance {max(self.balance, ZERO)}; "
                    "an adjustment makes no credit"
                ]
            )
        return Entry("adjustment", amount, on, reason=reason, request_id=request_id, plan_id=plan_id)

    def refund(self, payment_id: int, amount: Decimal, on: dt.date, *, today: dt.date, reason: str) -> Entry:
        """Money given back on a payment, to the method it was paid by."""
        payment = self.entry(payment_id)
        if payment.kind != "payment":
            raise InvalidInput([f"PAYMENT: entry {payment_id} is a {payment.kind}, not a payment"])
        if self.is_voided(payment):
            raise IllegalTransition(f"payment {payment_id}: is voided; nothing to refund")
        amount = check_amount(amount)
        if on > today:
            raise InvalidInput([f"--date: {on.isoformat()} is in the future (today is {today.isoformat()})"])
        if on < payment.on:
            raise InvalidInput([f"--date: {on.isoformat()} is before the payment ({payment.on.isoformat()})"])
        left = payment.amount - self.refunded(payment_id)
        if amount > left:
            raise InvalidInput([f"--amount: {amount} is more than the {left} left of payment {payment_id}"])
        return Entry(
            "refund",
            amount,
            on,
            method=payment.method,
            reason=reason,
            refers_to=payment_id,
            plan_id=payment.plan_id,
            request_id=payment.request_id,
        )

    def void(self, entry_id: int, on: dt.date, *, reason: str) -> Entry:
        """A row cancelling an entry; a refunded payment is voided after its refunds."""
        entry = self.entry(entry_id)
        if entry.kind == "void":
            raise IllegalTransition(f"entry {entry_id}: is a void; record the entry again instead")
        if self.is_voided(entry):
            raise IllegalTransition(f"entry {entry_id}: is already voided")
        if entry.kind == "payment" and self.refunded(entry_id) > 0:
            raise IllegalTransition(f"payment {entry_id}: has refunds; void them first")
        return Entry(
            "void",
            entry.amount,
            on,
            reason=reason,
            refers_to=entry_id,
            plan_id=entry.plan_id,
            request_id=entry.request_id,
        )


def numbered(entries: Sequence[Entry], start: int = 1) -> tuple[Entry, ...]:
    """Entries given ids in order (for the in-memory tests)."""
    return tuple(e if e.id is not None else replace(e, id=start + i) for i, e in enumerate(entries))
