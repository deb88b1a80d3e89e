"""Celery tasks: thin wrappers that resolve ids and call the services."""

from celery import shared_task

from gallery.services import gateway, generation


@shared_task(name="gallery.run_generation", ignore_result=True)
def run_generation(generation_id: int) -> str:
    outcome = generation.run(generation_id)
    if outcome.retry_in is not None:
        run_generation.apply_async((generation_id,), countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="gallery.sweep_stuck_generations", ignore_result=True)
def sweep_stuck_generations() -> dict:
    return generation.sweep_stuck()


@shared_task(name="gallery.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> int:
    return gateway.purge_expired_keys()
