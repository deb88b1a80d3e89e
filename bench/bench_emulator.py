"""Emulator: 200 concurrent requests at 2 s latency must finish within 1.2x of 2 s; and the
CPU cost of drawing one 1024x1024 image, against a floor measured in the same run (the JPEG
encode alone of a flat image of the same size).

    .venv/bin/python bench/bench_emulator.py [--requests 200 --latency 2]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gallery import devstack  # noqa: E402
from gallery.seedream.emulator import Picture, render_jpeg  # noqa: E402

KEY = "bench-key"


def concurrency(count: int, latency: float) -> None:
    port = devstack.free_port()
    env = {"SECRET_KEY": "bench-only", "DEBUG": "0", "SEEDREAM_EMULATOR_KEYS": KEY}
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-emulator-{port}.log"
    proc = devstack.start(
        [sys.executable, str(ROOT / "manage.py"), "seedream_emulator", "--port", str(port),
         "--latency", str(latency)],
        log_path=log, env=env,
    )  # fmt: skip
    try:
        devstack.wait_for_port(port, proc=proc, timeout=30)
        url = f"http://127.0.0.1:{port}/v1/images/generations"
        headers = {"Authorization": f"Bearer {KEY}"}

        def one(i: int) -> int:
            body = {"model": "doubao-seedream-3-0-t2i-250415", "prompt": f"bench {i}", "seed": i}
            return requests.post(url, json=body, headers=headers, timeout=60).status_code

        with ThreadPoolExecutor(max_workers=count) as pool:
            list(pool.map(one, range(4)))  # warm up connections and imports
            started = time.perf_counter()
            statuses = list(pool.map(one, range(count)))
            wall = time.perf_counter() - started
    finally:
        devstack.stop(proc)
    ok = statuses.count(200)
    print(f"concurrency: {count} requests at {latency:g} s latency: {ok}/{count} answered 200")
    print(f"  wall {wall:.2f} s; ratio wall/latency {wall / latency:.2f} (target <= 1.20)")


def drawing(runs: int = 30) -> None:
    def cpu(fn) -> float:
        samples = []
        for _ in range(runs):
            started = time.process_time()
            fn()
            samples.append(time.process_time() - started)
        return statistics.median(samples) * 1000

    flat = __import__("PIL.Image", fromlist=["Image"]).new("RGB", (1024, 1024), (90, 120, 200))
    floor = cpu(lambda: flat.save(io.BytesIO(), "JPEG", quality=88))
    seeds = iter(range(10_000))
    draw = cpu(
        lambda: render_jpeg(Picture("a lighthouse at dusk", next(seeds), 1024, 1024, 2.5, True))
    )
    size = len(render_jpeg(Picture("a lighthouse at dusk", 1, 1024, 1024, 2.5, False)))
    print(f"drawing a 1024x1024 JPEG ({size / 1024:.0f} KiB): median {draw:.1f} ms CPU")
    print(
        f"  floor (encode a flat image): {floor:.1f} ms; ratio {draw / floor:.1f}x; target < 100 ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--latency", type=float, default=2.0)
    args = parser.parse_args()
    drawing()
    concurrency(args.requests, args.latency)


if __name__ == "__main__":
    main()
