"""Documents for a stored request: render them, write the PDFs, attach them; never twice for the same inputs.

Every document's control number is a hash of its inputs (case, determination, options,
policy), so before rendering we look for a document of the request with that control number
(and after rendering, with that sha256): the same inputs never give a second letter. PDFs are
written under ``<documents_dir>/<case id>/<control number>.pdf`` and the request's document row
points at the file.

What leaves these services for the orchestration layer is ids, codes and statuses only.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from coverage.cases import Case
from coverage.clinic import Clinic
from coverage.determinations import Determination
from coverage.errors import InvalidInput
from coverage.letters.options import Decision, Denial, Enclosure, LetterOptions
from coverage.letters.render import render_document, render_html
from coverage.policies.service import Checker
from coverage.requests import service as requests
from coverage.requests.views import DocumentView, RequestDetail
from coverage.store.uow import UnitOfWork

log = logging.getLogger(__name__)

#: Statuses from which a request (or its information, or its appeal) goes to the payer.
SENDABLE = frozenset({"ready", "pended", "appeal_drafted"})


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    """A document of a request: what it is, where it is, and whether it was already there."""

    document_id: int
    kind: str
    control_number: str
    sha256: str
    pages: int
    path: str | None
    reused: bool


@dataclass(frozen=True, slots=True)
class Prepared:
    """The documents ready to go with a request, and a PHI-free summary of what it asks for."""

    request_id: int
    case_id: str
    status: str
    treatment: str
    outcome: str
    criteria: tuple[tuple[str, str], ...]
    documents: tuple[PreparedDocument, ...]

    @property
    def control_numbers(self) -> tuple[str, ...]:
        return tuple(d.control_number for d in self.documents)


def load_case(request_id: int, *, uow: UnitOfWork, checker: Checker) -> Case:
    """The case (PHI) behind a request's latest intake, validated again; stays inside the task."""
    return checker.parse(json.dumps(requests.get_case_document(request_id, uow=uow)))


def _letter_kind(case: Case) -> str:
    return "continuation" if case.request.kind == "continuation" else "request"


_PAGE = re.compile(rb"/Type\s*/Page(?![s\w])")
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)


def pdf_page_count(pdf: bytes) -> int:
    """Pages of a PDF we rendered: page objects, also inside WeasyPrint's compressed object streams."""
    count = len(_PAGE.findall(pdf))
    for match in _STREAM.finditer(pdf):
        try:
            count += len(_PAGE.findall(zlib.decompress(match.group(1))))
        except zlib.error:
            continue  # an image or font stream, not objects
    return max(count, 1)


def _stored_pages(view: DocumentView, uow: UnitOfWork) -> int:
    if view.path is not None and Path(view.path).is_file():
        return pdf_page_count(Path(view.path).read_bytes())
    with uow:
        content = uow.requests.document_content(view.id)
    return pdf_page_count(content) if content else 1


class _Documents:
    """One request's documents: find by control number or sha256, else render, write and attach."""

    def __init__(
        self,
        detail: RequestDetail,
        case: Case,
        determination: Determination,
        *,
        uow: UnitOfWork,
        clinic: Clinic,
        checker: Checker,
        documents_dir: Path,
    ) -> None:
        self.request_id = detail.request.request_id
        self.case = case
        self.determination = determination
        self.uow = uow
        self.clinic = clinic
        self.policy = checker.registry.get(case.coverage.policy_id) if case.coverage.policy_id else None
        self.folder = documents_dir / case.case_id
        self.existing = {d.control_number: d for d in detail.documents if d.control_number}
        self.hashes = {d.sha256: d for d in detail.documents}
        self.pages: dict[str, int] = {}

    def ensure(self, kind: str, options: LetterOptions | None = None) -> PreparedDocument:
        options = options or LetterOptions()
        _, number, _ = render_html(
            kind,
            case=self.case,
            determination=self.determination,
            clinic=self.clinic,
            policy=self.policy,
            options=options,
        )
        found = self.existing.get(number)
        if found is not None:
            pages = self.pages.get(number) or _stored_pages(found, self.uow)
            return PreparedDocument(found.id, found.kind, number, found.sha256, pages, found.path, reused=True)
        rendered = render_document(
            kind,
            case=self.case,
            determination=self.determination,
            clinic=self.clinic,
            policy=self.policy,
            options=options,
        )
        digest = "sha256:" + rendered.sha256
        same = self.hashes.get(digest)
        if same is not None:
            return PreparedDocument(
                same.id, same.kind, number, same.sha256, rendered.page_count, same.path, reused=True
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{rendered.control_number}.pdf"
        path.write_bytes(rendered.pdf)
        view = requests.attach_document(
            self.request_id,
            uow=self.uow,
            kind=rendered.kind,
            content=rendered.pdf,
            sha256=rendered.sha256,
            control_number=rendered.control_number,
            path=str(path),
        )
        self.existing[number] = view
        self.hashes[view.sha256] = view
        self.pages[number] = rendered.page_count
        log.info("request %s: %s %s attached", self.request_id, rendered.kind, rendered.control_number)
        return PreparedDocument(view.id, view.kind, number, view.sha256, rendered.page_count, str(path), reused=False)


def _documents_of(
    detail: RequestDetail, *, uow: UnitOfWork, checker: Checker, clinic: Clinic, documents_dir: Path
) -> _Documents:
    """A stored request's documents, over its latest case version and stored determination."""
    case = load_case(detail.request.request_id, uow=uow, checker=checker)
    determination = detail.determination or checker.determine(case)
    return _Documents(detail, case, determination, uow=uow, clinic=clinic, checker=checker, documents_dir=documents_dir)


def _stored_documents(
    request_id: int, *, uow: UnitOfWork, checker: Checker, clinic: Clinic, documents_dir: Path
) -> tuple[RequestDetail, _Documents]:
    """A request as stored, and its documents."""
    detail = requests.get_request(request_id, uow=uow)
    return detail, _documents_of(detail, uow=uow, checker=checker, clinic=clinic, documents_dir=documents_dir)


def _fax_options(uow: UnitOfWork, detail: RequestDetail, enclosed: list[PreparedDocument]) -> LetterOptions:
    fax = None
    with uow:
        payer = uow.payers.get(detail.request.payer_id) if detail.request.payer_id is not None else None
        if payer is not None:
            fax = payer.fax
    titles = {"request": "Letter of medical necessity", "continuation": "Continuation request", "appeal": "Appeal"}
    return LetterOptions(
        recipient_fax=fax,
        enclosures=tuple(
            Enclosure(
                title=titles.get(d.kind, "Documentation of prior treatment"),
                control_number=d.control_number,
                pages=d.pages,
            )
            for d in enclosed
        ),
    )


def appeal_options(detail: RequestDetail) -> LetterOptions:
    """The appeal letter's options: the payer's denial as stored on the request."""
    view = detail.request
    return LetterOptions(
        denial=Denial(
            reason=view.denial_reason or "denied",
            denied_on=view.denied_on,
            reference=next((s.reference for s in reversed(detail.submissions) if s.reference), None),
        )
    )


def prepare_submission(
    request_id: int, *, uow: UnitOfWork, checker: Checker, clinic: Clinic, documents_dir: Path
) -> Prepared:
    """Evaluate the stored case again and make the documents that go to the payer.

    A ready or pended request gets the request letter (or continuation letter), the
    documentation packet and a fax cover listing both; an appeal gets the appeal letter, the
    packet and its fax cover. A ready request whose case no longer meets the criteria (a
    policy changed since intake) is refused: re-intake it.
    """
    detail = requests.get_request(request_id, uow=uow)
    status = detail.request.stored_status
    if status not in SENDABLE and detail.submissions:
        # Already with the payer (or decided): a re-run of the flow sends nothing again.
        return Prepared(request_id, detail.request.case_id, status, detail.request.treatment, "", (), ())
    if status not in SENDABLE:
        raise InvalidInput([f"request {request_id}: is {status}; only {', '.join(sorted(SENDABLE))} can be sent"])
    case = load_case(request_id, uow=uow, checker=checker)
    determination = checker.determine(case)
    if status == "ready" and determination.outcome != "meets_criteria":
        raise InvalidInput([f"request {request_id}: the stored case is now {determination.outcome}; re-intake it"])
    docs = _Documents(detail, case, determination, uow=uow, clinic=clinic, checker=checker, documents_dir=documents_dir)
    if status == "appeal_drafted":
        letter = docs.ensure("appeal", appeal_options(detail))
    else:
        letter = docs.ensure(_letter_kind(case))
    packet = docs.ensure("packet")
    cover = docs.ensure("fax-cover", _fax_options(uow, detail, [letter, packet]))
    return Prepared(
        request_id=request_id,
        case_id=case.case_id,
        status=status,
        treatment=case.request.treatment,
        outcome=determination.outcome,
        criteria=tuple((c.id, c.status) for c in determination.criteria),
        documents=(letter, packet, cover),
    )


def draft_appeal_letter(
    request_id: int, *, uow: UnitOfWork, checker: Checker, clinic: Clinic, documents_dir: Path
) -> PreparedDocument:
    """The appeal letter answering the request's stored denial (rendered once per denial)."""
    detail, docs = _stored_documents(request_id, uow=uow, checker=checker, clinic=clinic, documents_dir=documents_dir)
    return docs.ensure("appeal", appeal_options(detail))


def file_documentation(
    request_id: int, *, uow: UnitOfWork, checker: Checker, clinic: Clinic, documents_dir: Path
) -> PreparedDocument:
    """The documentation packet kept on file (a request that needs no prior authorization)."""
    _, docs = _stored_documents(request_id, uow=uow, checker=checker, clinic=clinic, documents_dir=documents_dir)
    return docs.ensure("packet")


#: The request statuses a patient's decision notice is written for, and the decision it reports.
NOTICE_DECISIONS = {
    "approved": "approved",
    "renewed": "approved",
    "appeal_approved": "approved",
    "partially_approved": "partially_approved",
    "denied": "denied",
    "appeal_denied": "denied",
}


def decision_notices(
    request_ids: list[int],
    *,
    uow: UnitOfWork,
    checker: Checker,
    clinic: Clinic,
    documents_dir: Path,
    today: dt.date | None = None,
) -> list[PreparedDocument]:
    """The patient's notice of the payer's decision, for each decided request (once per decision)."""
    made: list[PreparedDocument] = []
    for request_id in request_ids:
        detail = requests.get_request(request_id, uow=uow)
        view = detail.request
        decision = NOTICE_DECISIONS.get(view.stored_status)
        if decision is None:
            continue
        auth = view.authorization if decision != "denied" else None
        decided_on = next((e.at.date() for e in reversed(detail.events) if e.to_status == view.stored_status), today)
        docs = _documents_of(detail, uow=uow, checker=checker, clinic=clinic, documents_dir=documents_dir)
        options = LetterOptions(
            decision=Decision(
                status="denied"
                if decision == "denied"
                else "partially_approved"
                if auth and auth.partial
                else "approved",
                decided_on=decided_on,
                auth_number=auth.number if auth else None,
                valid_from=auth.valid_from if auth else None,
                valid_to=auth.valid_to if auth else None,
                units=auth.units_authorized if auth else None,
                reason=view.denial_reason if decision == "denied" else None,
            )
        )
        made.append(docs.ensure("decision-notice", options))
    return made


def sign_off_summary(prepared: Prepared) -> str:
    """What a clinician reviews before the request goes out, in Markdown: ids, codes and statuses only."""
    criteria = "\n".join(f"| {criterion} | {status} |" for criterion, status in prepared.criteria)
    documents = "\n".join(f"- {d.kind}: `{d.control_number}` ({d.pages} p.)" for d in prepared.documents)
    return (
        f"### Sign-off: request {prepared.request_id} (case `{prepared.case_id}`)\n\n"
        f"Treatment **{prepared.treatment}**, determination **{prepared.outcome}**, "
        f"request is **{prepared.status}**.\n\n"
        f"| criterion | status |\n|---|---|\n{criteria}\n\n"
        f"Documents (open them in the records by control number):\n{documents}\n\n"
        "Approve to send the request to the payer."
    )
