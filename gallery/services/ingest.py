"""Copy a provider's image into our storage: fetch it safely, check it is the image it claims,
label it, and store the original and a thumbnail under content-addressed keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import logging
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from django.conf import settings
from requests.utils import DEFAULT_CA_BUNDLE_PATH

from gallery import imaging
from gallery.models import Generation
from gallery.seedream.client import (
    BodyTooLarge,
    DeadlinePassed,
    ProviderResult,
    pooled_session,
    read_bounded,
)
from gallery.storage import delete_object, original_key, put_object, thumbnail_key

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3
MAX_PIXELS = 40_000_000
# Uploads run beside the decode that verifies the image and beside the row's commit.
_uploads = ThreadPoolExecutor(max_workers=32, thread_name_prefix="s3-upload")
PRODUCT_NAME = "Seedgallery"


class IngestError(Exception):
    """Storing the provider's image failed: `code` is stable, `message` fit for the user."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.code, self.message, self.retryable = code, message, retryable


@dataclass(frozen=True)
class StoredImage:
    """What the Image row needs, plus a warning for the job when something was off.

    The thumbnail's upload may still be running: the caller writes the row, then calls
    `wait_stored` before it commits, so the commit overlaps that upload and never outruns it."""

    fields: dict
    uploads: tuple[Future, ...] = ()
    warning: str = ""

    def wait_stored(self) -> None:
        """Return once every object is in storage; IngestError when one could not be."""
        for upload in self.uploads:
            upload.result()


def ingest_provider_image(generation: Generation) -> StoredImage:
    """Fetch, verify, label and store the image a generation's provider answer points at."""
    result = ProviderResult.from_dict(generation.provider_result)
    if result.b64_json:
        data, content_type = _decode_b64(result.b64_json), None
    elif result.url:
        data, content_type = download(result.url)
    else:
        raise IngestError("bad_response", "The provider's answer held no image.")
    try:
        claimed = imaging.check_header(
            data, content_type, MAX_PIXELS, formats=imaging.LABELLED_FORMATS
        )
    except imaging.ImageRejected as exc:
        raise _unusable(exc) from exc
    try:
        labelled = imaging.embed_metadata(data, claimed.format, _metadata_for(generation, result))
    except imaging.ImageRejected as exc:
        raise _unusable(exc) from exc
    sha256 = hashlib.sha256(labelled).hexdigest()
    key = original_key(sha256, claimed.extension)
    thumb_key = thumbnail_key(sha256)
    # The upload of the original overlaps the decode that verifies it and makes the
    # thumbnail (the costly part); an image that fails the decode is deleted again.
    upload = _uploads.submit(_put, key, labelled, claimed.content_type, sha256)
    try:
        verified, derivatives = imaging.inspect_image(
            data, claimed_content_type=content_type, max_side=settings.THUMBNAIL_SIZE
        )
    except imaging.ImageRejected as exc:
        _discard(upload, key)
        raise _unusable(exc) from exc
    # The original's upload ran beside the decode and is normally done: wait for it here,
    # so a storage outage shows before the caller opens its transaction.
    upload.result()
    thumbnail_upload = _uploads.submit(_put, thumb_key, derivatives.thumbnail, "image/webp")
    warning = ""
    if (verified.width, verified.height) != (generation.width, generation.height):
        warning = (
            f"The provider returned {verified.width}x{verified.height} instead of the "
            f"requested {generation.size}."
        )
    return StoredImage(
        fields=dict(
            batch=generation.batch,
            prompt=generation.prompt,
            model=generation.model,
            seed=generation.seed,
            guidance_scale=generation.guidance_scale,
            watermark=generation.watermark,
            width=verified.width,
            height=verified.height,
            original_key=key,
            content_type=verified.content_type,
            byte_size=len(labelled),
            sha256=sha256,
            provider_sha256=hashlib.sha256(data).hexdigest(),
            thumbnail_key=thumb_key,
            thumb_width=derivatives.thumb_width,
            thumb_height=derivatives.thumb_height,
            dominant_color=derivatives.dominant_color,
        ),
        uploads=(thumbnail_upload,),
        warning=warning,
    )


def _unusable(exc: imaging.ImageRejected) -> IngestError:
    return IngestError(exc.code, f"The provider's image was unusable: {exc.message}")


def _discard(upload, key: str) -> None:
    """Remove an original stored before its decode failed, so nothing is half-stored."""
    try:
        upload.result()
        delete_object(key)
    except Exception as exc:  # the image is refused either way; an orphan object is harmless
        log.warning("could not remove unverified original %s: %s", key, exc)


def _metadata_for(generation: Generation, result: ProviderResult) -> imaging.ImageMetadata:
    # Everything here comes from the row and the stored answer, so a re-run of the same
    # ingest writes the same bytes to the same key.
    created = (
        datetime.fromtimestamp(result.created, tz=UTC) if result.created else generation.created_at
    )
    return imaging.ImageMetadata(
        prompt=generation.prompt,
        seed=generation.seed,
        size=generation.size,
        guidance_scale=generation.guidance_scale,
        model=result.model or generation.model,
        generated_at=created,
        generator=PRODUCT_NAME,
        provider="Seedream",
        produce_id=result.request_id or f"generation-{generation.pk}",
        propagator=PRODUCT_NAME,
        watermark=generation.watermark,
    )


def _decode_b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise IngestError(
            "bad_response", "The provider's inline image was not valid base64."
        ) from exc


def _put(key: str, data: bytes, content_type: str, sha256: str | None = None) -> None:
    """Store bytes under their content-addressed key. Storing the same bytes again rewrites
    the same object, so they are stored once; a HEAD first would cost every new image a
    round trip to save one on a rare repeat."""
    try:
        put_object(key, data, content_type, sha256=sha256)
    except Exception as exc:  # StorageError or anything else that stopped the write
        log.warning("storing %s failed: %s", key, exc)
        raise IngestError(
            "storage_unavailable", "Image storage is unavailable; retrying.", retryable=True
        ) from exc


# --- Download -----------------------------------------------------------------

_session_lock = threading.Lock()
_session: requests.Session | None = None


def _http() -> requests.Session:
    global _session
    with _session_lock:
        if _session is None:
            session = pooled_session(pool_connections=8, pool_maxsize=64)
            session.headers["User-Agent"] = settings.USER_AGENT
            _session = session
        return _session


def download(url: str) -> tuple[bytes, str | None]:
    """GET an image from the provider: streamed, size-capped, within INGEST_TOTAL_TIMEOUT, only
    to allowed hosts (connecting to the very address that was checked), and following at most
    a few redirects, each checked again."""
    deadline = time.monotonic() + settings.INGEST_TOTAL_TIMEOUT
    for _ in range(MAX_REDIRECTS + 1):
        address = check_fetchable(url)
        try:
            response = _get(url, address)
        except requests.Timeout as exc:
            raise IngestError(
                "download_timeout", "Fetching the image timed out.", retryable=True
            ) from exc
        except requests.RequestException as exc:
            raise IngestError(
                "download_failed", "The image could not be fetched.", retryable=True
            ) from exc
        with response:
            if response.is_redirect:
                url = urljoin(url, response.headers.get("Location", ""))
                continue
            return _read_body(response, deadline)
    raise IngestError("download_refused", "The image link redirected too many times.")


def _get(url: str, address: str | None) -> requests.Response:
    timeout = (settings.INGEST_CONNECT_TIMEOUT, settings.INGEST_READ_TIMEOUT)
    if address is None:  # an allow-listed host: pooled, as checked by name
        return _http().get(url, stream=True, allow_redirects=False, timeout=timeout)
    return pinned_get(url, address, timeout=timeout)


# The certificates a pinned https download trusts (tests point it at their own CA).
CA_BUNDLE = DEFAULT_CA_BUNDLE_PATH


def pinned_get(url: str, address: str, *, timeout) -> requests.Response:
    """GET over https from `address` as the host the URL names (Host header, SNI and the
    certificate's name), so the name cannot resolve elsewhere after it was checked."""
    parts = urlsplit(url)
    host_header = parts.hostname if parts.port in (None, 443) else f"{parts.hostname}:{parts.port}"
    session = requests.Session()
    session.headers["User-Agent"] = settings.USER_AGENT
    session.mount("https://", _PinnedAdapter(address))
    session.mount("http://", _Refuse())
    return session.get(
        url,
        headers={"Host": host_header},
        stream=True,
        allow_redirects=False,
        timeout=timeout,
        verify=CA_BUNDLE,
    )


class _PinnedAdapter(requests.adapters.HTTPAdapter):
    """Connects to one address whatever the URL's host resolves to now."""

    def __init__(self, address: str) -> None:
        super().__init__(max_retries=0)
        self.address = address

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        parts = urlsplit(request.url)
        return urllib3.HTTPSConnectionPool(
            self.address,
            port=parts.port or 443,
            server_hostname=parts.hostname,
            assert_hostname=parts.hostname,
            cert_reqs="CERT_REQUIRED",
            ca_certs=CA_BUNDLE,
            maxsize=1,
            retries=False,
        )


class _Refuse(requests.adapters.BaseAdapter):
    def send(self, request, **kwargs):
        raise requests.ConnectionError("plain http is not pinned")

    def close(self) -> None:
        pass


def _read_body(response: requests.Response, deadline: float) -> tuple[bytes, str | None]:
    if response.status_code in (403, 404, 410):
        raise IngestError(
            "image_unavailable",
            f"The image was made, but the provider's link to it answered "
            f"{response.status_code}: it is gone or expired. Generate it again with the same "
            "seed to get it back.",
        )
    if response.status_code != 200:
        raise IngestError(
            "download_failed",
            f"The provider's image link answered {response.status_code}.",
            retryable=response.status_code >= 500 or response.status_code == 429,
        )
    limit = settings.INGEST_MAX_BYTES
    try:
        body = read_bounded(response, deadline=deadline, limit=limit)
    except BodyTooLarge as exc:
        raise IngestError(
            "too_large", f"The image is larger than the {limit:,} byte limit."
        ) from exc
    except DeadlinePassed as exc:
        raise IngestError(
            "download_timeout", "Fetching the image took too long.", retryable=True
        ) from exc
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise IngestError(
            "download_failed", "The image download was cut off.", retryable=True
        ) from exc
    return body, response.headers.get("Content-Type")


def check_fetchable(url: str) -> str | None:
    """Refuse anything but https on port 443 to public addresses, or http to an allow-listed
    host. Returns the checked address to connect to; None for an allow-listed host."""
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError as exc:  # a bad port, a broken IPv6 literal
        raise IngestError(
            "download_refused", "The provider's image link is not a valid web address."
        ) from exc
    allowed = {h.lower() for h in settings.INGEST_ALLOWED_HTTP_HOSTS}
    if parts.scheme not in ("http", "https") or not host:
        raise IngestError("download_refused", "The provider's image link is not a web address.")
    if host in allowed:
        return None
    if parts.scheme != "https":
        raise IngestError("download_refused", "The provider's image link is not https.")
    if port not in (None, 443):
        raise IngestError(
            "download_refused", "The provider's image link uses a port other than 443."
        )
    addresses = _resolve(host, 443)
    for address in addresses:
        if not address.is_global:
            raise IngestError(
                "download_refused", "The provider's image link points at a private address."
            )
    return str(addresses[0])


def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise IngestError(
            "download_failed", "The image host could not be resolved.", retryable=True
        ) from exc
    return [ipaddress.ip_address(info[4][0]) for info in infos]
