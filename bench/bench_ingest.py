"""Ingest overhead: provider answer -> succeeded (download, verify, label, thumbnail, two S3
puts, DB), against a floor measured in the same run: a bare download plus one S3 put of the
same bytes through the same `storage.put_object` the ingest uses. Target: at most 2x the floor.

    .venv/bin/python bench/bench_ingest.py [--runs 40]
"""

from __future__ import annotations

import argparse
import statistics
import time

import stack

RUNS = 40


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=RUNS)
    runs = parser.parse_args().runs
    stack.start()

    import requests
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from gallery.models import Generation
    from gallery.seedream import client
    from gallery.seedream.contract import GenerationParams
    from gallery.services import generation as service
    from gallery.storage import put_object

    user = get_user_model().objects.create_user("bench")
    session = requests.Session()
    floors, ingests, sizes = [], [], []
    for i in range(runs + 3):
        result = client.generate(GenerationParams(prompt=f"bench {i}", size="1024x1024", seed=i))
        session.get(result.url).raise_for_status()  # warm the emulator's cache for both sides
        generation = Generation.objects.create(
            user=user, prompt=f"bench {i}", model="doubao-seedream-3-0-t2i-250415", width=1024,
            height=1024, seed=i, guidance_scale=2.5, status=Generation.Status.FETCHED,
            provider_result=result.to_dict(), provider_answered_at=timezone.now(),
        )  # fmt: skip

        started = time.perf_counter()
        data = session.get(result.url).content
        put_object(f"floor/{i}.jpg", data, "image/jpeg")  # the PUT ingest itself makes
        floor = time.perf_counter() - started

        started = time.perf_counter()
        outcome = service.run(generation.pk)
        ingest = time.perf_counter() - started
        assert outcome.status == "succeeded", outcome
        if i >= 3:  # the first runs open connections and warm caches
            floors.append(floor)
            ingests.append(ingest)
            sizes.append(len(data))

    floor_ms = statistics.median(floors) * 1000
    ingest_ms = statistics.median(ingests) * 1000
    print(f"runs: {runs}, image: 1024x1024 JPEG, median {statistics.median(sizes) / 1024:.0f} KiB")
    print(f"floor  (download + one S3 put):            median {floor_ms:6.1f} ms")
    print(f"ingest (answer -> succeeded, all steps):   median {ingest_ms:6.1f} ms")
    print(f"ratio ingest/floor: {ingest_ms / floor_ms:.2f}x (target <= 2.0x)")


if __name__ == "__main__":
    main()
