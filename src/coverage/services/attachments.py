"""Outside documents (a chart note, a lab result) attached to a request: they join its next sending (rule 5)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from coverage.errors import InvalidInput
from coverage.fields import clean_text
from coverage.requests import model as m
from coverage.requests.views import RequestView, request_view
from coverage.services import requests as services
from coverage.services.context import Context, actor
from coverage.services.documents import MAX_ATTACHMENT_BYTES
from coverage.store.documents import DocumentStore, document_key
from coverage.store.uow import UnitOfWork


def read_pdf(path: Path) -> bytes:
    """A PDF file's bytes, or one line saying why it cannot be attached."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_ATTACHMENT_BYTES + 1)
    except OSError as error:
        raise InvalidInput([f"FILE.pdf: cannot read {path.name} ({error.strerror})"]) from None
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise InvalidInput([f"FILE.pdf: larger than {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB"])
    if not data.startswith(b"%PDF-"):
        raise InvalidInput([f"FILE.pdf: {path.name} is not a PDF"])
    return data


def pdf_pages(data: bytes, name: str) -> int:
    """The pages of a PDF that opens, or one line saying why it cannot go to a payer."""
    import pypdf  # only when attaching

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise InvalidInput([f"FILE.pdf: {name} is password-protected; a payer cannot open it"])
        pages = len(reader.pages)
    except InvalidInput:
        raise
    except Exception as error:  # pypdf raises many kinds on a damaged file
        raise InvalidInput([f"FILE.pdf: {name} is damaged and cannot be opened ({type(error).__name__})"]) from None
    if pages < 1:
        raise InvalidInput([f"FILE.pdf: {name} has no pages"])
    return pages


def attach(
    request_id: int, path: Path, *, title: str, uow: UnitOfWork, ctx: Context, store: DocumentStore, by: str
) -> RequestView:
    """Store the PDF under the request and record the attachment; the open send task closes."""
    by, when = actor(by), ctx.when()
    title = clean_text("--title", title, kind="title")
    data = read_pdf(path)
    pages = pdf_pages(data, path.name)
    digest = hashlib.sha256(data).hexdigest()
    number = f"{request_id}-ATT-{digest[:8].upper()}"
    with uow:
        _, request = services.load(uow, request_id)
        found = request.document(number)
        if found is not None and not found.withdrawn:
            raise InvalidInput([f"FILE.pdf: already attached to request {request_id} as {number}"])
        key = document_key(request_id, number)
        if found is not None:  # attached before, withdrawn by an undo: attached again
            found.withdrawn, found.title, found.dated = False, title, when.today
            document = found
        else:
            document = m.Document(
                kind="attachment",
                control_number=number,
                sha256="sha256:" + digest,
                size=len(data),
                pages=pages,
                dated=when.today,
                created_at=when.now,
                title=title,
                key=key,
                case_version=request.current_version.version,
            )
        store.put(key, data)
        request.attach(document, when, by)
        view = request_view(request, services.names(uow, request), as_of=when.today, now=when.now, clocks=ctx.clocks)
        uow.commit()
    return view
