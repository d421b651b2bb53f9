"""Engine throughput: pydantic validation alone against validation plus evaluation, in one run.

    .venv/bin/python bench/engine.py [--cases 20000] [--batch-cases 100000] [--seed 7]

Builds N realistic, varied cases (all four reference policies and self-pay, both treatments,
TRD and MDSI, initial and continuation, brand names, unknown drugs, missing fields), then times
on one core (a) ``Case.model_validate_json`` alone and (b) the whole check: validation, the
format's cross-field rules, and the evaluation with its alternative. Then it writes
``--batch-cases`` cases to a JSON Lines file and runs ``priorauth check --batch`` on it in a
child process, to report that process's peak RSS. Targets: (b) at least 10,000 cases/s,
ratio at most 3, batch peak RSS under 150 MB.

The last line is ``RESULT cases_per_s=<b> validation_per_s=<a> ratio=<b time / a time>``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from coverage.cases import Case
from coverage.drugs import default_drug_table
from coverage.policies.loader import load_registry
from coverage.policies.service import Checker

POLICIES = ["standard-commercial", "strict-commercial", "ketamine-inclusive", "medicare-part-b"]
PLAN_TYPES = {
    "standard-commercial": "commercial",
    "strict-commercial": "commercial",
    "ketamine-inclusive": "commercial",
    "medicare-part-b": "medicare",
}
DIAGNOSES = ["F33.2", "F33.1", "F32.2", "f332", "F32.9", "F33.3", "F31.4", "F41.1"]


def _day(base: dt.date, offset: int) -> str:
    return (base + dt.timedelta(days=offset)).isoformat()


def make_case(rng: random.Random, number: int) -> dict[str, Any]:
    """One realistic case: mostly well documented, with the gaps clinics really send.

    The engine's golden file is drawn from this generator: change it and the file's inputs
    (which it keeps) no longer match what this draws, though they stay valid.
    """
    as_of = dt.date(2026, 11, 20) - dt.timedelta(days=rng.randrange(0, 400))
    policy = rng.choice(POLICIES)
    self_pay = rng.random() < 0.05
    treatment = "esketamine" if rng.random() < 0.8 else "iv_ketamine"
    indication = "mdsi" if rng.random() < 0.15 else "trd"
    kind = "continuation" if rng.random() < 0.2 else "initial"
    episode_start = -rng.randrange(200, 900)
    drugs = [d.name for d in default_drug_table().drugs]
    antidepressants = [d.name for d in default_drug_table().drugs if d.role == "antidepressant"]
    augmenters = [d.name for d in default_drug_table().drugs if d.role == "augmentation"]
    trials = []
    start = episode_start + rng.randrange(-60, 30)
    for _ in range(rng.randrange(1, 7)):
        role = "augmentation" if rng.random() < 0.2 else "antidepressant"
        name = rng.choice(augmenters if role == "augmentation" else antidepressants)
        if rng.random() < 0.1:
            name = rng.choice(drugs).upper()
        if rng.random() < 0.03:
            name = "unlistedazine"
        length = rng.randrange(14, 120)
        end: int | None = min(start + length, 0)
        if rng.random() < 0.25 or end == 0:
            end = None
        trials.append(
            {
                "drug": name,
                "daily_dose_mg": rng.choice([10, 20, 30, 50, 60, 100, 150, 300]),
                "start": _day(as_of, min(start, 0)),
                "end": _day(as_of, end) if end is not None else None,
                "outcome": rng.choice(["inadequate_response", "partial_response", "intolerance", "response"]),
                "improvement_pct": rng.choice([None, 0, 10, 20, 25, 30, 60]),
                "role": role,
            }
        )
        start = min(start + length + rng.randrange(1, 20), 0)
    assessments = [
        {"instrument": "phq9", "score": rng.randrange(5, 28), "date": _day(as_of, -rng.randrange(0, 60))},
        {"instrument": "madrs", "score": rng.randrange(10, 50), "date": _day(as_of, -rng.randrange(0, 60))},
    ]
    therapy_start = -rng.randrange(30, 120) if kind == "continuation" else None
    if therapy_start is not None:
        assessments.append({"instrument": "phq9", "score": rng.randrange(15, 27), "date": _day(as_of, therapy_start)})
    return {
        "case_id": f"BENCH-{number:06d}",
        "as_of": as_of.isoformat(),
        "patient": {
            "id": f"P-{number:06d}",
            "given_name": "Sam",
            "family_name": "Example",
            "birth_date": _day(as_of, -rng.randrange(16 * 365, 80 * 365)),
            "sex": rng.choice(["female", "male", "other", None]),
            "pregnant": rng.choice([False, None, False, True]) if rng.random() < 0.5 else False,
        },
        "coverage": {
            "policy_id": None if self_pay else policy,
            "plan_type": "self_pay" if self_pay else PLAN_TYPES[policy],
            "payer_name": "Example Health Plan",
            "member_id": f"M{number:09d}",
        },
        "request": {
            "treatment": treatment,
            "indication": indication,
            "kind": kind,
            "dose_mg": rng.choice([56, 84, 28]) if treatment == "esketamine" else None,
            "start_date": _day(as_of, rng.randrange(0, 30)),
            "therapy_start": _day(as_of, therapy_start) if therapy_start is not None else None,
            "prescriber": {
                "npi": "1234567893",
                "name": "Rosa Delgado, MD",
                "specialty": rng.choice(["psychiatry", "psychiatry", "psychiatric_nurse_practitioner", "primary_care"]),
            },
            "setting": {"name": "Lakeside", "rems_certified": rng.random() < 0.95, "rems_id": "SPR-1"},
            "patient_rems_enrolled": rng.choice([True, True, True, None]),
        },
        "diagnoses": [{"code": rng.choice(DIAGNOSES), "recorded": _day(as_of, episode_start)}],
        "episode_start": _day(as_of, episode_start) if rng.random() < 0.95 else None,
        "medication_trials": trials,
        "assessments": assessments,
        "history": {
            "aneurysmal_vascular_disease": False,
            "arteriovenous_malformation": False,
            "intracerebral_hemorrhage": rng.random() < 0.02,
            "ketamine_hypersensitivity": False,
            "uncontrolled_hypertension": rng.choice([False, False, None]),
            "psychosis": rng.choice([False, False, False, True, None]),
            "psychosis_benefit_outweighs_risk": rng.choice([None, True]),
            "substance_use_disorder": rng.choice(["none", "none", "in_remission", "active", None]),
        },
        "suicidality": {
            "acute_ideation_or_behavior": indication == "mdsi" or rng.random() < 0.1,
            "documented": _day(as_of, -rng.randrange(0, 10)),
        },
    }


#: The first effective date of each shipped policy: a case dated earlier has no version in effect.
FIRST_EFFECTIVE = {
    policy: load_registry(None).versions(policy)[0].policy.effective_date.isoformat() for policy in POLICIES
}


def make_dated_case(rng: random.Random, number: int) -> dict[str, Any]:
    """A case of :func:`make_case` dated on or after its policy's first version.

    (``make_case`` itself stays as it is: ``tests/engine_golden.py`` draws its cases from it.)
    """
    while True:
        case = make_case(rng, number)
        policy_id = case["coverage"]["policy_id"]
        if policy_id is None or case["as_of"] >= FIRST_EFFECTIVE[policy_id]:
            return case


def batch_peak_rss_mb(count: int, rng: random.Random) -> float:
    """Peak RSS of a child ``priorauth check --batch`` over ``count`` cases, in MB."""
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "in.jsonl", Path(folder) / "out.jsonl"
        with source.open("w") as out:
            for number in range(count):
                out.write(json.dumps(make_dated_case(rng, number)) + "\n")
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        subprocess.run(
            [sys.executable, "-m", "coverage", "check", "--batch", str(source), "--out", str(target)],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        lines = sum(1 for _ in target.open())
        if lines != count:
            raise SystemExit(f"batch wrote {lines} lines for {count} cases")
    if peak_kb <= before:
        print("note: the batch child did not raise the children's peak; the figure is an upper bound")
    return peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--batch-cases", type=int, default=100_000, help="0 skips the batch RSS run")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    texts = [json.dumps(make_dated_case(rng, n)).encode() for n in range(args.cases)]
    checker = Checker(load_registry(None), default_drug_table())
    outcomes: dict[str, int] = {}
    for text in texts[:2000]:  # warm up, and show the mix is varied
        outcome = checker.check(text).outcome
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    gc.freeze()  # as `priorauth check --batch` does once its policies are loaded
    # CPU time of this process, not wall time: "cases/s on one core" is what it measures, and
    # other processes on this shared machine barely move it. The two measurements are also
    # interleaved in rounds, so what load remains falls on both alike.
    validation_s = full_s = 0.0
    rounds = 10
    for r in range(rounds):
        chunk = texts[r::rounds]
        started = time.process_time()
        for text in chunk:
            Case.model_validate_json(text)
        validation_s += time.process_time() - started
        started = time.process_time()
        for text in chunk:
            checker.check(text)
        full_s += time.process_time() - started

    print(f"cases: {args.cases}, outcome mix of the first 2000: {dict(sorted(outcomes.items()))}")
    print(f"validation alone: {validation_s:.3f} s; validation + evaluation: {full_s:.3f} s")
    if args.batch_cases:
        peak = batch_peak_rss_mb(args.batch_cases, rng)
        print(f"batch of {args.batch_cases} cases: peak RSS {peak:.1f} MB (target < 150 MB)")
    print(
        f"RESULT cases_per_s={args.cases / full_s:.0f} validation_per_s={args.cases / validation_s:.0f} "
        f"ratio={full_s / validation_s:.2f}"
    )


if __name__ == "__main__":
    main()
