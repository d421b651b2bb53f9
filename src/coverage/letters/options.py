"""What a document needs beyond the case and its determination: typed, immutable options.

The CLI gathers them from its flags for a preview; for a stored request
:class:`coverage.services.documents.RequestDocuments` fills them from the record (the payer's
answers, the payer's fax, the request's expedited reason). Money is ``Decimal``; dates are
``datetime.date``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

from coverage.payments.plans import Schedule

#: The urgent turnaround an expedited letter asks for when the payer's is not known (hours).
DEFAULT_EXPEDITED_HOURS: Final = 72

DecisionStatus = Literal["approved", "partially_approved", "denied", "pended"]
DECISION_STATUSES: tuple[DecisionStatus, ...] = ("approved", "partially_approved", "denied", "pended")


@dataclass(frozen=True, slots=True)
class Denial:
    """The payer's denial that an appeal answers."""

    reason: str
    denied_on: dt.date | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The payer's decision on a request, for the patient's notice.

    ``units`` are the billing code's units (``code``; ``unit_label`` says what one unit is), and
    ``sessions`` how many full sessions they pay for at ``dose_mg`` (lifecycle rule 9); units that do
    not make a whole session are said to be left over. Left out, the renderer fills them from the
    case's billing code and dose.
    """

    status: DecisionStatus
    decided_on: dt.date | None = None
    auth_number: str | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    units: int | None = None
    reason: str | None = None
    code: str | None = None
    unit_label: str | None = None
    sessions: int | None = None
    dose_mg: int | None = None
    #: Units of the authorization not yet used when the notice is made (``None``: not known).
    units_left: int | None = None


@dataclass(frozen=True, slots=True)
class Payment:
    """One payment received, for the receipt."""

    paid_on: dt.date
    amount: Decimal
    method: str = "card"
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceItem:
    """One billing code on one date of service (a superbill's line), at the clinic's price."""

    date: dt.date
    code: str
    units: int
    description: str
    charge: Decimal
    modifier: str | None = None
    #: The NDCs of the drug given on this line (esketamine: the kit of each session's dose).
    ndc: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """One row of an account statement: ``amount`` is what it adds to the balance (credits negative)."""

    date: dt.date
    entry_id: int
    kind: str
    description: str
    amount: Decimal
    voided: bool = False


@dataclass(frozen=True, slots=True)
class Enclosure:
    """A document listed on the fax cover sheet."""

    title: str
    control_number: str
    pages: int


@dataclass(frozen=True, slots=True)
class Sending:
    """What a sending to the payer is, for its cover sheet and letter: the way it goes and what it answers."""

    #: ``fax``, ``portal`` or ``phone``: a fax cover says FAX and the fax number, a portal's cover neither.
    channel: str = "fax"
    #: Where it goes when not by fax (the portal's address).
    destination: str | None = None
    #: The sending is an appeal of the payer's denial.
    appeal: bool = False
    #: The sending answers the payer's request for information (a pended request).
    responds_to_pend: bool = False
    #: The payer's reference of that request, what it asked, and the day it asked.
    info_reference: str | None = None
    info_requested: str | None = None
    info_asked_on: dt.date | None = None


@dataclass(frozen=True, slots=True)
class LetterOptions:
    """Everything optional a document may need; each kind says which fields it requires."""

    denial: Denial | None = None
    decision: Decision | None = None
    plan: Schedule | None = None
    plan_description: str | None = None
    #: ``False``: the agreement does not point to the pay-in-full discount (a plan paid in full
    #: already, a plan restructuring an earlier one's balance); ``None``: it does.
    plan_discount_offered: bool | None = None
    payments: tuple[Payment, ...] = ()
    service_dates: tuple[dt.date, ...] = ()
    price_item: str | None = None
    enclosures: tuple[Enclosure, ...] = ()
    recipient_fax: str | None = None
    recipient_attention: str | None = None
    #: The sessions given, one code per line (superbill, receipt): they replace ``service_dates``.
    service_items: tuple[ServiceItem, ...] = ()
    #: The account's rows, for the statement.
    ledger: tuple[LedgerLine, ...] = ()
    #: The account's balance (below zero: a credit); without it, the listed charges less the payments.
    balance: Decimal | None = None
    #: Why the request is expedited: every letter and the fax cover say "EXPEDITED REVIEW REQUESTED",
    #: the letters' RE line says "EXPEDITED" and their body asks for a decision within ``expedited_hours``.
    #: Without it no document says "expedited" or asks for an urgent decision (lifecycle rule 12).
    expedited_reason: str | None = None
    #: The payer's urgent turnaround (hours) an expedited letter asks for; ``None``: the default, 72.
    expedited_hours: int | None = None
    #: What the sending is (``None``: a request sent by fax).
    sending: Sending | None = None
