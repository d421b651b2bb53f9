"""Helpers of the web tests: an app on the test's database, users, and signed-in clients."""

from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found[1]


class Browser:
    """A test client that remembers the last page's CSRF token."""

    def __init__(self, app: Any) -> None:
        self.client = TestClient(app, base_url="http://127.0.0.1", follow_redirects=True)
        self.csrf = ""

    def sign_in(self, name: str, password: str = PASSWORD) -> Any:
        page = self.client.get("/signin")
        return self.client.post("/signin", data={"csrf": csrf_of(page.text), "name": name, "password": password})

    def get(self, url: str, **kwargs: Any) -> Any:
        response = self.client.get(url, **kwargs)
        found = CSRF.search(response.text) if response.headers.get("content-type", "").startswith("text/html") else None
        if found:
            self.csrf = found[1]
        return response

    def post(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if not self.csrf:
            self.get("/")
        response = self.client.post(url, data={"csrf": self.csrf, **(data or {})}, **kwargs)
        found = CSRF.search(response.text) if response.headers.get("content-type", "").startswith("text/html") else None
        if found:
            self.csrf = found[1]
        return response
