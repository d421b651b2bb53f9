"""The document store itself, on the local default and on ``memory://`` (fsspec's memory filesystem):
documents by relative key, read back byte for byte, keys that would leave the store refused, and the
start check's probe leaving nothing behind."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from coverage.errors import InvalidInput, StorageError
from coverage.store.documents import DocumentStore, document_key


def _everything(store: DocumentStore) -> list[str]:
    """Every file in the store, as keys relative to its root."""
    if "://" not in store.location:
        root = Path(store.location)
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    import fsspec  # type: ignore[import-untyped]  # fsspec ships no type information

    fs, root = fsspec.core.url_to_fs(store.location)
    found = fs.find(root) if fs.exists(root) else []
    return sorted(str(p).removeprefix(root.rstrip("/") + "/") for p in found)


def test_a_document_is_kept_under_its_relative_key_and_read_back_unchanged(document_store: DocumentStore) -> None:
    data = b"%PDF-1.7 letter of medical necessity"
    key = document_key(12, "12-LMN-0A1B2C3D")
    assert key == "12/12-LMN-0A1B2C3D.pdf"
    assert not document_store.exists(key)
    document_store.put(key, data)
    assert document_store.exists(key)
    back = document_store.get(key)
    assert hashlib.sha256(back).hexdigest() == hashlib.sha256(data).hexdigest()
    assert _everything(document_store) == [key]


def test_a_key_written_again_is_replaced_never_kept_twice(document_store: DocumentStore) -> None:
    key = document_key(3, "3-FAX-00000001")
    document_store.put(key, b"first")
    document_store.put(key, b"second")
    assert document_store.get(key) == b"second"
    assert _everything(document_store) == [key]  # one file, no temporary left over


@pytest.mark.parametrize(
    "key",
    ["../1/x.pdf", "/etc/1.pdf", "1/../../x.pdf", "1/x.txt", "1/.x.pdf", "a/x.pdf", "1/sub/x.pdf", "1\\x.pdf", ""],
)
def test_a_key_that_could_leave_the_store_is_refused_before_anything_is_written(
    document_store: DocumentStore, key: str
) -> None:
    with pytest.raises(InvalidInput, match=r"^document key: .* is not <request id>/<control number>\.pdf$"):
        document_store.put(key, b"x")
    with pytest.raises(InvalidInput):
        document_store.get(key)
    assert _everything(document_store) == []


def test_a_missing_document_is_one_line_naming_its_key(document_store: DocumentStore) -> None:
    with pytest.raises(StorageError) as refused:
        document_store.get("9/9-LMN-FFFFFFFF.pdf")
    assert refused.value.lines() == ["document store: cannot read 9/9-LMN-FFFFFFFF.pdf (FileNotFoundError)"]


def test_the_start_check_writes_and_removes_its_probe(document_store: DocumentStore) -> None:
    document_store.check_writable()
    document_store.check_writable()  # a probe of its own each time: two checks never collide
    assert _everything(document_store) == []


def test_a_store_url_never_shows_its_password_in_a_message() -> None:
    store = DocumentStore("memory://user:s3cret@host/documents")
    assert "s3cret" not in store.shown
    assert DocumentStore("/srv/priorauth/documents").shown == "/srv/priorauth/documents"
