"""Staff accounts, server-side sessions and the access log of the web app.

Passwords are kept as argon2 hashes only. A session is a random token: the browser's cookie
carries it (signed, see :mod:`coverage.web.security`), the database only its sha256, so a copy
of the database signs no one in. Five failed sign-ins lock an account for 15 minutes; a
session unused for 15 minutes ends. The access log is append-only: nothing here updates or
deletes its rows, and the database's triggers (migration 0007) refuse to.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from coverage.errors import InvalidInput, NotFound
from coverage.fields import clean_text
from coverage.store.tables import AccessLog, WebFormToken, WebSession, WebUser

Role = Literal["clerk", "clinician", "admin"]
ROLES: Final[tuple[Role, ...]] = ("clerk", "clinician", "admin")
#: Failed sign-ins in a row that lock an account, and for how long.
MAX_FAILURES: Final = 5
LOCKOUT: Final = dt.timedelta(minutes=15)
#: A session unused this long is over.
IDLE: Final = dt.timedelta(minutes=15)
#: How long a spent one-time form token is remembered (a page left open longer is posted again as new).
FORM_TOKEN_MEMORY: Final = dt.timedelta(hours=24)
MIN_PASSWORD: Final = 12
MAX_PASSWORD: Final = 1024


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of a password (at least 12 characters)."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput([f"password: at least {MIN_PASSWORD} characters"])
    if len(password) > MAX_PASSWORD:
        raise InvalidInput([f"password: at most {MAX_PASSWORD} characters"])
    return str(_hasher().hash(password))


def _verify(stored: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return bool(_hasher().verify(stored, password[:MAX_PASSWORD]))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


#: Verified against when the name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH: list[str] = []


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class UserView:
    """A staff account as listed (never its hash)."""

    id: int
    name: str
    role: str
    disabled: bool
    locked_until: dt.datetime | None
    created_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "disabled": self.disabled,
            "locked_until": self.locked_until.isoformat() if self.locked_until else None,
            "created_at": self.created_at.isoformat(),
        }


def _user_view(user: WebUser) -> UserView:
    return UserView(user.id, user.name, user.role, user.disabled, user.locked_until, user.created_at)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who a request comes from: the account and its session."""

    user_id: int
    name: str
    role: str
    session_id: int
    token: str
    flash: str | None = None


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One row of the access log."""

    id: int
    user: str
    at: dt.datetime
    patient_id: str
    request_id: int | None
    what: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user,
            "at": self.at.isoformat(),
            "patient_id": self.patient_id,
            "request_id": self.request_id,
            "what": self.what,
        }


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(value: str) -> str:
    name = clean_text("NAME", value, kind="actor")
    if any(c.isspace() for c in name):
        raise InvalidInput(["NAME: no spaces (a sign-in name such as jdoe)"])
    return name


def _role(value: str) -> Role:
    if value not in ROLES:
        raise InvalidInput([f"--role: {value!r} is not one of {', '.join(ROLES)}"])
    return value


class Accounts:
    """Accounts, sessions and the access log on the records database (each call its own transaction)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # --- accounts -------------------------------------------------------------------------------

    def add_user(self, name: str, *, role: str, password: str) -> UserView:
        name, checked = _name(name), _role(role)
        hashed = hash_password(password)
        with self._sessions.begin() as session:
            if session.scalar(select(WebUser).where(WebUser.name == name)) is not None:
                raise InvalidInput([f"NAME: {name!r} already exists"])
            user = WebUser(name=name, role=checked, password_hash=hashed, disabled=False, failed_count=0)
            session.add(user)
            session.flush()
            return _user_view(user)

    def users(self) -> list[UserView]:
        with self._sessions() as session:
            return [_user_view(u) for u in session.scalars(select(WebUser).order_by(WebUser.name))]

    def _user(self, session: Session, name: str) -> WebUser:
        user = session.scalar(select(WebUser).where(WebUser.name == name))
        if user is None:
            raise NotFound(f"user {name!r}: no such user")
        return user

    def set_disabled(self, name: str, disabled: bool = True) -> UserView:
        """Disable (or enable) an account; a disabled account's sessions end at once."""
        with self._sessions.begin() as session:
            user = self._user(session, name)
            user.disabled = disabled
            if disabled:
                for row in session.scalars(select(WebSession).where(WebSession.user_id == user.id)):
                    session.delete(row)
            else:
                user.failed_count, user.locked_until = 0, None
            return _user_view(user)

    def unlock(self, name: str) -> UserView:
        """End a lockout after failed sign-ins (the count starts again)."""
        with self._sessions.begin() as session:
            user = self._user(session, name)
            user.failed_count, user.locked_until = 0, None
            return _user_view(user)

    def set_password(self, name: str, password: str) -> UserView:
        hashed = hash_password(password)
        with self._sessions.begin() as session:
            user = self._user(session, name)
            user.password_hash, user.failed_count, user.locked_until = hashed, 0, None
            return _user_view(user)

    # --- signing in and out ---------------------------------------------------------------------

    def sign_in(self, name: str, password: str, *, now: dt.datetime | None = None) -> SignedIn | None:
        """A new session for the right password of an enabled, unlocked account; else ``None``.

        Every wrong password counts; the fifth in a row locks the account for 15 minutes (a right
        password is refused while it is locked).
        """
        now = now or _now()
        with self._sessions.begin() as session:
            user = session.scalar(select(WebUser).where(WebUser.name == name.strip()))
            if user is None:
                if not _DUMMY_HASH:
                    _DUMMY_HASH.append(_hasher().hash(secrets.token_hex(16)))
                _verify(_DUMMY_HASH[0], password)
                return None
            if user.disabled:
                return None
            if user.locked_until is not None and user.locked_until > now:
                return None
            if not _verify(user.password_hash, password):
                user.failed_count += 1
                if user.failed_count >= MAX_FAILURES:
                    user.failed_count, user.locked_until = 0, now + LOCKOUT
                return None
            user.failed_count, user.locked_until = 0, None
            token = secrets.token_urlsafe(32)
            row = WebSession(token_hash=token_hash(token), user_id=user.id, created_at=now, last_seen=now)
            session.add(row)
            session.flush()
            return SignedIn(user.id, user.name, user.role, row.id, token)

    def locked(self, name: str, *, now: dt.datetime | None = None) -> bool:
        with self._sessions() as session:
            user = session.scalar(select(WebUser).where(WebUser.name == name.strip()))
            return user is not None and user.locked_until is not None and user.locked_until > (now or _now())

    def session(self, token: str, *, now: dt.datetime | None = None, touch: bool = True) -> SignedIn | None:
        """The signed-in user of a session token, its last use moved to now; ``None`` when over.

        A session unused for :data:`IDLE` ends (its row is deleted); so does one whose account
        was disabled. The one-time message, if any, is handed over and cleared.
        """
        now = now or _now()
        with self._sessions.begin() as session:
            row = session.scalar(select(WebSession).where(WebSession.token_hash == token_hash(token)))
            if row is None:
                return None
            user = session.get(WebUser, row.user_id)
            if user is None or user.disabled or now - row.last_seen > IDLE:
                session.delete(row)
                return None
            flash = row.flash
            if touch:
                row.last_seen = now
                row.flash = None
            return SignedIn(user.id, user.name, user.role, row.id, token, flash)

    def flash(self, session_id: int, message: str) -> None:
        """A message for the next page of this session."""
        with self._sessions.begin() as session:
            row = session.get(WebSession, session_id)
            if row is not None:
                row.flash = message[:2000]

    def sign_out(self, token: str) -> None:
        with self._sessions.begin() as session:
            row = session.scalar(select(WebSession).where(WebSession.token_hash == token_hash(token)))
            if row is not None:
                session.delete(row)

    # --- one-time form tokens ------------------------------------------------------------------

    def spend_form_token(self, session_id: int, token: str, *, now: dt.datetime | None = None) -> bool:
        """Whether a form's one-time token was fresh for the session, and is now spent.

        One row per spent token, its key unique: of two posts of one form at once, in any web
        worker, one inserts and the other is refused by the database. Tokens spent more than
        :data:`FORM_TOKEN_MEMORY` ago are forgotten here (a form left open that long is new again).
        """
        now = now or _now()
        try:
            with self._sessions.begin() as session:
                session.execute(delete(WebFormToken).where(WebFormToken.spent_at < now - FORM_TOKEN_MEMORY))
                session.add(WebFormToken(session_id=session_id, token=token[:64], spent_at=now))
        except IntegrityError:
            return False  # spent already (or its session just ended)
        return True

    def release_form_token(self, session_id: int, token: str) -> None:
        """Make a token fresh again: its action was refused, so the same form may be corrected and sent."""
        with self._sessions.begin() as session:
            session.execute(
                delete(WebFormToken).where(WebFormToken.session_id == session_id, WebFormToken.token == token[:64])
            )

    # --- the access log -------------------------------------------------------------------------

    def log_access(self, user: str, seen: Iterable[tuple[str, int | None]], what: str) -> int:
        """One row per (patient id, request id) seen; the number of rows written."""
        now = _now()
        rows = [
            AccessLog(user_name=user, at=now, patient_id=patient, request_id=request, what=what[:200])
            for patient, request in dict.fromkeys(seen)
        ]
        if not rows:
            return 0
        with self._sessions.begin() as session:
            session.add_all(rows)
        return len(rows)

    def access(
        self,
        *,
        patient: str | None = None,
        user: str | None = None,
        since: dt.datetime | None = None,
        limit: int = 1000,
    ) -> list[AccessEntry]:
        """Access log rows, newest first."""
        query = select(AccessLog).order_by(AccessLog.at.desc(), AccessLog.id.desc()).limit(limit)
        if patient is not None:
            query = query.where(AccessLog.patient_id == patient)
        if user is not None:
            query = query.where(AccessLog.user_name == user)
        if since is not None:
            query = query.where(AccessLog.at >= since)
        with self._sessions() as session:
            return [
                AccessEntry(r.id, r.user_name, r.at, r.patient_id, r.request_id, r.what) for r in session.scalars(query)
            ]

    def access_count(self) -> int:
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).select_from(AccessLog)) or 0)
