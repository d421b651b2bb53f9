"""The account's papers: the statement, the receipt and the superbill, made from ledger rows and sessions.

A superbill's service lines are the course's sessions (recorded with ``sessions add``), one line
per billing code per session date, priced from the clinic's price list per code; ``sessions``
picks some. A receipt lists payments received (``payments`` picks some). Each is made through
:class:`~coverage.services.documents.RequestDocuments` (control numbers, the document store) on
a request of the account, and dated the day it is made; a negative balance is shown as a credit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from coverage.clinic import Clinic, PriceList
from coverage.errors import ConfigurationError, InvalidInput
from coverage.letters.options import LedgerLine, LetterOptions, Payment, ServiceItem
from coverage.letters.render import ESKETAMINE_NDC
from coverage.payments.account import Entry, Ledger
from coverage.payments.offers import price_key
from coverage.policies.billing import unit_kind
from coverage.requests import model as m
from coverage.services import documents
from coverage.services import requests as services
from coverage.services.context import Context
from coverage.services.payments import ledger_of, patient_account

if TYPE_CHECKING:
    from coverage.policies.service import Checker
    from coverage.store.documents import DocumentStore
    from coverage.store.tables import Account
    from coverage.store.uow import UnitOfWork

AccountPaper = Literal["statement", "receipt", "superbill"]

#: How each billing code reads on a superbill line.
CODE_DESCRIPTIONS = {
    "J0013": "Esketamine, nasal spray, 1 mg",
    "S0013": "Esketamine, nasal spray, 1 mg",
    "99213": "Office visit, established patient",
    "99415": "Prolonged clinical staff service, first hour",
    "96365": "IV infusion, initial, up to 1 hour",
    "96366": "IV infusion, each additional hour",
    "J3490": "Unclassified drug (ketamine)",
    "99205": "Office visit, new patient",
}


def session_items(
    course: m.Course, request: m.Request, prices: PriceList, session_ids: Sequence[int] = ()
) -> tuple[ServiceItem, ...]:
    """One line per billing code per session given (not voided); ``session_ids`` picks some."""
    given = [s for s in course.sessions if not s.voided]
    if session_ids:
        known = {s.id for s in given}
        unknown = [n for n in session_ids if n not in known]
        if unknown:
            raise InvalidInput(
                [f"--session: {n} is not a session given in the course of request {request.id}" for n in unknown]
            )
        given = [s for s in given if s.id in set(session_ids)]
    # One line per billing code per date: two sessions of one day are one line with their units summed;
    # the drug's line names the NDC of each session's dose (56 mg and 84 mg are different kits).
    merged: dict[tuple[dt.date, str], ServiceItem] = {}
    for session in sorted(given, key=lambda s: (s.date, s.id or 0)):
        key = price_key(request.treatment, session.dose_mg)
        item = prices.items.get(key)
        if item is None:
            raise ConfigurationError(f"clinic file: [prices.items.{key}] is missing")
        for code in item.billing_codes:
            price = prices.codes.get(code)
            if price is None:
                raise ConfigurationError(f"clinic file: [prices.codes] has no price for {code}")
            units = prices.code_units(key, code)
            drug = request.treatment == "esketamine" and unit_kind(code) == "mg"
            ndc = ESKETAMINE_NDC.get(session.dose_mg or 0) if drug else None
            line = merged.get((session.date, code))
            if line is None:
                merged[session.date, code] = ServiceItem(
                    session.date,
                    code,
                    units,
                    CODE_DESCRIPTIONS.get(code, item.description),
                    price * units,
                    ndc=(ndc,) if ndc else (),
                )
            else:
                kits = line.ndc if ndc is None or ndc in line.ndc else (*line.ndc, ndc)
                merged[session.date, code] = dataclasses.replace(
                    line, units=line.units + units, charge=line.charge + price * units, ndc=kits
                )
    return tuple(merged.values())


def describe_entry(entry: Entry) -> str:
    """One line saying what a ledger row is (the statement's description, the account's detail)."""
    if entry.kind == "charge":
        code = f"{entry.code} x {entry.units} " if entry.code else ""
        return f"{code}{entry.description or 'charge'}"
    if entry.kind == "adjustment":
        return f"adjustment: {entry.reason or ''}"
    if entry.kind == "payment":
        return f"payment, {entry.method or 'method not recorded'}" + (
            f" (plan {entry.plan_id})" if entry.plan_id else ""
        )
    if entry.kind == "refund":
        return f"refund of payment {entry.refers_to} to {entry.method or 'the payer'}: {entry.reason or ''}"
    return f"void of entry {entry.refers_to}: {entry.reason or ''}"


def ledger_lines(ledger: Ledger) -> tuple[LedgerLine, ...]:
    """The statement's rows: what each adds to the balance (payments and adjustments negative)."""
    sign = {"charge": 1, "refund": 1, "adjustment": -1, "payment": -1, "void": 0}
    return tuple(
        LedgerLine(e.on, e.id or 0, e.kind, describe_entry(e), e.amount * sign[e.kind], ledger.is_voided(e))
        for e in ledger.entries
    )


def _payments(ledger: Ledger, payment_ids: Sequence[int] = (), request_id: int | None = None) -> tuple[Entry, ...]:
    live = [e for e in ledger.live("payment") if request_id is None or e.request_id in (request_id, None)]
    if payment_ids:
        known = {e.id for e in live}
        unknown = [n for n in payment_ids if n not in known]
        if unknown:
            raise InvalidInput([f"--payment: {n} is not a payment on this account (or it is voided)" for n in unknown])
        live = [e for e in live if e.id in set(payment_ids)]
    return tuple(live)


def _as_payments(ledger: Ledger, entries: Sequence[Entry]) -> tuple[Payment, ...]:
    return tuple(
        Payment(
            paid_on=e.on,
            amount=e.amount - ledger.refunded(e.id or 0),
            method=e.method or "unspecified",
            reference=f"payment {e.id}",
        )
        for e in entries
    )


def _filing_request(uow: UnitOfWork, account: Account, ledger: Ledger) -> int:
    """The request an account paper is kept with: the latest one the ledger or a plan names."""
    named = [e.request_id for e in ledger.entries if e.request_id is not None]
    named += [p.request_id for p in uow.plans.for_account(account.id)]
    if not named:
        raise InvalidInput(["PATIENT: the account names no request yet (make a plan first)"])
    return max(named)


def make_account_paper(
    kind: AccountPaper,
    *,
    uow: UnitOfWork,
    checker: Checker,
    clinic: Clinic,
    store: DocumentStore,
    ctx: Context,
    patient: str | None = None,
    request_id: int | None = None,
    payment_ids: Sequence[int] = (),
    session_ids: Sequence[int] = (),
    template_dir: Path | None = None,
) -> documents.Made:
    """Make (or find, same rows on the same day) a statement or receipt of a patient's account, or a
    superbill of a request's sessions; stored with a request of the account."""
    when = ctx.when()
    with uow:
        if kind == "superbill":
            if request_id is None:
                raise InvalidInput(["REQUEST_ID: a superbill is made for a request's sessions"])
            course, request = services.load(uow, request_id)
            account = uow.accounts.for_patient(request.patient_id)
            ledger = ledger_of(uow, account, ctx.timezone) if account is not None else Ledger(())
            items = session_items(course, request, clinic.prices, session_ids)
            if not items:
                raise InvalidInput([f"REQUEST_ID: request {request_id} has no sessions given (priorauth sessions add)"])
            paid = _payments(ledger, (), request_id)
            options = LetterOptions(
                service_items=items,
                payments=_as_payments(ledger, paid),
                balance=ledger.balance if account is not None else None,
            )
            identity = {"sessions": sorted({i.date.isoformat() for i in items}), "codes": len(items)}
            identity |= {"payments": [e.id for e in paid], "balance": str(ledger.balance)}
        else:
            if patient is None:
                raise InvalidInput(["PATIENT: give the patient's id"])
            account = patient_account(uow, patient, create=False)
            ledger = ledger_of(uow, account, ctx.timezone)
            request_id = _filing_request(uow, account, ledger)
            course, request = services.load(uow, request_id)
            if kind == "statement":
                options = LetterOptions(ledger=ledger_lines(ledger), balance=ledger.balance)
                identity = {"account": account.id, "entries": [e.id for e in ledger.entries]}
            else:
                paid = _payments(ledger, payment_ids)
                if not paid:
                    raise InvalidInput(["PATIENT: no payments received yet; a receipt lists payments received"])
                items = session_items(course, request, clinic.prices, session_ids) if session_ids else ()
                options = LetterOptions(
                    payments=_as_payments(ledger, paid), service_items=items, balance=ledger.balance
                )
                identity = {"payments": [e.id for e in paid], "sessions": list(session_ids)}
                identity |= {
                    "balance": str(ledger.balance),
                    "refunded": [str(ledger.refunded(e.id or 0)) for e in paid],
                }
        made = documents.RequestDocuments(
            request, checker=checker, clinic=clinic, store=store, when=when, template_dir=template_dir
        ).account_paper(kind, options, identity)
        uow.commit()
    return made
