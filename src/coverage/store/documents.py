"""The document store: where PDFs live, by key (``<request id>/<control number>.pdf``), never elsewhere.

A local folder by default (``<data dir>/documents``): folders are made 0700 and files 0600,
written whole (a temporary file renamed into place), since every PDF holds PHI. Any other
location is an fsspec URL (``memory://...``, ``s3://bucket/prefix`` with its fsspec package
installed), so workers on several hosts share one store. Keys are checked before any write:
whatever a case or a command says, a file lands inside the store.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from coverage.errors import ConfigurationError, InvalidInput, StorageError

#: A key: a request id, then a control number of letters, digits and dashes.
KEY: Final = re.compile(r"[0-9]{1,10}/[A-Za-z0-9][A-Za-z0-9-]{0,79}\.pdf")


def document_key(request_id: int, control_number: str) -> str:
    """The key of a request's document (lifecycle rule 13), checked."""
    key = f"{request_id}/{control_number}.pdf"
    check_key(key)
    return key


def check_key(key: str) -> str:
    if not KEY.fullmatch(key):
        raise InvalidInput([f"document key: {key!r} is not <request id>/<control number>.pdf"])
    return key


class DocumentStore:
    """PDFs by key, in a local folder or behind an fsspec URL."""

    def __init__(self, location: str | Path) -> None:
        text = str(location)
        self.location = text
        self._fs: Any = None
        if "://" in text and not text.startswith("file://"):
            import fsspec  # type: ignore[import-untyped]  # fsspec ships no type information

            try:
                self._fs, self._root = fsspec.core.url_to_fs(text)
            except (ImportError, ValueError) as error:
                why = f"{type(error).__name__}: install its fsspec package"
                raise ConfigurationError(f"PRIORAUTH_DOCUMENTS_URL: {text} cannot be used ({why})") from None
            self._root = self._root.rstrip("/")
        else:
            self._folder = Path(text.removeprefix("file://")).expanduser()

    def __repr__(self) -> str:
        return f"DocumentStore({self.location!r})"

    def put(self, key: str, data: bytes) -> None:
        """Write a document (replacing one with the same key)."""
        check_key(key)
        try:
            if self._fs is not None:
                self._fs.makedirs(f"{self._root}/{key.split('/', maxsplit=1)[0]}", exist_ok=True)
                with self._fs.open(f"{self._root}/{key}", "wb") as handle:
                    handle.write(data)
                return
            self._put_local(key, data)
        except OSError as error:
            raise StorageError(f"document store: cannot write {key} ({type(error).__name__})") from None

    def _put_local(self, key: str, data: bytes) -> None:
        folder = self._folder / key.split("/", maxsplit=1)[0]
        for path in (self._folder, folder):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            path.chmod(0o700)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.chmod(temporary, 0o600)
            os.replace(temporary, self._folder / key)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def check_writable(self) -> None:
        """Write, read back and remove a probe file of a name of its own (a worker's start check, so two
        workers checking at once never remove each other's probe); one line when the store refuses."""
        name = f".write-check-{uuid.uuid4().hex}"
        try:
            if self._fs is not None:
                self._fs.makedirs(self._root, exist_ok=True)
                probe = f"{self._root}/{name}"
                with self._fs.open(probe, "wb") as handle:
                    handle.write(b"ok")
                try:
                    with self._fs.open(probe, "rb") as handle:
                        if handle.read() != b"ok":
                            raise OSError("the probe read back differs")
                finally:
                    self._fs.rm(probe)
                return
            self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self._folder, prefix=name)
            os.close(handle)
            Path(temporary).unlink()
        except OSError as error:
            raise StorageError(
                f"PRIORAUTH_DOCUMENTS_URL: the document store at {self.shown} is not writable ({type(error).__name__})"
            ) from None

    @property
    def shown(self) -> str:
        """The store's location without any user or password in it (it goes into messages)."""
        parts = urlsplit(self.location)
        if "://" not in self.location or (parts.password is None and parts.username is None):
            return self.location
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))

    def get(self, key: str) -> bytes:
        """A document's bytes."""
        check_key(key)
        try:
            if self._fs is not None:
                with self._fs.open(f"{self._root}/{key}", "rb") as handle:
                    data: bytes = handle.read()
                    return data
            return (self._folder / key).read_bytes()
        except (OSError, FileNotFoundError) as error:
            raise StorageError(f"document store: cannot read {key} ({type(error).__name__})") from None

    def exists(self, key: str) -> bool:
        check_key(key)
        if self._fs is not None:
            return bool(self._fs.exists(f"{self._root}/{key}"))
        return (self._folder / key).is_file()

    def local_path(self, key: str) -> Path | None:
        """Where a key's file is on this host's disk (a local store only)."""
        check_key(key)
        return None if self._fs is not None else self._folder / key
