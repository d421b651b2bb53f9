"""The web app's secrets: the signing key, signed cookie values and CSRF tokens.

The key is read from ``PRIORAUTH_WEB_SECRET_FILE`` or, unless configured, generated once into the
data folder (``web-secret``, mode 0600, folder 0700). A cookie value is ``token.signature``
(HMAC-SHA256); a CSRF token is an HMAC of the session's token (or, before sign-in, of a
random pre-session value kept in its own signed cookie), so a page of another site can read
neither and forge neither.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from coverage.errors import ConfigurationError
from coverage.settings import Settings

SECRET_BYTES = 32


def secret_path(settings: Settings) -> Path:
    return settings.web_secret_file or settings.data_dir / "web-secret"


def load_secret(settings: Settings) -> bytes:
    """The signing key: the configured file's, or one generated into the data folder (0600)."""
    path = secret_path(settings)
    if settings.web_secret_file is not None:
        try:
            data = path.read_bytes().strip()
        except OSError as error:
            raise ConfigurationError(f"PRIORAUTH_WEB_SECRET_FILE: cannot read it ({error.strerror})") from None
        if len(data) < SECRET_BYTES:
            raise ConfigurationError(f"PRIORAUTH_WEB_SECRET_FILE: at least {SECRET_BYTES} bytes of key")
        return data
    if path.exists():
        return path.read_bytes().strip()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_hex(SECRET_BYTES).encode("ascii")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_bytes().strip()
    except OSError as error:
        raise ConfigurationError(f"PRIORAUTH_DATA_DIR: cannot write the web key ({error.strerror})") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


class Signer:
    """Signs and checks cookie values and CSRF tokens with one key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, purpose: str, value: str) -> str:
        return hmac.new(self._key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def sign(self, value: str) -> str:
        return f"{value}.{self._mac('cookie', value)}"

    def unsign(self, signed: str | None) -> str | None:
        """The value of a signed cookie, or ``None`` when missing or tampered with."""
        if not signed or "." not in signed:
            return None
        value, _, mac = signed.rpartition(".")
        return value if hmac.compare_digest(mac, self._mac("cookie", value)) else None

    def csrf(self, token: str) -> str:
        return self._mac("csrf", token)

    def csrf_ok(self, token: str | None, given: str | None) -> bool:
        return bool(token) and bool(given) and hmac.compare_digest(self.csrf(token or ""), given or "")
