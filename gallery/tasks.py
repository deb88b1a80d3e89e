"""Celery tasks: thin wrappers that resolve ids and call the services."""

from celery import shared_task
from celery.exceptions import Reject
from celery.signals import worker_init, worker_shutting_down
from django.core.exceptions import ImproperlyConfigured

from gallery.queueing import PURGE_IMAGE_OBJECTS, RUN_GENERATION, enqueue_generation
from gallery.services import gateway, generation, images, sharing


@shared_task(name=RUN_GENERATION, ignore_result=True)
def run_generation(generation_id: int) -> str:
    outcome = generation.run(generation_id)
    if outcome.returned:  # shutting down: hand the message back for another worker
        raise Reject("worker shutting down", requeue=True)
    if outcome.retry_in is not None:
        enqueue_generation(generation_id, countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="gallery.sweep_stuck_generations", ignore_result=True)
def sweep_stuck_generations() -> dict:
    return generation.sweep_stuck()


@worker_init.connect
def _check_before_starting(**_) -> None:
    try:
        generation.check_worker_configuration()
    except ImproperlyConfigured as exc:  # Celery logs and ignores a receiver's exceptions
        raise SystemExit(f"Seedgallery worker refuses to start: {exc}") from exc


@worker_shutting_down.connect
def _stop_claiming(**_) -> None:
    generation.stop_claiming()


@shared_task(
    name=PURGE_IMAGE_OBJECTS,
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=12,
)
def purge_image_objects(keys: list[str]) -> list[str]:
    return images.purge_unreferenced_objects(keys)


@shared_task(name="gallery.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> int:
    return gateway.purge_expired_keys()


@shared_task(name="gallery.flush_share_views", ignore_result=True)
def flush_share_views() -> int:
    return sharing.flush_view_counts()
