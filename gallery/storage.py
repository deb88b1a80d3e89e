"""S3 storage: content-addressed keys, presigned URLs and the bucket itself."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import boto3
from botocore.auth import SIGV4_TIMESTAMP, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.client import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files.storage import Storage, storages
from django.utils.text import slugify
from storages.backends.s3 import S3Storage


def media_storage() -> Storage:
    """The S3 storage for originals and thumbnails (STORAGES['default'])."""
    return storages["default"]


def s3_client():
    """A boto3 client built from the same settings django-storages uses (for admin work)."""
    return boto3.client(
        "s3",
        endpoint_url=settings.AWS_S3_ENDPOINT_URL,
        aws_access_key_id=settings.AWS_ACCESS_KEY_ID,
        aws_secret_access_key=settings.AWS_SECRET_ACCESS_KEY,
        region_name=settings.AWS_S3_REGION_NAME,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=3,
            read_timeout=10,
            retries={"max_attempts": 1},
        ),
    )


_shared_lock = threading.Lock()
_shared: dict[tuple, object] = {}


def shared_s3_client():
    """One pooled client per process for the worker's uploads. boto3 clients are thread-safe,
    and django-storages' per-thread connection would build a session (~10 MB, tens of ms)
    in each of a threaded worker's 50 threads."""
    key = (settings.AWS_S3_ENDPOINT_URL, settings.AWS_ACCESS_KEY_ID)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = boto3.session.Session().client(
                "s3",
                endpoint_url=settings.AWS_S3_ENDPOINT_URL,
                aws_access_key_id=settings.AWS_ACCESS_KEY_ID,
                aws_secret_access_key=settings.AWS_SECRET_ACCESS_KEY,
                region_name=settings.AWS_S3_REGION_NAME,
                config=settings.AWS_S3_CLIENT_CONFIG,
            )
        return _shared[key]


def put_object(key: str, data: bytes, content_type: str) -> None:
    """Store bytes under a key in the media bucket, immutable and private."""
    shared_s3_client().put_object(
        Bucket=settings.AWS_STORAGE_BUCKET_NAME,
        Key=key,
        Body=data,
        ContentType=content_type,
        CacheControl="private, max-age=31536000, immutable",
    )


def read_object(key: str) -> bytes:
    """The stored bytes under a key in the media bucket."""
    answer = shared_s3_client().get_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key)
    return answer["Body"].read()


def open_object(key: str):
    """The stored object under a key as a stream (botocore's StreamingBody: iter_chunks,
    close), for reading an original without holding it whole."""
    answer = shared_s3_client().get_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key)
    return answer["Body"]


def delete_object(key: str) -> None:
    shared_s3_client().delete_object(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Key=key)


def ensure_bucket() -> bool:
    """Create the private media bucket when missing; True when it was created."""
    client = s3_client()
    bucket = settings.AWS_STORAGE_BUCKET_NAME
    try:
        client.head_bucket(Bucket=bucket)
        return False
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    client.create_bucket(Bucket=bucket)
    return True


def original_key(sha256: str, extension: str) -> str:
    """Content-addressed key of a stored original: the same bytes land on the same key."""
    return f"originals/{sha256[:2]}/{sha256}.{extension}"


def thumbnail_key(sha256: str) -> str:
    return f"thumbnails/{sha256[:2]}/{sha256}.webp"


_signed_lock = threading.Lock()
_signed: OrderedDict[tuple, str] = OrderedDict()
SIGNED_URL_CACHE_SIZE = 50_000


def presigned_url(key: str, *, expires: int | None = None, download_name: str | None = None) -> str:
    """A time-limited GET URL for a private object, for the endpoint browsers reach
    (AWS_S3_PUBLIC_ENDPOINT_URL); `download_name` makes the browser save it as that file."""
    params = {}
    if download_name:
        params["response-content-disposition"] = attachment_disposition(download_name)
    return signed_get_url(key, params=params, expires=expires)


def signed_get_url(
    key: str, *, params: dict[str, str] | None = None, expires: int | None = None
) -> str:
    """Presign a GET for the public endpoint, signed at the start of the current time window:
    every render within a window hands out the same URL, so browsers reuse their cached copy
    of an (immutable) object, and the URL still lives between 3/4 and all of `expires`."""
    lifetime = int(expires or settings.AWS_QUERYSTRING_EXPIRE)
    window = max(1, lifetime // 4)
    window_start = int(time.time()) // window * window
    endpoint = settings.AWS_S3_PUBLIC_ENDPOINT_URL.rstrip("/")
    path = f"/{quote(settings.AWS_STORAGE_BUCKET_NAME)}/{quote(key, safe='/~')}"
    query = f"?{urlencode(sorted(params.items()), quote_via=quote)}" if params else ""
    url = f"{endpoint}{path}{query}"
    # The same inputs in the same window sign to the same URL: signing (~0.5 ms) 48 tiles
    # a page was a third of the gallery's render time, so keep what was signed.
    cache_key = (url, lifetime, window_start, settings.AWS_ACCESS_KEY_ID)
    with _signed_lock:
        cached = _signed.get(cache_key)
        if cached is not None:
            _signed.move_to_end(cache_key)
            return cached
    request = AWSRequest(method="GET", url=url)
    _WindowedQueryAuth(
        Credentials(settings.AWS_ACCESS_KEY_ID, settings.AWS_SECRET_ACCESS_KEY),
        settings.AWS_S3_REGION_NAME,
        expires=lifetime,
        signed_at=datetime.fromtimestamp(window_start, tz=UTC),
    ).add_auth(request)
    signed = request.prepare().url
    with _signed_lock:
        _signed[cache_key] = signed
        if len(_signed) > SIGNED_URL_CACHE_SIZE:
            _signed.popitem(last=False)
    return signed


class _WindowedQueryAuth(S3SigV4QueryAuth):
    """SigV4 query signing at a given instant instead of now (botocore always uses now)."""

    def __init__(self, credentials, region: str, *, expires: int, signed_at: datetime) -> None:
        super().__init__(credentials, "s3", region, expires=expires)
        self._signed_at = signed_at

    def add_auth(self, request) -> None:
        request.context["timestamp"] = self._signed_at.strftime(SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        canonical_request = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical_request)
        self._inject_signature_to_request(request, self.signature(string_to_sign, request))


def attachment_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266)."""
    stem, dot, extension = filename.rpartition(".")
    if not dot:
        stem, extension = filename, ""
    ascii_stem = slugify(stem) or "image"
    fallback = f"{ascii_stem}.{slugify(extension)}" if extension else ascii_stem
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class MediaStorage(S3Storage):
    """django-storages' S3 storage whose URLs are signed for the public endpoint, so even
    `default_storage.url(key)` names a host the browser can reach."""

    def url(self, name, parameters=None, expire=None, http_method=None):
        if http_method not in (None, "GET", "get_object"):
            return super().url(name, parameters=parameters, expire=expire, http_method=http_method)
        params = {}
        for param, value in (parameters or {}).items():
            params[_QUERY_NAMES.get(param, param)] = value
        return signed_get_url(self._normalize_name(name), params=params, expires=expire)


# boto3's get_object parameter names and the query keys S3 reads them from.
_QUERY_NAMES = {
    "ResponseContentDisposition": "response-content-disposition",
    "ResponseContentType": "response-content-type",
    "ResponseCacheControl": "response-cache-control",
}
