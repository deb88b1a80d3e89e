"""Gateway: 100 concurrent `POST /v1/images/generations` through the official openai package,
the emulator answering after a fixed 2 s, one web process (uvicorn, ASGI) and one worker.
Ideal: latency x ceil(requests / provider call slots); target: wall within 1.5x of it, no
failed request. Reports the web process's threads and peak memory during the run, and a
floor measured in the same run (one request straight to the emulator, times the waves).

    .venv/bin/python bench/bench_gateway.py [--requests 100 --slots 50 --latency 2 --members 1]
        [--stages [--profile web.prof]]

Also reports the web process's CPU per request. `--stages` serves bench/gateway_probe.py (the
same application, its steps stamped) and prints when each request passed each stage, how long
its thread hops waited, and how long the member's row was waited for and held; `--profile`
adds every web thread's CPU time by function (pstats file), at about 3x the CPU.

Uses PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
seedgallery_bench, recreated).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import subprocess
import sys
import threading
import time

import psutil
import requests
import stack


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--slots", type=int, default=50, help="GENERATION_PROVIDER_CONCURRENCY")
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument(
        "--workers", type=int, default=1,
        help="worker processes sharing the slots (each GENERATION_PROVIDER_CONCURRENCY = "
        "slots / workers), as `docker compose up --scale worker=N` runs them",
    )  # fmt: skip
    parser.add_argument("--format", default="url", choices=["url", "b64_json"])
    parser.add_argument(
        "--members", type=int, default=1, help="spread the requests over this many members' tokens"
    )
    parser.add_argument(
        "--stages", action="store_true", help="serve bench/gateway_probe.py: per-request stages"
    )
    parser.add_argument("--profile", help="with --stages: write the web process's CPU profile here")
    args = parser.parse_args()
    local = stack.start(
        emulator_latency=args.latency,
        database="postgres",
        extra_env={
            "GENERATION_PROVIDER_CONCURRENCY": str(args.slots // args.workers),
            "DATABASE_POOL_MAX_SIZE": "20",  # as compose sets it
            "API_TOKEN_RATE_LIMIT": "0",
            "GATEWAY_WAIT_TIMEOUT": "120",
            "LOG_LEVEL": "WARNING",
        },
    )
    from django.contrib.auth import get_user_model

    from gallery import devstack
    from gallery.models import Generation
    from gallery.services import api_tokens

    if args.slots % args.workers:
        sys.exit("--slots must divide evenly between --workers")
    for n in range(args.workers):
        worker_log = open(local.tmp / f"worker{n}.log", "wb")  # noqa: SIM115
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "threads",
             "--concurrency", str(2 * args.slots // args.workers), "--without-gossip",
             "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING",
             "--hostname", f"bench{n}@%h"],
            cwd=stack.ROOT, env=local.env, stdout=worker_log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        local.procs.append(worker)
    port = devstack.free_port()
    probe_log = local.tmp / "stages.jsonl"
    app = "config.asgi:application"
    web_env = dict(local.env)
    if args.stages:
        app = "bench.gateway_probe:application"
        web_env["GATEWAY_PROBE_LOG"] = str(probe_log)
        if args.profile:
            web_env["GATEWAY_PROBE_PROFILE"] = args.profile
    web = devstack.start(
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log"],
        log_path=local.tmp / "web.log", env=web_env,
    )  # fmt: skip
    local.procs.append(web)
    devstack.wait_for_port(port, proc=web, timeout=30)
    web_process = psutil.Process(web.pid)

    tokens = [
        api_tokens.create(user=get_user_model().objects.create_user(f"bench{n}"), name="bench")[1]
        for n in range(args.members)
    ]
    base_url = f"http://127.0.0.1:{port}/v1"
    emulator_url = local.env["SEEDREAM_BASE_URL"]

    time.sleep(3)  # let the worker connect
    floor_one = direct_call(emulator_url, local.env["SEEDREAM_API_KEY"])
    asyncio.run(burst(base_url, tokens, 1, args.format))  # warm: imports, pools, connections
    pipeline_wall = pipeline_floor(args.requests)
    threads_idle = web_process.num_threads()

    samples = {"threads": 0, "rss": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples["threads"] = max(samples["threads"], web_process.num_threads())
            samples["rss"] = max(samples["rss"], web_process.memory_info().rss)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if args.stages:
        probe_log.write_text("")  # drop the warm-up's line; the web process appends
    cpu_before = web_process.cpu_times()
    burst_started_at = time.time()
    started = time.perf_counter()
    results = asyncio.run(burst(base_url, tokens, args.requests, args.format))
    wall = time.perf_counter() - started
    cpu_after = web_process.cpu_times()
    stop.set()
    sampler.join()
    web_cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)

    failed = [r for r in results if r is not True]
    waves = math.ceil(args.requests / args.slots)
    ideal = args.latency * waves
    floor = floor_one * waves
    stored = Generation.objects.filter(status="succeeded").count() - args.requests
    print(f"requests: {args.requests} at once ({args.format}) from {args.members} member(s), "
          f"provider call slots: {args.slots} in {args.workers} worker process(es), emulator "
          f"latency: {args.latency}s, one web process (uvicorn)")  # fmt: skip
    print(f"answered: {len(results) - len(failed)}/{args.requests}, failed: {len(failed)}"
          + (f" ({failed[:3]})" if failed else ""))  # fmt: skip
    print(f"stored in the gallery: {stored} (including 1 warm-up)")
    print(f"wall: {wall:.2f} s; ideal latency x ceil(requests/slots): {ideal:.2f} s; "
          f"wall / ideal: {wall / ideal:.2f} (target <= 1.50)")  # fmt: skip
    print(f"floor measured now (one direct emulator call {floor_one:.2f} s x {waves} waves): "
          f"{floor:.2f} s; wall / floor: {wall / floor:.2f}")  # fmt: skip
    print(f"pipeline floor measured now (the same {args.requests} jobs submitted in-process, "
          f"no gateway, until stored): {pipeline_wall:.2f} s; gateway wall / pipeline floor: "
          f"{wall / pipeline_wall:.2f}")  # fmt: skip
    print(f"web threads: {threads_idle} idle, {samples['threads']} at most during the burst")
    print(f"web peak RSS: {samples['rss'] / 2**20:.0f} MB")
    print(f"web CPU during the burst: {web_cpu:.2f} s, {1000 * web_cpu / args.requests:.1f} ms "
          "per request")  # fmt: skip
    if args.stages:
        print_stages(probe_log, burst_started_at)
    if args.profile:
        requests.get(f"http://127.0.0.1:{port}/probe/profile", timeout=60)


def print_stages(probe_log, burst_started_at: float) -> None:
    """Each stage's spread over the burst, from the probe's lines and the rows' timestamps."""
    import json
    import statistics

    from gallery.models import Generation, ProviderCall

    lines = [json.loads(line) for line in probe_log.read_text().splitlines()]
    ids = [line["generation"] for line in lines if "generation" in line]
    rows = {g.pk: g for g in Generation.objects.filter(pk__in=ids)}
    claimed = {}
    for call in ProviderCall.objects.filter(generation_id__in=ids).order_by("started_at"):
        claimed.setdefault(call.generation_id, call.started_at.timestamp())
    for line in lines:
        row = rows.get(line.get("generation"))
        if row is not None:
            line["created"] = row.created_at.timestamp()
            line["claimed"] = claimed.get(row.pk)
            line["finished"] = row.finished_at.timestamp() if row.finished_at else None
    stages = ["received", "token_checked", "created", "submitted", "claimed", "finished",
              "heard", "sent"]  # fmt: skip
    print("stage (s after the burst began): first / median / last")
    for stage in stages:
        times = sorted(line[stage] - burst_started_at for line in lines if line.get(stage))
        if times:
            print(f"  {stage:14} {times[0]:6.2f} / {statistics.median(times):6.2f} / "
                  f"{times[-1]:6.2f}  (n={len(times)})")  # fmt: skip
    gaps = [("received", "token_checked"), ("token_checked", "submitted"),
            ("submitted", "claimed"), ("claimed", "finished"), ("finished", "heard"),
            ("heard", "sent"), ("received", "sent")]  # fmt: skip
    print("step (ms per request): median / max")
    for a, b in gaps:
        spans = sorted(1000 * (line[b] - line[a]) for line in lines if line.get(a) and line.get(b))
        if spans:
            print(f"  {a} -> {b}: {statistics.median(spans):7.1f} / {spans[-1]:7.1f}")
    for kind, label in (("hops_shared", "Django's shared thread"), ("hops_pool", "the pool")):
        hops = sorted(line.get(kind, 0) for line in lines)
        print(f"thread hops a request to {label}: median {statistics.median(hops):g}, "
              f"max {hops[-1]}")  # fmt: skip
    print("executor steps (ms): waited for a thread median/max, ran median/max")
    steps: dict[str, list] = {}
    for line in lines:
        issued = {"authenticate": line["received"], "submit": line.get("token_checked")}
        for name, began, ended in line.get("threads", []):
            entry = steps.setdefault(name, [[], []])
            if issued.get(name):
                entry[0].append(1000 * (began - issued[name]))
            entry[1].append(1000 * (ended - began))
    waited, held = [], []
    for line in lines:
        spans = {}
        for name, began, ended in line.get("threads", []):
            if name not in spans or began < spans[name][0]:  # nested counts: the outer one
                spans[name] = (began, ended)
        if {"quota check", "counted", "enqueue"} <= spans.keys():
            waited.append(1000 * (spans["counted"][0] - spans["quota check"][0]))
            held.append(1000 * (spans["enqueue"][0] - spans["counted"][0]))  # to the commit
    if held:
        steps["member row: waited for the lock"] = [[], sorted(waited)]
        steps["member row: held until commit"] = [[], sorted(held)]
    for name, (waits, runs) in steps.items():
        waits, runs = sorted(waits), sorted(runs)
        wait = f"{statistics.median(waits):6.1f}/{waits[-1]:6.1f}" if waits else "     -/     -"
        print(f"  {name:32} {wait}  {statistics.median(runs):6.1f}/{runs[-1]:6.1f}  "
              f"(n={len(runs)})")  # fmt: skip


def pipeline_floor(count: int) -> float:
    """The pipeline without the gateway: submit `count` jobs in-process and wait for all."""
    from django.contrib.auth import get_user_model

    from gallery.models import Generation
    from gallery.seedream.contract import GenerationParams
    from gallery.services import generation as service

    user = get_user_model().objects.create_user("bench-floor")
    started = time.perf_counter()
    for i in range(count):
        service.submit(user=user, params=GenerationParams(prompt=f"floor {i} {time.time_ns()}"))
    while Generation.objects.filter(user=user, status__in=Generation.ACTIVE).exists():
        time.sleep(0.05)
    return time.perf_counter() - started


def direct_call(base_url: str, key: str) -> float:
    body = {"model": "doubao-seedream-3-0-t2i-250415", "prompt": "floor", "seed": 1}
    started = time.perf_counter()
    response = requests.post(f"{base_url}/images/generations", json=body, timeout=60,
                             headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    response.raise_for_status()
    return time.perf_counter() - started


async def burst(base_url: str, tokens: list[str], count: int, response_format: str) -> list:
    import openai

    clients = [
        openai.AsyncOpenAI(base_url=base_url, api_key=token, max_retries=0, timeout=120)
        for token in tokens
    ]

    async def one(i: int):
        try:
            answer = await clients[i % len(clients)].images.generate(
                model="doubao-seedream-3-0-t2i-250415",
                prompt=f"gateway bench {i} {time.time_ns()}",
                size="1024x1024",
                response_format=response_format,
                extra_body={"seed": i, "guidance_scale": 2.5, "watermark": False},
            )
        except openai.OpenAIError as exc:
            return repr(exc)[:200]
        return bool(answer.data[0].url or answer.data[0].b64_json)

    try:
        return await asyncio.gather(*(one(i) for i in range(count)))
    finally:
        for client in clients:
            await client.close()


if __name__ == "__main__":
    main()
