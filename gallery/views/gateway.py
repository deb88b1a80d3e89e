"""The OpenAI-compatible gateway: `POST /v1/images/generations` and `GET /v1/models`.

Same contract as the provider (request body, answer, error JSON and statuses), but it
generates through the gallery's own pipeline under the member's token and quota, and answers
with the gallery's stored copy once it is stored. The view is async: while it waits for the
image it holds no thread, only a place among the waiters of its event loop's one Redis
subscription.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from gallery.models import ApiToken, Generation
from gallery.seedream import contract
from gallery.services import api_tokens, gateway
from gallery.services import generation as generation_service
from gallery.services.generation_events import wait_finished
from gallery.storage import presigned_url, read_object

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
# Error `type`s for the statuses the provider's table does not list.
EXTRA_ERROR_TYPES = {
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "UnprocessableEntity",
    504: "GatewayTimeout",
}
# A failed generation's error code -> the provider's status and code for it. Anything else
# (the image service's trouble, a storage failure) is the provider's 500.
FAILURE_ANSWERS = {
    "invalid_parameter": (400, "InvalidParameter"),
    "input_refused": (400, "InputTextSensitiveContentDetected"),
    "output_refused": (400, "OutputImageSensitiveContentDetected"),
    "model_unavailable": (404, "InvalidEndpointOrModel"),
    "rate_limited": (429, "ServerOverloaded"),
    "quota_exceeded": (429, "QuotaExceeded"),
}


def provider_error(
    request_id: str,
    status: int,
    code: str,
    message: str,
    *,
    param: str = "",
    retry: bool = False,
    **extra,
) -> JsonResponse:
    """An error in the provider's JSON shape. `x-should-retry` tells OpenAI-style SDKs
    whether their automatic retry may help, so a timed-out wait is not generated twice."""
    error_type = contract.PROVIDER_ERROR_TYPES.get(status) or EXTRA_ERROR_TYPES.get(status, "")
    body = {"error": {"code": code, "message": message, "param": param, "type": error_type}}
    body["error"].update(extra)
    response = JsonResponse(body, status=status)
    response["X-Request-Id"] = request_id
    response["x-should-retry"] = "true" if retry else "false"
    return response


def _authenticate(authorization: str) -> ApiToken | None:
    """The live token, counted against its rate limit in the same thread hop (RateLimited
    when over it): under load a hop waits for a free executor thread, so one is cheaper
    than two."""
    close_old_connections()
    token = api_tokens.authenticate(api_tokens.bearer_token(authorization))
    if token is not None:
        api_tokens.check_rate(token)
    return token


def _submit(user, params, key, body_fingerprint):
    close_old_connections()
    return gateway.submit_once(user=user, params=params, key=key, body_fingerprint=body_fingerprint)


def _stored_bytes(generation: Generation) -> bytes:
    return read_object(generation.image.original_key)


authenticate = sync_to_async(_authenticate, thread_sensitive=False)
submit = sync_to_async(_submit, thread_sensitive=False)
stored_bytes = sync_to_async(_stored_bytes, thread_sensitive=False)


def new_request_id() -> str:
    return "sg" + time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(8)


async def _authorized(request, request_id: str) -> ApiToken | JsonResponse:
    try:
        token = await authenticate(request.headers.get("Authorization", ""))
    except api_tokens.RateLimited as exc:
        response = provider_error(request_id, 429, "RateLimitExceeded", exc.message, retry=True)
        response["Retry-After"] = str(exc.retry_after)
        return response
    if token is None:
        return provider_error(
            request_id,
            401,
            "AuthenticationError",
            "The API token in the request is missing, invalid or revoked. Send "
            "`Authorization: Bearer <your personal API token>` (made on the API tokens page).",
        )
    return token


@csrf_exempt
async def models(request):
    request_id = new_request_id()
    if request.method != "GET":
        return provider_error(request_id, 405, "MethodNotAllowed", "Use GET.")
    token = await _authorized(request, request_id)
    if isinstance(token, JsonResponse):
        return token
    data = [
        {"id": model, "object": "model", "created": 0, "owned_by": "seedgallery"}
        for model in settings.SEEDREAM_ALLOWED_MODELS
    ]
    response = JsonResponse({"object": "list", "data": data})
    response["X-Request-Id"] = request_id
    return response


@csrf_exempt
async def image_generations(request):
    request_id = new_request_id()
    if request.method != "POST":
        return provider_error(request_id, 405, "MethodNotAllowed", "Use POST.")
    token = await _authorized(request, request_id)
    if isinstance(token, JsonResponse):
        return token
    body = _json_body(request, request_id)
    if isinstance(body, JsonResponse):
        return body
    try:
        params = _params(body)
    except contract.ParameterError as exc:
        status = 404 if exc.code == "InvalidEndpointOrModel" else 400
        message = (
            f"The parameter `{exc.param}` specified in the request is not valid: {exc.message}"
        )
        if exc.param == "body":
            message = exc.message
        return provider_error(request_id, status, exc.code, message, param=exc.param)
    key = request.headers.get("Idempotency-Key", "")
    if key and (len(key) > gateway.KEY_MAX_CHARS or not key.isprintable() or not key.isascii()):
        return provider_error(
            request_id,
            400,
            "InvalidParameter",
            f"Idempotency-Key must be 1 to {gateway.KEY_MAX_CHARS} printable ASCII characters.",
            param="Idempotency-Key",
        )
    try:
        generation, reused = await submit(token.user, params, key, gateway.fingerprint(body))
    except generation_service.QuotaExceeded as exc:
        return provider_error(request_id, 429, "QuotaExceeded", exc.message)
    except generation_service.PromptBlocked as exc:
        # The provider's own code for a refused prompt, so OpenAI-style clients handle it alike.
        return provider_error(
            request_id, 400, "InputTextSensitiveContentDetected", exc.message, param="prompt"
        )
    except gateway.IdempotencyConflict as exc:
        return provider_error(
            request_id, 422, exc.code, exc.message, param="Idempotency-Key", retry=False
        )
    log.info(
        "gateway %s: generation %s for token %s%s",
        request_id,
        generation.pk,
        token.pk,
        " (idempotent retry)" if reused else "",
    )
    finished = await wait_finished(generation.pk, timeout=settings.GATEWAY_WAIT_TIMEOUT)
    return await _answer(request, request_id, finished or generation, params.response_format)


def _json_body(request, request_id: str) -> dict | JsonResponse:
    """The request's JSON object, or the provider-shaped error for a body we cannot read."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    too_big = provider_error(
        request_id,
        413,
        "RequestEntityTooLarge",
        f"The request body is larger than {MAX_BODY_BYTES // 1024} KB.",
        param="body",
    )
    if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
        return too_big
    content_type = request.content_type or ""
    if content_type.lower() != "application/json":
        return provider_error(
            request_id,
            415,
            "UnsupportedMediaType",
            f"Content-Type must be application/json, not {content_type[:60] or 'missing'}.",
            param="Content-Type",
        )
    raw = request.body
    if len(raw) > MAX_BODY_BYTES:
        return too_big
    try:
        body = json.loads(raw)
    except ValueError:  # UnicodeDecodeError included
        return provider_error(
            request_id,
            400,
            "InvalidParameter",
            "The request body is not valid JSON.",
            param="body",
        )
    if not isinstance(body, dict):
        return provider_error(
            request_id,
            400,
            "InvalidParameter",
            "The request body must be a JSON object.",
            param="body",
        )
    return body


def _params(body: dict) -> contract.GenerationParams:
    """The contract's checks in the provider's order; unknown fields are ignored."""
    model = body.get("model")
    allowed = settings.SEEDREAM_ALLOWED_MODELS
    if isinstance(model, str) and model.strip() and model not in allowed:
        raise contract.ParameterError(
            "model",
            f"The model {model[:80]} does not exist or you do not have access to it.",
            code="InvalidEndpointOrModel",
        )
    contract.refuse_unsupported(body)
    return contract.params_from_body(body, allowed_models=allowed, product=True)


async def _answer(request, request_id: str, generation: Generation, response_format: str):
    gallery_url = request.build_absolute_uri(
        reverse("gallery:batch", kwargs={"batch": generation.batch})
    )
    if generation.status == Generation.Status.SUCCEEDED:
        return await _success(request, request_id, generation, response_format)
    if generation.status == Generation.Status.FAILED:
        status, code = FAILURE_ANSWERS.get(generation.error_code, (500, "InternalServiceError"))
        if status == 400 and generation.provider_error_code:
            code = generation.provider_error_code
        return provider_error(
            request_id,
            status,
            code,
            f"{generation.error_message} (generation {generation.pk}: {gallery_url})",
            generation_id=generation.pk,
            gallery_url=gallery_url,
        )
    if generation.status == Generation.Status.CANCELED:
        return provider_error(
            request_id,
            409,
            "Canceled",
            f"Generation {generation.pk} was canceled before it started: {gallery_url}",
            generation_id=generation.pk,
            gallery_url=gallery_url,
        )
    return provider_error(
        request_id,
        504,
        "GatewayTimeout",
        f"Generation {generation.pk} is not finished after "
        f"{settings.GATEWAY_WAIT_TIMEOUT:g} s. It goes on, and the image will appear in the "
        f"gallery at {gallery_url}; do not resend this request.",
        generation_id=generation.pk,
        gallery_url=gallery_url,
    )


async def _success(request, request_id: str, generation: Generation, response_format: str):
    image = generation.image
    item: dict = {}
    if response_format == "b64_json":
        item["b64_json"] = base64.b64encode(await stored_bytes(generation)).decode()
    else:
        # Signing is local CPU work (~0.5 ms, cached per window): no thread hop for it.
        item["url"] = presigned_url(image.original_key)
    item.update(
        size=image.size,
        seed=image.seed,
        gallery_url=request.build_absolute_uri(reverse("gallery:image", kwargs={"pk": image.pk})),
    )
    finished_at = generation.finished_at or image.created_at
    body = {
        "model": generation.model,
        "created": int(finished_at.timestamp()),
        "data": [item],
        "usage": {"generated_images": 1},
    }
    response = JsonResponse(body)
    response["X-Request-Id"] = request_id
    # Presigned links and the image's bytes are the member's: no cache keeps them.
    response["Cache-Control"] = "private, no-store"
    return response
