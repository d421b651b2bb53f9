"""Letters and the documentation packet, rendered from Jinja2 templates to PDF by WeasyPrint.

    render_document(kind, *, case, determination, clinic, ...)  one document → RenderedDocument
    render_packet(*, case, determination, clinic, ...)           the documentation packet
    render_many(jobs, *, workers=None)                           a batch on a reused process pool

Document kinds and the options each needs are in :mod:`coverage.letters.kinds`; the options
themselves in :mod:`coverage.letters.options`; template lookup in :mod:`coverage.letters.templates`.
WeasyPrint is imported only when a PDF is made.
"""

from coverage.letters.batch import RenderJob, close_pool, render_many
from coverage.letters.kinds import KINDS, LETTER_KINDS, DocumentKind
from coverage.letters.options import Decision, Denial, Enclosure, LetterOptions, Payment, Sending
from coverage.letters.render import RenderedDocument, ServiceLine, render_document, render_html, render_packet

__all__ = [
    "KINDS",
    "LETTER_KINDS",
    "Decision",
    "Denial",
    "DocumentKind",
    "Enclosure",
    "LetterOptions",
    "Payment",
    "RenderJob",
    "RenderedDocument",
    "Sending",
    "ServiceLine",
    "close_pool",
    "render_document",
    "render_html",
    "render_many",
    "render_packet",
]
