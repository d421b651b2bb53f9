"""The account's ledger as it grows: the cost of one payment and of reading the account.

    .venv/bin/python bench/ledger.py [--rows 500]

Every write reads the whole ledger of its account (the balance is worked out, never stored), so
this measures a payment on a long ledger. Prints RESULT lines; no asserts.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from coverage.cli.demo import SAMPLES_GATHERED, shift_dates
from coverage.clinic import load_clinic
from coverage.drugs import default_drug_table
from coverage.policies.loader import load_registry
from coverage.policies.service import Checker
from coverage.requests.clocks import clinic_today
from coverage.services import payments
from coverage.services.context import Context
from coverage.services.requests import intake
from coverage.settings import Settings
from coverage.store.db import Database, upgrade
from coverage.store.uow import SqlUnitOfWork

SAMPLE = Path(__file__).resolve().parents[1] / "src" / "coverage" / "samples" / "EX-02-iv-not-covered.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=500)
    rows = parser.parse_args().rows
    today, ctx = clinic_today(), Context()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/records.db"
        upgrade(url)
        database = Database.from_url(url)
        uow = SqlUnitOfWork(database.sessions)
        data = shift_dates(json.loads(SAMPLE.read_text()), (today - SAMPLES_GATHERED).days)
        checker = Checker(load_registry(None), default_drug_table())
        request_id = intake(json.dumps(data), uow=uow, checker=checker, ctx=ctx, by="bench").request_id
        prices = load_clinic(Settings(clinic_file=None)).prices
        plan = payments.create_plan(
            request_id, uow=uow, prices=prices, start=today, by="bench", ctx=ctx, installments=12
        )
        times = []
        for _ in range(rows):
            started = time.perf_counter()
            payments.receive_payment(
                uow=uow, amount=Decimal("1.00"), paid_on=today, by="bench", ctx=ctx, method="card", plan_id=plan.id
            )
            times.append(time.perf_counter() - started)
        started = time.perf_counter()
        account = payments.get_account(data["patient"]["id"], uow=uow)
        read = time.perf_counter() - started
        database.dispose()
    first, last = sum(times[:10]) / 10, sum(times[-10:]) / 10
    print(f"RESULT ledger_payment_ms first10={first * 1000:.1f} last10={last * 1000:.1f} rows={len(account.entries)}")
    print(f"RESULT ledger_account_read_ms={read * 1000:.1f} rows={len(account.entries)}")


if __name__ == "__main__":
    main()
