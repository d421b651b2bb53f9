"""Rendering a document: context from the data objects, HTML from the templates, PDF by WeasyPrint.

:func:`render_document` is the seam every caller uses (the CLI, the flows, the payments
module): it takes the data objects, never a file or a database id, so the CLI only gathers
inputs and the records store can pass a stored request's data. A document is dated the day it
is made (``dated``, default the clinic's today; lifecycle rule 2), and the start it asks for is
the later of the case's ``start_date`` and that day. Output is deterministic: metadata are
fixed, and a preview's control number is a hash of the inputs and the date, so the same inputs
give the same bytes (and the same sha256). Stored documents get their number from
:mod:`coverage.services.documents` (``number``).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import gc
import hashlib
import json
import logging
import warnings
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Literal

from markupsafe import Markup

from coverage.cases import Case
from coverage.clinic import Clinic
from coverage.determinations import BillingLine, Determination
from coverage.documentation import assemble_documentation, score_chart_svg
from coverage.documentation.requirements import SPECIALTY_LABELS, diagnosis_title
from coverage.drugs import DrugTable, default_drug_table
from coverage.errors import ConfigurationError, InvalidInput
from coverage.letters.kinds import DocumentKind, check_options, get_kind, template_name
from coverage.letters.options import DEFAULT_EXPEDITED_HOURS, Decision, Enclosure, LetterOptions, Sending
from coverage.letters.templates import get_template, render_template
from coverage.policies.billing import billing_lines, unit_kind, unit_label
from coverage.policies.loader import LoadedPolicy, load_registry

log = logging.getLogger(__name__)

PdfVariant = Literal["pdf/a-3b"]
PDF_VARIANTS: tuple[str, ...] = ("pdf/a-3b",)

TREATMENT_NAMES = {"esketamine": "SPRAVATO® (esketamine) nasal spray", "iv_ketamine": "IV ketamine infusion"}
INDICATION_NAMES = {
    "trd": "treatment-resistant depression",
    "mdsi": "major depressive disorder with acute suicidal ideation or behavior",
}
#: NDCs of the esketamine kits (Spravato prescribing information).
ESKETAMINE_NDC = {56: "50458-028-02", 84: "50458-028-03"}
LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


@dataclass(frozen=True, slots=True)
class RenderedDocument:
    """One rendered document: its PDF bytes, their sha256, the control number and the HTML."""

    kind: str
    title: str
    pdf: bytes
    sha256: str
    control_number: str
    page_count: int
    html: str
    warnings: tuple[str, ...] = ()

    def enclosure(self) -> Enclosure:
        """How a fax cover lists this document."""
        return Enclosure(title=self.title, control_number=self.control_number, pages=self.page_count)


@dataclass(frozen=True, slots=True)
class ServiceLine:
    """One date of service on a superbill or receipt, with its codes and the clinic's charge."""

    date: dt.date
    codes: tuple[BillingLine, ...]
    description: str
    charge: Decimal
    #: The NDCs of the drug given on the line (esketamine: the kit of the session's dose).
    ndc: tuple[str, ...] = ()


@cache
def _default_registry_policy(policy_id: str) -> LoadedPolicy | None:
    from coverage.settings import load_settings

    return load_registry(load_settings().policy_dir).get(policy_id)


def _resolve_policy(case: Case, policy: LoadedPolicy | None) -> LoadedPolicy | None:
    if policy is not None or case.coverage.policy_id is None:
        return policy
    found = _default_registry_policy(case.coverage.policy_id)
    if found is None:
        raise InvalidInput([f"coverage.policy_id: unknown policy {case.coverage.policy_id!r}"])
    return found


def _json_default(value: object) -> object:
    if isinstance(value, dt.date | Decimal | Path):
        return str(value)
    raise TypeError(type(value).__name__)


#: Option fields left out of a preview's number while unset, so that adding them kept earlier numbers.
_UNNUMBERED_WHEN_UNSET = ("expedited_hours", "sending", "plan_discount_offered")


def _numbered_options(options: LetterOptions) -> dict[str, Any]:
    fields = dataclasses.asdict(options)
    return {k: v for k, v in fields.items() if not (k in _UNNUMBERED_WHEN_UNSET and v is None)}


def control_number(
    *,
    kind: DocumentKind,
    case: Case,
    determination: Determination,
    options: LetterOptions,
    policy_hash: str | None,
    dated: dt.date,
) -> str:
    """A preview's number, ``PREVIEW-<kind code>-<8 hex>``: the same inputs on the same day give the same
    number. It names no case: a stored document's number is its request's (lifecycle rule 13)."""
    payload = json.dumps(
        {
            "kind": kind.name,
            "case": case.model_dump(mode="json"),
            "determination": determination.to_dict(),
            "options": _numbered_options(options),
            "policy": policy_hash,
            "dated": dated,
        },
        sort_keys=True,
        default=_json_default,
    )
    digest = hashlib.sha256(payload.encode()).hexdigest()[:8].upper()
    return f"PREVIEW-{kind.code}-{digest}"


def _logo_data_uri(clinic: Clinic) -> str | None:
    path = clinic.logo_path()
    if path is None:
        return None
    mime = LOGO_TYPES.get(path.suffix.lower())
    if mime is None:
        raise ConfigurationError(f"letterhead.logo: {path.name}: use .svg, .png or .jpg")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigurationError(f"letterhead.logo: cannot read {path} ({error.strerror})") from None
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _codes(
    case: Case, determination: Determination, policy: LoadedPolicy | None, day: dt.date
) -> tuple[BillingLine, ...]:
    if determination.billing:
        return determination.billing
    scheme = policy.policy.billing_scheme if policy is not None else "hcpcs"
    return billing_lines(scheme, case.request.treatment, case.request.dose_mg, day)


def _price_item_key(case: Case, options: LetterOptions) -> str:
    if options.price_item:
        return options.price_item
    if case.request.treatment == "iv_ketamine":
        return "iv_infusion"
    return f"esketamine_{case.request.dose_mg}"


def service_lines(
    *, case: Case, determination: Determination, clinic: Clinic, policy: LoadedPolicy | None, options: LetterOptions
) -> tuple[ServiceLine, ...]:
    """One line per date of service at the clinic's price, with the engine's billing codes."""
    key = _price_item_key(case, options)
    item = clinic.prices.items.get(key)
    if item is None:
        raise ConfigurationError(f"clinic prices.items: no item {key!r} (known: {', '.join(clinic.prices.items)})")
    dates = options.service_dates or (case.request.start_date or case.as_of,)
    lines = []
    for day in sorted(dates):
        codes = list(_codes(case, determination, policy, day))
        known = {c.code for c in codes}
        # The price item lists the E/M and monitoring codes billed with the drug (99213, 99415...).
        codes.extend(
            BillingLine(code, 1) for code in item.billing_codes if code not in known and unit_kind(code) != "mg"
        )
        ndc = ESKETAMINE_NDC.get(case.request.dose_mg or 0) if case.request.treatment == "esketamine" else None
        lines.append(
            ServiceLine(
                date=day,
                codes=tuple(codes),
                description=item.description,
                charge=item.amount,
                ndc=(ndc,) if ndc else (),
            )
        )
    return tuple(lines)


def decision_in_units(decision: Decision | None, codes: tuple[BillingLine, ...], case: Case) -> Decision | None:
    """The decision with its units explained (lifecycle rule 9): the billing code, what one unit is, and
    how many sessions the units pay for at the case's dose, where the decision does not say."""
    if decision is None or decision.units is None or not codes:
        return decision
    line = codes[0]
    code = decision.code or line.code
    sessions = decision.sessions
    if sessions is None and code == line.code and line.units > 0:
        sessions = decision.units // line.units
    return dataclasses.replace(
        decision,
        code=code,
        unit_label=decision.unit_label or unit_label(code),
        sessions=sessions,
        dose_mg=decision.dose_mg if decision.dose_mg is not None else case.request.dose_mg,
    )


def plural(count: int, word: str) -> str:
    """``1 unit``, ``2 units``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _counts_mg(decision: Decision) -> bool:
    """Whether a unit of the decision's code is 1 mg (J0013: the units are the dose)."""
    return decision.code is not None and unit_kind(decision.code) == "mg"


def _units_per_session(decision: Decision, codes: tuple[BillingLine, ...]) -> int | None:
    if codes and decision.code == codes[0].code and codes[0].units > 0:
        return codes[0].units
    if _counts_mg(decision) and decision.dose_mg:
        return decision.dose_mg
    return None


def approved_amount(decision: Decision, codes: tuple[BillingLine, ...]) -> str:
    """What a notice says was approved: ``300 units of J0013 (1 unit = 1 mg), 3 full sessions at 84 mg
    (48 mg left over)``; the units that make no whole session are never dropped silently (rule 9)."""
    if decision.units is None:
        return ""
    text = plural(decision.units, "unit")
    if decision.code:
        text += f" of {decision.code}"
    if decision.unit_label:
        text += f" ({decision.unit_label})"
    if decision.sessions is None:
        return text
    at = f" at {decision.dose_mg} mg" if decision.dose_mg else ""
    per_session = _units_per_session(decision, codes)
    leftover = decision.units - decision.sessions * per_session if per_session else 0
    if leftover <= 0:
        return f"{text}, {plural(decision.sessions, 'session')}{at}" if decision.sessions else text
    left = f"{leftover} mg" if _counts_mg(decision) else plural(leftover, "unit")
    if decision.sessions == 0:
        return f"{text}, not enough for one full session{at} ({left})"
    full = "1 full session" if decision.sessions == 1 else f"{decision.sessions} full sessions"
    return f"{text}, {full}{at} ({left} left over)"


def _sentence(text: str | None) -> str | None:
    """A reason as a sentence: ending with a full stop unless it ends with one already."""
    if not text:
        return None
    return text if text.endswith((".", "!", "?")) else text + "."


def _warnings(kind: DocumentKind, determination: Determination) -> list[str]:
    """What staff should know before sending: a request whose determination is not a clean pass."""
    if kind.name not in ("request", "continuation", "appeal", "packet"):
        return []
    return [f"criterion {c.id} is {c.status} in the determination" for c in determination.criteria if c.status != "met"]


def build_context(
    *,
    kind: DocumentKind,
    case: Case,
    determination: Determination,
    clinic: Clinic,
    policy: LoadedPolicy | None,
    drugs: DrugTable,
    options: LetterOptions,
    number: str,
    dated: dt.date,
) -> dict[str, Any]:
    """Everything a template may use; templates compute nothing that decides coverage."""
    documentation = assemble_documentation(case=case, determination=determination, policy=policy, drugs=drugs)
    request = case.request
    targets = {}
    if documentation.response_threshold_pct is not None:
        for row in documentation.responses:
            instrument = next(s.instrument for s in documentation.scores if s.label == row.label)
            targets[instrument] = row.baseline * (1 - documentation.response_threshold_pct / 100)
    chart = score_chart_svg(
        documentation.scores,
        thresholds=documentation.thresholds,
        targets=targets,
        marker_date=request.therapy_start,
        marker_label="therapy start" if request.therapy_start else "",
        end_date=case.as_of,
    )
    prescriber = request.prescriber
    signature = clinic.signature
    signer_name = prescriber.name if prescriber is not None and prescriber.name else signature.name
    if signer_name == signature.name:
        signer_title, signer_npi = signature.title, signature.npi
    else:
        specialty = prescriber.specialty if prescriber is not None else None
        signer_title = "Prescriber" + (f" ({SPECIALTY_LABELS[specialty][2:]})" if specialty else "")
        signer_npi = prescriber.npi if prescriber is not None else None
    payer_name = case.coverage.payer_name or (policy.policy.name if policy is not None else "")
    service_day = max(request.start_date, dated) if request.start_date is not None else dated
    codes = _codes(case, determination, policy, service_day)
    options = dataclasses.replace(options, decision=decision_in_units(options.decision, codes, case))
    lines: tuple[ServiceLine, ...] = ()
    if options.service_items:
        lines = tuple(
            ServiceLine(
                date=i.date,
                codes=(BillingLine(i.code, i.units, i.modifier),),
                description=i.description,
                charge=i.charge,
                ndc=i.ndc,
            )
            for i in sorted(options.service_items, key=lambda i: i.date)
        )
    elif kind.name in ("superbill", "receipt") and (kind.name == "superbill" or options.service_dates):
        if not options.service_dates:  # a superbill certifies sessions given: never a date guessed
            raise InvalidInput(["--service-date: a superbill lists the sessions given; name at least one"])
        lines = service_lines(case=case, determination=determination, clinic=clinic, policy=policy, options=options)
    charges = sum((line.charge for line in lines), Decimal("0.00"))
    paid = sum((p.amount for p in options.payments), Decimal("0.00"))
    price_item = clinic.prices.items.get(_price_item_key(case, options))
    return {
        "doc": kind,
        "control_number": number,
        "as_of": case.as_of,
        "dated": dated,
        "start_date": service_day if request.start_date is not None else None,
        "expedited_reason": _sentence(options.expedited_reason),
        "expedited_hours": options.expedited_hours or DEFAULT_EXPEDITED_HOURS,
        "sending": options.sending or Sending(),
        "case": case,
        "patient": case.patient,
        "coverage": case.coverage,
        "request": request,
        "determination": determination,
        "documentation": documentation,
        "policy": policy.policy if policy is not None else None,
        "policy_hash": policy.hash if policy is not None else None,
        "payer_name": payer_name,
        "clinic": clinic,
        "letterhead": clinic.letterhead,
        "logo": _logo_data_uri(clinic),
        "signer": {"name": signer_name, "title": signer_title, "npi": signer_npi},
        "treatment_name": TREATMENT_NAMES[request.treatment],
        "indication_name": INDICATION_NAMES[request.indication],
        "ndc": ESKETAMINE_NDC.get(request.dose_mg or 0) if request.treatment == "esketamine" else None,
        "codes": codes,
        "diagnosis_codes": [(d.code, diagnosis_title(d.code)) for d in case.diagnoses or ()],
        "chart": Markup(chart),  # noqa: S704  # drawn by our own code; every text in it is XML-escaped
        "options": options,
        "service_lines": lines,
        "total_charges": charges,
        "total_paid": paid,
        "balance": options.balance if options.balance is not None else charges - paid,
        "price_item": price_item,
        "total_pages": sum(e.pages for e in options.enclosures) + 1,
        "approved_amount": approved_amount(options.decision, codes) if options.decision is not None else "",
        # Sessions are scheduled from the later of the authorization's start and the day of the notice.
        "schedule_from": max(options.decision.valid_from, dated)
        if options.decision is not None and options.decision.valid_from is not None
        else None,
    }


def render_html(
    kind: str,
    *,
    case: Case,
    determination: Determination,
    clinic: Clinic,
    policy: LoadedPolicy | None = None,
    drugs: DrugTable | None = None,
    options: LetterOptions | None = None,
    template_dir: Path | None = None,
    total_pages: int | None = None,
    dated: dt.date | None = None,
    number: str | None = None,
) -> tuple[str, str, DocumentKind]:
    """The document's HTML and control number, without WeasyPrint (``dated``: default the clinic's today)."""
    document_kind = get_kind(kind)
    options = options or LetterOptions()
    check_options(document_kind, options)
    policy = _resolve_policy(case, policy)
    if dated is None:
        from coverage.requests.clocks import clinic_today

        dated = clinic_today()
    if number is None:
        number = control_number(
            kind=document_kind,
            case=case,
            determination=determination,
            options=options,
            policy_hash=policy.hash if policy is not None else None,
            dated=dated,
        )
    template = get_template(
        template_name(document_kind, case), template_dir=template_dir, policy_id=case.coverage.policy_id
    )
    context = build_context(
        kind=document_kind,
        case=case,
        determination=determination,
        clinic=clinic,
        policy=policy,
        drugs=drugs or default_drug_table(),
        options=options,
        number=number,
        dated=dated,
    )
    if total_pages is not None:
        context["total_pages"] = total_pages
    return render_template(template, context), number, document_kind


def html_to_pdf(html: str, *, pdf_variant: str | None = None) -> tuple[bytes, int]:
    """WeasyPrint: the PDF bytes and the page count. No base URL: documents fetch nothing."""
    import weasyprint  # type: ignore[import-untyped]  # WeasyPrint ships no type information

    if pdf_variant is not None and pdf_variant not in PDF_VARIANTS:
        raise InvalidInput([f"pdf_variant: {pdf_variant!r} is not one of {', '.join(PDF_VARIANTS)}"])
    document = weasyprint.HTML(string=html).render()
    with warnings.catch_warnings():
        # WeasyPrint 70 opens its sRGB profile for PDF/A and never closes it; the file is
        # released when the PDF objects are collected, here rather than at some later point.
        warnings.simplefilter("ignore", ResourceWarning)
        pdf = document.write_pdf(pdf_variant=pdf_variant)
        if pdf_variant is not None:
            gc.collect()
    assert pdf is not None  # write_pdf returns the bytes when no target is given
    return pdf, len(document.pages)


def render_document(
    kind: str,
    *,
    case: Case,
    determination: Determination,
    clinic: Clinic,
    policy: LoadedPolicy | None = None,
    drugs: DrugTable | None = None,
    options: LetterOptions | None = None,
    pdf_variant: str | None = None,
    template_dir: Path | None = None,
    dated: dt.date | None = None,
    number: str | None = None,
) -> RenderedDocument:
    """Render one document kind (see ``coverage.letters.kinds.KINDS``) to PDF.

    ``policy`` is the case's loaded policy; when ``None`` and the case names one, it is loaded
    from the configured policy folders. ``pdf_variant="pdf/a-3b"`` makes an archival PDF/A-3b.
    ``dated`` is the document's date (default: the clinic's today), ``number`` its control number
    (default: a preview's).
    """
    if dated is None:
        from coverage.requests.clocks import clinic_today

        dated = clinic_today()
    html, number, document_kind = render_html(
        kind,
        case=case,
        determination=determination,
        clinic=clinic,
        policy=policy,
        drugs=drugs,
        options=options,
        template_dir=template_dir,
        dated=dated,
        number=number,
    )
    pdf, pages = html_to_pdf(html, pdf_variant=pdf_variant)
    if document_kind.name == "fax-cover" and pages > 1:
        # The cover counts itself: re-render once with the real number of cover pages.
        enclosed = sum(e.pages for e in (options or LetterOptions()).enclosures)
        html, number, _ = render_html(
            kind,
            case=case,
            determination=determination,
            clinic=clinic,
            policy=policy,
            drugs=drugs,
            options=options,
            template_dir=template_dir,
            total_pages=enclosed + pages,
            dated=dated,
            number=number,
        )
        pdf, pages = html_to_pdf(html, pdf_variant=pdf_variant)
    digest = hashlib.sha256(pdf).hexdigest()
    log.info("rendered %s %s: %d pages, sha256 %s", document_kind.name, number, pages, digest[:12])
    return RenderedDocument(
        kind=document_kind.name,
        title=document_kind.title,
        pdf=pdf,
        sha256=digest,
        control_number=number,
        page_count=pages,
        html=html,
        warnings=tuple(_warnings(document_kind, determination)),
    )


def render_packet(
    *,
    case: Case,
    determination: Determination,
    clinic: Clinic,
    policy: LoadedPolicy | None = None,
    drugs: DrugTable | None = None,
    pdf_variant: str | None = None,
    template_dir: Path | None = None,
    dated: dt.date | None = None,
    number: str | None = None,
) -> RenderedDocument:
    """The documentation packet of prior treatment, criterion by criterion."""
    return render_document(
        "packet",
        case=case,
        determination=determination,
        clinic=clinic,
        policy=policy,
        drugs=drugs,
        pdf_variant=pdf_variant,
        template_dir=template_dir,
        dated=dated,
        number=number,
    )
