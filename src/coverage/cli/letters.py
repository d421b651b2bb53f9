"""``priorauth letter`` and ``priorauth packet``: preview any document from a case file, no database.

The commands only gather inputs (the case, its determination, the clinic, options from flags)
and hand them to :func:`coverage.letters.render_document`, the same seam the flows and the
records store use. A preview is dated today and numbered ``PREVIEW-<code>-<hash>``.

``--request ID`` asks the records for a stored request's document instead
(:class:`coverage.services.documents.RequestDocuments`, the one place that makes them): the one
already made is copied (the letter of the sending, the appeal of the denial, the notice of the
latest answer), or it is made once and kept in the document store. Options given on the
command line override what the record says (the denial, the answer, the payer's fax).
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from coverage.cli.app import app
from coverage.cli.check import read_case_text
from coverage.cli.options import check_out, option_date, option_id, write_out
from coverage.errors import InvalidInput

if TYPE_CHECKING:
    from coverage.cases import Case
    from coverage.clinic import Clinic
    from coverage.determinations import Determination
    from coverage.letters.options import Decision, Denial, LetterOptions, Payment
    from coverage.letters.render import RenderedDocument
    from coverage.payments.ledger import PlanRecord
    from coverage.policies.loader import LoadedPolicy
    from coverage.services.documents import Made, RequestDocuments


@dataclass(frozen=True, slots=True)
class CaseInputs:
    """What every document is rendered from."""

    case: Case
    determination: Determination
    policy: LoadedPolicy | None
    clinic: Clinic
    template_dir: Path | None


def load_case_inputs(path: Path) -> CaseInputs:
    """A case file, its determination under the configured policies, and the clinic."""
    from coverage.clinic import load_clinic
    from coverage.policies.service import Checker
    from coverage.settings import load_settings

    settings = load_settings()
    checker = Checker.from_settings(settings)
    case = checker.parse(read_case_text(path))
    policy = checker.policy_for(case)
    return CaseInputs(
        case=case,
        determination=checker.determine(case, policy=policy),
        policy=policy,
        clinic=load_clinic(settings),
        template_dir=settings.template_dir,
    )


def _letter_for_request(number: int, kind: str, out: Path, *, pdfa: bool, flags: dict[str, Any]) -> None:
    """A stored request's document, made once by :class:`~coverage.services.documents.RequestDocuments`
    (or found, as sent), and a copy written to ``out``."""
    from coverage.cli.records import records
    from coverage.clinic import load_clinic
    from coverage.services import documents as service
    from coverage.services.payments import agreement_plan, open_total
    from coverage.services.requests import load
    from coverage.store.documents import DocumentStore

    if pdfa:
        raise InvalidInput(["--pdfa: only for previews from a case file; stored documents are kept as made"])
    check_out(out)  # the document is stored with the request: not when its copy cannot be written
    with records() as r:
        store = DocumentStore(r.settings.documents_location)
        with r.uow() as uow:
            _, request = load(uow, number)
            service.check_kind(request, kind)
            payer = uow.payers.get(request.payer_id) if request.payer_id is not None else None
            documents = service.RequestDocuments(
                request,
                checker=r.checker,
                clinic=load_clinic(r.settings),
                store=store,
                when=r.ctx.when(),
                payer=payer,
                template_dir=r.settings.template_dir,
            )
            plan = agreement_plan(uow, number, r.ctx.timezone) if kind == "payment-plan" else None
            if kind == "payment-plan" and plan is None and flags["total"] is None and flags["price_item"] is None:
                # No plan yet: the terms a plan made now would have, on what the account owes.
                owed = open_total(uow, number, documents.clinic.prices, r.ctx.timezone)
                flags = {**flags, "total": str(owed)}
            made = _stored_document(documents, kind, flags, plan)
            uow.commit()
        pdf = service.read(made.document, store=store)
    write_out(out, pdf)
    print(f"sha256 {made.document.sha256.removeprefix('sha256:')} {out}")


def _stored_document(
    documents: RequestDocuments, kind: str, flags: dict[str, Any], plan: PlanRecord | None = None
) -> Made:
    """The document the records already make for this kind (the letter of the sending, the appeal of the
    denial, the notice of the latest answer); with options given, the document made with them. What the
    flags leave out comes from the record: the denial, the latest answer, the payer's fax."""
    import dataclasses

    given = {name for name, value in flags.items() if value not in (None, [], ())}
    if kind == "payment-plan" and plan is not None:
        if given:  # the agreement of a stored plan is the plan's: its own total, installments and dates
            shown = ", ".join(f"--{name.replace('_', '-')}" for name in sorted(given))
            raise InvalidInput(
                [f"{shown}: request {documents.request.id} has plan {plan.id}; its agreement shows the plan's terms"]
            )
        return documents.plan_paper("payment-plan", plan)
    if not given:
        if kind in ("request", "continuation"):
            return documents.request_letter(kind)
        if kind == "packet":
            return documents.packet()
        if kind == "appeal":
            return documents.appeal()
        answer = documents.request.latest_answer
        notice = documents.notice(answer) if kind == "decision-notice" and answer is not None else None
        if notice is not None:
            return notice
    if kind == "appeal" and given == {"denial"}:
        return documents.appeal(flags["denial"])
    stored = documents.stored_options()
    inputs = CaseInputs(documents.case, documents.determination, documents.policy, documents.clinic, None)
    decision = (
        _decision(
            flags["decision"],
            decided_on=flags["decided_on"],
            auth_number=flags["auth_number"],
            valid_from=flags["valid_from"],
            valid_to=flags["valid_to"],
            units=flags["units"],
            reason=flags["decision_reason"],
        )
        if flags["decision"]
        else stored.decision
    )
    options = _options(
        kind,
        inputs,
        denial=flags["denial"] or stored.denial,
        decision=decision,
        total=flags["total"],
        installments=flags["installments"],
        start=flags["start"],
        description=flags["description"],
        payments=flags["payments"],
        service_dates=flags["service_dates"],
        price_item=flags["price_item"],
        recipient_fax=flags["recipient_fax"] or stored.recipient_fax,
        attention=flags["attention"],
        enclose=["request", "packet"],
        pdfa=False,
        render_enclosures=False,
    )
    if kind == "fax-cover":
        return documents.cover(documents.enclosures(), options.recipient_fax, attention=options.recipient_attention)
    return documents.on_request(kind, dataclasses.replace(options, enclosures=()))


def _date(option: str, value: str | None) -> dt.date | None:
    return option_date(option, value)


def _past_date(option: str, value: str) -> dt.date:
    """A date that already happened (a denial, a payment, a session): the clinic's today at the latest."""
    from coverage.requests.clocks import clinic_today

    day = option_date(option, value)
    assert day is not None
    today = clinic_today()
    if day > today:
        raise InvalidInput([f"{option}: {day.isoformat()} is in the future (today is {today.isoformat()})"])
    return day


@dataclass(frozen=True, slots=True)
class _Texts:
    """The free-text options, cleaned and bounded (``coverage.fields``)."""

    denial_reason: str | None
    denial_reference: str | None
    auth_number: str | None
    decision_reason: str | None
    description: str | None
    price_item: str | None
    recipient_fax: str | None
    attention: str | None
    expedited_reason: str | None


def _service_dates(values: list[str] | None) -> list[dt.date]:
    """Sessions given: real dates, none after the clinic's today (a superbill certifies care given)."""
    from coverage.requests.clocks import clinic_today

    today = clinic_today()
    dates = [d for d in (_date("--service-date", v) for v in values or ()) if d is not None]
    future = [d for d in dates if d > today]
    if future:
        raise InvalidInput([f"--service-date: {d.isoformat()} is in the future (today is {today})" for d in future])
    return dates


def _money(option: str, value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise InvalidInput([f"{option}: {value!r} is not an amount (like 550.00)"]) from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput([f"{option}: {value!r} must be more than 0, in whole cents"])
    return amount


def _payment(text: str) -> Payment:
    from coverage.letters.options import Payment

    parts = text.split(":")
    if len(parts) < 2 or len(parts) > 4:
        raise InvalidInput([f"--payment: {text!r} is not DATE:AMOUNT[:METHOD[:REFERENCE]]"])
    from coverage.fields import optional_text

    paid_on = _past_date("--payment", parts[0])
    method = optional_text("--payment", parts[2], kind="short") if len(parts) > 2 else None
    return Payment(
        paid_on=paid_on,
        amount=_money("--payment", parts[1]),
        method=method or "card",
        reference=optional_text("--payment", parts[3], kind="short") if len(parts) > 3 else None,
    )


def _write(document: RenderedDocument, out: Path) -> None:
    write_out(out, document.pdf)
    for warning in document.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"sha256 {document.sha256} {out}")


def _print_kinds() -> None:
    from coverage.letters.kinds import KINDS, LETTER_KINDS

    width = max(len(k) for k in LETTER_KINDS)
    for name in LETTER_KINDS:
        print(f"{name:<{width}}  {KINDS[name].description}")


@app.command()
def letter(  # noqa: PLR0917  # Typer maps each parameter to a flag; callers never pass them by position
    case_file: Annotated[Path | None, typer.Argument(metavar="CASE.json", help="The case file.")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Document kind (see --list).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Where to write the PDF.")] = None,
    list_kinds: Annotated[bool, typer.Option("--list", help="List the document kinds and exit.")] = False,
    request_id: Annotated[str | None, typer.Option("--request", help="Load inputs from a stored request.")] = None,
    pdfa: Annotated[bool, typer.Option("--pdfa", help="Write PDF/A-3b for archiving.")] = False,
    denial_reason: Annotated[str | None, typer.Option(help="appeal: the payer's stated denial reason.")] = None,
    denial_date: Annotated[str | None, typer.Option(help="appeal: date of the denial (YYYY-MM-DD).")] = None,
    denial_reference: Annotated[str | None, typer.Option(help="appeal: the payer's reference number.")] = None,
    decision: Annotated[
        str | None, typer.Option(help="decision-notice: approved, partially_approved, denied or pended.")
    ] = None,
    decided_on: Annotated[str | None, typer.Option(help="decision-notice: date of the decision.")] = None,
    auth_number: Annotated[str | None, typer.Option(help="decision-notice: authorization number.")] = None,
    valid_from: Annotated[str | None, typer.Option(help="decision-notice: first day of the approval.")] = None,
    valid_to: Annotated[str | None, typer.Option(help="decision-notice: last day of the approval.")] = None,
    units: Annotated[int | None, typer.Option(help="decision-notice: authorized units.")] = None,
    decision_reason: Annotated[str | None, typer.Option(help="decision-notice: the payer's reason.")] = None,
    total: Annotated[str | None, typer.Option(help="payment-plan: total (default: course price).")] = None,
    installments: Annotated[int | None, typer.Option(help="payment-plan: number of monthly installments.")] = None,
    start: Annotated[
        str | None, typer.Option(help="payment-plan: first due date (default: the start date, not before today).")
    ] = None,
    description: Annotated[str | None, typer.Option(help="payment-plan: services covered.")] = None,
    payment: Annotated[
        list[str] | None, typer.Option(help="receipt/superbill: DATE:AMOUNT[:METHOD[:REF]], repeatable.")
    ] = None,
    service_date: Annotated[
        list[str] | None, typer.Option(help="superbill/receipt: date of service, repeatable.")
    ] = None,
    price_item: Annotated[str | None, typer.Option(help="superbill/receipt: clinic price-list item key.")] = None,
    recipient_fax: Annotated[str | None, typer.Option(help="The payer's fax number.")] = None,
    attention: Annotated[str | None, typer.Option(help="Attention line of the recipient block.")] = None,
    enclose: Annotated[
        list[str] | None, typer.Option(help="fax-cover: kinds rendered and listed (default: request, packet).")
    ] = None,
    expedited_reason: Annotated[
        str | None,
        typer.Option(help="Preview an expedited request: why it is urgent (a stored request's is set at intake)."),
    ] = None,
) -> None:
    """Render one letter to PDF from a case file (or --request ID); prints: sha256 <hex> <file>."""
    if list_kinds:
        _print_kinds()
        return
    problems = []
    if case_file is None and request_id is None:
        problems.append("CASE.json: required (or --request ID, or --list)")
    if case_file is not None and request_id is not None:
        problems.append("CASE.json: give a case file or --request, not both")
    if kind is None:
        problems.append("--kind: required (see --list)")
    if out is None:
        problems.append("--out: required")
    if problems:
        raise InvalidInput(problems)
    assert kind is not None
    assert out is not None
    from coverage.fields import optional_text
    from coverage.letters.kinds import KINDS, get_kind

    get_kind(kind)
    text = _Texts(
        denial_reason=optional_text("--denial-reason", denial_reason),
        denial_reference=optional_text("--denial-reference", denial_reference, kind="short"),
        auth_number=optional_text("--auth-number", auth_number, kind="short"),
        decision_reason=optional_text("--decision-reason", decision_reason),
        description=optional_text("--description", description, kind="title"),
        price_item=optional_text("--price-item", price_item, kind="id"),
        recipient_fax=optional_text("--recipient-fax", recipient_fax, kind="short"),
        attention=optional_text("--attention", attention, kind="title"),
        expedited_reason=optional_text("--expedited-reason", expedited_reason),
    )
    denial_reason, denial_reference, auth_number = text.denial_reason, text.denial_reference, text.auth_number
    decision_reason, description, price_item = text.decision_reason, text.description, text.price_item
    recipient_fax, attention = text.recipient_fax, text.attention
    for enclosed in enclose or ():
        if enclosed not in KINDS:
            raise InvalidInput([f"--enclose: unknown document kind {enclosed!r} (known: {', '.join(KINDS)})"])
    if request_id is not None:
        if text.expedited_reason is not None:
            raise InvalidInput(
                [
                    "--expedited-reason: a stored request's urgency is set at intake (intake --expedited); "
                    "for previews only"
                ]
            )
        _letter_for_request(
            option_id("--request", request_id),
            kind,
            out,
            pdfa=pdfa,
            flags={
                "denial": _denial(denial_reason, denial_date, denial_reference),
                "decision": decision,
                "decided_on": decided_on,
                "auth_number": auth_number,
                "valid_from": valid_from,
                "valid_to": valid_to,
                "units": units,
                "decision_reason": decision_reason,
                "total": total,
                "installments": installments,
                "start": start,
                "description": description,
                "payments": [_payment(p) for p in payment or ()],
                "service_dates": _service_dates(service_date),
                "price_item": price_item,
                "recipient_fax": recipient_fax,
                "attention": attention,
            },
        )
        return
    assert case_file is not None
    inputs = load_case_inputs(case_file)
    options = _options(
        kind,
        inputs,
        denial=_denial(denial_reason, denial_date, denial_reference),
        decision=_decision(
            decision,
            decided_on=decided_on,
            auth_number=auth_number,
            valid_from=valid_from,
            valid_to=valid_to,
            units=units,
            reason=decision_reason,
        ),
        total=total,
        installments=installments,
        start=start,
        description=description,
        payments=[_payment(p) for p in payment or ()],
        service_dates=_service_dates(service_date),
        price_item=price_item,
        recipient_fax=recipient_fax,
        attention=attention,
        enclose=enclose or ["request", "packet"],
        pdfa=pdfa,
    )
    if text.expedited_reason is not None:
        import dataclasses

        options = dataclasses.replace(options, expedited_reason=text.expedited_reason)
    from coverage.letters.render import render_document

    document = render_document(
        kind,
        case=inputs.case,
        determination=inputs.determination,
        clinic=inputs.clinic,
        policy=inputs.policy,
        options=options,
        pdf_variant="pdf/a-3b" if pdfa else None,
        template_dir=inputs.template_dir,
    )
    _write(document, out)


def _denial(reason: str | None, date: str | None, reference: str | None) -> Denial | None:
    from coverage.letters.options import Denial

    if reason is None:
        if date is not None or reference is not None:
            raise InvalidInput(["--denial-reason: required with --denial-date or --denial-reference"])
        return None
    return Denial(
        reason=reason, denied_on=_past_date("--denial-date", date) if date is not None else None, reference=reference
    )


def _decision(
    status: str | None,
    *,
    decided_on: str | None,
    auth_number: str | None,
    valid_from: str | None,
    valid_to: str | None,
    units: int | None,
    reason: str | None,
) -> Decision | None:
    from coverage.fields import MAX_UNITS
    from coverage.letters.options import DECISION_STATUSES, Decision

    if status is None:
        return None
    for value in DECISION_STATUSES:
        if value == status:
            start, end = _date("--valid-from", valid_from), _date("--valid-to", valid_to)
            if start is not None and end is not None and end < start:
                raise InvalidInput([f"--valid-to: {end.isoformat()} is before --valid-from {start.isoformat()}"])
            if units is not None and not 1 <= units <= MAX_UNITS:
                raise InvalidInput([f"--units: must be 1 to {MAX_UNITS:,}, got {units}"])
            return Decision(
                status=value,
                decided_on=_past_date("--decided-on", decided_on) if decided_on is not None else None,
                auth_number=auth_number,
                valid_from=start,
                valid_to=end,
                units=units,
                reason=reason,
            )
    raise InvalidInput([f"--decision: {status!r} is not one of {', '.join(DECISION_STATUSES)}"])


def _options(
    kind: str,
    inputs: CaseInputs,
    *,
    denial: Denial | None,
    decision: Decision | None,
    total: str | None,
    installments: int | None,
    start: str | None,
    description: str | None,
    payments: list[Payment],
    service_dates: list[dt.date],
    price_item: str | None,
    recipient_fax: str | None,
    attention: str | None,
    enclose: list[str],
    pdfa: bool,
    render_enclosures: bool = True,
) -> LetterOptions:
    """The typed options from the flags; the plan and the fax enclosures are worked out here."""
    from coverage.letters.options import LetterOptions, Sending
    from coverage.letters.render import render_document
    from coverage.payments.offers import check_start, choose_installments, default_installments, price_key
    from coverage.requests.clocks import clinic_today

    case, clinic = inputs.case, inputs.clinic
    plan = None
    if kind == "payment-plan":
        key = price_item or price_key(case.request.treatment, case.request.dose_mg)
        item = clinic.prices.items.get(key)
        if total is not None:
            amount = _money("--total", total)
        elif item is not None:
            amount = item.amount * item.course_sessions
        else:
            raise InvalidInput([f"--total: required (the clinic price list has no item {key!r})"])
        count = installments if installments is not None else default_installments(clinic.prices)
        # An agreement made today asks for nothing before today: the first installment is due on the
        # later of the course's start and today (lifecycle rule 2), unless --start says otherwise; a
        # plan starts within a year, in a count the clinic offers that reaches the minimum installment.
        asked = _date("--start", start)
        today = clinic_today()
        if asked is not None:
            check_start(asked, today)
        first_due = asked or max(case.request.start_date or case.as_of, today)
        check_start(first_due, today)
        plan = choose_installments(amount, count, first_due, clinic.prices)
    options = LetterOptions(
        denial=denial,
        decision=decision,
        plan=plan,
        plan_description=description,
        payments=tuple(payments),
        service_dates=tuple(service_dates),
        price_item=price_item,
        recipient_fax=recipient_fax,
        recipient_attention=attention,
    )
    if kind != "fax-cover" or not render_enclosures:
        return options
    enclosures = []
    for enclosed in enclose:
        if enclosed == "fax-cover":
            raise InvalidInput(["--enclose: a fax cover cannot enclose a fax cover"])
        document = render_document(
            enclosed,
            case=case,
            determination=inputs.determination,
            clinic=clinic,
            policy=inputs.policy,
            options=options,
            pdf_variant="pdf/a-3b" if pdfa else None,
            template_dir=inputs.template_dir,
        )
        enclosures.append(document.enclosure())
    return LetterOptions(
        recipient_fax=recipient_fax,
        recipient_attention=attention,
        enclosures=tuple(enclosures),
        sending=Sending(appeal=True) if "appeal" in enclose else None,
    )


@app.command()
def packet(
    case_file: Annotated[Path, typer.Argument(metavar="CASE.json", help="The case file.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the PDF.")],
    pdfa: Annotated[bool, typer.Option("--pdfa", help="Write PDF/A-3b for archiving.")] = False,
) -> None:
    """Render the documentation packet of prior treatment to PDF; prints: sha256 <hex> <file>."""
    from coverage.letters.render import render_packet

    inputs = load_case_inputs(case_file)
    document = render_packet(
        case=inputs.case,
        determination=inputs.determination,
        clinic=inputs.clinic,
        policy=inputs.policy,
        pdf_variant="pdf/a-3b" if pdfa else None,
        template_dir=inputs.template_dir,
    )
    _write(document, out)
