"""Submitting and running generations in the test process, as the web form and the task do."""

import time

from gallery.models import Generation
from gallery.seedream.contract import GenerationParams
from gallery.services import generation as service


def submit(user, **params) -> Generation:
    fields = {"prompt": "a lighthouse at dusk", "size": "1024x1024", "seed": 42, **params}
    return service.submit(user=user, params=GenerationParams(**fields))[0]


def run_until_settled(generation: Generation, limit: int = 12) -> Generation:
    """Run like the task does, following the retries it would schedule."""
    for _ in range(limit):
        outcome = service.run(generation.pk)
        if outcome.retry_in is None:
            break
        time.sleep(min(outcome.retry_in, 1.0))  # tests back off for milliseconds
    generation.refresh_from_db()
    return generation
