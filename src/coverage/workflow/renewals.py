"""Re-authorization: authorizations near expiry or out of units get a continuation request drafted.

Which authorizations are due comes from the records' worklist rules (expiring: within the
warning days of the end or past the units ratio; reauthorization due: ended). The continuation
is a new intake of the case's latest version as a continuation (``request.kind``), with the
therapy start set to the authorization's first day when the case has none: the engine checks
the response on the latest scores. A case that already has a newer request is left alone, so a
daily run drafts once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from coverage.policies.service import Checker
from coverage.requests import service as requests
from coverage.requests.clocks import ClockSettings
from coverage.requests.lifecycle import STATUSES
from coverage.store.uow import UnitOfWork

log = logging.getLogger(__name__)

RENEWAL_KINDS = frozenset({"expiring", "reauthorization_due"})
_LIVE = frozenset(s for s in STATUSES if s != "cancelled")


@dataclass(frozen=True, slots=True)
class Continuation:
    """A continuation drafted for an authorized request."""

    request_id: int
    continuation_id: int
    status: str
    outcome: str


def due_for_renewal(as_of: dt.date, *, uow: UnitOfWork, clocks: ClockSettings = requests.DEFAULT_CLOCKS) -> list[int]:
    """Ids of authorized requests that the worklist says are expiring or need re-authorization."""
    return [i.request_id for i in requests.worklist(as_of, uow=uow, clocks=clocks) if i.kind in RENEWAL_KINDS]


def draft_continuations(
    request_ids: Sequence[int], *, uow: UnitOfWork, checker: Checker, by: str, as_of: dt.date
) -> list[Continuation]:
    """A continuation request for each authorized request without a newer request for its case."""
    drafted: list[Continuation] = []
    for request_id in request_ids:
        view = requests.get_request(request_id, uow=uow).request
        auth = view.authorization
        if auth is None:
            continue
        with uow:
            latest = uow.requests.latest_for_case(view.case_id, _LIVE)
            newest = latest.id if latest is not None else request_id
        if newest != request_id:
            continue  # already drafted (or superseded)
        document = requests.get_case_document(request_id, uow=uow)
        document["as_of"] = as_of.isoformat()
        document["request"]["kind"] = "continuation"
        if not document["request"].get("therapy_start"):
            document["request"]["therapy_start"] = auth.valid_from.isoformat()
        taken = requests.intake(json.dumps(document), uow=uow, checker=checker, by=by)
        drafted.append(Continuation(request_id, taken.request_id, taken.status, taken.determination.outcome))
        log.info("request %s: continuation drafted as request %s", request_id, taken.request_id)
    return drafted
