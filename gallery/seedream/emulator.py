"""A stand-in for the Seedream images API: same request, response and error contract, real
JPEGs, signed expiring image links, and test controls for counting and injecting faults.

An ASGI app (Starlette under uvicorn): waiting is `asyncio.sleep`, image work runs in a
thread, so hundreds of slow requests do not pile up. Image links carry their parameters,
signed, and the image is drawn again on demand, so the emulator keeps no images in memory
beyond a small cache. Imports no Django.
"""

from __future__ import annotations

import asyncio
import base64
import colorsys
import functools
import hashlib
import hmac
import io
import json
import random
import secrets
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gallery.seedream import contract

UNSUPPORTED_FIELDS = (
    "image",
    "stream",
    "optimize_prompt",
    "sequential_image_generation",
    "sequential_image_generation_options",
    "output_format",
)
FAULT_KINDS = (
    "error",
    "latency",
    "malformed_body",
    "no_data",
    "error_in_200",
    "url_404",
    "url_html",
    "url_truncated",
    "url_wrong_size",
)
URL_KINDS = ("url_404", "url_html", "url_truncated", "url_wrong_size")
JPEG_QUALITY = 88
GRAIN_TILE = 256
GRAIN_STRENGTH = 0.045


@dataclass(frozen=True)
class EmulatorConfig:
    keys: tuple[str, ...]
    signing_secret: bytes
    latency_s: float = 0.0
    url_ttl_s: int = contract.PROVIDER_URL_LIFETIME_S
    public_url: str = ""
    models: tuple[str, ...] = (contract.DEFAULT_MODEL,)


@dataclass
class Fault:
    count: int
    status: int
    kind: str
    code: str = ""
    latency_s: float = 0.0


@dataclass
class State:
    requests: int = 0
    images: int = 0
    by_status: Counter = field(default_factory=Counter)
    by_code: Counter = field(default_factory=Counter)
    faults: list[Fault] = field(default_factory=list)

    def next_fault(self) -> Fault | None:
        if not self.faults:
            return None
        fault = self.faults[0]
        fault.count -= 1
        if fault.count <= 0:
            self.faults.pop(0)
        return fault


# --- Images -------------------------------------------------------------------------


@dataclass(frozen=True)
class Picture:
    prompt: str
    seed: int
    width: int
    height: int
    guidance: float
    watermark: bool


def render_jpeg(picture: Picture) -> bytes:
    """A pleasant, deterministic JPEG: soft colour fields seeded from the request's hash."""
    digest = hashlib.sha256(
        # Not the watermark: the mark is stamped on the same picture.
        f"{picture.prompt}|{picture.seed}|{picture.width}x{picture.height}|{picture.guidance:g}".encode()
    ).digest()
    rng = random.Random(digest)
    # Draw small and scale up: the blur makes the upscale smooth and keeps this cheap.
    small_w, small_h = _small_canvas(picture.width, picture.height)
    top, bottom = _palette_color(rng), _palette_color(rng)
    canvas = Image.composite(
        Image.new("RGB", (small_w, small_h), bottom),
        Image.new("RGB", (small_w, small_h), top),
        Image.linear_gradient("L").resize((small_w, small_h)),
    )
    draw = ImageDraw.Draw(canvas, "RGBA")
    for _ in range(rng.randint(5, 9)):
        cx, cy = rng.uniform(0, small_w), rng.uniform(0, small_h)
        radius = rng.uniform(0.1, 0.45) * min(small_w, small_h)
        draw.ellipse(
            (cx - radius, cy - radius, cx + radius, cy + radius),
            fill=(*_palette_color(rng), rng.randint(70, 160)),
        )
    canvas = canvas.filter(ImageFilter.GaussianBlur(radius=min(small_w, small_h) / 18))
    # Smooth to half size, then double: the grain on top hides the doubling, and it costs a
    # third of one smooth resize to full size.
    half = canvas.resize((picture.width // 2, picture.height // 2), Image.Resampling.BILINEAR)
    image = half.resize((picture.width, picture.height), Image.Resampling.NEAREST)
    image = Image.blend(image, _grain_layer(image.size), GRAIN_STRENGTH)
    _caption(image, picture.prompt)
    if picture.watermark:
        _watermark(image)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


@functools.lru_cache(maxsize=8)
def _grain_layer(size: tuple[int, int]) -> Image.Image:
    """Fine film grain, one layer per size: it gives the JPEG a real photo's weight (~150 KB
    at 1024x1024, like the provider's). Fixed noise, so every image stays deterministic."""
    rng = random.Random(size[0] * 100_003 + size[1])
    tile = Image.frombytes("L", (GRAIN_TILE, GRAIN_TILE), rng.randbytes(GRAIN_TILE**2))
    tile = tile.convert("RGB")
    layer = Image.new("RGB", size)
    for x in range(0, size[0], GRAIN_TILE):
        for y in range(0, size[1], GRAIN_TILE):
            layer.paste(tile, (x, y))
    return layer


def _small_canvas(width: int, height: int) -> tuple[int, int]:
    scale = 128 / max(width, height)
    return max(8, round(width * scale)), max(8, round(height * scale))


def _palette_color(rng: random.Random) -> tuple[int, int, int]:
    r, g, b = colorsys.hls_to_rgb(rng.random(), rng.uniform(0.45, 0.75), rng.uniform(0.4, 0.8))
    return int(r * 255), int(g * 255), int(b * 255)


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _caption(image: Image.Image, prompt: str) -> None:
    words = " ".join(prompt.split()[:6])[:48]
    size = max(12, image.width // 48)
    draw = ImageDraw.Draw(image, "RGBA")
    draw.text((size, size), words, font=_font(size), fill=(255, 255, 255, 210))


def _watermark(image: Image.Image) -> None:
    size = max(14, image.width // 32)
    draw = ImageDraw.Draw(image, "RGBA")
    text = "AI generated"
    left, top, right, bottom = draw.textbbox((0, 0), text, font=_font(size))
    pad = size // 2
    x = image.width - (right - left) - 2 * pad
    y = image.height - (bottom - top) - 2 * pad
    draw.rectangle((x - pad, y - pad, image.width, image.height), fill=(0, 0, 0, 140))
    draw.text((x, y - top), text, font=_font(size), fill=(255, 255, 255, 235))


class ImageCache:
    """The last images drawn (about 40 MB at most), so the client's GET right after the answer
    costs nothing to draw again."""

    def __init__(self, size: int = 256) -> None:
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, picture: Picture) -> bytes:
        with self.lock:
            data = self.items.get(picture)
            if data is not None:
                self.items.move_to_end(picture)
                return data
        data = render_jpeg(picture)  # outside the lock: draws run in parallel threads
        with self.lock:
            self.items[picture] = data
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return data


# --- Signed links ---------------------------------------------------------------------


def sign_token(secret: bytes, payload: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(
        b"="
    )
    signature = hmac.new(secret, body, hashlib.sha256).hexdigest()[:32]
    return f"{body.decode()}.{signature}"


def read_token(secret: bytes, token: str) -> dict[str, Any] | None:
    body, _, signature = token.rpartition(".")
    expected = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()[:32]
    if not body or not hmac.compare_digest(signature, expected):
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None


# --- The app --------------------------------------------------------------------------


def create_app(config: EmulatorConfig) -> Starlette:
    """The emulator as an ASGI app."""
    if not config.keys:
        raise ValueError("the emulator needs at least one API key")
    state = State()
    cache = ImageCache()

    async def generations(request: Request) -> Response:
        state.requests += 1
        request_id = f"{time.strftime('%Y%m%d%H%M%S')}{secrets.token_hex(10)}"
        response = await _generate(request, request_id)
        response.headers[contract.REQUEST_ID_HEADER] = request_id
        state.by_status[str(response.status_code)] += 1
        return response

    async def _generate(request: Request, request_id: str) -> Response:
        fault = state.next_fault()
        delay = config.latency_s + (fault.latency_s if fault else 0.0)
        problem = _check_request(request, await request.body(), config)
        if isinstance(problem, Response) or (fault and fault.kind not in ("latency", *URL_KINDS)):
            await asyncio.sleep(delay)
            if isinstance(problem, Response):
                return _counted(problem, request_id)
            return _fault_response(fault, request_id)
        params: contract.GenerationParams = problem
        seed = params.seed if params.seed is not None and params.seed >= 0 else _random_seed()
        width, height = params.dimensions
        picture = Picture(
            params.prompt,
            seed,
            width,
            height,
            params.guidance_scale if params.guidance_scale is not None else 2.5,
            bool(params.watermark),
        )
        kind = fault.kind if fault and fault.kind in URL_KINDS else ""
        if params.response_format == "b64_json":
            drawn, _ = await asyncio.gather(
                run_in_threadpool(cache.get, picture), asyncio.sleep(delay)
            )
            item = {"b64_json": base64.b64encode(drawn).decode()}
        else:
            # The link carries the picture; it is drawn when fetched, so answering costs nothing.
            await asyncio.sleep(delay)
            item = {"url": _image_url(request, picture, kind)}
        state.images += 1
        return JSONResponse(
            {
                "model": params.model,
                "created": int(time.time()),
                "data": [item],
                "usage": {"generated_images": 1},
            }
        )

    def _image_url(request: Request, picture: Picture, kind: str) -> str:
        payload = {
            "p": picture.prompt,
            "s": picture.seed,
            "w": picture.width,
            "h": picture.height,
            "g": picture.guidance,
            "m": picture.watermark,
            "x": int(time.time()) + config.url_ttl_s,
        }
        if kind:
            payload["k"] = kind
        token = sign_token(config.signing_secret, payload)
        base = config.public_url.rstrip("/") or str(request.base_url).rstrip("/")
        return f"{base}/_emulator/images/{token}.jpeg?X-Expires={config.url_ttl_s}"

    async def image(request: Request) -> Response:
        token = request.path_params["token"].removesuffix(".jpeg")
        payload = read_token(config.signing_secret, token)
        if payload is None:
            return _storage_error(403, "SignatureDoesNotMatch", "The request signature is invalid.")
        if payload["x"] < time.time():
            return _storage_error(403, "AccessDenied", "Request has expired.")
        kind = payload.get("k", "")
        if kind == "url_404":
            return _storage_error(404, "NoSuchKey", "The specified key does not exist.")
        if kind == "url_html":
            return Response("<html><body><h1>Welcome</h1></body></html>", media_type="text/html")
        picture = Picture(
            payload["p"], payload["s"], payload["w"], payload["h"], payload["g"], payload["m"]
        )
        if kind == "url_wrong_size":
            picture = Picture(picture.prompt, picture.seed, picture.width // 2, picture.height // 2,
                              picture.guidance, picture.watermark)  # fmt: skip
        data = await run_in_threadpool(cache.get, picture)
        if kind == "url_truncated":
            data = data[: len(data) // 2]
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private"})

    async def stats(request: Request) -> Response:
        return JSONResponse(
            {
                "requests": state.requests,
                "images": state.images,
                "by_status": dict(state.by_status),
                "by_code": dict(state.by_code),
                "faults_pending": sum(f.count for f in state.faults),
            }
        )

    async def faults(request: Request) -> Response:
        try:
            spec = json.loads(await request.body())
            state.faults.append(_parse_fault(spec))
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"pending": sum(f.count for f in state.faults)})

    async def reset(request: Request) -> Response:
        state.__init__()
        return JSONResponse({"reset": True})

    def _counted(response: Response, request_id: str) -> Response:
        code = json.loads(response.body)["error"]["code"]
        state.by_code[code] += 1
        return response

    def _fault_response(fault: Fault, request_id: str) -> Response:
        if fault.kind == "malformed_body":
            return Response("<html>502 Bad Gateway</html>", status_code=fault.status or 200,
                            media_type="application/json")  # fmt: skip
        if fault.kind == "no_data":
            body = {"model": contract.DEFAULT_MODEL, "created": int(time.time()), "data": [],
                    "usage": {"generated_images": 0}}  # fmt: skip
            return JSONResponse(body, status_code=fault.status or 200)
        code = fault.code or _default_code(fault.status)
        body = contract.error_body(code, f"Injected fault {code}.", request_id=request_id)
        status = 200 if fault.kind == "error_in_200" else fault.status
        state.by_code[code] += 1
        return JSONResponse(body, status_code=status)

    routes = [
        Route("/v1/images/generations", generations, methods=["POST"]),
        Route("/api/v3/images/generations", generations, methods=["POST"]),
        Route("/_emulator/images/{token}", image, methods=["GET"]),
        Route("/_emulator/stats", stats, methods=["GET"]),
        Route("/_emulator/faults", faults, methods=["POST"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
    ]
    return Starlette(routes=routes)


def _check_request(
    request: Request, raw: bytes, config: EmulatorConfig
) -> contract.GenerationParams | Response:
    """The provider's checks in its order: key, content type, JSON, then each field."""
    auth = request.headers.get("authorization", "")
    scheme, _, key = auth.partition(" ")
    if scheme.lower() != "bearer" or key.strip() not in config.keys:
        return _error("AuthenticationError", "The API key in the request is missing or invalid.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return _error("InvalidParameter", "Content-Type must be application/json.", "body")
    try:
        body = json.loads(raw)
    except ValueError:
        return _error("InvalidParameter", "The request body is not valid JSON.", "body")
    if not isinstance(body, dict):
        return _error("InvalidParameter", "The request body must be a JSON object.", "body")
    for name in UNSUPPORTED_FIELDS:
        if body.get(name) is not None:
            return _error(
                "InvalidParameter", f"The parameter {name} is not supported by this model.", name
            )
    try:
        params = contract.params_from_body(body, product=False)
    except contract.ParameterError as exc:
        return _error(
            exc.code,
            f"The parameter `{exc.param}` specified in the request is not valid: {exc.message}",
            exc.param,
        )
    if params.model not in config.models:
        return _error(
            "InvalidEndpointOrModel",
            f"The model {params.model[:80]} does not exist or you do not have access to it.",
        )
    return params


def _error(code: str, message: str, param: str = "") -> JSONResponse:
    status = contract.PROVIDER_CODE_STATUS.get(code, 400)
    return JSONResponse(contract.error_body(code, message, param=param), status_code=status)


def _storage_error(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(body, status_code=status, media_type="application/xml")


def _default_code(status: int) -> str:
    for code, code_status in contract.PROVIDER_CODE_STATUS.items():
        if code_status == status:
            return code
    return "InternalServiceError"


def _random_seed() -> int:
    return secrets.randbelow(contract.SEED_MAX + 1)


def _parse_fault(spec: Any) -> Fault:
    if not isinstance(spec, dict):
        raise ValueError("a fault is a JSON object")
    count, status = spec.get("count", 1), spec.get("status", 500)
    kind = spec.get("kind") or ("error" if status >= 400 else "")
    latency = spec.get("latency_s", 0.0) or 0.0
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100_000:
        raise ValueError("count must be an integer from 1 to 100000")
    if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
        raise ValueError("status must be an HTTP status from 200 to 599")
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)} (status 200 needs a kind)")
    if kind == "error" and status < 400:
        raise ValueError("an error fault needs a status of 400 or more")
    if not isinstance(latency, int | float) or not 0 <= latency <= 120:
        raise ValueError("latency_s must be a number from 0 to 120")
    code = spec.get("code") or ""
    if not isinstance(code, str) or len(code) > 120:
        raise ValueError("code must be a string")
    return Fault(count=count, status=status, kind=kind, code=code, latency_s=float(latency))
