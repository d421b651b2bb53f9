"""Letters rendered to PDF and read back: names, codes, trial rows, counts, dates, totals.

Documents are dated the day they are made; the tests that read dates back make them on ``DATED``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from coverage.cli import app
from coverage.errors import ConfigurationError, InvalidInput
from coverage.letters import (
    LETTER_KINDS,
    Decision,
    LetterOptions,
    RenderedDocument,
    RenderJob,
    render_document,
    render_html,
    render_many,
    render_packet,
)
from coverage.letters.templates import long_date
from coverage.payments.plans import add_months
from coverage.policies.service import Checker
from coverage.requests.clocks import clinic_today
from tests.conftest import Cli, case_gathered, write_case
from tests.test_letters_support import (
    APPROVAL,
    DATED,
    DENIAL,
    EXAMPLES,
    PAYMENTS,
    PLAN,
    SERVICE_DATES,
    Inputs,
    inputs_for,
)


def pdf_text(pdf: bytes) -> str:
    """Every page's text, whitespace collapsed (pypdf breaks lines where the layout wraps)."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def render(inputs: Inputs, kind: str, options: LetterOptions | None = None, **kw: object) -> RenderedDocument:
    """A document made on ``DATED`` unless ``dated`` says otherwise."""
    kw.setdefault("dated", DATED)
    return render_document(
        kind,
        case=inputs.case,
        determination=inputs.determination,
        clinic=inputs.clinic,
        policy=inputs.policy,
        options=options,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def ex01(checker: Checker) -> Inputs:
    return inputs_for(checker, "EX-01-meets")


@pytest.fixture(scope="module")
def request_letter(ex01: Inputs) -> RenderedDocument:
    return render(ex01, "request", LetterOptions(recipient_fax="(800) 555-0199"))


@pytest.fixture(scope="module")
def packet(ex01: Inputs) -> RenderedDocument:
    return render_packet(
        case=ex01.case, determination=ex01.determination, clinic=ex01.clinic, policy=ex01.policy, dated=DATED
    )


def test_request_letter_carries_patient_codes_and_every_trial(request_letter: RenderedDocument) -> None:
    text = pdf_text(request_letter.pdf)
    for expected in (
        "Dana Whitaker",
        "05/14/1983",
        "XEH123456789",
        "G-5521",
        "J0013",
        "F33.2",
        "NDC 50458-028-02",
        "Fax: (800) 555-0199",
        "December 2, 2026",  # the day it was made, not the case's as_of (November 20)
        "Rosa Delgado, MD",
        "NPI 1234567893",
        "SPR-000123",
        "3 different antidepressants in 3 classes",
    ):
        assert expected in text, expected
    for drug, dose in (("sertraline", "150 mg / 50 mg"), ("duloxetine", "60 mg / 60 mg"), ("bupropion", "300 mg")):
        assert drug in text
        assert dose in text
    assert "aripiprazole" in text
    assert text.count("Met") >= 9  # coverage plus eight criteria, each answered
    assert request_letter.page_count == len(PdfReader(io.BytesIO(request_letter.pdf)).pages)


def test_every_page_has_the_phi_header_and_page_x_of_y(request_letter: RenderedDocument) -> None:
    reader = PdfReader(io.BytesIO(request_letter.pdf))
    total = len(reader.pages)
    assert total >= 2
    for number, page in enumerate(reader.pages, start=1):
        text = " ".join((page.extract_text() or "").split())
        assert "Dana Whitaker" in text
        assert "DOB 05/14/1983" in text
        assert "Member ID XEH123456789" in text
        assert f"Page {number} of {total}" in text
        assert request_letter.control_number in text


def test_control_number_is_stable_and_follows_the_inputs(ex01: Inputs, request_letter: RenderedDocument) -> None:
    """A preview's number names no case (lifecycle rule 13) and changes with the options and the day."""
    assert re.fullmatch(r"PREVIEW-LMN-[0-9A-F]{8}", request_letter.control_number)

    def number(options: LetterOptions, dated: dt.date = DATED) -> str:
        _, found, _ = render_html(
            "request",
            case=ex01.case,
            determination=ex01.determination,
            clinic=ex01.clinic,
            policy=ex01.policy,
            options=options,
            dated=dated,
        )
        return found

    same = number(LetterOptions(recipient_fax="(800) 555-0199"))
    assert same == request_letter.control_number
    assert number(LetterOptions()) != same
    assert number(LetterOptions(recipient_fax="(800) 555-0199"), DATED + dt.timedelta(days=1)) != same
    assert "EX-01" not in same


def test_a_given_number_is_printed_as_given(ex01: Inputs) -> None:
    html, number, _ = render_html(
        "request", case=ex01.case, determination=ex01.determination, clinic=ex01.clinic, dated=DATED, number="8-LMN-1"
    )
    assert number == "8-LMN-1"
    assert "Control No. 8-LMN-1" in html
    assert "PREVIEW" not in html


def _starting(html: str) -> str:
    found = re.search(r"starting (\w+ \d+, \d{4})", html)
    assert found is not None
    return found.group(1)


def test_a_document_is_dated_the_day_it_is_made(ex01: Inputs) -> None:
    """Lifecycle rule 2: the date line is the day of making; the start asked for is never before it."""
    assert ex01.case.as_of == dt.date(2026, 11, 20)
    assert ex01.case.request.start_date == dt.date(2026, 12, 1)

    def made_on(dated: dt.date | None) -> str:
        html, _, _ = render_html(
            "request", case=ex01.case, determination=ex01.determination, clinic=ex01.clinic, dated=dated
        )
        return html

    early = made_on(dt.date(2026, 11, 24))  # before the requested start: the case's start stands
    assert '<p class="date-line">November 24, 2026</p>' in early
    assert _starting(early) == "December 1, 2026"
    assert "start 12/01/2026" in early
    late = made_on(dt.date(2026, 12, 9))  # after it: the letter asks to start on the day it is made
    assert '<p class="date-line">December 9, 2026</p>' in late
    assert _starting(late) == "December 9, 2026"
    assert "start 12/09/2026" in late
    assert "November 20, 2026" not in late  # the case's as_of dates facts, not the letter
    today = clinic_today()
    by_default = made_on(None)
    assert f'<p class="date-line">{long_date(today)}</p>' in by_default
    assert _starting(by_default) == long_date(max(today, dt.date(2026, 12, 1)))


def test_every_document_kind_carries_its_date(checker: Checker) -> None:
    """Notices, receipts, superbills and agreements are dated the day they are made too."""
    day = dt.date(2027, 1, 4)
    for example, kind, options, shown in (
        ("EX-01-meets", "decision-notice", LetterOptions(decision=APPROVAL), "January 4, 2027"),
        ("EX-06-self-pay", "receipt", LetterOptions(payments=PAYMENTS), "January 4, 2027"),
        ("EX-06-self-pay", "superbill", LetterOptions(service_dates=SERVICE_DATES), "01/04/2027"),
        ("EX-06-self-pay", "payment-plan", LetterOptions(plan=PLAN), "January 4, 2027"),
        ("EX-01-meets", "fax-cover", LetterOptions(), "January 4, 2027"),
        ("EX-01-meets", "packet", LetterOptions(), "January 4, 2027"),
    ):
        inputs = inputs_for(checker, example)
        html, _, _ = render_html(
            kind,
            case=inputs.case,
            determination=inputs.determination,
            clinic=inputs.clinic,
            policy=inputs.policy,
            options=options,
            dated=day,
        )
        assert shown in html, kind
        assert '<meta name="dcterms.created" content="2027-01-04">' in html, kind


def test_packet_lists_trials_with_counts_and_reasons(checker: Checker) -> None:
    inputs = inputs_for(checker, "EX-03-subtherapeutic-dose")
    document = render_packet(
        case=inputs.case, determination=inputs.determination, clinic=inputs.clinic, policy=inputs.policy
    )
    text = pdf_text(document.pdf)
    assert "Documentation of prior treatment" in text
    assert "Counted: 1 antidepressant in 1 class (SSRI)" in text
    assert "duloxetine 30 mg/day is below the 60 mg minimum" in text
    assert "30 mg / 60 mg" in text
    assert "09/01/2025 – 11/01/2025" in text
    assert "8.7" in text  # weeks in the current episode
    assert "Not met" in text
    assert "<svg" not in text
    assert "PHQ-9 (0-27)" in text
    assert inputs.policy is not None
    assert inputs.policy.hash in text.replace(" ", "")
    assert document.warnings == ("criterion failed_trials is not_met in the determination",)


def test_same_inputs_give_the_same_bytes(ex01: Inputs, packet: RenderedDocument) -> None:
    again = render_packet(
        case=ex01.case, determination=ex01.determination, clinic=ex01.clinic, policy=ex01.policy, dated=DATED
    )
    assert again.pdf == packet.pdf
    assert again.sha256 == packet.sha256
    assert b"CreationDate" not in packet.pdf or b"D:20261202" in packet.pdf


def test_pdfa_variant_is_archival(ex01: Inputs) -> None:
    document = render(ex01, "decision-notice", LetterOptions(decision=APPROVAL), pdf_variant="pdf/a-3b")
    root = PdfReader(io.BytesIO(document.pdf)).trailer["/Root"]
    assert "/OutputIntents" in root
    metadata = root["/Metadata"].get_object().get_data()
    assert b"<pdfaid:part>3</pdfaid:part>" in metadata or b'pdfaid:part="3"' in metadata
    assert b"pdfaid:conformance" in metadata
    plain = render(ex01, "decision-notice", LetterOptions(decision=APPROVAL))
    assert plain.pdf != document.pdf
    assert "PA-778812" in pdf_text(document.pdf)
    with pytest.raises(InvalidInput, match="pdf_variant"):
        render(ex01, "decision-notice", LetterOptions(decision=APPROVAL), pdf_variant="pdf/x-4")


def test_appeal_quotes_the_denial_and_the_payers_criteria(ex01: Inputs) -> None:
    text = pdf_text(render(ex01, "appeal", LetterOptions(denial=DENIAL)).pdf)
    assert "Documentation does not show two adequate antidepressant trials in the current episode." in text
    assert "DN-2026-0088" in text
    assert "November 25, 2026" in text
    assert "Inadequate response to at least 2 antidepressants from at least 2 different classes" in text
    assert "3 qualifying trials in 3 classes" in text


def test_appeal_without_a_denial_reason_names_the_option(ex01: Inputs) -> None:
    with pytest.raises(InvalidInput, match="--denial-reason"):
        render_html("appeal", case=ex01.case, determination=ex01.determination, clinic=ex01.clinic)


def test_continuation_shows_baseline_current_and_improvement(checker: Checker) -> None:
    inputs = inputs_for(checker, "EX-08-continuation")
    text = pdf_text(render(inputs, "continuation").pdf)
    assert "22 on 08/25/2026" in text
    assert "9 on 11/15/2026" in text
    assert "59.1%" in text
    assert "at least 50%" in text
    with pytest.raises(InvalidInput, match="continuation case"):
        render_html(
            "continuation",
            case=inputs_for(checker, "EX-01-meets").case,
            determination=inputs.determination,
            clinic=inputs.clinic,
        )


EXPEDITED = "EXPEDITED REVIEW REQUESTED"
REASON = "Active suicidal ideation; a standard review would delay treatment."


@pytest.mark.parametrize(
    ("example", "kind", "options"),
    [
        ("EX-01-meets", "request", LetterOptions()),
        ("EX-08-continuation", "continuation", LetterOptions()),
        ("EX-01-meets", "appeal", LetterOptions(denial=DENIAL)),
        ("EX-01-meets", "packet", LetterOptions()),
        ("EX-01-meets", "fax-cover", LetterOptions(recipient_fax="(800) 555-0199")),
    ],
)
def test_an_expedited_request_says_so_with_its_reason(
    checker: Checker, example: str, kind: str, options: LetterOptions
) -> None:
    """Lifecycle rule 12: what goes to the payer says EXPEDITED REVIEW REQUESTED, and why."""
    inputs = inputs_for(checker, example)
    expedited = pdf_text(render(inputs, kind, replace(options, expedited_reason=REASON)).pdf)
    assert EXPEDITED in expedited
    assert REASON in expedited
    standard = pdf_text(render(inputs, kind, options).pdf)
    assert EXPEDITED not in standard


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("decision-notice", LetterOptions(decision=APPROVAL)),
        ("receipt", LetterOptions(payments=PAYMENTS)),
        ("superbill", LetterOptions(service_dates=SERVICE_DATES)),
    ],
)
def test_papers_for_the_patient_do_not_say_expedited(checker: Checker, kind: str, options: LetterOptions) -> None:
    inputs = inputs_for(checker, "EX-06-self-pay" if kind != "decision-notice" else "EX-01-meets")
    text = pdf_text(render(inputs, kind, replace(options, expedited_reason=REASON)).pdf)
    assert EXPEDITED not in text
    assert REASON not in text


def test_decision_notice_states_units_of_the_code_and_sessions(ex01: Inputs) -> None:
    """Lifecycle rule 9: the units of the billing code, what one unit is, and the sessions they pay for."""
    given = Decision(status="approved", auth_number="A-77", valid_from=DATED, valid_to=dt.date(2027, 5, 30), units=448)
    text = pdf_text(render(ex01, "decision-notice", LetterOptions(decision=given)).pdf)
    assert "448 units of J0013 (1 unit = 1 mg), 8 sessions at 56 mg" in text
    stated = replace(given, units=450, code="J0013", unit_label="1 unit = 1 mg", sessions=8, dose_mg=56)
    text = pdf_text(render(ex01, "decision-notice", LetterOptions(decision=stated)).pdf)
    assert "450 units of J0013 (1 unit = 1 mg), 8 full sessions at 56 mg (2 mg left over)" in text  # its own words


def test_a_medicare_notice_counts_sessions(checker: Checker) -> None:
    """G2082/G2083: one unit is one session."""
    medicare = inputs_for(checker, "EX-05-medicare")
    given = Decision(status="approved", valid_from=DATED, valid_to=dt.date(2027, 5, 30), units=8)
    text = pdf_text(render(medicare, "decision-notice", LetterOptions(decision=given)).pdf)
    assert "8 units of G2083 (1 unit = one session), 8 sessions at 84 mg" in text


def test_request_variant_follows_treatment_and_indication(checker: Checker) -> None:
    iv = inputs_for(checker, "EX-07-iv-covered")
    text = pdf_text(render(iv, "request").pdf)
    assert "IV ketamine infusion" in text
    assert "96365" in text
    assert "J3490" in text
    assert "4 different antidepressants in 2 classes (SNRI, SSRI)" in text
    assert "REMS and safety screen" not in text
    mdsi = inputs_for(checker, "mdsi")
    html, _, _ = render_html(
        "request", case=mdsi.case, determination=mdsi.determination, clinic=mdsi.clinic, policy=mdsi.policy
    )
    assert "EXPEDITED" not in html  # the indication alone does not make the request expedited (rule 12)
    assert "acute suicidal ideation" in html


def test_fax_cover_lists_enclosures_and_counts_pages(
    ex01: Inputs, request_letter: RenderedDocument, packet: RenderedDocument
) -> None:
    options = LetterOptions(recipient_fax="(800) 555-0199", enclosures=(request_letter.enclosure(), packet.enclosure()))
    cover = render(ex01, "fax-cover", options)
    text = pdf_text(cover.pdf)
    total = cover.page_count + request_letter.page_count + packet.page_count
    assert f"{total} including this cover sheet" in text
    assert request_letter.control_number in text
    assert packet.control_number in text
    assert "CONFIDENTIALITY NOTICE" in text
    assert "(800) 555-0199" in text


def test_superbill_has_codes_npi_tax_id_pos_and_totals(checker: Checker) -> None:
    inputs = inputs_for(checker, "EX-06-self-pay")
    text = pdf_text(render(inputs, "superbill", LetterOptions(service_dates=SERVICE_DATES, payments=PAYMENTS)).pdf)
    for expected in ("96365", "J3490", "F33.2", "NPI 1234567893", "12-3456789", "Place of service 11", "12/03/2026"):
        assert expected in text, expected
    assert "Total charges (2 dates of service) $1,100.00" in text
    assert "Payments received $825.50" in text
    assert "Balance due $274.50" in text


def test_esketamine_superbill_uses_engine_codes_and_price_list(ex01: Inputs) -> None:
    text = pdf_text(render(ex01, "superbill", LetterOptions(service_dates=SERVICE_DATES)).pdf)
    assert "J0013" in text
    assert "56" in text
    assert "99213" in text
    assert "99415" in text
    assert "$900.00" in text
    with pytest.raises(ConfigurationError, match="no item 'nope'"):
        render_html(
            "superbill",
            case=ex01.case,
            determination=ex01.determination,
            clinic=ex01.clinic,
            options=LetterOptions(price_item="nope", service_dates=SERVICE_DATES),
        )


def test_a_superbill_certifies_only_sessions_named_never_a_guessed_date(ex01: Inputs, tmp_path: Path) -> None:
    """Defect: without --service-date the superbill certified the case's start date; future dates were taken."""
    with pytest.raises(InvalidInput, match="--service-date: a superbill lists the sessions given"):
        render(ex01, "superbill")
    out = tmp_path / "superbill.pdf"
    later = (clinic_today() + dt.timedelta(days=1)).isoformat()
    case = str(EXAMPLES / "EX-01-meets.json")
    errors = Cli().fails("letter", case, "--kind", "superbill", "--out", str(out), "--service-date", later)
    assert errors == [f"error: --service-date: {later} is in the future (today is {clinic_today()})"]


def test_payment_plan_and_receipt_totals(checker: Checker) -> None:
    inputs = inputs_for(checker, "EX-06-self-pay")
    plan_text = pdf_text(render(inputs, "payment-plan", LetterOptions(plan=PLAN)).pdf)
    assert "$3,300.01" in plan_text
    assert "1 of 6 December 1, 2026 $550.01" in plan_text
    assert "6 of 6 May 1, 2027 $550.00" in plan_text
    receipt_text = pdf_text(render(inputs, "receipt", LetterOptions(payments=PAYMENTS)).pdf)
    assert "Total received $825.50" in receipt_text
    assert "AUTH-4242" in receipt_text


def test_missing_fields_fail_loudly_instead_of_printing_blanks(ex01: Inputs, tmp_path: Path) -> None:
    (tmp_path / "request-esketamine-trd.html").write_text("{{ patient.no_such_field }}", encoding="utf-8")
    with pytest.raises(Exception, match="no_such_field"):
        render_html(
            "request", case=ex01.case, determination=ex01.determination, clinic=ex01.clinic, template_dir=tmp_path
        )


def test_payer_folder_overrides_a_template_and_falls_back_to_the_default(ex01: Inputs, tmp_path: Path) -> None:
    payer = tmp_path / "standard-commercial"
    payer.mkdir()
    (payer / "_signature.html").write_text("<p>Signed for the payer {{ payer_name }}</p>", encoding="utf-8")
    (tmp_path / "_signature.html").write_text("<p>Clinic-wide signature</p>", encoding="utf-8")
    html, _, _ = render_html(
        "request", case=ex01.case, determination=ex01.determination, clinic=ex01.clinic, template_dir=tmp_path
    )
    assert "Signed for the payer Example Health Plan" in html
    assert "Antidepressant and augmentation treatment history" in html  # the rest is the shipped default
    medicare = replace(
        ex01,
        case=ex01.case.model_copy(
            update={"coverage": ex01.case.coverage.model_copy(update={"policy_id": "medicare-part-b"})}
        ),
    )
    html, _, _ = render_html(
        "request", case=medicare.case, determination=ex01.determination, clinic=ex01.clinic, template_dir=tmp_path
    )
    assert "Clinic-wide signature" in html


def test_autoescape_keeps_case_text_out_of_the_markup(ex01: Inputs) -> None:
    html, _, _ = render_html(
        "appeal",
        case=ex01.case,
        determination=ex01.determination,
        clinic=ex01.clinic,
        options=LetterOptions(denial=replace(DENIAL, reason="<script>x</script> & more")),
    )
    assert "&lt;script&gt;x&lt;/script&gt; &amp; more" in html
    assert "<script>" not in html


def test_batch_on_the_pool_matches_single_renders(ex01: Inputs, request_letter: RenderedDocument) -> None:
    jobs = [
        RenderJob(
            kind="request",
            case=ex01.case,
            determination=ex01.determination,
            clinic=ex01.clinic,
            policy=ex01.policy,
            options=LetterOptions(recipient_fax="(800) 555-0199"),
            dated=DATED,
        ),
        RenderJob(
            kind="decision-notice",
            case=ex01.case,
            determination=ex01.determination,
            clinic=ex01.clinic,
            policy=ex01.policy,
            options=LetterOptions(decision=APPROVAL),
        ),
    ]
    documents = render_many(jobs, workers=2)
    assert [d.kind for d in documents] == ["request", "decision-notice"]
    assert documents[0].sha256 == request_letter.sha256
    assert long_date(clinic_today()) in pdf_text(documents[1].pdf)  # undated jobs: the batch's today


def test_no_phi_in_log_lines(ex01: Inputs, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="coverage.letters")
    document = render(ex01, "decision-notice", LetterOptions(decision=APPROVAL))
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert document.control_number in logged
    for phi in ("Dana", "Whitaker", "1983", "XEH123456789"):
        assert phi not in logged


runner = CliRunner()


def test_cli_lists_kinds() -> None:
    result = runner.invoke(app, ["letter", "--list"])
    assert result.exit_code == 0
    for kind in LETTER_KINDS:
        assert kind in result.stdout


def test_cli_letter_writes_pdf_and_prints_sha256(tmp_path: Path) -> None:
    out = tmp_path / "notice.pdf"
    result = runner.invoke(
        app,
        [
            "letter",
            str(EXAMPLES / "EX-01-meets.json"),
            "--kind",
            "decision-notice",
            "--out",
            str(out),
            "--decision",
            "denied",
            "--decided-on",
            "2026-11-27",
            "--decision-reason",
            "Not enough trials.",
        ],
    )
    assert result.exit_code == 0, result.output
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert result.stdout.strip() == f"sha256 {digest} {out}"
    text = pdf_text(out.read_bytes())
    assert "Not approved" in text
    assert long_date(clinic_today()) in text  # a preview is dated the day it is made


def test_cli_notice_explains_the_units(tmp_path: Path) -> None:
    out = tmp_path / "notice.pdf"
    args = ["letter", str(EXAMPLES / "EX-01-meets.json"), "--kind", "decision-notice", "--out", str(out)]
    result = runner.invoke(app, [*args, "--decision", "approved", "--units", "448"])
    assert result.exit_code == 0, result.output
    assert "448 units of J0013 (1 unit = 1 mg), 8 sessions at 56 mg" in pdf_text(out.read_bytes())


def test_cli_payment_plan_defaults_from_the_price_list(tmp_path: Path) -> None:
    out = tmp_path / "plan.pdf"
    args = ["letter", str(EXAMPLES / "EX-06-self-pay.json"), "--kind", "payment-plan", "--out", str(out)]
    first = (clinic_today().replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    result = runner.invoke(app, [*args, "--installments", "3", "--start", first.isoformat()])
    assert result.exit_code == 0, result.output
    text = pdf_text(out.read_bytes())
    assert "$3,300.00" in text  # 6 infusions at $550.00
    assert f"3 of 3 {long_date(add_months(first, 2))} $1,100.00" in text
    # Defect: a plan starting in the past was rendered.
    past = (clinic_today() - dt.timedelta(days=1)).isoformat()
    assert Cli().fails(*args, "--installments", "3", "--start", past) == [
        f"error: --start: {past} is before today ({clinic_today().isoformat()}); a plan starts today or later"
    ]


def test_cli_payment_plan_asks_for_nothing_before_the_day_it_is_made(tmp_path: Path) -> None:
    """A course that was to start a month ago: the first installment is due today, not in the past."""
    case = write_case(tmp_path, case_gathered("EX-06-self-pay", clinic_today() - dt.timedelta(days=40)))
    out = tmp_path / "plan.pdf"
    result = runner.invoke(app, ["letter", str(case), "--kind", "payment-plan", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = pdf_text(out.read_bytes())
    assert f"1 of 6 {long_date(clinic_today())} $550.00" in text


@pytest.mark.parametrize(
    ("count", "error"),
    [
        ("7", "error: --installments: 7 is not offered (offered: 3, 6, 12)"),
        ("0", "error: --installments: must be at least 1, got 0"),
    ],
)
def test_cli_payment_plan_refuses_a_count_the_clinic_does_not_offer(tmp_path: Path, count: str, error: str) -> None:
    """The agreement's counts are refused as a stored plan's are, in the same words (QA 10)."""
    out = tmp_path / "plan.pdf"
    case = str(EXAMPLES / "EX-06-self-pay.json")
    errors = Cli().fails("letter", case, "--kind", "payment-plan", "--out", str(out), "--installments", count)
    assert errors == [error]
    assert not out.exists()


def test_cli_payment_plan_refuses_installments_below_the_minimum(tmp_path: Path) -> None:
    """QA 10: an agreement's installments reach the clinic's minimum monthly installment, as a plan's do."""
    out = tmp_path / "plan.pdf"
    case = str(EXAMPLES / "EX-06-self-pay.json")
    args = ["letter", case, "--kind", "payment-plan", "--out", str(out), "--total", "600.00", "--installments", "12"]
    assert Cli().fails(*args) == [
        "error: --installments: 12 installments of 50.00 fall below the minimum monthly installment 100.00"
    ]
    assert not out.exists()


def test_cli_payment_plan_starts_within_a_year(tmp_path: Path) -> None:
    """QA 12: a plan's first installment is due at most 365 days ahead."""
    out = tmp_path / "plan.pdf"
    case = str(EXAMPLES / "EX-06-self-pay.json")
    late = (clinic_today() + dt.timedelta(days=366)).isoformat()
    errors = Cli().fails("letter", case, "--kind", "payment-plan", "--out", str(out), "--start", late)
    assert len(errors) == 1
    assert errors[0].startswith(f"error: --start: {late} is more than 365 days ahead")
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "appeal"], "--denial-reason"),
        (["--kind", "receipt", "--payment", "2026-12-01:abc"], "--payment"),
        (["--kind", "decision-notice", "--decision", "maybe"], "--decision"),
        (["--kind", "nope"], "unknown document kind"),
        (["--kind", "request", "--request", "12"], "--request"),
    ],
)
def test_cli_errors_are_one_line_naming_the_option(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["letter", str(EXAMPLES / "EX-01-meets.json"), "--out", str(tmp_path / "x.pdf"), *args])
    assert result.exit_code != 0
    assert message in str(result.exception)
    assert "Whitaker" not in str(result.exception)


def test_cli_packet(tmp_path: Path) -> None:
    out = tmp_path / "packet.pdf"
    result = runner.invoke(app, ["packet", str(EXAMPLES / "EX-07-iv-covered.json"), "--out", str(out), "--pdfa"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("sha256 ")
    text = pdf_text(out.read_bytes())
    assert "Counted: 4 antidepressants in 2 classes (SNRI, SSRI); 1 augmentation trial." in text
    assert re.search(r"Control No\. PREVIEW-DOC-[0-9A-F]{8}", text)
    assert "EX-07-iv-covered" not in text  # a preview's number names no case


def test_the_superbill_keeps_its_certification_and_signature_together(ex01: Inputs) -> None:
    """Defect: the signature block sat alone on page 2. Whatever the number of lines, the last page
    carries the certification with the signature, and no page has a signature without it."""
    from coverage.letters.options import ServiceItem

    signer = ex01.clinic.signature.name
    for sessions in range(4, 13):
        items = tuple(
            ServiceItem(DATED - dt.timedelta(days=2 * n), code, 1, f"service {code}", Decimal("100.00"))
            for n in range(sessions)
            for code in ("J0013", "99213", "99415")
        )
        pdf = render(ex01, "superbill", LetterOptions(service_items=items)).pdf
        pages = [" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(pdf)).pages]
        assert "I certify" in pages[-1], sessions
        assert signer in pages[-1], sessions
        assert all("I certify" in page for page in pages if "Sincerely" in page), sessions
