"""Pacing to the provider's rate limit, with real workers and the emulator enforcing it.

pace:  the emulator takes 300 images a minute (sliding window), the bucket paces to the same
       300; 2 worker processes; 600 jobs from 5 members submitted at once, member after
       member. Targets: sustained rate >= 95% of the limit, zero 429s, every job succeeded;
       reports the spread of the members' first images (fairness).
storm: the emulator answers 429 (no Retry-After) for 60 s while 100 jobs run. Targets: every
       job succeeds, none fails; reports the provider calls made during the storm (bounded by
       the bucket: every 429 drains it for a minute). --unpaced runs it without the bucket.

    .venv/bin/python bench/bench_pace.py pace [--limit 300 --jobs 600 --members 5]
    .venv/bin/python bench/bench_pace.py storm [--jobs 100 --storm 60] [--unpaced]

Uses PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
seedgallery_bench, recreated).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import requests
import stack


def start_workers(local: stack.Stack, count: int, concurrency: int) -> None:
    for n in range(count):
        log = open(local.tmp / f"worker-{n}.log", "wb")  # noqa: SIM115
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "threads",
             "--concurrency", str(2 * concurrency), "--without-gossip", "--without-mingle",
             "--without-heartbeat", "--loglevel", "WARNING", "--hostname", f"bench{n}@%h"],
            cwd=stack.ROOT, env=local.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        local.procs.append(worker)
    from config.celery import app

    deadline = time.monotonic() + 60
    while len(app.control.ping(timeout=1)) < count:  # every worker ready before the clock
        if time.monotonic() > deadline:
            sys.exit("workers not ready after 60 s")


def emulator_url() -> str:
    return os.environ["SEEDREAM_BASE_URL"].removesuffix("/v1")


def stats() -> dict:
    return requests.get(f"{emulator_url()}/_emulator/stats", timeout=10).json()


def wait_all_settled(limit_s: float) -> float:
    from gallery.models import Generation

    started = time.monotonic()
    while Generation.objects.filter(status__in=Generation.ACTIVE).exists():
        if time.monotonic() - started > limit_s:
            sys.exit(f"gave up after {limit_s:.0f} s")
        time.sleep(0.5)
    return time.monotonic() - started


def submit(members, jobs: int) -> None:
    """Every member submits their share at the same time, a few variations per submit."""
    from concurrent.futures import ThreadPoolExecutor

    from django.conf import settings
    from django.db import connection

    from gallery.seedream.contract import GenerationParams
    from gallery.services import generation as service

    per_member = jobs // len(members)
    step = settings.GENERATION_MAX_VARIATIONS

    def submit_all(m: int) -> None:
        for i in range(0, per_member, step):
            params = GenerationParams(prompt=f"member {m} image {i}", seed=i)
            service.submit(user=members[m], params=params, variations=min(step, per_member - i))
        connection.close()

    with ThreadPoolExecutor(len(members)) as pool:
        list(pool.map(submit_all, range(len(members))))


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def pace(args) -> None:
    limit = args.limit
    local = stack.start(
        emulator_latency=args.latency,
        database="postgres",
        extra_env={"SEEDREAM_EMULATOR_IPM": str(limit), "SEEDREAM_IPM_LIMIT": str(limit)},
    )
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from gallery.models import Generation, ProviderCall
    from gallery.services import pacing

    start_workers(local, args.workers, args.concurrency)
    print(f"before: {load()}")
    members = [get_user_model().objects.create_user(f"member{m}") for m in range(args.members)]
    began = time.monotonic()
    submit(members, args.jobs)
    submitted = time.monotonic() - began
    wall = wait_all_settled(3 * 60 * args.jobs / limit + 120) + submitted
    emulator = stats()

    starts = sorted(
        ProviderCall.objects.filter(http_status=200).values_list("started_at", flat=True)
    )
    seconds = [(t - starts[0]).total_seconds() for t in starts]
    burst = settings.SEEDREAM_IPM_BURST
    last_submit = Generation.objects.order_by("-created_at").values_list("created_at", flat=True)[0]
    after_submit = [t for t in starts if t >= last_submit]
    steady = (len(after_submit) - 1) / (after_submit[-1] - after_submit[0]).total_seconds() * 60
    overall = (len(seconds) - 1) / seconds[-1] * 60
    busiest, j = 0, 0
    for i, t in enumerate(seconds):  # the most calls any sliding minute held
        while seconds[j] <= t - 60:
            j += 1
        busiest = max(busiest, i - j + 1)
    succeeded = Generation.objects.filter(status="succeeded").count()
    t0 = Generation.objects.order_by("created_at").values_list("created_at", flat=True)[0]
    firsts, lasts = [], []
    for user in members:
        done = Generation.objects.filter(user=user, status="succeeded").order_by("finished_at")
        firsts.append((done.first().finished_at - t0).total_seconds())
        lasts.append((done.last().finished_at - t0).total_seconds())

    print(f"limit {limit}/min (emulator sliding window and bucket), burst {burst}, "
          f"refill {pacing.refill_per_second() * 60:.0f}/min; {args.workers} workers x "
          f"{args.concurrency} call slots; emulator latency {args.latency}s")  # fmt: skip
    print(f"jobs: {args.jobs} from {args.members} members (submitted in {submitted:.1f} s)")
    print(f"succeeded: {succeeded}/{args.jobs}; emulator answers: {emulator['by_status']}")
    print(f"429s answered: {emulator['by_status'].get('429', 0)} (target 0)")
    print(f"sustained rate, from the last submit to the last call: {steady:.1f}/min = "
          f"{steady / limit:.1%} of the limit (target >= 95%)")  # fmt: skip
    print(f"first to last call: {overall:.1f}/min = {overall / limit:.1%} of the limit")
    print(f"most calls in any sliding minute: {busiest} (limit {limit})")
    series = [0] * (int(seconds[-1] // 5) + 1)
    for t in seconds:
        series[int(t // 5)] += 1
    print(f"calls per 5 s (pace {limit / 12:.1f}): " + " ".join(map(str, series)))
    print(f"wall: {wall:.1f} s; ideal at the limit: {args.jobs / limit * 60:.1f} s")
    print("members' first image done at (s after the first submit): "
          + ", ".join(f"{t:.1f}" for t in firsts)
          + f"; spread {max(firsts) - min(firsts):.1f} s")  # fmt: skip
    print("members' last image done at: " + ", ".join(f"{t:.1f}" for t in lasts)
          + f"; spread {max(lasts) - min(lasts):.1f} s")  # fmt: skip
    print(f"after: {load()}")


def storm(args) -> None:
    extra = {"SEEDREAM_IPM_LIMIT": "" if args.unpaced else str(args.limit)}
    local = stack.start(emulator_latency=args.latency, database="postgres", extra_env=extra)
    from django.contrib.auth import get_user_model

    from gallery.models import Generation, ProviderCall

    start_workers(local, args.workers, args.concurrency)
    print(f"before: {load()}")
    members = [get_user_model().objects.create_user(f"member{m}") for m in range(5)]
    began = time.monotonic()
    submit(members, args.jobs)
    time.sleep(args.storm_after)
    before = stats()
    fault = {"count": 100_000, "status": 429, "code": "ModelAccountIpmRateLimitExceeded"}
    requests.post(f"{emulator_url()}/_emulator/faults", json=fault, timeout=10).raise_for_status()
    storm_began = time.monotonic()
    time.sleep(args.storm)
    during = stats()
    requests.post(f"{emulator_url()}/_emulator/reset", timeout=10).raise_for_status()
    storm_ended = time.monotonic()
    wait_all_settled(600)
    wall = time.monotonic() - began
    after = stats()

    succeeded = Generation.objects.filter(status="succeeded").count()
    failed = Generation.objects.filter(status="failed").count()
    calls_in_storm = during["requests"] - before["requests"]
    attempts = max(Generation.objects.values_list("provider_attempts", flat=True))
    limited = ProviderCall.objects.filter(http_status=429).count()
    print(f"{'unpaced' if args.unpaced else f'paced to {args.limit}/min'}; {args.workers} "
          f"workers x {args.concurrency} call slots; emulator latency {args.latency}s")  # fmt: skip
    print(f"jobs: {args.jobs}; storm of 429s (no Retry-After) from {args.storm_after:.0f} s "
          f"for {storm_ended - storm_began:.1f} s")  # fmt: skip
    print(f"succeeded at storm start: {before['images']}; calls during the storm: "
          f"{calls_in_storm} (429 answers: {during['by_status'].get('429', 0)})")  # fmt: skip
    print(f"after the storm: {after['requests']} calls, {after['images']} images")
    print(f"succeeded: {succeeded}/{args.jobs}, failed: {failed} (target: all, none)")
    print(f"429s recorded as provider calls: {limited}; most provider attempts a job used: "
          f"{attempts}")  # fmt: skip
    print(f"wall: {wall:.1f} s")
    print(f"after: {load()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=("pace", "storm"))
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=0, help="default 600 (pace), 100 (storm)")
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--storm", type=float, default=60.0)
    parser.add_argument("--storm-after", type=float, default=5.0)
    parser.add_argument("--unpaced", action="store_true")
    args = parser.parse_args()
    args.jobs = args.jobs or (600 if args.scenario == "pace" else 100)
    (pace if args.scenario == "pace" else storm)(args)


if __name__ == "__main__":
    main()
