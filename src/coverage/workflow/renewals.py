"""Re-authorization: authorizations near expiry, out of units or ended get a continuation request.

Which are due comes from the worklist (``expiring`` and ``continuation_due``: the course has no
later request yet), so a daily run continues each authorization once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from coverage.errors import PriorAuthError
from coverage.services import requests as services
from coverage.workflow.runtime import Runtime
from coverage.worklist import build

log = logging.getLogger(__name__)

RENEWAL_KINDS = frozenset({"expiring", "continuation_due"})


@dataclass(frozen=True, slots=True)
class Continuation:
    """A continuation made for an approved request."""

    request_id: int
    continuation_id: int
    status: str
    outcome: str


def due_for_renewal(as_of: dt.date, *, rt: Runtime) -> list[int]:
    """Ids of approved requests whose authorization is expiring or ended, with no later request."""
    return sorted({i.request_id for i in build(as_of, uow=rt.uow(), zone=rt.ctx.timezone) if i.kind in RENEWAL_KINDS})


def draft_continuations(request_ids: Sequence[int], *, rt: Runtime, by: str) -> list[Continuation]:
    """A continuation request for each (rule 8); one continued meanwhile is left alone."""
    made: list[Continuation] = []
    for request_id in request_ids:
        try:
            taken = services.continue_request(request_id, uow=rt.uow(), checker=rt.checker, ctx=rt.ctx, by=by)
        except PriorAuthError as error:
            log.info("request %s: not continued (%s)", request_id, type(error).__name__)
            continue
        made.append(Continuation(request_id, taken.request_id, taken.status, taken.determination.outcome))
        log.info("request %s: continued as request %s", request_id, taken.request_id)
    return made
