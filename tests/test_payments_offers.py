"""Self-pay offers from the price list, the savings flag, and the data of the self-pay documents."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from coverage.clinic import Clinic, PriceList, load_clinic
from coverage.errors import ConfigurationError, InvalidInput
from coverage.payments.offers import (
    build_course,
    build_offer,
    choose_installments,
    default_installments,
    manufacturer_savings,
)
from coverage.payments.plans import split_evenly
from coverage.settings import Settings

START = dt.date(2026, 1, 31)


@pytest.fixture(scope="module")
def clinic() -> Clinic:
    return load_clinic(Settings(clinic_file=None))


@pytest.fixture(scope="module")
def prices(clinic: Clinic) -> PriceList:
    return clinic.prices


def test_course_totals_from_the_sample_price_list(prices: PriceList) -> None:
    iv = build_course(prices, "iv_ketamine", None, with_consultation=True)
    assert [(line.key, line.sessions, line.amount) for line in iv.lines] == [
        ("consultation", 1, Decimal("300.00")),
        ("iv_infusion", 6, Decimal("3300.00")),
    ]
    assert iv.total == Decimal("3600.00")
    assert build_course(prices, "iv_ketamine", None, with_consultation=False).total == Decimal("3300.00")
    assert build_course(prices, "esketamine", 56, with_consultation=False).total == Decimal("7200.00")
    assert build_course(prices, "esketamine", 84, with_consultation=True).total == Decimal("10300.00")


def test_a_dose_without_a_price_is_a_configuration_error(prices: PriceList) -> None:
    with pytest.raises(ConfigurationError, match=r"\[prices.items.esketamine_28\] is missing"):
        build_course(prices, "esketamine", 28, with_consultation=False)
    with pytest.raises(InvalidInput, match="dose_mg: required"):
        build_course(prices, "esketamine", None, with_consultation=False)


def test_offer_pay_in_full_and_installments(prices: PriceList) -> None:
    offer = build_offer(Decimal("3600.00"), prices, START)
    assert (offer.discount, offer.pay_in_full) == (Decimal("180.00"), Decimal("3420.00"))
    assert [(o.count, o.first_amount, o.amount) for o in offer.options] == [
        (3, Decimal("1200.00"), Decimal("1200.00")),
        (6, Decimal("600.00"), Decimal("600.00")),
        (12, Decimal("300.00"), Decimal("300.00")),
    ]
    assert offer.withheld == ()
    assert offer.to_dict()["pay_in_full"] == {"discount_pct": "5", "discount": "180.00", "amount": "3420.00"}


def test_options_below_the_minimum_are_withheld(prices: PriceList) -> None:
    offer = build_offer(Decimal("1000.00"), prices, START)
    assert [(o.count, o.first_amount, o.amount) for o in offer.options] == [
        (3, Decimal("333.34"), Decimal("333.33")),
        (6, Decimal("166.70"), Decimal("166.66")),
    ]
    assert offer.withheld == (12,)


def test_choosing_a_withheld_option_names_the_minimum(prices: PriceList) -> None:
    with pytest.raises(InvalidInput) as raised:
        choose_installments(Decimal("1000.00"), 12, START, prices)
    assert raised.value.lines() == [
        "--installments: 12 installments of 83.33 fall below the minimum monthly installment 100.00"
    ]


def test_choosing_an_unconfigured_count_lists_the_offered_ones(prices: PriceList) -> None:
    with pytest.raises(InvalidInput) as raised:
        choose_installments(Decimal("1000.00"), 4, START, prices)
    assert raised.value.lines() == ["--installments: 4 is not offered (offered: 3, 6)"]
    assert choose_installments(Decimal("1000.00"), 6, START, prices) == split_evenly(Decimal("1000.00"), 6, START)


@pytest.mark.parametrize(("counts", "default"), [([3, 6, 12], 6), ([12, 4], 4), ([24], 24)])
def test_a_plan_document_shows_6_installments_when_offered(prices: PriceList, counts: list[int], default: int) -> None:
    assert default_installments(prices.model_copy(update={"installment_counts": sorted(counts)})) == default


def test_a_clinic_without_installments_has_no_default(prices: PriceList) -> None:
    with pytest.raises(ConfigurationError, match="installment_counts"):
        default_installments(prices.model_copy(update={"installment_counts": []}))


@pytest.mark.parametrize(
    ("plan_type", "treatment", "status"),
    [
        ("commercial", "esketamine", "likely_eligible"),
        ("medicare", "esketamine", "not_eligible"),
        ("medicaid", "esketamine", "not_eligible"),
        ("self_pay", "esketamine", "not_applicable"),
        ("commercial", "iv_ketamine", "not_applicable"),
        ("medicare", "iv_ketamine", "not_applicable"),
    ],
)
def test_manufacturer_savings_flag(plan_type: str, treatment: str, status: str) -> None:
    assert manufacturer_savings(plan_type, treatment).status == status


def test_the_sample_items_are_the_sum_of_their_codes(prices: PriceList) -> None:
    assert prices.code_problems() == []
    assert prices.codes["J0013"] * 56 + prices.codes["99213"] + prices.codes["99415"] == Decimal("900.00")


def test_a_clinic_file_whose_prices_do_not_add_up_is_refused_one_line_each() -> None:
    from importlib import resources

    from coverage.clinic import parse_clinic

    text = resources.files("coverage").joinpath("clinic_sample.toml").read_text(encoding="utf-8")
    text = text.replace('amount = "550.00"', 'amount = "560.00"').replace('J3490 = "150.00"\n', "")
    text = text.replace('amount = "1250.00"', 'amount = "1200.00"')
    with pytest.raises(InvalidInput) as raised:
        parse_clinic(text, None)
    assert raised.value.lines() == [
        "<sample clinic>: prices.items.iv_infusion: no price for J3490 in [prices.codes]",
        "<sample clinic>: prices.items.esketamine_84: amount 1200.00 is not the sum of its codes' prices 1250.00",
    ]
