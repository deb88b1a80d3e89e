"""What a threaded worker spends on a task apart from the job: 1,000 run tasks for generation
ids that do not exist (each does one SELECT and returns), worker CPU before and after.

    .venv/bin/python bench/bench_task_overhead.py [--tasks 1000 --threads 100]
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
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=100)
    args = parser.parse_args()
    local = stack.start(
        database="postgres", extra_env={"DATABASE_POOL_MAX_SIZE": "20", "LOG_LEVEL": "WARNING"}
    )

    from config.celery import app
    from gallery.queueing import enqueue_generation

    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "threads",
         "--concurrency", str(args.threads), "--without-gossip", "--without-mingle",
         "--without-heartbeat", "--loglevel", "WARNING"],
        cwd=stack.ROOT, env=local.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    local.procs.append(worker)
    process = psutil.Process(worker.pid)
    time.sleep(5)  # let the worker connect before the clock starts
    before = sum(process.cpu_times()[:2])
    for n in range(args.tasks):
        enqueue_generation(10_000_000 + n)  # no such row: run() reads nothing and returns
    broker = app.connection_for_write().default_channel.client
    while broker.llen(app.conf.task_default_queue) > 0:
        time.sleep(0.1)
    time.sleep(1.5)  # the last prefetched tasks finish
    spent = sum(process.cpu_times()[:2]) - before
    print(f"{args.tasks} run tasks for missing rows, {args.threads} worker threads: "
          f"{spent / args.tasks * 1000:.2f} ms of worker CPU each")  # fmt: skip


if __name__ == "__main__":
    main()
