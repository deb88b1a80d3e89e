"""Throughput: 200 jobs submitted at once to one worker process (threads, concurrency 50),
the emulator answering after a fixed 2 s. Ideal bound: jobs / (concurrency / latency).
Target: at least 0.9 of the ideal, worker memory under 400 MB.

    .venv/bin/python bench/bench_throughput.py [--jobs 200 --concurrency 50 --latency 2 --pool 20]

Uses PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
seedgallery_bench, recreated) since SQLite is not meant for 50 writing threads.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import psutil
import stack


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument(
        "--threads", type=int, default=0, help="worker threads; default twice --concurrency"
    )
    parser.add_argument(
        "--pool", type=int, default=20, help="DATABASE_POOL_MAX_SIZE as compose sets it; 0: off"
    )
    args = parser.parse_args()
    threads = args.threads or 2 * args.concurrency
    local = stack.start(
        emulator_latency=args.latency,
        database="postgres",
        extra_env={
            "GENERATION_PROVIDER_CONCURRENCY": str(args.concurrency),
            "DATABASE_POOL_MAX_SIZE": str(args.pool),
        },
    )

    from django.conf import settings
    from django.contrib.auth import get_user_model

    from gallery.models import Generation
    from gallery.seedream.contract import GenerationParams
    from gallery.services import generation as service

    log = open(local.tmp / "worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "threads",
         "--concurrency", str(threads), "--without-gossip", "--without-mingle",
         "--without-heartbeat", "--loglevel", "WARNING"],
        cwd=stack.ROOT, env=local.env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    local.procs.append(worker)
    process = psutil.Process(worker.pid)
    emulator = psutil.Process(local.procs[2].pid)
    emulator_cpu_before = sum(emulator.cpu_times()[:2])
    time.sleep(4)  # let the worker connect before the clock starts
    worker_cpu_before = sum(process.cpu_times()[:2])  # its start-up is not the images' cost

    user = get_user_model().objects.create_user("bench")
    started = time.perf_counter()
    per_submit = settings.GENERATION_MAX_VARIATIONS  # as members submit: a few variations each
    for i in range(0, args.jobs, per_submit):
        count = min(per_submit, args.jobs - i)
        params = GenerationParams(prompt=f"throughput {i}", seed=i)
        service.submit(user=user, params=params, variations=count)
    submitted = time.perf_counter() - started
    peak_rss = 0
    while Generation.objects.filter(status__in=Generation.ACTIVE).exists():
        peak_rss = max(peak_rss, process.memory_info().rss)
        time.sleep(0.1)
        if time.perf_counter() - started > 300:
            sys.exit("gave up after 300 s")
    wall = time.perf_counter() - started
    peak_rss = max(peak_rss, process.memory_info().rss)

    done = Generation.objects.filter(status="succeeded").count()
    ideal = args.jobs / (args.concurrency / args.latency)
    print(f"jobs: {args.jobs}, provider calls in flight: {args.concurrency}, worker threads: "
          f"{threads}, emulator latency: {args.latency}s, database pool: {args.pool or 'off'}")  # fmt: skip
    print(f"succeeded: {done}/{args.jobs}")
    print(f"wall: {wall:.2f} s (submitting took {submitted:.2f} s), ideal bound: {ideal:.2f} s")
    print(f"throughput ratio ideal/wall: {ideal / wall:.2f} (target >= 0.90)")
    print(f"worker peak RSS: {peak_rss / 2**20:.0f} MB (target < 400 MB)")
    worker_cpu = sum(process.cpu_times()[:2]) - worker_cpu_before
    emulator_cpu = sum(emulator.cpu_times()[:2]) - emulator_cpu_before
    print(f"worker CPU: {worker_cpu:.1f} s ({worker_cpu / wall:.0%} of one core), "
          f"{worker_cpu / args.jobs * 1000:.1f} ms per image (target <= 12 ms)")  # fmt: skip
    print(f"emulator CPU: {emulator_cpu:.1f} s, drawing the images the worker fetches")
    print_timeline(args.concurrency)


def print_timeline(slots: int) -> None:
    """Where the wall went, from the rows: how full the call slots were, and the time before
    the first call and after the last answer."""
    from django.db.models import Max, Min

    from gallery.models import Generation, ProviderCall

    calls = ProviderCall.objects.aggregate(first=Min("started_at"), last=Max("finished_at"))
    spans = ProviderCall.objects.values_list("started_at", "finished_at")
    busy = sum((end - start).total_seconds() for start, end in spans)
    calling = (calls["last"] - calls["first"]).total_seconds()
    rows = Generation.objects.aggregate(submitted=Min("created_at"), done=Max("finished_at"))
    before = (calls["first"] - rows["submitted"]).total_seconds()
    after = (rows["done"] - calls["last"]).total_seconds()
    print(f"calls in flight on average: {busy / calling:.1f} of {slots} slots over "
          f"{calling:.2f} s of calling; first call {before * 1000:.0f} ms after the first "
          f"submit, last image stored {after * 1000:.0f} ms after the last answer")  # fmt: skip


if __name__ == "__main__":
    main()
