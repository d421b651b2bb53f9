"""The document kinds: what each is called, which template draws it, and which options it needs."""

from __future__ import annotations

from dataclasses import dataclass

from coverage.cases import Case
from coverage.errors import InvalidInput
from coverage.letters.options import LetterOptions


@dataclass(frozen=True, slots=True)
class DocumentKind:
    """One kind of document."""

    name: str
    code: str
    title: str
    description: str
    needs: tuple[str, ...] = ()


KINDS: dict[str, DocumentKind] = {
    kind.name: kind
    for kind in (
        DocumentKind(
            "request",
            "LMN",
            "Prior authorization request and letter of medical necessity",
            "PA request / letter of medical necessity; esketamine TRD or MDSI, or IV ketamine, from the case",
        ),
        DocumentKind(
            "continuation",
            "REA",
            "Continuation request",
            "re-authorization with baseline and current scores and the improvement",
        ),
        DocumentKind(
            "appeal",
            "APL",
            "Appeal of adverse determination",
            "answers the denial reason with the evidence (needs --denial-reason)",
            ("denial",),
        ),
        DocumentKind(
            "fax-cover",
            "FAX",
            "Fax cover sheet",
            "recipient, page count, enclosures with control numbers, confidentiality notice",
        ),
        DocumentKind(
            "decision-notice",
            "DEC",
            "Notice of your insurance plan's decision",
            "plain-language notice to the patient (needs --decision)",
            ("decision",),
        ),
        DocumentKind(
            "payment-plan",
            "PPA",
            "Payment plan agreement",
            "self-pay installment agreement (--total/--installments/--start, defaults from the price list)",
            ("plan",),
        ),
        DocumentKind(
            "superbill",
            "SBL",
            "Superbill",
            "itemized CPT/HCPCS and ICD-10 statement for out-of-network claims and HSA/FSA",
        ),
        DocumentKind(
            "receipt",
            "RCT",
            "Payment receipt",
            "itemized receipt of payments received (needs --payment)",
            ("payments",),
        ),
        DocumentKind(
            "statement",
            "STM",
            "Account statement",
            "the patient's self-pay account: every ledger row and the balance (priorauth payments statement)",
            ("ledger",),
        ),
        DocumentKind(
            "packet",
            "DOC",
            "Documentation of prior treatment",
            "the documentation packet: trials, scores chart, REMS, safety screen, criteria",
        ),
    )
}

LETTER_KINDS: tuple[str, ...] = tuple(name for name in KINDS if name not in ("packet", "statement"))


def get_kind(name: str) -> DocumentKind:
    """A kind by name, or a one-line error listing the known kinds."""
    kind = KINDS.get(name)
    if kind is None:
        raise InvalidInput([f"kind: unknown document kind {name!r} (known: {', '.join(KINDS)})"])
    return kind


def template_name(kind: DocumentKind, case: Case) -> str:
    """The template that draws a kind for this case; the request letter's variant follows the case."""
    request = case.request
    if kind.name == "request":
        if request.kind == "continuation":
            return "continuation.html"
        if request.treatment == "iv_ketamine":
            return "request-iv-ketamine.html"
        return f"request-esketamine-{request.indication}.html"
    if kind.name == "continuation" and request.kind != "continuation":
        raise InvalidInput(["request.kind: the continuation letter needs a continuation case (request.kind)"])
    return f"{kind.name}.html"


def check_options(kind: DocumentKind, options: LetterOptions) -> None:
    """Every option the kind needs is present; one problem per missing option."""
    problems = []
    flags = {
        "denial": "--denial-reason",
        "decision": "--decision",
        "plan": "--total",
        "payments": "--payment",
        "ledger": "payments statement",
    }
    for field in kind.needs:
        if not getattr(options, field):
            problems.append(f"{field}: the {kind.name} document needs it ({flags[field]})")
    if problems:
        raise InvalidInput(problems)
