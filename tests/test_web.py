"""The web app: sign-in, roles, CSRF, lockout, idle sign-out, worklist, search, CSV, request pages, access log."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import case_gathered, write_case
from tests.web_support import PASSWORD, Browser, csrf_of


@pytest.fixture
def web(database: Any, database_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The web app's collaborators on the test's database, with a clerk, a clinician and an admin."""
    monkeypatch.setenv("PRIORAUTH_DATABASE_URL", database_url)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    from coverage.settings import load_settings
    from coverage.web.app import Web

    web = Web(load_settings(), database)
    for name, role in (("clara", "clerk"), ("nina", "clinician"), ("adam", "admin")):
        web.accounts.add_user(name, role=role, password=PASSWORD)
    return web


@pytest.fixture
def app(web: Any) -> Any:
    from coverage.web.app import make_app

    return make_app(web)


def signed_in(app: Any, name: str) -> Browser:
    browser = Browser(app)
    page = browser.sign_in(name)
    assert page.status_code == 200, page.text
    browser.get("/")
    return browser


def take_in(cli: Any, tmp_path: Path, name: str = "EX-01-meets", **changes: Any) -> int:
    path = write_case(tmp_path / "cases", case_gathered(name, **changes), f"{name}.json")
    return int(cli("intake", str(path), "--json")["request_id"])


def test_signed_out_requests_go_to_sign_in(app: Any) -> None:
    browser = Browser(app)
    for url in ("/", "/requests/1", "/cases/new", "/payers", "/admin/users", "/worklist.csv"):
        response = browser.client.get(url, follow_redirects=False)
        assert response.status_code == 303, url
        assert response.headers["location"] == "/signin"
    assert browser.client.post("/search", data={"q": "x"}, follow_redirects=False).status_code == 303


def test_sign_in_sets_a_strict_http_only_cookie_and_security_headers(app: Any) -> None:
    browser = Browser(app)
    page = browser.client.get("/signin")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    response = browser.client.post(
        "/signin", data={"csrf": csrf_of(page.text), "name": "clara", "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
    worklist = browser.client.get("/")
    assert worklist.status_code == 200
    assert worklist.headers["cache-control"] == "no-store"


def test_sign_in_without_csrf_is_refused(app: Any) -> None:
    browser = Browser(app)
    browser.client.get("/signin")
    response = browser.client.post("/signin", data={"name": "clara", "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers or "pa_session" not in response.headers["set-cookie"]


def test_a_post_without_csrf_is_refused(app: Any, web: Any) -> None:
    browser = signed_in(app, "adam")
    response = browser.client.post("/admin/users/add", data={"name": "eve", "role": "admin", "password": PASSWORD * 2})
    assert response.status_code == 403
    assert "CSRF" in response.text
    response = browser.client.post("/admin/users/add", data={"csrf": "forged", "name": "eve", "role": "admin"})
    assert response.status_code == 403
    assert [u.name for u in web.accounts.users()] == ["adam", "clara", "nina"]


def test_five_failed_sign_ins_lock_the_account_for_fifteen_minutes(app: Any, web: Any) -> None:
    browser = Browser(app)
    for _ in range(5):
        assert browser.sign_in("clara", "wrong password!").status_code == 401
    refused = browser.sign_in("clara")
    assert refused.status_code == 401
    assert "lock it for 15 minutes" in refused.text
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)
    assert web.accounts.sign_in("clara", PASSWORD, now=later) is not None


def test_four_failures_then_the_right_password_signs_in(app: Any) -> None:
    browser = Browser(app)
    for _ in range(4):
        browser.sign_in("clara", "wrong password!")
    assert browser.sign_in("clara").status_code == 200


def test_a_session_idle_for_fifteen_minutes_is_over(app: Any, web: Any) -> None:
    signed = web.accounts.sign_in("clara", PASSWORD)
    assert signed is not None
    assert web.accounts.session(signed.token, now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=14)) is not None
    idle = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=14 + 16)
    assert web.accounts.session(signed.token, now=idle) is None
    assert web.accounts.session(signed.token) is None  # the row is gone


def test_a_disabled_user_is_signed_out_and_cannot_sign_in(app: Any, web: Any) -> None:
    browser = signed_in(app, "clara")
    web.accounts.set_disabled("clara")
    assert browser.client.get("/", follow_redirects=False).status_code == 303
    assert browser.sign_in("clara").status_code == 401


def test_admin_pages_are_for_admins(app: Any) -> None:
    clerk = signed_in(app, "clara")
    assert clerk.get("/admin/users").status_code == 403
    assert clerk.get("/admin/access").status_code == 403
    assert clerk.get("/admin/policies").status_code == 403
    assert clerk.post("/payers/add", {"name": "X"}).status_code == 403
    admin = signed_in(app, "adam")
    assert admin.get("/admin/users").status_code == 200
    assert "standard-commercial" in admin.get("/admin/policies").text
    added = admin.post("/admin/users/add", {"name": "olga", "role": "clerk", "password": PASSWORD})
    assert "User olga added (clerk)." in added.text


def test_worklist_rows_show_name_birth_date_and_payer_and_link_to_the_request(
    app: Any, cli: Any, tmp_path: Path
) -> None:
    rid = take_in(cli, tmp_path)
    page = signed_in(app, "clara").get("/")
    assert page.status_code == 200
    assert "Whitaker, Dana" in page.text or "Dana" in page.text
    assert f'href="/requests/{rid}"' in page.text
    assert "ready to submit" in page.text
    case = case_gathered("EX-01-meets")
    assert f"<td>{case['patient']['birth_date']}</td>" in page.text
    assert f"<td>{case['coverage']['payer_name']}</td>" in page.text


def test_worklist_filters_and_paging(app: Any, cli: Any, tmp_path: Path) -> None:
    take_in(cli, tmp_path)
    browser = signed_in(app, "clara")
    assert "Nothing needs a person today with these filters" in browser.get("/?kind=answer_overdue").text
    assert "ready to submit" in browser.get("/?kind=ready_to_submit&page=7").text


def test_search_is_a_post_and_finds_by_name_member_id_case_id_and_request_id(
    app: Any, cli: Any, tmp_path: Path
) -> None:
    rid = take_in(cli, tmp_path)
    case = case_gathered("EX-01-meets")
    browser = signed_in(app, "clara")
    assert browser.client.get("/search").status_code == 405
    for text in (case["patient"]["family_name"], case["coverage"]["member_id"], case["case_id"], str(rid)):
        found = browser.post("/search", {"q": text})
        assert f'href="/requests/{rid}"' in found.text, text
    assert "No request matches." in browser.post("/search", {"q": "nobody-like-this"}).text


def test_csv_export_has_every_row_with_patient_and_is_access_logged(
    app: Any, web: Any, cli: Any, tmp_path: Path
) -> None:
    rid = take_in(cli, tmp_path)
    response = signed_in(app, "clara").get("/worklist.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0].startswith("due,kind,request_id,patient,birth_date,payer")
    assert any(f",{rid}," in line for line in lines[1:])
    assert any(e.what == "worklist CSV" and e.request_id == rid for e in web.accounts.access(user="clara"))


def test_viewing_a_request_page_and_downloading_its_letter_writes_two_rows(
    app: Any, web: Any, cli: Any, tmp_path: Path
) -> None:
    rid = take_in(cli, tmp_path)
    browser = signed_in(app, "clara")
    sent = browser.post(f"/requests/{rid}/send")
    assert "documents made" in sent.text
    before = web.accounts.access_count()
    page = browser.get(f"/requests/{rid}")
    assert page.status_code == 200
    number = next(d.control_number for d in _detail(web, rid).documents if d.kind == "request")
    pdf = browser.get(f"/requests/{rid}/documents/{number}?download=1")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    assert "attachment" in pdf.headers["content-disposition"]
    rows = web.accounts.access(user="clara", limit=2)
    assert web.accounts.access_count() == before + 2
    patient = case_gathered("EX-01-meets")["patient"]["id"]
    assert {(r.patient_id, r.request_id) for r in rows} == {(patient, rid)}
    assert sorted(r.what for r in rows) == [f"document {number} downloaded", "request page"]


def _detail(web: Any, rid: int) -> Any:
    from coverage.services.requests import get_request

    return get_request(rid, uow=web.uow(), ctx=web.ctx)


def test_actions_through_a_fax_sending_an_approval_and_a_session(app: Any, web: Any, cli: Any, tmp_path: Path) -> None:
    rid = take_in(cli, tmp_path)
    browser = signed_in(app, "clara")
    browser.post(f"/requests/{rid}/send")
    assert _detail(web, rid).request.send_task is not None
    failed = browser.post(f"/requests/{rid}/send-failed", {"reason": "line busy"})
    assert "failed attempt noted" in failed.text
    sent = browser.post(f"/requests/{rid}/sent", {"channel": "fax", "reference": "FAX-1"})
    assert "now submitted" in sent.text
    day = web.ctx.today()
    recorded = browser.post(
        f"/requests/{rid}/record",
        {
            "decision": "approved",
            "auth_number": "A-77",
            "valid_from": day.isoformat(),
            "valid_to": (day + dt.timedelta(days=180)).isoformat(),
            "sessions": "8",
        },
    )
    assert "now approved" in recorded.text
    session = browser.post(f"/requests/{rid}/sessions", {"date": day.isoformat()})
    assert "charged to A-77" in session.text
    page = browser.get(f"/requests/{rid}")
    assert "<meter" in page.text
    detail = _detail(web, rid)
    assert {e.by for e in detail.events if e.at.date() >= day - dt.timedelta(days=1)} >= {"clara"}
    undone = browser.post(f"/requests/{rid}/undo", {"reason": "typed on the wrong request"})
    assert "undone" in undone.text
    refused = browser.post(f"/requests/{rid}/record", {"decision": "approved"})
    assert "Refused:" in refused.text


def test_a_clerk_cannot_sign_off_a_clinician_can(app: Any, web: Any, cli: Any, tmp_path: Path) -> None:
    import dataclasses

    web.ctx = dataclasses.replace(web.ctx, signoff_required=True)
    rid = take_in(cli, tmp_path)
    clerk = signed_in(app, "clara")
    assert "waiting for a clinician" in clerk.post(f"/requests/{rid}/send").text
    assert _detail(web, rid).request.signoff == "pending"
    assert "Sign off and send" not in clerk.get(f"/requests/{rid}").text
    refused = clerk.post(f"/requests/{rid}/signoff", {"decision": "approve"})
    assert refused.status_code == 403
    assert _detail(web, rid).request.signoff == "pending"
    clinician = signed_in(app, "nina")
    assert "Sign off and send" in clinician.get(f"/requests/{rid}").text
    answer = clinician.post(f"/requests/{rid}/signoff", {"decision": "approve"})
    assert "Signed off." in answer.text
    detail = _detail(web, rid)
    assert detail.request.send_task is not None
    assert any(e.by == "nina" and e.action == "signoff" for e in detail.events)


def test_a_signoff_for_a_server_records_nothing_when_the_server_refuses(
    app: Any, web: Any, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As ``requests signoff``: the server is checked before the approval is recorded, then a run started."""
    import dataclasses

    import prefect.deployments

    from coverage.errors import ConfigurationError

    web.ctx = dataclasses.replace(web.ctx, signoff_required=True)
    rid = take_in(cli, tmp_path)
    assert "waiting for a clinician" in signed_in(app, "clara").post(f"/requests/{rid}/send").text
    started: list[dict[str, Any]] = []

    def run_deployment(name: str, *, parameters: dict[str, Any], timeout: Any) -> Any:
        started.append(parameters)
        return type("Run", (), {"id": "run-1"})()

    def not_deployed(*_: Any, **__: Any) -> None:
        raise ConfigurationError("PREFECT_API_URL: the Prefect server has no deployment; run `priorauth deploy`")

    monkeypatch.setattr(prefect.deployments, "run_deployment", run_deployment)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setattr("coverage.workflow.server.check_sending_deployment", not_deployed)
    clinician = signed_in(app, "nina")
    refused = clinician.post(f"/requests/{rid}/signoff", {"decision": "approve"})
    assert "Refused: PREFECT_API_URL: the Prefect server has no deployment" in refused.text
    assert _detail(web, rid).request.signoff == "pending"
    assert started == []
    monkeypatch.setattr("coverage.workflow.server.check_sending_deployment", lambda *_, **__: None)
    answer = signed_in(app, "nina").post(f"/requests/{rid}/signoff", {"decision": "approve"})
    assert "Signed off. Request" in answer.text
    assert "the prior-authorization run started (run-1)" in answer.text
    assert started == [{"request_id": rid}]
    assert (_detail(web, rid).request.signoff, _detail(web, rid).request.send_task) == ("approved", None)


def test_no_patient_name_or_case_id_in_any_url(app: Any, cli: Any, tmp_path: Path) -> None:
    rid = take_in(cli, tmp_path)
    case = case_gathered("EX-01-meets")
    browser = signed_in(app, "clara")
    pages = [browser.get("/").text, browser.get(f"/requests/{rid}").text, browser.post("/search", {"q": "Whit"}).text]
    import re

    urls = [u for text in pages for u in re.findall(r'(?:href|action|src|hx-post)="([^"]*)"', text)]
    assert urls
    for url in urls:
        for secret in (case["patient"]["given_name"], case["patient"]["family_name"], case["case_id"]):
            assert secret not in url, url


def test_every_patient_page_writes_the_access_log(app: Any, web: Any, cli: Any, tmp_path: Path) -> None:
    rid = take_in(cli, tmp_path)
    browser = signed_in(app, "clara")
    for what, call in (
        ("worklist", lambda: browser.get("/")),
        ("request page", lambda: browser.get(f"/requests/{rid}")),
        ("search results", lambda: browser.post("/search", {"q": str(rid)})),
    ):
        before = web.accounts.access_count()
        call()
        assert web.accounts.access_count() == before + 1, what
        assert web.accounts.access(limit=1)[0].what == what


def test_the_case_form_shows_each_error_next_to_its_field_and_saves_as_intake(
    app: Any, web: Any, tmp_path: Path
) -> None:
    from coverage.web.forms import form_values

    browser = signed_in(app, "clara")
    assert browser.get("/cases/new").status_code == 200
    values = form_values(case_gathered("EX-03-subtherapeutic-dose"))
    page = browser.post("/cases", {**values, "patient.birth_date": "2026-02-30"})
    assert page.status_code == 422
    assert 'id="e-patient-birth_date"' in page.text
    page = browser.post("/cases", {**values, "medication_trials[0].drug": ""})
    assert '<span class="error" id="e-medication_trials-0-drug">required</span>' in page.text
    page = browser.post("/cases", {**values, "request.dose_mg": "57"})
    assert page.status_code == 422
    assert '<span class="error" id="e-request-dose_mg">57 is not 28, 56 or 84</span>' in page.text
    panel = browser.post("/cases/determine", values)
    assert "not met" in panel.text
    assert "duloxetine" in panel.text
    fixed = {**values, "medication_trials[1].daily_dose_mg": "60"}
    panel = browser.post("/cases/determine", fixed)
    assert "meets criteria" in panel.text
    saved = browser.post("/cases", fixed)
    assert saved.status_code == 200
    assert "new: ready (meets_criteria)" in saved.text


def test_a_case_file_fills_the_form(app: Any, tmp_path: Path) -> None:
    browser = signed_in(app, "clara")
    data = json.dumps(case_gathered("EX-01-meets")).encode()
    page = browser.post("/cases/upload", files={"case": ("case.json", data, "application/json")})
    assert page.status_code == 200
    assert 'value="sertraline"' in page.text or "sertraline" in page.text
    assert "meets criteria" in page.text


def test_payers_page_and_admin_adds_a_payer(app: Any) -> None:
    admin = signed_in(app, "adam")
    added = admin.post("/payers/add", {"name": "Acme Health", "channel": "fax", "fax": "555-0100"})
    assert "Payer Acme Health added." in added.text
    assert "555-0100" in signed_in(app, "clara").get("/payers").text


def test_users_and_audit_commands(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from coverage.cli import app as cli_app

    result = CliRunner().invoke(
        cli_app, ["users", "add", "zoe", "--role", "clerk", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert cli("users", "list", "--json")[0]["name"] == "zoe"
    assert "--role" in cli.fails("users", "add", "yan", "--role", "boss", "--password-stdin")[0]
    cli("users", "disable", "zoe")
    assert cli("users", "list", "--json")[0]["disabled"] is True
    assert cli("audit", "access", "--json") == []
    assert "--since" in cli.fails("audit", "access", "--since", "yesterday")[0]


def _blank_pdf() -> bytes:
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_amend_and_attach_on_an_open_request(app: Any, web: Any, cli: Any, tmp_path: Path) -> None:
    rid = take_in(cli, tmp_path, "EX-03-subtherapeutic-dose")
    assert _detail(web, rid).request.status == "draft"
    browser = signed_in(app, "clara")
    fixed = case_gathered("EX-03-subtherapeutic-dose")
    fixed["medication_trials"][1]["daily_dose_mg"] = 60
    amended = browser.post(
        f"/requests/{rid}/amend", files={"case": ("case.json", json.dumps(fixed).encode(), "application/json")}
    )
    assert "case version 2; now ready (meets_criteria)" in amended.text
    attached = browser.post(
        f"/requests/{rid}/attach",
        {"title": "Chart note"},
        files={"file": ("note.pdf", _blank_pdf(), "application/pdf")},
    )
    assert "attached" in attached.text
    assert any(d.kind == "attachment" and d.title == "Chart note" for d in _detail(web, rid).documents)
    refused = browser.post(f"/requests/{rid}/amend", files={"case": ("case.json", b"{}", "application/json")})
    assert "Refused:" in refused.text


def test_denial_appeal_cancel_and_the_patient_page(app: Any, web: Any, cli: Any, tmp_path: Path) -> None:
    rid = take_in(cli, tmp_path)
    browser = signed_in(app, "clara")
    browser.post(f"/requests/{rid}/send")
    browser.post(f"/requests/{rid}/sent", {"channel": "fax"})
    denied = browser.post(f"/requests/{rid}/record", {"decision": "denied", "reason": "two trials not documented"})
    assert "now denied" in denied.text
    assert "Draft an appeal" in denied.text
    appealed = browser.post(f"/requests/{rid}/appeal")
    assert "appeal drafted; now appeal_drafted" in appealed.text
    cancelled = browser.post(f"/requests/{rid}/cancel", {"reason": "patient chose self-pay elsewhere"})
    assert "now cancelled" in cancelled.text
    page = browser.get(f"/requests/{rid}/patient")
    assert page.status_code == 200
    assert "Course 1" in page.text
    assert web.accounts.access(limit=1)[0].what == "patient page"


def test_a_session_is_voided_and_continue_is_refused_before_its_time(
    app: Any, web: Any, cli: Any, tmp_path: Path
) -> None:
    rid = take_in(cli, tmp_path)
    browser = signed_in(app, "clara")
    day = web.ctx.today()
    added = browser.post(f"/requests/{rid}/sessions", {"date": day.isoformat()})
    assert "charged to nothing" in added.text
    session_id = _detail(web, rid).sessions[0].id
    voided = browser.post(f"/requests/{rid}/sessions/void", {"session_id": str(session_id), "reason": "wrong day"})
    assert f"Session {session_id} voided." in voided.text
    future = browser.post(f"/requests/{rid}/sessions", {"date": (day + dt.timedelta(days=3)).isoformat()})
    assert "is in the future" in future.text
    refused = browser.post(f"/requests/{rid}/continue")
    assert "Refused:" in refused.text


def test_a_clerk_cannot_attest_an_expedited_case(app: Any) -> None:
    from coverage.web.forms import form_values

    values = form_values(case_gathered("EX-01-meets"))
    refused = signed_in(app, "clara").post("/cases", {**values, "expedited": "on"})
    assert refused.status_code == 403
    assert "only a clinician attests" in refused.text
    saved = signed_in(app, "nina").post("/cases", {**values, "expedited": "on", "expedited_reason": "acute risk"})
    assert "new: ready" in saved.text


def test_a_plan_offered_and_a_payment_taken_on_a_not_covered_request(
    app: Any, web: Any, cli: Any, tmp_path: Path
) -> None:
    rid = take_in(cli, tmp_path, "EX-02-iv-not-covered")
    browser = signed_in(app, "clara")
    page = browser.get(f"/requests/{rid}")
    assert "Offer the plan" in page.text
    planned = browser.post(f"/requests/{rid}/plan", {"terms": "3"})
    assert "in 3 installment(s)" in planned.text
    from coverage.services.payments import plans_for_request

    (plan,) = plans_for_request(rid, uow=web.uow())
    assert plan.created_by == "clara"
    paid = browser.post(f"/requests/{rid}/payment", {"plan_id": str(plan.id), "amount": "100.00", "method": "card"})
    assert "Payment of 100.00 recorded" in paid.text
    refused = browser.post(f"/requests/{rid}/payment", {"plan_id": str(plan.id), "amount": "1.001"})
    assert refused.status_code == 422
    assert "amount: not an amount" in refused.text
    ledger = browser.get(f"/requests/{rid}/patient")
    assert "payment (card)" in ledger.text


def test_sign_out_ends_the_session(app: Any, web: Any) -> None:
    browser = signed_in(app, "clara")
    out = browser.client.post("/signout", data={"csrf": browser.csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"] == "/signin"
    assert browser.client.get("/", follow_redirects=False).status_code == 303


def test_appeal_denied_goes_to_external_review(app: Any, web: Any, cli: Any, tmp_path: Path) -> None:
    rid = take_in(cli, tmp_path)
    browser = signed_in(app, "clara")
    browser.post(f"/requests/{rid}/send")
    browser.post(f"/requests/{rid}/sent", {"channel": "fax"})
    browser.post(f"/requests/{rid}/record", {"decision": "denied", "reason": "not necessary"})
    browser.post(f"/requests/{rid}/appeal")
    browser.post(f"/requests/{rid}/send")
    sent = browser.post(f"/requests/{rid}/sent", {"channel": "fax"})
    assert "now appeal_submitted" in sent.text
    denied = browser.post(f"/requests/{rid}/record", {"decision": "denied", "reason": "upheld"})
    assert "now appeal_denied" in denied.text
    review = browser.post(f"/requests/{rid}/external-review", {"reason": "state review"})
    assert "now external_review" in review.text


def test_case_form_adds_a_row_and_the_inline_preview_may_be_framed_by_the_app_only(
    app: Any, web: Any, cli: Any, tmp_path: Path
) -> None:
    browser = signed_in(app, "clara")
    page = browser.post("/cases/new", {"add": "medication_trials", "medication_trials[0].drug": "sertraline"})
    assert 'name="medication_trials[1].drug"' in page.text
    assert 'name="medication_trials[2].drug"' not in page.text
    rid = take_in(cli, tmp_path)
    browser.post(f"/requests/{rid}/send")
    number = _detail(web, rid).documents[0].control_number
    preview = browser.get(f"/requests/{rid}/documents/{number}")
    assert preview.headers["content-disposition"].startswith("inline")
    assert "frame-ancestors 'self'" in preview.headers["content-security-policy"]
    assert browser.get(f"/requests/{rid}/documents/{rid}-NOPE-1").status_code == 404


def test_admin_disables_a_user_and_reads_the_access_log(app: Any, web: Any, cli: Any, tmp_path: Path) -> None:
    rid = take_in(cli, tmp_path)
    signed_in(app, "clara").get(f"/requests/{rid}")
    admin = signed_in(app, "adam")
    log = admin.post("/admin/access", {"user": "clara"})
    assert "request page" in log.text
    assert f"#{rid}" in log.text
    disabled = admin.post("/admin/users/disable", {"name": "clara", "disable": "1"})
    assert "User clara disabled." in disabled.text
    assert Browser(app).sign_in("clara").status_code == 401
    admin.post("/admin/users/disable", {"name": "clara", "disable": "0"})
    assert Browser(app).sign_in("clara").status_code == 200


def test_send_starts_the_deployment_when_prefect_is_configured(
    app: Any, web: Any, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import prefect.deployments

    rid = take_in(cli, tmp_path)
    started: list[tuple[str, dict[str, Any], Any]] = []

    def run_deployment(name: str, *, parameters: dict[str, Any], timeout: Any) -> Any:
        started.append((name, parameters, timeout))
        return type("Run", (), {"id": "run-1"})()

    monkeypatch.setattr(prefect.deployments, "run_deployment", run_deployment)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.delenv("PREFECT_API_AUTH_STRING", raising=False)
    refused = signed_in(app, "clara").post(f"/requests/{rid}/send")
    assert "Refused: PREFECT_API_AUTH_STRING: not set" in refused.text  # checked before any run starts
    assert started == []
    monkeypatch.setattr("coverage.workflow.server.check_sending_deployment", lambda *_, **__: None)
    page = signed_in(app, "clara").post(f"/requests/{rid}/send")
    assert "the prior-authorization run started" in page.text
    assert started == [("prior-authorization/prior-authorization", {"request_id": rid}, 0)]
    assert _detail(web, rid).request.send_task is None  # the run sends it, not the web server


def test_a_browser_idle_for_fifteen_minutes_is_sent_to_sign_in(app: Any, web: Any, database: Any) -> None:
    import sqlalchemy as sa

    from coverage.store.tables import WebSession

    browser = signed_in(app, "clara")
    assert browser.client.get("/", follow_redirects=False).status_code == 200
    idle_since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)
    with database.engine.begin() as connection:
        connection.execute(sa.update(WebSession).values(last_seen=idle_since))
    response = browser.client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/signin"
    htmx = browser.client.post("/cases/determine", data={"csrf": browser.csrf}, headers={"HX-Request": "true"})
    assert htmx.headers.get("HX-Redirect") == "/signin"


def test_the_cookie_is_secure_over_https(app: Any) -> None:
    from starlette.testclient import TestClient

    client = TestClient(app, base_url="https://127.0.0.1")
    page = client.get("/signin")
    assert "Secure" in page.headers["set-cookie"]
    response = client.post(
        "/signin", data={"csrf": csrf_of(page.text), "name": "clara", "password": PASSWORD}, follow_redirects=False
    )
    assert "Secure" in response.headers["set-cookie"]


def test_a_session_of_another_course_cannot_be_voided_from_a_request_url(
    app: Any, web: Any, cli: Any, tmp_path: Path
) -> None:
    first = take_in(cli, tmp_path)
    other = take_in(cli, tmp_path, "EX-01-meets", case_id="EX-01-other")
    browser = signed_in(app, "clara")
    day = web.ctx.today().isoformat()
    browser.post(f"/requests/{other}/sessions", {"date": day})
    (theirs,) = _detail(web, other).sessions
    refused = browser.post(f"/requests/{first}/sessions/void", {"session_id": str(theirs.id), "reason": "mine"})
    assert f"is not a session of request {first}" in refused.text
    assert not _detail(web, other).sessions[0].voided


@pytest.mark.parametrize(
    "url",
    [
        "/requests/99999999999999999999",
        "/requests/9223372036854775808",
        "/requests/2147483648/patient",
        "/requests/99999999999999999999/documents/X-1",
    ],
)
def test_a_huge_id_in_a_url_is_not_found(app: Any, url: str) -> None:
    browser = signed_in(app, "clara")
    response = browser.get(url)
    assert response.status_code == 404
    assert "no such request" in response.text
    posted = browser.post("/requests/99999999999999999999/send")
    assert "no such request" in posted.text


def test_a_deeply_nested_case_upload_is_not_json(app: Any, tmp_path: Path) -> None:
    browser = signed_in(app, "clara")
    page = browser.post("/cases/upload", files={"case": ("case.json", b"[" * 100_000, "application/json")})
    assert page.status_code == 400
    assert "case: not JSON" in page.text


def _nonce_of(html: str, action: str) -> str:
    import re

    found = re.search(
        rf'action="{re.escape(action)}"[^>]*>\s*<input type="hidden" name="csrf" value="[^"]+">'
        r'<input type="hidden" name="nonce" value="([^"]+)"',
        html,
    )
    assert found, f"no one-time token on the {action} form"
    return found[1]


def test_a_double_clicked_payment_is_recorded_once(app: Any, web: Any, cli: Any, tmp_path: Path) -> None:
    from coverage.services.payments import plans_for_request

    rid = take_in(cli, tmp_path, "EX-02-iv-not-covered")
    browser = signed_in(app, "clara")
    browser.post(f"/requests/{rid}/plan", {"terms": "3"})
    page = browser.get(f"/requests/{rid}")
    nonce = _nonce_of(page.text, f"/requests/{rid}/payment")
    (plan,) = plans_for_request(rid, uow=web.uow())
    form = {"plan_id": str(plan.id), "amount": "100.00", "method": "card", "nonce": nonce}
    first = browser.post(f"/requests/{rid}/payment", form)
    assert "Payment of 100.00 recorded" in first.text
    second = browser.post(f"/requests/{rid}/payment", form)
    assert "Already done" in second.text
    page = browser.get(f"/requests/{rid}")
    again = {**form, "nonce": _nonce_of(page.text, f"/requests/{rid}/payment"), "amount": "1e3"}
    assert browser.post(f"/requests/{rid}/payment", again).status_code == 422
    corrected = browser.post(f"/requests/{rid}/payment", {**again, "amount": "5.00"})  # a refusal spends no token
    assert "Payment of 5.00 recorded" in corrected.text
    (plan,) = plans_for_request(rid, uow=web.uow())
    assert plan.paid == plan.paid.__class__("105.00")


def test_a_form_posted_again_to_another_web_worker_or_after_a_restart_is_done_once(
    app: Any, web: Any, cli: Any, tmp_path: Path, database: Any
) -> None:
    """Spent form tokens are in the database: a second worker process (or the app restarted) on the same
    records knows them."""
    from coverage.services.payments import plans_for_request
    from coverage.web.app import Web, make_app

    rid = take_in(cli, tmp_path, "EX-02-iv-not-covered")
    browser = signed_in(app, "clara")
    browser.post(f"/requests/{rid}/plan", {"terms": "3"})
    (plan,) = plans_for_request(rid, uow=web.uow())
    form = {"plan_id": str(plan.id), "amount": "100.00", "method": "card"}
    form["nonce"] = _nonce_of(browser.get(f"/requests/{rid}").text, f"/requests/{rid}/payment")
    assert "Payment of 100.00 recorded" in browser.post(f"/requests/{rid}/payment", form).text

    other = Browser(make_app(Web(web.settings, database)))  # another worker, or this one restarted
    other.client.cookies = browser.client.cookies
    other.csrf = browser.csrf
    assert "Already done" in other.post(f"/requests/{rid}/payment", form).text
    (plan,) = plans_for_request(rid, uow=web.uow())
    assert plan.paid == plan.paid.__class__("100.00")


def test_spent_form_tokens_are_kept_per_session_released_on_refusal_and_end_with_the_session(web: Any) -> None:
    from coverage.web.accounts import FORM_TOKEN_MEMORY, Accounts

    signed = web.accounts.sign_in("clara", PASSWORD)
    other = web.accounts.sign_in("nina", PASSWORD)
    assert web.accounts.spend_form_token(signed.session_id, "t-1")
    assert not web.accounts.spend_form_token(signed.session_id, "t-1")
    assert not Accounts(web.database.sessions).spend_form_token(signed.session_id, "t-1")  # another process
    assert web.accounts.spend_form_token(other.session_id, "t-1")  # another session's form
    web.accounts.release_form_token(signed.session_id, "t-1")  # the action was refused
    assert web.accounts.spend_form_token(signed.session_id, "t-1")

    def spent() -> list[tuple[int, str]]:
        with web.database.engine.connect() as connection:
            found = connection.exec_driver_sql("SELECT session_id, token FROM web_form_tokens")
            return sorted((row[0], row[1]) for row in found)

    web.accounts.sign_out(signed.token)
    assert spent() == [(other.session_id, "t-1")]  # the signed-out session's tokens went with it
    later = dt.datetime.now(dt.UTC) + FORM_TOKEN_MEMORY + dt.timedelta(minutes=1)
    assert web.accounts.spend_form_token(other.session_id, "t-2", now=later)
    assert web.accounts.spend_form_token(other.session_id, "t-1", now=later)  # a day later: forgotten, fresh again
    assert spent() == [(other.session_id, "t-1"), (other.session_id, "t-2")]


def test_payments_go_through_the_ledger_and_refusals_name_the_form_fields(
    app: Any, web: Any, cli: Any, tmp_path: Path
) -> None:
    from coverage.services.payments import plans_for_request

    rid = take_in(cli, tmp_path, "EX-02-iv-not-covered")
    browser = signed_in(app, "clara")
    day = web.ctx.today()
    past = browser.post(f"/requests/{rid}/plan", {"terms": "3", "start": (day - dt.timedelta(days=2)).isoformat()})
    assert "Refused: first due date:" in past.text
    assert "--start" not in past.text
    browser.post(f"/requests/{rid}/plan", {"terms": "3"})
    (plan,) = plans_for_request(rid, uow=web.uow())
    url = f"/requests/{rid}/payment"
    base = {"plan_id": str(plan.id), "amount": "100.00", "method": "card"}
    future = browser.post(url, {**base, "paid_on": (day + dt.timedelta(days=1)).isoformat()})
    assert future.status_code == 422
    assert "paid on: " in future.text
    assert "is in the future" in future.text
    assert browser.post(url, {**base, "method": "bitcoin"}).status_code == 422
    assert "method: &#39;bitcoin&#39; is not one of" in browser.post(url, {**base, "method": "bitcoin"}).text
    assert "amount: not an amount" in browser.post(url, {**base, "amount": "1e3"}).text
    early = browser.post(url, {**base, "paid_on": (day - dt.timedelta(days=400)).isoformat()})
    assert "before the patient&#39;s first intake" in early.text
    paid = browser.post(url, base)
    assert "Payment of 100.00 recorded" in paid.text
    assert "Balance due <strong>" in paid.text
    payment = next(e for e, _ in _account(web, rid).entries if e.kind == "payment")
    refunded = browser.post(
        f"/requests/{rid}/ledger/refund", {"entry_id": str(payment.id), "amount": "40.00", "reason": "overcharged"}
    )
    assert f"Refund of 40.00 on payment {payment.id} recorded" in refunded.text
    refund = next(e for e, _ in _account(web, rid).entries if e.kind == "refund")
    voided = browser.post(f"/requests/{rid}/ledger/void", {"entry_id": str(refund.id), "reason": "typed twice"})
    assert f"Ledger entry {refund.id} voided" in voided.text
    over = browser.post(url, {**base, "amount": "9000.00"})  # more than is owed: a credit, shown as one
    assert "Credit on account <strong>" in over.text
    assert "Balance due <strong>" not in over.text
    nina = signed_in(app, "nina")
    assert nina.post(f"/requests/{rid}/ledger/void", {"entry_id": str(payment.id), "reason": "x"}).status_code == 403


def _account(web: Any, rid: int) -> Any:
    from coverage.services.payments import get_account

    patient = web.lookup.headers([rid])[rid].patient_id
    return get_account(patient, uow=web.uow(), ctx=web.ctx)


def test_a_ledger_entry_of_another_patient_cannot_be_refunded_or_voided(
    app: Any, web: Any, cli: Any, tmp_path: Path
) -> None:
    from coverage.services.payments import plans_for_request

    mine = take_in(cli, tmp_path, "EX-02-iv-not-covered")
    theirs = take_in(cli, tmp_path, "EX-01-meets", case_id="EX-01-other", patient__id="P-2002")
    browser = signed_in(app, "clara")
    browser.post(f"/requests/{mine}/plan", {"terms": "3"})
    (plan,) = plans_for_request(mine, uow=web.uow())
    browser.post(f"/requests/{mine}/payment", {"plan_id": str(plan.id), "amount": "100.00", "method": "card"})
    payment = next(e for e, _ in _account(web, mine).entries if e.kind == "payment")
    refused = browser.post(f"/requests/{theirs}/ledger/void", {"entry_id": str(payment.id), "reason": "x"})
    assert "Refused:" in refused.text
    assert not any(v for e, v in _account(web, mine).entries if e.id == payment.id)


def test_an_approval_starting_later_is_shown_and_undo_says_what_it_undoes(
    app: Any, web: Any, cli: Any, tmp_path: Path
) -> None:
    rid = take_in(cli, tmp_path)
    browser = signed_in(app, "clara")
    browser.post(f"/requests/{rid}/send")
    browser.post(f"/requests/{rid}/sent", {"channel": "fax", "reference": "FAX-1"})
    start = web.ctx.today() + dt.timedelta(days=10)
    answer = {
        "decision": "approved",
        "auth_number": "A-88",
        "valid_from": start.isoformat(),
        "valid_to": (start + dt.timedelta(days=180)).isoformat(),
        "sessions": "8",
        "reason": "",
    }
    page = browser.post(f"/requests/{rid}/record", answer)
    assert "No authorization in force" not in page.text
    assert f"starts on {start}" in page.text
    assert "A-88" in page.text
    assert "<meter" in page.text
    assert "Undo answer (submitted → approved" in page.text
    undone = browser.post(f"/requests/{rid}/undo", {"reason": "wrong request"})
    assert "undone: answer (submitted → approved" in undone.text


def test_amend_through_the_case_form_filled_with_the_current_version(
    app: Any, web: Any, cli: Any, tmp_path: Path
) -> None:
    rid = take_in(cli, tmp_path, "EX-03-subtherapeutic-dose")
    browser = signed_in(app, "clara")
    form = browser.get(f"/requests/{rid}/amend/form")
    assert form.status_code == 200
    assert f'action="/requests/{rid}/amend"' in form.text
    assert 'value="EX-03-subtherapeutic-dose"' in form.text
    assert web.accounts.access(limit=1)[0].what == "amend form"
    from coverage.web.forms import form_values

    fixed = case_gathered("EX-03-subtherapeutic-dose")
    fixed["medication_trials"][1]["daily_dose_mg"] = 60
    values = form_values(fixed)
    refused = browser.post(f"/requests/{rid}/amend", {**values, "expedited": "on", "expedited_reason": "acute"})
    assert refused.status_code == 403
    amended = browser.post(f"/requests/{rid}/amend", values)
    assert "case version 2; now ready (meets_criteria)" in amended.text
    nina = signed_in(app, "nina")
    again = nina.post(f"/requests/{rid}/amend", {**values, "expedited": "on", "expedited_reason": "acute risk"})
    assert f"Request {rid}: case version 3" in again.text
    assert _detail(web, rid).request.urgency == "expedited"


def test_the_live_panel_puts_problems_next_to_fields_and_refuses_a_future_as_of(app: Any, web: Any) -> None:
    from coverage.web.forms import form_values

    browser = signed_in(app, "clara")
    values = form_values(case_gathered("EX-01-meets"))
    broken = browser.post("/cases/determine", {**values, "patient.birth_date": "not a date"})
    assert 'id="e-patient-birth_date" hx-swap-oob="true">' in broken.text
    assert 'id="e-patient-birth_date" hx-swap-oob="true"></span>' not in broken.text
    assert "Patient: " in broken.text
    assert "<li>patient.birth_date:" not in broken.text
    future = (web.ctx.today() + dt.timedelta(days=2)).isoformat()
    panel = browser.post("/cases/determine", {**values, "as_of": future})
    assert "is after today" in panel.text
    saved = browser.post("/cases", {**values, "as_of": future})
    assert "is after today" in saved.text


def test_search_finds_the_displayed_name_and_hash_id_and_wildcards_list_nobody(
    app: Any, cli: Any, tmp_path: Path
) -> None:
    rid = take_in(cli, tmp_path)
    case = case_gathered("EX-01-meets")
    browser = signed_in(app, "clara")
    shown = f"{case['patient']['family_name']}, {case['patient']['given_name']}"
    for text in (shown, f"#{rid}"):
        assert f'href="/requests/{rid}"' in browser.post("/search", {"q": text}).text, text
    for text in ("%", "_", "%%", "__", "a"):
        found = browser.post("/search", {"q": text})
        assert f'href="/requests/{rid}"' not in found.text, text
    assert "at least two letters or digits" in browser.post("/search", {"q": "%"}).text


def test_an_admin_edits_a_payer(app: Any, web: Any) -> None:
    from coverage.services.payers import get_payer

    admin = signed_in(app, "adam")
    admin.post("/payers/add", {"name": "Acme Health", "channel": "fax", "fax": "555-0100"})
    payer = get_payer("Acme Health", uow=web.uow())
    page = admin.get("/payers")
    assert "Edit Acme Health" in page.text
    form = {"payer_id": str(payer.id), "name": "Acme Health", "channel": "fax", "fax": "555-0199"}
    form |= {"turnaround_days": "10", "urgent_turnaround_hours": "48"}
    saved = admin.post("/payers/edit", form)
    assert "Payer Acme Health saved." in saved.text
    edited = get_payer(payer.id, uow=web.uow())
    assert (edited.fax, edited.turnaround_days) == ("555-0199", 10)
    refused = admin.post("/payers/edit", {**form, "fax": ""})
    assert "Refused: fax:" in refused.text
    assert signed_in(app, "clara").post("/payers/edit", form).status_code == 403


def test_an_admin_cannot_disable_themselves_and_unlocks_a_user(app: Any, web: Any) -> None:
    admin = signed_in(app, "adam")
    refused = admin.post("/admin/users/disable", {"name": "adam", "disable": "1"})
    assert "cannot disable your own account" in refused.text
    assert not next(u for u in web.accounts.users() if u.name == "adam").disabled
    for _ in range(5):
        Browser(app).sign_in("clara", "wrong password!")
    assert web.accounts.locked("clara")
    page = admin.get("/admin/users")
    assert 'action="/admin/users/unlock"' in page.text
    unlocked = admin.post("/admin/users/unlock", {"name": "clara"})
    assert "User clara unlocked." in unlocked.text
    assert Browser(app).sign_in("clara").status_code == 200


def test_sign_in_does_not_tell_which_accounts_exist(app: Any) -> None:
    def refusals(name: str) -> set[str]:
        import re

        texts = set()
        for _ in range(6):
            page = Browser(app).sign_in(name, "wrong password!")
            assert page.status_code == 401
            found = re.search(r'class="flash[^"]*"[^>]*>([^<]*)<', page.text) or re.search(
                r"role=\"alert\">([^<]*)<", page.text
            )
            texts.add(found[1] if found else page.text)
        return texts

    known, unknown = refusals("clara"), refusals("nobody-here")
    assert known == unknown
    assert len(known) == 1


def test_access_log_since_a_day_and_a_failed_case_save_is_logged(app: Any, web: Any) -> None:
    from coverage.web.forms import form_values

    values = form_values(case_gathered("EX-01-meets"))
    clara = signed_in(app, "clara")
    failed = clara.post("/cases", {**values, "patient.birth_date": "not a date"})
    assert failed.status_code == 422
    row = web.accounts.access(limit=1)[0]
    assert (row.user, row.patient_id, row.what) == ("clara", values["patient.id"], "case form")
    admin = signed_in(app, "adam")
    today = web.ctx.today()
    assert "case form" in admin.post("/admin/access", {"since": today.isoformat()}).text
    later = admin.post("/admin/access", {"since": (today + dt.timedelta(days=1)).isoformat()})
    assert "No entries." in later.text
    assert admin.post("/admin/access", {"since": "yesterday"}).status_code == 400


def test_small_ones_labels_file_names_bad_filters_big_uploads_and_404_headers(
    app: Any, web: Any, cli: Any, tmp_path: Path
) -> None:
    rid = take_in(cli, tmp_path, "EX-03-subtherapeutic-dose")
    browser = signed_in(app, "clara")
    attached = browser.post(
        f"/requests/{rid}/attach",
        {"title": "Note"},
        files={"file": ("chart-note.pdf", b"not a pdf", "application/pdf")},
    )
    assert "file: chart-note.pdf is not a PDF" in attached.text
    assert "attachment.pdf" not in attached.text
    bogus = browser.get("/worklist.csv?kind=bogus")
    assert bogus.status_code == 400
    assert "kind: &#39;bogus&#39; is not one of" in bogus.text
    assert browser.get("/?status=nonsense").status_code == 400
    # The worklist lists stored statuses: "expiring" (derived when a request is read) is no filter of it.
    assert browser.get("/?status=expiring").status_code == 400
    statuses = browser.get("/").text.split('<select id="status"', 1)[1].split("</select>", 1)[0]
    assert 'value="approved"' in statuses
    assert 'value="expiring"' not in statuses
    big = browser.client.post(
        f"/requests/{rid}/attach",
        data={"csrf": browser.csrf},
        files={"file": ("big.pdf", b"%PDF-" + b"0" * (11 * 1024 * 1024), "application/pdf")},
    )
    assert big.status_code == 413
    assert "too large" in big.text
    assert "<html" in big.text
    missing = browser.client.get("/no/such/page")
    assert missing.status_code == 404
    assert "frame-ancestors 'none'" in missing.headers["content-security-policy"]
    assert missing.headers["x-content-type-options"] == "nosniff"


def test_refusals_use_the_form_labels_not_the_cli_options(app: Any, web: Any, cli: Any, tmp_path: Path) -> None:
    rid = take_in(cli, tmp_path)
    browser = signed_in(app, "clara")
    browser.post(f"/requests/{rid}/send")
    future = (web.ctx.today() + dt.timedelta(days=3)).isoformat()
    refused = browser.post(f"/requests/{rid}/sent", {"channel": "fax", "sent_on": future})
    assert "Refused: " in refused.text
    assert "--sent-on" not in refused.text
    assert "sent on: " in refused.text


def test_the_patient_ledger_is_in_date_order_in_the_clinic_day(app: Any, web: Any, cli: Any, tmp_path: Path) -> None:
    from coverage.services.payments import plans_for_request

    rid = take_in(cli, tmp_path, "EX-02-iv-not-covered")
    browser = signed_in(app, "clara")
    browser.post(f"/requests/{rid}/plan", {"terms": "3"})
    (plan,) = plans_for_request(rid, uow=web.uow())
    day = web.ctx.today()
    browser.post(f"/requests/{rid}/payment", {"plan_id": str(plan.id), "amount": "10.00", "method": "cash"})
    page = browser.get(f"/requests/{rid}/patient").text
    assert "payment (cash)" in page
    dates = [line.split("<td>")[1].split("<")[0] for line in page.splitlines() if line.startswith("<tr><td>20")]
    assert dates
    assert dates == sorted(dates)
    assert all(d <= day.isoformat() for d in dates)


def test_web_refuses_a_busy_port_in_one_line_and_warns_about_a_public_host(
    cli: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    from coverage.cli import web as web_cli

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        lines = cli.fails("web", "--port", str(port))
    assert len(lines) == 1
    assert "--port: cannot listen on 127.0.0.1:" in lines[0]
    ran: list[str] = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: ran.append(k["host"]))
    monkeypatch.setattr("coverage.web.app.create_app", object)
    web_cli.serve("0.0.0.0", 0)
    assert ran == ["0.0.0.0"]
    assert "warning: --host 0.0.0.0 serves plain http" in capsys.readouterr().err


def test_every_input_of_every_page_has_a_label(app: Any, web: Any, cli: Any, tmp_path: Path) -> None:
    """Accessible forms: each visible field is named by a <label for>, a wrapping <label> or aria-label."""
    from html.parser import HTMLParser

    class Fields(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.labelled: set[str] = set()
            self.fields: list[dict[str, str | None]] = []
            self.open_labels = 0

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            if tag == "label":
                self.open_labels += 1
                if a.get("for"):
                    self.labelled.add(str(a["for"]))
            elif tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit", "button"):
                self.fields.append({**a, "_wrapped": "yes" if self.open_labels else None})

        def handle_endtag(self, tag: str) -> None:
            if tag == "label":
                self.open_labels -= 1

    rid = take_in(cli, tmp_path)
    pages = ["/", "/cases/new", f"/requests/{rid}", f"/requests/{rid}/patient", "/payers", "/admin/access"]
    browser = signed_in(app, "adam")
    for url in pages:
        page = browser.get(url)
        assert page.status_code == 200, url
        found = Fields()
        found.feed(page.text)
        assert found.fields, url
        unnamed = [
            f.get("name")
            for f in found.fields
            if not (f["_wrapped"] or f.get("aria-label") or (f.get("id") and f["id"] in found.labelled))
        ]
        assert not unnamed, (url, unnamed)
