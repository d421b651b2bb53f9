"""Benchmark: 200 letters through the project's renderer, straight through WeasyPrint, and on the pool.

(a) ``render_document`` one after another (templates, context, control number, PDF, sha256);
(b) the same HTML handed straight to WeasyPrint, so a/b is the project's overhead;
(c) ``render_many`` on the reused process pool, all cores, so a/c is the parallel speed-up.

    .venv/bin/python bench/letters.py [--letters 200]

Last line: ``RESULT ms_per_letter=<a> raw_ms_per_letter=<b> ratio=<a/b> parallel_speedup=<a/c>``.
Targets: ratio <= 1.15, speed-up >= 1.6 on 2 cores. Runs are interleaved in one process so a
noisy, shared machine affects (a) and (b) alike.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=200)
    args = parser.parse_args()

    import weasyprint

    from coverage.clinic import load_clinic
    from coverage.letters import Decision, LetterOptions, RenderJob, close_pool, render_document, render_many
    from coverage.letters.batch import shared_pool
    from coverage.policies.service import Checker
    from coverage.settings import Settings

    settings = Settings(clinic_file=None, policy_dir=None, template_dir=None)
    checker = Checker.from_settings(settings)
    clinic = load_clinic(settings)
    cases = sorted(p for p in (REPO / "tests" / "examples").glob("*.json") if not p.name.endswith(".expected.json"))
    jobs = []
    for path in cases:
        case = checker.parse(path.read_bytes())
        policy = checker.registry.get(case.coverage.policy_id) if case.coverage.policy_id else None
        determination = checker.determine(case)
        # The 2-page patient notice and the 3-4 page request letter, alternating.
        jobs.append(RenderJob("request", case, determination, clinic, policy))
        decision = Decision("approved", dt.date(2026, 11, 27), "PA-1", dt.date(2026, 12, 1), dt.date(2027, 5, 29), 1344)
        jobs.append(RenderJob("decision-notice", case, determination, clinic, policy, LetterOptions(decision=decision)))
    jobs = [jobs[i % len(jobs)] for i in range(args.letters)]

    def ours(job: RenderJob) -> str:
        return render_document(
            job.kind,
            case=job.case,
            determination=job.determination,
            clinic=job.clinic,
            policy=job.policy,
            options=job.options,
        ).html

    htmls = [ours(job) for job in jobs[: len(set(map(id, jobs)))]]  # warm caches and both code paths
    htmls = {id(job): ours(job) for job in jobs}

    project = raw = 0.0
    for job in jobs:  # interleaved: (a) then (b) for the same letter
        start = time.perf_counter()
        ours(job)
        project += time.perf_counter() - start
        start = time.perf_counter()
        weasyprint.HTML(string=htmls[id(job)]).write_pdf()
        raw += time.perf_counter() - start

    workers = os.cpu_count() or 1
    pool = shared_pool(workers)
    list(pool.map(int, range(workers * 4)))  # workers started and warmed (initializer renders once)
    render_many(jobs[: workers * 2], workers=workers)
    start = time.perf_counter()
    documents = render_many(jobs, workers=workers)
    parallel = time.perf_counter() - start
    close_pool()
    assert len(documents) == len(jobs)

    n = len(jobs)
    a, b, c = project / n * 1000, raw / n * 1000, parallel / n * 1000
    print(
        f"{n} letters on {workers} cores: project {project:.1f} s, raw WeasyPrint {raw:.1f} s, pool {parallel:.1f} s",
        file=sys.stderr,
    )
    print(f"RESULT ms_per_letter={a:.1f} raw_ms_per_letter={b:.1f} ratio={a / b:.3f} parallel_speedup={a / c:.2f}")


if __name__ == "__main__":
    main()
