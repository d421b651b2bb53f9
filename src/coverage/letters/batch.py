"""Rendering many documents on all cores with one reused pool of warm worker processes.

A fresh process pays about 0.34 s to import WeasyPrint and 0.13 s for its first letter
(``shared/engineering-notes.md``), so the pool is created once, each worker renders a small
warm-up document at start, and the same pool serves every batch until :func:`close_pool`.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from coverage.cases import Case
from coverage.clinic import Clinic
from coverage.determinations import Determination
from coverage.letters.options import LetterOptions
from coverage.letters.render import RenderedDocument, html_to_pdf, render_document
from coverage.policies.loader import LoadedPolicy


@dataclass(frozen=True, slots=True)
class RenderJob:
    """One document to render: the same inputs as :func:`render_document`."""

    kind: str
    case: Case
    determination: Determination
    clinic: Clinic
    policy: LoadedPolicy | None = None
    options: LetterOptions = field(default_factory=LetterOptions)
    pdf_variant: str | None = None
    template_dir: Path | None = None
    #: The document's date: give it, so that a batch is dated one day in every worker process.
    dated: dt.date | None = None
    number: str | None = None


def render_job(job: RenderJob) -> RenderedDocument:
    """Render one job (runs in a worker process)."""
    return render_document(
        job.kind,
        case=job.case,
        determination=job.determination,
        clinic=job.clinic,
        policy=job.policy,
        options=job.options,
        pdf_variant=job.pdf_variant,
        template_dir=job.template_dir,
        dated=job.dated,
        number=job.number,
    )


def _warm_up() -> None:
    html_to_pdf('<html><body style="font-family: DejaVu Sans"><p>warm-up</p></body></html>')


_pool: ProcessPoolExecutor | None = None
_pool_size = 0


def shared_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """The process pool, created on first use with one warm worker per core, then reused."""
    global _pool, _pool_size  # noqa: PLW0603  # one pool per process, reused across batches on purpose
    size = workers or os.cpu_count() or 1
    if _pool is None or _pool_size != size:
        close_pool()
        _pool = ProcessPoolExecutor(max_workers=size, initializer=_warm_up)
        _pool_size = size
    return _pool


def close_pool() -> None:
    """Shut the shared pool down (also done at exit)."""
    global _pool  # noqa: PLW0603  # see shared_pool
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None


atexit.register(close_pool)


def render_many(jobs: Sequence[RenderJob], *, workers: int | None = None) -> list[RenderedDocument]:
    """Render every job, in order, on the shared pool (in this process when there is one job or one core).

    Jobs without a date are dated the clinic's today, once for the whole batch.
    """
    if any(job.dated is None for job in jobs):
        from coverage.requests.clocks import clinic_today

        today = clinic_today()
        jobs = [job if job.dated is not None else replace(job, dated=today) for job in jobs]
    size = workers or os.cpu_count() or 1
    if size == 1 or len(jobs) <= 1:
        return [render_job(job) for job in jobs]
    chunk = max(1, len(jobs) // (size * 4))
    return list(shared_pool(size).map(render_job, jobs, chunksize=chunk))
