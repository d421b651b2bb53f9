"""The billing office in a browser: ``priorauth web`` (Starlette under uvicorn, Jinja2 pages, htmx).

:mod:`coverage.web.accounts` (staff accounts, sessions, access log) imports no web framework, so
``priorauth users`` and ``priorauth audit`` stay light; :mod:`coverage.web.app` is the app.
"""
