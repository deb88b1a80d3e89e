"""Emulator: 200 concurrent url-format requests at 2 s latency must finish within 1.2x of 2 s;
and the CPU cost of drawing one 1024x1024 image, against a floor measured in the same run
(the JPEG encode alone of a flat image of the same size).

    .venv/bin/python bench/bench_emulator.py [--requests 200 --latency 2 --images 20]
    .venv/bin/python bench/bench_emulator.py --against OLD_EMULATOR.py   # drawing, interleaved
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import requests
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gallery import devstack  # noqa: E402
from gallery.seedream import contract  # noqa: E402
from gallery.seedream.emulator import JPEG_QUALITY, Picture, render_jpeg  # noqa: E402

KEY = "bench-key"
SIZE = (1024, 1024)


def concurrency(count: int, latency: float) -> None:
    """Fire `count` url-format requests at once at an emulator subprocess; print the wall."""
    port = devstack.free_port()
    env = {**os.environ, "SECRET_KEY": "bench-only", "DEBUG": "0", "SEEDREAM_EMULATOR_KEYS": KEY}
    log = Path(tempfile.gettempdir()) / f"bench-emulator-{port}.log"
    argv = [sys.executable, str(ROOT / "manage.py"), "seedream_emulator",
            "--port", str(port), "--latency", str(latency)]  # fmt: skip
    proc = devstack.start(argv, log_path=log, env=env)
    try:
        devstack.wait_for_port(port, proc=proc, timeout=30)
        server = psutil.Process(proc.pid)
        url = f"http://127.0.0.1:{port}/v1{contract.GENERATIONS_PATH}"
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=count)
        session.mount("http://", adapter)

        def one(i: int) -> bool:
            body = {"model": contract.DEFAULT_MODEL, "prompt": f"bench {i}", "seed": i,
                    "response_format": "url"}  # fmt: skip
            response = session.post(url, json=body, timeout=60,
                                    headers={"Authorization": f"Bearer {KEY}"})  # fmt: skip
            return response.status_code == 200 and "url" in response.json()["data"][0]

        with ThreadPoolExecutor(max_workers=count) as pool:
            list(pool.map(one, range(count)))  # open the connections, warm the imports
            cpu_before, client_before = sum(server.cpu_times()[:2]), time.process_time()
            started = time.perf_counter()
            # New seeds: every answer has a new picture to draw during its wait.
            answers = list(pool.map(one, range(count, 2 * count)))
            wall = time.perf_counter() - started
            server_cpu = sum(server.cpu_times()[:2]) - cpu_before
            client_cpu = time.process_time() - client_before
    finally:
        devstack.stop(proc)
    print(f"concurrency: {count} url-format requests at {latency:g} s latency: "
          f"{sum(answers)}/{count} answered 200 with a link")  # fmt: skip
    print(f"  wall {wall:.2f} s; ratio wall/latency {wall / latency:.2f} (target <= 1.20)")
    print(f"  emulator CPU for the burst {server_cpu * 1000:.0f} ms "
          f"({server_cpu / count * 1000:.2f} ms per request); "
          f"client CPU {client_cpu * 1000:.0f} ms")  # fmt: skip


def drawing(images: int) -> None:
    """CPU per drawn image (in-process, process_time) against the encode of a flat image."""
    flat = Image.new("RGB", SIZE, (90, 120, 200))
    render_jpeg(Picture("warm up", 0, *SIZE, 2.5, True))  # fonts, cached grain layer

    started = time.process_time()
    for _ in range(images):
        flat.save(io.BytesIO(), "JPEG", quality=JPEG_QUALITY)
    floor = (time.process_time() - started) / images * 1000

    started = time.process_time()
    for seed in range(images):
        data = render_jpeg(Picture("a lighthouse at dusk", seed, *SIZE, 2.5, seed % 2 == 0))
    draw = (time.process_time() - started) / images * 1000
    print(f"drawing: {images} images of {SIZE[0]}x{SIZE[1]} (~{len(data) / 1024:.0f} KiB each): "
          f"{draw:.1f} ms CPU per image (target <= 20 ms)")  # fmt: skip
    print(f"  floor (JPEG encode of a flat image): {floor:.1f} ms; ratio {draw / floor:.1f}x")


def against(path: str, images: int, rounds: int = 5) -> None:
    """Drawing CPU of this emulator against another version of emulator.py (e.g. one from
    `git show REV:gallery/seedream/emulator.py`), in alternating rounds in one process."""
    import importlib.util
    import statistics

    from gallery.seedream import emulator as current

    spec = importlib.util.spec_from_file_location("other_emulator", path)
    other = importlib.util.module_from_spec(spec)
    sys.modules["other_emulator"] = other  # dataclasses look their module up
    spec.loader.exec_module(other)

    def per_image(module) -> float:
        started = time.process_time()
        for seed in range(images):
            module.render_jpeg(
                module.Picture("a lighthouse at dusk", seed, *SIZE, 2.5, seed % 2 == 0)
            )
        return (time.process_time() - started) / images * 1000

    per_image(other), per_image(current)  # warm up fonts and grain layers
    rows = [(per_image(other), per_image(current)) for _ in range(rounds)]
    print(f"drawing, {rounds} alternating rounds of {images} images: "
          f"other {[round(o, 1) for o, _ in rows]} ms, this {[round(t, 1) for _, t in rows]} ms; "
          f"median this/other {statistics.median(t / o for o, t in rows):.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--against", help="another emulator.py to compare the drawing with")
    args = parser.parse_args()
    if args.against:
        against(args.against, args.images)
        return
    drawing(args.images)
    concurrency(args.requests, args.latency)


if __name__ == "__main__":
    main()
