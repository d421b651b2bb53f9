"""The one place that makes a stored request's documents: letters, packet, fax cover, notices, plan papers.

The CLI, the flows and the web app all come here. A document's control number,
``<request id>-<code>-<hash>``, is a hash of what makes it that document (lifecycle rule 2:
the request, its case version, the kind and the sending; the answer for a notice; the plan
for plan papers), computed *before* rendering: a document already on the request is reused,
even on a later day, and only what is new is rendered, dated the clinic's today, and written
to the document store as ``<request id>/<control number>.pdf`` (rule 13).

A document for the payer belongs to a sending: the next one while the request is being
prepared for it (``ready``, ``pended``, ``appeal_drafted``, a draft; an appeal while a denial
awaits it), else the latest one made, so that a copy asked for after the sending is the
document that was sent, not a new one.

This module also owns the decision a notice reports for each answer and the titles a fax cover
lists the enclosures under.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coverage.determinations import Determination
from coverage.errors import InvalidInput
from coverage.letters.kinds import KINDS, get_kind
from coverage.letters.options import Decision, Denial, Enclosure, LetterOptions, Sending
from coverage.payments.ledger import PlanRecord
from coverage.policies.billing import unit_label
from coverage.requests import model as m
from coverage.requests.lifecycle import (
    ANSWER_TARGETS,
    OPEN,
    PLANNABLE,
    SENDABLE,
    SENT_TO,
    TRANSITIONS,
    Status,
)
from coverage.services.plan_documents import PlanDocument, letter_options
from coverage.services.requests import case_of, evaluate, units_per_session
from coverage.store.documents import DocumentStore, document_key

if TYPE_CHECKING:
    from coverage.cases import Case
    from coverage.clinic import Clinic
    from coverage.policies.service import Checker
    from coverage.store.tables import Payer

#: The decision a patient's notice reports for each kind of answer (not-required answers get none).
NOTICE_DECISIONS = {
    "approved": "approved",
    "partially_approved": "partially_approved",
    "modified": "approved",
    "pended": "pended",
    "denied": "denied",
}
#: Titles of the documents as a fax cover lists them.
ENCLOSURE_TITLES = {
    "request": "Letter of medical necessity",
    "continuation": "Continuation request",
    "appeal": "Appeal",
    "packet": "Documentation of prior treatment",
}
#: The largest outside PDF that can be attached (bytes).
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024

#: Statuses from which an appeal can be drafted (partially approved, denied, appeal denied)...
APPEALABLE: frozenset[Status] = frozenset(s for s, targets in TRANSITIONS.items() if "appeal_drafted" in targets)
#: ...and those of an appeal drafted, sent, answered or taken to external review: where an appeal letter is made.
APPEAL_STATUSES: frozenset[Status] = frozenset(
    {
        *APPEALABLE,
        "appeal_drafted",
        SENT_TO["appeal_drafted"],
        *ANSWER_TARGETS[SENT_TO["appeal_drafted"]].values(),
        *(s for s in TRANSITIONS["appeal_denied"] if s in ANSWER_TARGETS),  # external review
    }
)
#: The kinds made for the payer's sending: while the request can be sent, or a copy once it was sent.
SENDING_KINDS = ("request", "continuation", "packet", "fax-cover")


def kinds_allowed(request: m.Request) -> list[str]:
    """The document kinds ``letter --request`` makes for the request in its status (lifecycle sets):
    the request letter, packet and fax cover when it can be sent or was sent; the appeal in an appeal's
    statuses (or a copy of the one made); the decision notice once the payer answered; the payment plan
    where a self-pay plan can follow; receipts and superbills always."""
    status = request.status
    made = {d.kind for d in request.live_documents}
    allowed: list[str] = []
    if status in SENDABLE or request.live_submissions:
        allowed += SENDING_KINDS
    if status in APPEAL_STATUSES or "appeal" in made:
        allowed.append("appeal")
    if request.latest_answer is not None:
        allowed.append("decision-notice")
    if status in PLANNABLE:
        allowed.append("payment-plan")
    allowed += ["superbill", "receipt"]
    return [kind for kind in KINDS if kind in allowed]


def check_kind(request: m.Request, kind: str) -> None:
    """One line naming the request's status and the kinds it allows, when ``kind`` is not among them."""
    allowed = kinds_allowed(request)
    if kind not in allowed:
        why = " (no answer recorded)" if kind == "decision-notice" else ""
        raise InvalidInput(
            [
                f"--kind: request {request.id} is {request.status}{why}: no {kind} document in that status "
                f"(allowed: {', '.join(allowed)})"
            ]
        )


_PAGE = re.compile(rb"/Type\s*/Page(?![s\w])")
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)


def pdf_page_count(pdf: bytes) -> int:
    """Pages of a PDF: page objects, also inside compressed object streams."""
    count = len(_PAGE.findall(pdf))
    for match in _STREAM.finditer(pdf):
        try:
            count += len(_PAGE.findall(zlib.decompress(match.group(1))))
        except zlib.error:
            continue  # an image or font stream, not objects
    return max(count, 1)


def _identity_hash(identity: dict[str, Any]) -> str:
    payload = json.dumps(identity, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:8].upper()


@dataclass(frozen=True, slots=True)
class Made:
    """A document of the request, and whether this call made it (else it was already there)."""

    document: m.Document
    new: bool


class RequestDocuments:
    """A stored request's documents, over its current case version and evaluation."""

    def __init__(
        self,
        request: m.Request,
        *,
        checker: Checker,
        clinic: Clinic,
        store: DocumentStore,
        when: m.When,
        payer: Payer | None = None,
        template_dir: Path | None = None,
        urgent_hours: int | None = None,
    ) -> None:
        assert request.id is not None
        self.request = request
        self.request_id = request.id
        self.clinic, self.store, self.when, self.payer = clinic, store, when, payer
        self.template_dir = template_dir
        #: The hours an expedited letter asks for: given, else the payer's urgent turnaround, else the
        #: clinic's default (the same clock the records keep, lifecycle rule 12).
        self.urgent_hours = (
            urgent_hours if urgent_hours is not None else payer.urgent_turnaround_hours if payer else None
        )
        case = case_of(request, checker)
        evaluation = request.evaluation
        evaluated_on = evaluation.evaluated_on if evaluation is not None and evaluation.evaluated_on else when.today
        #: The case as it was evaluated: its ``as_of`` is the evaluation's day (rule 1).
        self.case: Case = case.model_copy(update={"as_of": evaluated_on})
        self.determination = (
            Determination.from_dict(evaluation.result)
            if evaluation is not None
            else evaluate(case, checker, when.today)
        )
        #: The policy version the determination was made under, so letters match it (the newest
        #: version of its id if that one is no longer loaded).
        policy_id = self.determination.policy_id
        self.policy = checker.policy_of(self.determination) or (checker.registry.get(policy_id) if policy_id else None)

    # --- the machinery ----------------------------------------------------------------------

    def number(self, kind: str, identity: dict[str, Any]) -> str:
        """The control number of a document: the request id, the kind's code, a hash of what makes it."""
        code = get_kind(kind).code
        return f"{self.request_id}-{code}-{_identity_hash({'kind': kind, **identity})}"

    def ensure(self, kind: str, identity: dict[str, Any], options: LetterOptions | None = None) -> Made:
        """The request's document with this identity: found, or rendered, stored and added."""
        number = self.number(kind, identity)
        found = self.request.document(number)
        if found is not None:
            return Made(found, new=False)
        from coverage.letters.render import render_document

        rendered = render_document(
            kind,
            case=self.case,
            determination=self.determination,
            clinic=self.clinic,
            policy=self.policy,
            options=self.expedited(options or LetterOptions()),
            template_dir=self.template_dir,
            dated=self.when.today,
            number=number,
        )
        key = document_key(self.request_id, number)
        self.store.put(key, rendered.pdf)
        document = m.Document(
            kind=kind,
            control_number=number,
            sha256="sha256:" + rendered.sha256,
            size=len(rendered.pdf),
            pages=rendered.page_count,
            dated=self.when.today,
            created_at=self.when.now,
            title=rendered.title,
            key=key,
            case_version=self.request.current_version.version,
        )
        self.request.documents.append(document)
        return Made(document, new=True)

    def expedited(self, options: LetterOptions) -> LetterOptions:
        """The options with the request's urgency: expedited wording exactly when the request is expedited."""
        if not self.request.expedited:
            return dataclasses.replace(options, expedited_reason=None, expedited_hours=None)
        hours = self.urgent_hours
        if hours is None:
            from coverage.settings import load_settings

            hours = load_settings().default_urgent_turnaround_hours
        reason = self.request.expedited_reason or m.DEFAULT_EXPEDITED_REASON
        return dataclasses.replace(options, expedited_reason=reason, expedited_hours=hours)

    def sending_of(self, kind: str) -> int:
        """The sending a document for the payer belongs to (see the module's docstring)."""
        request = self.request
        sent = len(request.live_submissions)
        upcoming = (
            request.status in SENDABLE
            or request.status == "draft"
            or (kind == "appeal" and request.status in ("denied", "appeal_denied"))
        )
        return sent + 1 if upcoming or sent == 0 else sent

    def _sending(self, kind: str) -> dict[str, Any]:
        return {"version": self.request.current_version.version, "sending": self.sending_of(kind)}

    def _to_payer(self, **options: Any) -> LetterOptions:
        """Options of a letter to the payer: its fax in the recipient block when a fax reaches it, and what
        the sending answers (the payer's request for information)."""
        payer = self.payer
        fax = payer.fax if payer is not None and payer.channel == "fax" else None
        return LetterOptions(recipient_fax=fax, sending=self.sending_info(), **options)

    def pend_answered(self) -> m.Answer | None:
        """The payer's request for information the next sending answers (an open request whose latest answer
        is a pend), else ``None``."""
        answer = self.request.latest_answer
        if answer is None or answer.decision != "pended" or self.request.status not in OPEN:
            return None
        return answer

    def sending_info(self, *, appeal: bool = False) -> Sending:
        """What the next sending is: its channel (the payer's), an appeal, or the answer to a pend."""
        payer = self.payer
        channel = payer.channel if payer is not None else "fax"
        pend = None if appeal else self.pend_answered()
        return Sending(
            channel=channel,
            destination=payer.portal_url if payer is not None and channel == "portal" else None,
            appeal=appeal,
            responds_to_pend=pend is not None,
            info_reference=pend.reference if pend is not None else None,
            info_requested=pend.info_requested if pend is not None else None,
            info_asked_on=pend.decided_on if pend is not None else None,
        )

    # --- what goes to the payer -------------------------------------------------------------

    def letter(self) -> Made:
        """The request letter (or continuation letter), or the appeal when the request is drafted as one."""
        if self.request.status == "appeal_drafted":
            return self.appeal()
        return self.request_letter()

    def request_letter(self, kind: str | None = None) -> Made:
        """The request letter, or the continuation letter of a continuation case (``kind``: asked for by name)."""
        own = "continuation" if self.case.request.kind == "continuation" else "request"
        if kind == "continuation" and own != "continuation":
            raise InvalidInput(["request.kind: the continuation letter needs a continuation case (request.kind)"])
        return self.ensure(own, self._sending(own), self._to_payer())

    def appeal(self, denial: Denial | None = None) -> Made:
        """The appeal answering the request's latest denial: its reason, date and the payer's reference."""
        answer = self.request.last_denial
        if denial is None:
            if answer is None:
                raise InvalidInput([f"request {self.request_id}: has no denial to appeal"])
            denial = Denial(reason=answer.reason or "denied", denied_on=answer.decided_on, reference=answer.reference)
        identity = {**self._sending("appeal"), "denial": dataclasses.asdict(denial)}
        options = dataclasses.replace(self._to_payer(denial=denial), sending=self.sending_info(appeal=True))
        return self.ensure("appeal", identity, options)

    def packet(self) -> Made:
        """The documentation packet of the sending."""
        return self.ensure("packet", self._sending("packet"))

    def attachments(self) -> list[m.Document]:
        return [d for d in self.request.live_documents if d.kind == "attachment"]

    def enclosures(self) -> list[m.Document]:
        """What a sending carries: the letter, the packet, and the outside documents attached."""
        return [self.letter().document, self.packet().document, *self.attachments()]

    def cover(self, enclosed: list[m.Document], fax: str | None, *, attention: str | None = None) -> Made:
        """The fax cover listing the enclosures with their control numbers and pages (``attention``: the
        recipient's attention line, when not the utilization-management default)."""
        enclosures = tuple(
            Enclosure(
                title=d.title if d.kind == "attachment" and d.title else ENCLOSURE_TITLES.get(d.kind, d.kind),
                control_number=d.control_number,
                pages=self.pages(d),
            )
            for d in enclosed
        )
        identity: dict[str, Any] = {
            "sending": self.sending_of("fax-cover"),
            "enclosures": [e.control_number for e in enclosures],
            "fax": fax,
        }
        if attention is not None:
            identity["attention"] = attention
        sending = self.sending_info(appeal=any(d.kind == "appeal" for d in enclosed))
        if sending.channel != "fax":
            identity["channel"] = sending.channel
        options = LetterOptions(
            recipient_fax=fax, recipient_attention=attention, enclosures=enclosures, sending=sending
        )
        return self.ensure("fax-cover", identity, options)

    def pages(self, document: m.Document) -> int:
        """A document's pages: as recorded, or counted in its file."""
        if document.pages is not None:
            return document.pages
        if document.key is not None:
            return pdf_page_count(self.store.get(document.key))
        if document.path is not None and Path(document.path).is_file():
            return pdf_page_count(Path(document.path).read_bytes())
        return 1

    # --- what goes to the patient -----------------------------------------------------------

    def notice(self, answer: m.Answer) -> Made | None:
        """The patient's notice of a payer's answer (once per answer), or ``None`` when none is sent."""
        decision = NOTICE_DECISIONS.get(answer.decision)
        if decision is None or answer.id is None:
            return None
        auth = answer.authorization
        if auth is not None and auth.partial and decision == "approved":
            decision = "partially_approved"
        return self.ensure(
            "decision-notice", {"answer": answer.id}, LetterOptions(decision=self.decision(answer, decision))
        )

    def decision(self, answer: m.Answer, status: str) -> Decision:
        """An answer as a notice states it: units of the code and the sessions they pay for (rule 9)."""
        code, per_session = units_per_session(self.request)
        units = answer.units
        sessions = units // per_session if units is not None and per_session else None
        auth = answer.authorization
        units_left = None
        if auth is not None and auth.live and self.request.course is not None:
            units_left = auth.units_authorized - self.request.units_used(auth)
        return Decision(
            status=status,  # type: ignore[arg-type]  # one of NOTICE_DECISIONS' values
            decided_on=answer.decided_on,
            auth_number=answer.authorization_number,
            valid_from=answer.valid_from,
            valid_to=answer.valid_to,
            units=units,
            reason=answer.reason if status == "denied" else answer.info_requested,
            code=code,
            unit_label=unit_label(code) if code else None,
            sessions=sessions,
            dose_mg=self.case.request.dose_mg,
            units_left=units_left,
        )

    def stored_options(self) -> LetterOptions:
        """What the request's record says, for a letter made on request (``letter --request``)."""
        answer = self.request.latest_answer
        decision = None
        if answer is not None and answer.decision in NOTICE_DECISIONS:
            decision = self.decision(answer, NOTICE_DECISIONS[answer.decision])
        denial = self.request.last_denial
        return LetterOptions(
            denial=Denial(reason=denial.reason or "denied", denied_on=denial.decided_on, reference=denial.reference)
            if denial is not None
            else None,
            decision=decision,
            recipient_fax=self.payer.fax if self.payer is not None else None,
        )

    def plan_paper(
        self,
        kind: PlanDocument,
        plan: PlanRecord,
        *,
        service_dates: Sequence[dt.date] = (),
        through: dt.date | None = None,
    ) -> Made:
        """A plan's agreement, receipt or superbill (once per plan, payments and sessions listed)."""
        if kind == "receipt" and not (plan.payments or plan.earlier_payments):
            raise InvalidInput([f"PLAN: plan {plan.id} has no payments yet; a receipt lists payments received"])
        options = letter_options(kind, plan, service_dates=service_dates, through=through)
        identity = {
            "plan": plan.id,
            "payments": [p.id for p in (*plan.earlier_payments, *plan.payments)],
            "service_dates": [d.isoformat() for d in options.service_dates],
            "through": through.isoformat() if through else None,
        }
        return self.ensure(kind, identity, options)

    def on_request(self, kind: str, options: LetterOptions) -> Made:
        """Any document kind for this request with these options (a clerk's ``letter --request``)."""
        identity = {**self._sending(kind), "options": dataclasses.asdict(options, dict_factory=_plain)}
        return self.ensure(kind, identity, options)


def _plain(items: list[tuple[str, Any]]) -> dict[str, Any]:
    return {key: str(value) if isinstance(value, Decimal | dt.date) else value for key, value in items}


def read(document: m.Document, *, store: DocumentStore, fallback: bytes | None = None) -> bytes:
    """A stored document's bytes: from the store, from an earlier version's path, or its stored content."""
    if document.key is not None:
        return store.get(document.key)
    if document.path is not None and Path(document.path).is_file():
        return Path(document.path).read_bytes()
    if fallback is not None:
        return fallback
    raise InvalidInput([f"document {document.control_number}: its file is not in the document store"])
