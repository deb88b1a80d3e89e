"""S3 storage: content-addressed keys, presigned URLs and the bucket itself."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from http.client import HTTPException
from urllib.parse import quote, urlencode, urlsplit

import boto3
import certifi
import urllib3
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


CACHE_CONTROL = "private, max-age=31536000, immutable"
MAX_KEY_BYTES = 1024  # S3's limit on a key's UTF-8 length
POOL_SIZE = 64  # the worker uploads ~50 objects at once
ERROR_BODY_LIMIT = 16 * 1024  # S3's error XML is a few hundred bytes


class StorageError(Exception):
    """Storing an object failed. `status` is the HTTP status (None when S3 never answered);
    `code` is S3's error code from its answer (`SignatureDoesNotMatch`, `NoSuchBucket`...),
    or `unreachable`, `timeout` or `http_error` when it gave none."""

    def __init__(self, message: str, *, code: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code, self.status = code, status


def put_object(key: str, data: bytes, content_type: str, *, sha256: str | None = None) -> None:
    """Store bytes under a key in the media bucket, immutable and private: one SigV4-signed
    PUT over a pooled connection (botocore's hooks and validation cost more than the upload).
    `sha256` is the hex digest of `data` when the caller already has it; S3 checks the bytes
    against it either way. Raises StorageError; a dropped connection is retried once."""
    if not isinstance(data, bytes):
        raise TypeError(f"put_object stores bytes, not {type(data).__name__}")
    _check_key(key)
    if not content_type or not _HEADER_VALUE.fullmatch(content_type):
        raise ValueError("content_type must be printable ASCII")
    if sha256 is None:
        sha256 = hashlib.sha256(data).hexdigest()
    elif not _SHA256_HEX.fullmatch(sha256):
        raise ValueError("sha256 must be 64 lowercase hex digits")
    endpoint = settings.AWS_S3_ENDPOINT_URL
    pool, host, base_path = _pool_for(endpoint)
    path = f"{base_path}/{quote(settings.AWS_STORAGE_BUCKET_NAME)}/{quote(key, safe='/~')}"
    headers = sigv4_put_headers(
        path=path,
        host=host,
        content_type=content_type,
        payload_sha256=sha256,
        amz_date=time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        access_key=settings.AWS_ACCESS_KEY_ID,
        secret_key=settings.AWS_SECRET_ACCESS_KEY,
        region=settings.AWS_S3_REGION_NAME,
    )
    timeout = _timeout(settings.AWS_S3_CONNECT_TIMEOUT, settings.AWS_S3_READ_TIMEOUT)
    for attempt in (1, 2):
        try:
            response = pool.urlopen(
                "PUT",
                path,
                body=data,
                headers=headers,
                retries=False,
                redirect=False,
                timeout=timeout,
                preload_content=False,
                assert_same_host=False,
            )
            break
        except urllib3.exceptions.ReadTimeoutError as exc:  # it may be storing: do not resend
            raise StorageError(f"S3 timed out storing {key}", code="timeout") from exc
        except (urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.ProtocolError) as exc:
            # Refused, reset, or a kept-alive connection the server had closed: the PUT of
            # content-addressed bytes is idempotent, so one more try is safe.
            if attempt == 2:
                raise StorageError(f"S3 unreachable storing {key}", code="unreachable") from exc
        except (urllib3.exceptions.HTTPError, HTTPException, OSError) as exc:
            raise StorageError(f"S3 unreachable storing {key}", code="unreachable") from exc
    _check_answer(response, key)


def sigv4_put_headers(
    *,
    path: str,
    host: str,
    content_type: str,
    payload_sha256: str,
    amz_date: str,
    access_key: str,
    secret_key: str,
    region: str,
    cache_control: str = CACHE_CONTROL,
) -> dict[str, str]:
    """The headers of an S3 PUT signed with AWS SigV4 (header auth) at `amz_date`
    (YYYYMMDDTHHMMSSZ); `path` is already URI-encoded, as it goes on the request line.

    The digest goes twice: in x-amz-content-sha256, which SigV4 signs but SeaweedFS does not
    check against the body, and in x-amz-checksum-sha256, which both it and S3 do."""
    checksum = base64.b64encode(bytes.fromhex(payload_sha256)).decode()
    signed = {
        "cache-control": " ".join(cache_control.split()),
        "content-type": " ".join(content_type.split()),
        "host": host,
        "x-amz-checksum-sha256": checksum,
        "x-amz-content-sha256": payload_sha256,
        "x-amz-date": amz_date,
    }
    names = ";".join(signed)  # already in sorted order
    canonical = "\n".join(
        ["PUT", path, "", *(f"{name}:{value}" for name, value in signed.items()), "", names,
         payload_sha256]
    )  # fmt: skip
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _signing_key(secret_key, amz_date[:8], region)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "Host": host,
        "Content-Type": content_type,
        "Cache-Control": cache_control,
        "X-Amz-Date": amz_date,
        "X-Amz-Checksum-SHA256": checksum,
        "X-Amz-Content-SHA256": payload_sha256,
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
            f"SignedHeaders={names}, Signature={signature}"
        ),
    }


@functools.lru_cache(maxsize=8)
def _signing_key(secret_key: str, date: str, region: str) -> bytes:
    """SigV4's derived key changes once a day: four HMACs saved on every other PUT."""
    key = hmac.new(f"AWS4{secret_key}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


_HEADER_VALUE = re.compile(r"[\x20-\x7e]+")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_ERROR_CODE = re.compile(rb"<Code>\s*([A-Za-z0-9.]{1,64})\s*</Code>")


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not key:
        raise ValueError("an object key is a non-empty string")
    try:
        size = len(key.encode())
    except UnicodeEncodeError:
        raise ValueError("an object key must be valid UTF-8") from None
    if size > MAX_KEY_BYTES:
        raise ValueError(f"an object key is at most {MAX_KEY_BYTES} bytes of UTF-8")
    if any(segment in (".", "..") for segment in key.split("/")):
        # HTTP servers resolve dot segments in a path, which would change what was signed.
        raise ValueError("an object key has no '.' or '..' segment")


def _check_answer(response, key: str) -> None:
    """Raise StorageError for a non-2xx answer, and hand the connection back to the pool."""
    try:
        body = response.read(ERROR_BODY_LIMIT + 1)
    except (urllib3.exceptions.HTTPError, HTTPException, OSError):
        body, ok_to_reuse = b"", False
    else:
        ok_to_reuse = len(body) <= ERROR_BODY_LIMIT
    if not ok_to_reuse:
        response.close()  # unread bytes would corrupt the next answer on this connection
    response.release_conn()
    if 200 <= response.status < 300:
        return
    found = _ERROR_CODE.search(body[:ERROR_BODY_LIMIT])
    code = found.group(1).decode() if found else "http_error"
    raise StorageError(
        f"S3 answered {response.status} {code} storing {key}", code=code, status=response.status
    )


_pools_lock = threading.Lock()
_pools: dict[str, tuple[urllib3.HTTPConnectionPool, str, str]] = {}


def _pool_for(endpoint: str) -> tuple[urllib3.HTTPConnectionPool, str, str]:
    """The connection pool for an endpoint URL, its Host header and its path prefix."""
    found = _pools.get(endpoint)
    if found is not None:
        return found
    with _pools_lock:
        if endpoint not in _pools:
            parts = urlsplit(endpoint)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise StorageError("AWS_S3_ENDPOINT_URL is not an http(s) URL", code="unreachable")
            default_port = 443 if parts.scheme == "https" else 80
            port = parts.port or default_port
            host = parts.hostname if port == default_port else f"{parts.hostname}:{port}"
            if ":" in parts.hostname:  # an IPv6 literal keeps its brackets in Host
                host = f"[{parts.hostname}]" + ("" if port == default_port else f":{port}")
            options = {"maxsize": POOL_SIZE, "block": False, "retries": False}
            if parts.scheme == "https":
                pool = urllib3.HTTPSConnectionPool(
                    parts.hostname, port, cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(),
                    **options,
                )  # fmt: skip
            else:
                pool = urllib3.HTTPConnectionPool(parts.hostname, port, **options)
            _pools[endpoint] = (pool, host, parts.path.rstrip("/"))
        return _pools[endpoint]


@functools.lru_cache(maxsize=8)
def _timeout(connect: float, read: float) -> urllib3.Timeout:
    return urllib3.Timeout(connect=connect, read=read)


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
