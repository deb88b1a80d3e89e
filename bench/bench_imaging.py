"""Imaging: verify, thumbnail and metadata for a realistic 1024x1024 JPEG (~150 KB), against a
floor measured in the same run (a plain full decode of the same bytes).

    .venv/bin/python bench/bench_imaging.py [--runs 50]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gallery import imaging  # noqa: E402
from gallery.seedream.emulator import Picture, render_jpeg  # noqa: E402


def median_ms(fn, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    runs = parser.parse_args().runs
    data = render_jpeg(Picture("a lighthouse at dusk", 7, 1024, 1024, 2.5, False))
    meta = imaging.ImageMetadata(
        prompt="a lighthouse at dusk", seed=7, size="1024x1024", guidance_scale=2.5,
        model="doubao-seedream-3-0-t2i-250415", generated_at=datetime.now(UTC), produce_id="b",
    )  # fmt: skip
    floor = median_ms(lambda: Image.open(io.BytesIO(data)).load(), runs)
    figures = {
        "verify_image (full decode)": median_ms(lambda: imaging.verify_image(data), runs),
        "make_derivatives (draft decode, 384px WebP)": median_ms(
            lambda: imaging.make_derivatives(data), runs
        ),
        "inspect_image (both from one decode)": median_ms(
            lambda: imaging.inspect_image(data), runs
        ),
        "embed_metadata (XMP segment, lossless)": median_ms(
            lambda: imaging.embed_metadata(data, "JPEG", meta), runs
        ),
    }
    print(f"1024x1024 JPEG, {len(data) / 1024:.0f} KiB, median of {runs} runs")
    print(f"  floor: full decode {floor:.2f} ms")
    for name, ms in figures.items():
        print(f"  {name}: {ms:.2f} ms ({ms / floor:.2f}x floor)")


if __name__ == "__main__":
    main()
