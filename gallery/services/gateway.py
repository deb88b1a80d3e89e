"""The OpenAI-compatible gateway's one rule beyond the form's: `Idempotency-Key`.

A retried request with the same key and body gets the first request's generation; the same
key with another body is a conflict; keys are forgotten after a day.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from gallery.models import Generation, IdempotencyKey
from gallery.seedream.contract import GenerationParams
from gallery.services import blocklist
from gallery.services import generation as generation_service

KEY_LIFETIME = timedelta(hours=24)
KEY_MAX_CHARS = 255


class IdempotencyConflict(Exception):
    code = "idempotency_conflict"

    def __init__(self, key: str, generation_id: int) -> None:
        self.generation_id = generation_id
        self.message = (
            f"Idempotency-Key {key[:80]!r} was already used with a different request body "
            f"(for generation {generation_id}); use a new key for a new request."
        )
        super().__init__(self.message)


def fingerprint(body: Mapping[str, Any]) -> str:
    """The same request body gives the same fingerprint: keys sorted, nulls dropped (a null
    is an absent field)."""
    present = {key: value for key, value in body.items() if value is not None}
    canonical = json.dumps(present, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def purge_expired_keys() -> int:
    """Forget idempotency keys older than a day; beat runs it hourly."""
    expired = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - KEY_LIFETIME)
    return expired.delete()[0]


def submit_once(
    *, user, params: GenerationParams, key: str = "", body_fingerprint: str = ""
) -> tuple[Generation, bool]:
    """Submit one generation, or find the one an earlier request with this key made.

    Returns (generation, reused). Raises QuotaExceeded like `submit`, and
    IdempotencyConflict when the key came with another body.
    """
    if not key:
        return generation_service.submit(user=user, params=params, source="gateway")[0], False
    # Before the transaction, so the BlockedPrompt log outlives the refusal.
    blocklist.refuse_blocked(user=user, prompt=params.prompt, source="gateway")
    with transaction.atomic():
        # Requests of one member are serialised here (submit locks the same row), so two
        # concurrent retries with one key cannot both generate.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        keys = IdempotencyKey.objects.filter(user=user, key=key)
        keys.filter(created_at__lt=timezone.now() - KEY_LIFETIME).delete()
        earlier = keys.select_related("generation").first()
        if earlier is not None:
            if earlier.fingerprint != body_fingerprint:
                raise IdempotencyConflict(key, earlier.generation_id)
            return earlier.generation, True
        generation = generation_service.submit(user=user, params=params, source="gateway")[0]
        IdempotencyKey.objects.create(
            user=user, key=key, fingerprint=body_fingerprint, generation=generation
        )
    return generation, False
