"""HTTP client for the Seedream images API: one call, one typed answer or one typed error.

It makes no retries of its own: the pipeline decides, so no retry hides from the
exactly-once rule. Knows HTTP and the contract, not Django models.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from gallery.seedream import contract

log = logging.getLogger(__name__)

EXCERPT_CHARS = 300


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    api_key: str
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    total_timeout: float = 75.0
    max_response_bytes: int = 40 * 1024 * 1024
    user_agent: str = "Seedgallery"

    @classmethod
    def from_settings(cls) -> ClientConfig:
        from django.conf import settings

        return cls(
            base_url=settings.SEEDREAM_BASE_URL,
            api_key=settings.SEEDREAM_API_KEY,
            connect_timeout=settings.SEEDREAM_CONNECT_TIMEOUT,
            read_timeout=settings.SEEDREAM_READ_TIMEOUT,
            total_timeout=settings.SEEDREAM_TOTAL_TIMEOUT,
            max_response_bytes=settings.SEEDREAM_MAX_RESPONSE_BYTES,
            user_agent=settings.USER_AGENT,
        )

    @property
    def endpoint(self) -> str:
        return self.base_url.rstrip("/") + contract.GENERATIONS_PATH


@dataclass(frozen=True)
class ProviderResult:
    """The provider's answer for one image, kept on the job for the ingest and for audit."""

    url: str | None
    b64_json: str | None
    model: str
    created: int
    generated_images: int
    request_id: str = ""
    client_request_id: str = ""
    seed: int | None = None
    size: str | None = None
    warning: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProviderResult:
        fields = cls.__dataclass_fields__
        return cls(**{key: value for key, value in data.items() if key in fields})


class SeedreamError(Exception):
    """A failed call: `code` is the product's stable code, `message` fit for the end user."""

    def __init__(
        self,
        error_class: contract.ErrorClass,
        *,
        http_status: int | None = None,
        provider_code: str = "",
        param: str = "",
        request_id: str = "",
        detail: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.code = error_class.code
        self.retryable = error_class.retryable
        self.ambiguous = error_class.ambiguous
        self.message = error_class.user_message
        if error_class is contract.INVALID_PARAMETER and param:
            self.message = f"The provider rejected the parameter {param!r}."
        self.http_status = http_status
        self.provider_code = provider_code
        self.param = param
        self.request_id = request_id
        self.detail = detail[:EXCERPT_CHARS]
        self.retry_after = retry_after
        super().__init__(f"{self.code} ({http_status}): {self.detail or self.message}")


class SeedreamInvalidParameter(SeedreamError): ...


class SeedreamContentRefused(SeedreamError): ...


class SeedreamAuthError(SeedreamError): ...


class SeedreamAccessDenied(SeedreamError): ...


class SeedreamModelUnavailable(SeedreamError): ...


class SeedreamRateLimited(SeedreamError): ...


class SeedreamQuotaExceeded(SeedreamError): ...


class SeedreamServerError(SeedreamError): ...


class SeedreamTimeout(SeedreamError): ...


class SeedreamConnectionError(SeedreamError): ...


class SeedreamBadResponse(SeedreamError): ...


_CLASSES: dict[str, type[SeedreamError]] = {
    contract.INVALID_PARAMETER.code: SeedreamInvalidParameter,
    contract.INPUT_REFUSED.code: SeedreamContentRefused,
    contract.OUTPUT_REFUSED.code: SeedreamContentRefused,
    contract.AUTH_FAILED.code: SeedreamAuthError,
    contract.ACCESS_DENIED.code: SeedreamAccessDenied,
    contract.MODEL_UNAVAILABLE.code: SeedreamModelUnavailable,
    contract.RATE_LIMITED.code: SeedreamRateLimited,
    contract.QUOTA_EXCEEDED.code: SeedreamQuotaExceeded,
    contract.PROVIDER_ERROR.code: SeedreamServerError,
    contract.TIMEOUT.code: SeedreamTimeout,
    contract.CONNECTION_ERROR.code: SeedreamConnectionError,
    contract.CONNECTION_LOST.code: SeedreamConnectionError,
    contract.BAD_RESPONSE.code: SeedreamBadResponse,
}


def _error(error_class: contract.ErrorClass, **kwargs) -> SeedreamError:
    return _CLASSES.get(error_class.code, SeedreamError)(error_class, **kwargs)


# --- Transport ------------------------------------------------------------------

_lock = threading.Lock()
_session: requests.Session | None = None


def session() -> requests.Session:
    """The process's pooled session (a threaded worker runs ~50 calls at once)."""
    global _session
    with _lock:
        if _session is None:
            _session = pooled_session(pool_connections=4, pool_maxsize=64)
        return _session


def pooled_session(*, pool_connections: int, pool_maxsize: int) -> requests.Session:
    """A session with a pool of keep-alive connections and no retries of its own; it trusts
    the CA bundle the environment names, and reads proxies from it only where one is set."""
    from django.conf import settings

    pooled = requests.Session()
    adapter = HTTPAdapter(
        pool_connections=pool_connections, pool_maxsize=pool_maxsize, max_retries=0
    )
    pooled.mount("http://", adapter)
    pooled.mount("https://", adapter)
    pooled.trust_env = settings.HTTP_PROXY_FROM_ENV
    if settings.HTTP_CA_BUNDLE:
        pooled.verify = settings.HTTP_CA_BUNDLE
    return pooled


def generate(
    params: contract.GenerationParams,
    *,
    config: ClientConfig | None = None,
    client_request_id: str | None = None,
) -> ProviderResult:
    """POST one generation request; return the answer or raise a SeedreamError."""
    config = config or ClientConfig.from_settings()
    client_request_id = client_request_id or uuid.uuid4().hex
    headers = {
        "Authorization": f"Bearer {config.api_key}",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": config.user_agent,
        contract.CLIENT_REQUEST_ID_HEADER: client_request_id,
    }
    started = time.monotonic()
    deadline = started + config.total_timeout
    try:
        response = session().post(
            config.endpoint,
            json=params.to_request_body(),
            headers=headers,
            timeout=(config.connect_timeout, config.read_timeout),
            allow_redirects=False,  # a redirected POST could be sent, and paid for, twice
            stream=True,
        )
        with response:
            body = read_bounded(response, deadline=deadline, limit=config.max_response_bytes)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise _transport_error(exc) from None
    except BodyTooLarge:
        raise _error(
            contract.BAD_RESPONSE,
            http_status=response.status_code,
            request_id=response.headers.get(contract.REQUEST_ID_HEADER, ""),
            detail=f"the answer is larger than {config.max_response_bytes:,} bytes",
        ) from None
    except DeadlinePassed:
        raise _error(contract.TIMEOUT, detail="total deadline passed") from None
    request_id = response.headers.get(contract.REQUEST_ID_HEADER, "")
    # The prompt stays out of INFO logs: it is the member's words, not operations data.
    log.info(
        "seedream %s %s request_id=%s %.0fms",
        response.status_code,
        params.model,
        request_id,
        (time.monotonic() - started) * 1000,
    )
    if 300 <= response.status_code < 400:
        raise _bad(request_id, f"redirect to {response.headers.get('Location', '')!r}", body)
    return _parse(response, body, request_id=request_id, client_request_id=client_request_id)


class BodyTooLarge(Exception):
    """The answer's body is over the limit."""


class DeadlinePassed(Exception):
    """The total wall-clock deadline passed while reading."""


def read_bounded(response: requests.Response, *, deadline: float, limit: int) -> bytes:
    """Read a streamed body, at most `limit` bytes, and not past `deadline` (monotonic): each
    read waits no longer than the time left, so a slow drip cannot stretch a call."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    sock = _socket_of(response)
    chunks, size = [], 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise DeadlinePassed
        if sock is not None:
            try:
                sock.settimeout(min(left, sock.gettimeout() or left))
            except OSError:  # the whole body is already buffered and the socket closed
                sock = None
        # read1: what has arrived, at once; read() would wait for the full 64 KB.
        try:
            chunk = response.raw.read1(64 * 1024, decode_content=True)
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            if time.monotonic() >= deadline - 0.05:  # cut short by the deadline, not a read
                raise DeadlinePassed from None
            raise
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)


def _socket_of(response: requests.Response):
    """The socket under a streamed response, to shorten its read timeout; None if hidden."""
    try:
        return response.raw._fp.fp.raw._sock  # http.client -> BufferedReader -> SocketIO
    except AttributeError:
        return None


def _transport_error(exc: Exception) -> SeedreamError:
    """Sort a transport failure by whether the request may have reached the provider: only a
    connection that was never made is certainly unbilled."""
    detail = type(exc).__name__
    if isinstance(exc, requests.ConnectTimeout) or _never_connected(exc):
        return _error(contract.CONNECTION_ERROR, detail=detail)
    if isinstance(exc, requests.Timeout) or _timed_out(exc):
        return _error(contract.TIMEOUT, detail=detail)
    return _error(contract.CONNECTION_LOST, detail=detail)


def _causes(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        reason = getattr(exc, "reason", None)
        args = getattr(exc, "args", ())
        nested = args[0] if args and isinstance(args[0], BaseException) else None
        exc = (
            reason if isinstance(reason, BaseException) else nested or exc.__cause__
        ) or exc.__context__


def _never_connected(exc: BaseException) -> bool:
    from urllib3.exceptions import NewConnectionError

    return any(isinstance(cause, NewConnectionError) for cause in _causes(exc))


def _timed_out(exc: BaseException) -> bool:
    from urllib3.exceptions import ReadTimeoutError

    return any(isinstance(cause, ReadTimeoutError | TimeoutError) for cause in _causes(exc))


def _parse(
    response: requests.Response, body: bytes, *, request_id: str, client_request_id: str
) -> ProviderResult:
    status = response.status_code
    payload = _json_or_none(body)
    error = payload.get("error") if isinstance(payload, dict) else None
    if not 200 <= status < 300 or (error and not _has_image(payload)):
        raise _http_error(status, payload, body, request_id, response.headers.get("Retry-After"))
    if not isinstance(payload, dict):
        raise _bad(request_id, "the body is not a JSON object", body)
    data = payload.get("data")
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise _bad(request_id, "no image in data", body)
    item = data[0]
    url, b64 = item.get("url"), item.get("b64_json")
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        raise _bad(request_id, "url is not a web address", body)
    if b64 is not None and not _is_base64(b64):
        raise _bad(request_id, "b64_json is not base64", body)
    if not url and not b64:
        raise _bad(request_id, "the item has neither url nor b64_json", body)
    usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
    warning = ""
    if error:  # a 200 with an error beside usable data: the contract calls it a success
        detail = error.get("message") or error.get("code") if isinstance(error, dict) else error
        warning = f"The image service reported a problem with this image: {str(detail)[:200]}"
    return ProviderResult(
        url=url or None,
        b64_json=b64 or None,
        model=str(payload.get("model") or ""),
        created=_int(payload.get("created"), 0),
        generated_images=_int(usage.get("generated_images"), len(data)),
        request_id=request_id,
        client_request_id=client_request_id,
        seed=_int(item.get("seed"), None),
        size=item.get("size") if isinstance(item.get("size"), str) else None,
        warning=warning,
    )


def _has_image(payload: dict) -> bool:
    data = payload.get("data")
    return (
        isinstance(data, list)
        and bool(data)
        and isinstance(data[0], dict)
        and bool(data[0].get("url") or data[0].get("b64_json"))
    )


def _http_error(status, payload, body, request_id, retry_after) -> SeedreamError:
    error = payload.get("error") if isinstance(payload, dict) else None
    error = error if isinstance(error, dict) else {}
    provider_code = str(error.get("code") or "")[:120]
    message = str(error.get("message") or "") or body[:EXCERPT_CHARS].decode("utf-8", "replace")
    return _error(
        contract.classify_error(status, provider_code),
        http_status=status,
        provider_code=provider_code,
        param=str(error.get("param") or "")[:60],
        request_id=request_id,
        detail=message,
        retry_after=_float(retry_after),
    )


def _bad(request_id: str, why: str, body: bytes) -> SeedreamError:
    excerpt = body[:EXCERPT_CHARS].decode("utf-8", "replace")
    return _error(
        contract.BAD_RESPONSE, http_status=200, request_id=request_id, detail=f"{why}: {excerpt}"
    )


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _is_base64(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _int(value: Any, default):
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    return default


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
