"""A stand-in for the Seedream images API: the same request, response and error contract, real
JPEGs, signed expiring image links, and test controls for counting and injecting faults.

An ASGI app (Starlette under uvicorn): waiting is `asyncio.sleep` and drawing runs in a
thread, so hundreds of slow requests do not pile up. Image links carry their parameters,
signed, and the image is drawn on demand, so the emulator keeps no images beyond a small
cache. Imports no Django.
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
import math
import os
import random
import re
import secrets
import socket
import struct
import threading
import time
from collections import Counter, OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import uvicorn
from PIL import Image, ImageDraw, ImageFont
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from gallery.seedream import contract

# Faults that answer in place of the model, whatever the request holds.
ANSWER_KINDS = ("error", "malformed_body", "no_data", "error_in_200", "reset")
# Faults that answer a valid url-format request with a success whose link is broken.
URL_KINDS = ("url_404", "url_html", "url_truncated", "url_wrong_size")
FAULT_KINDS = (*ANSWER_KINDS, "latency", *URL_KINDS)
FAULT_FIELDS = ("count", "status", "code", "latency_s", "kind")
MAX_FAULT_COUNT = 100_000
MAX_FAULT_LATENCY_S = 120.0
_CODE_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)*")

JPEG_QUALITY = 88
GRAIN_TILE = 256
GRAIN_STRENGTH = 0.045
IMAGE_CACHE_SIZE = 256  # about 40 MB of 1024x1024 JPEGs: a few waves of answers
DRAW_AHEAD_THREADS = 2  # one per core here; answers never wait for these draws
IMAGE_PATH = "/_emulator/images/"
TRANSPORT_STATE_KEY = "emulator_transport"


@dataclass(frozen=True)
class EmulatorConfig:
    """What one emulator accepts and how it answers."""

    keys: tuple[str, ...]
    signing_secret: bytes
    latency_s: float = 0.0
    url_ttl_s: int = contract.PROVIDER_URL_LIFETIME_S
    public_url: str = ""
    models: tuple[str, ...] = (contract.DEFAULT_MODEL,)
    ipm: int = 0  # images per minute over a sliding window, as the account limit; 0: none


IPM_WINDOW_S = 60.0
IPM_CODE = "ModelAccountIpmRateLimitExceeded"


# --- Faults and counters ------------------------------------------------------------


@dataclass
class Fault:
    """How the next `count` generation requests answer."""

    count: int
    kind: str
    status: int
    code: str = ""
    latency_s: float = 0.0


def parse_fault(spec: Any) -> Fault:
    """A fault from its JSON spec; ValueError says what is wrong with it."""
    if not isinstance(spec, dict):
        raise ValueError('a fault is a JSON object, e.g. {"count": 1, "status": 429}')
    unknown = sorted(set(spec) - set(FAULT_FIELDS))
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}; a fault has {', '.join(FAULT_FIELDS)}")
    kind = spec.get("kind") or "error"
    if kind not in FAULT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}; got {kind!r}")
    count = spec.get("count", 1)
    if not _is_int(count) or not 1 <= count <= MAX_FAULT_COUNT:
        raise ValueError(f"count must be an integer from 1 to {MAX_FAULT_COUNT}")
    code = _fault_code(spec.get("code"))
    status = _fault_status(spec.get("status"), kind, code)
    if kind in ("error", "error_in_200") and not code:
        code = _code_for_status(status if kind == "error" else 500)
    latency = _fault_latency(spec.get("latency_s"), kind)
    return Fault(count=count, kind=kind, status=status, code=code, latency_s=latency)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fault_code(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) > 100 or not _CODE_RE.fullmatch(value):
        raise ValueError("code must be a provider code such as RateLimitExceeded")
    return value


def _fault_status(value: Any, kind: str, code: str) -> int:
    if value is None:
        return _status_for_code(code) if kind == "error" else 200
    if not _is_int(value) or not 200 <= value <= 599:
        raise ValueError("status must be an HTTP status from 200 to 599")
    if kind == "error" and value < 400:
        raise ValueError(
            f"an error fault needs a status of 400 or more; for a broken 200 answer give a "
            f"kind: {', '.join(k for k in FAULT_KINDS if k != 'error')}"
        )
    if kind not in ("error", "malformed_body") and value != 200:
        raise ValueError(f"kind {kind!r} takes no status but 200")
    return value


def _status_for_code(code: str) -> int:
    if not code:
        return 500
    status = contract.PROVIDER_CODE_STATUS.get(code.split(".")[0])
    if status is None:
        raise ValueError(f"code {code!r} is not one the provider sends: give its status too")
    return status


def _code_for_status(status: int) -> str:
    # MissingParameter comes first in the table, but a bare 400 is a generic refusal.
    if status == 400:
        return "InvalidParameter"
    for code, code_status in contract.PROVIDER_CODE_STATUS.items():
        if code_status == status:
            return code
    return "InternalServiceError" if status >= 500 else "InvalidParameter"


def _fault_latency(value: Any, kind: str) -> float:
    if value is None:
        value = 0.0
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError("latency_s must be a number of seconds")
    if not 0 <= value <= MAX_FAULT_LATENCY_S:
        raise ValueError(f"latency_s must be from 0 to {MAX_FAULT_LATENCY_S:g} seconds")
    if kind == "latency" and value <= 0:
        raise ValueError("kind 'latency' needs latency_s above 0")
    return float(value)


@dataclass
class State:
    """Counters for /_emulator/stats and the queue of pending faults."""

    requests: int = 0
    images: int = 0
    by_status: Counter = field(default_factory=Counter)
    by_code: Counter = field(default_factory=Counter)
    faults: list[Fault] = field(default_factory=list)
    # Arrival times (monotonic) of the images accepted in the last minute, oldest first.
    ipm_window: deque = field(default_factory=deque)

    def take_ipm(self, limit: int, now: float) -> float:
        """Count one image against the sliding one-minute window; 0 when it fits, else the
        seconds until the oldest image leaves the window (the image is not counted)."""
        window = self.ipm_window
        while window and window[0] <= now - IPM_WINDOW_S:
            window.popleft()
        if len(window) >= limit:
            return window[0] + IPM_WINDOW_S - now
        window.append(now)
        return 0.0

    def next_fault(self) -> Fault | None:
        if not self.faults:
            return None
        fault = self.faults[0]
        fault.count -= 1
        if fault.count <= 0:
            self.faults.pop(0)
        return fault

    def clear(self) -> None:
        self.requests = self.images = 0
        self.by_status.clear()
        self.by_code.clear()
        self.faults.clear()
        self.ipm_window.clear()

    def record(self, response: Response) -> None:
        self.by_status[str(response.status_code)] += 1
        if isinstance(response, ProviderError):
            self.by_code[response.code] += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "images": self.images,
            "by_status": dict(self.by_status),
            "by_code": dict(self.by_code),
            "faults_pending": sum(fault.count for fault in self.faults),
        }


# --- Images -------------------------------------------------------------------------


@dataclass(frozen=True)
class Picture:
    """Everything an image depends on: the same Picture always gives the same bytes."""

    prompt: str
    seed: int
    width: int
    height: int
    guidance: float
    watermark: bool


def render_jpeg(picture: Picture) -> bytes:
    """A cheap, deterministic picture of a scene chosen by the request's hash: a sky at some
    time of day, a sun or moon, layered hills or sea, a few small things, and the prompt's
    first words set small in the top-left corner."""
    digest = hashlib.sha256(
        # Not the watermark: the mark is stamped on the same picture.
        f"{picture.prompt}|{picture.seed}|{picture.width}x{picture.height}|{picture.guidance:g}".encode()
    ).digest()
    rng = random.Random(digest)
    # Drawn at half size and doubled, the grain hiding the steps: drawing shapes holds the GIL
    # that the emulator's event loop needs; a quarter of the area holds it a quarter as long.
    half = _scene(rng, max(8, picture.width // 2), max(8, picture.height // 2))
    image = half.resize((picture.width, picture.height), Image.Resampling.NEAREST)
    image = Image.blend(image, _grain_layer(image.size), GRAIN_STRENGTH)
    _caption(image, picture.prompt)
    if picture.watermark:
        _watermark(image)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


@dataclass(frozen=True)
class _Light:
    """A time of day: the sky from top to horizon, the sun's colour, the land's far and near
    colours (hazy to dark), and whether it is night."""

    sky_top: tuple[int, int, int]
    sky_horizon: tuple[int, int, int]
    sun: tuple[int, int, int]
    far: tuple[int, int, int]
    near: tuple[int, int, int]
    night: bool = False


_LIGHTS = (
    _Light((74, 136, 214), (190, 222, 245), (255, 244, 200), (150, 184, 200), (46, 96, 62)),
    _Light((52, 58, 128), (250, 160, 110), (255, 120, 80), (160, 110, 140), (48, 36, 66)),
    _Light((255, 172, 128), (255, 226, 170), (255, 250, 220), (214, 160, 150), (96, 62, 70)),
    _Light((12, 18, 48), (44, 64, 112), (236, 236, 220), (26, 34, 66), (10, 14, 28), True),
    _Light((120, 170, 190), (226, 232, 220), (255, 255, 240), (170, 190, 180), (70, 100, 90)),
)


def _scene(rng: random.Random, width: int, height: int) -> Image.Image:
    light = _shifted(rng.choice(_LIGHTS), rng.uniform(-0.06, 0.06))
    horizon = int(height * rng.uniform(0.5, 0.68))
    image = _vertical_gradient(width, height, light.sky_top, light.sky_horizon, horizon)
    # Opaque shapes draw straight; only see-through ones pay for blending.
    draw, glaze = ImageDraw.Draw(image), ImageDraw.Draw(image, "RGBA")
    unit = min(width, height)
    if light.night:
        for _ in range(rng.randint(40, 90)):
            x, y, r = rng.uniform(0, width), rng.uniform(0, horizon * 0.9), unit * 0.002
            glaze.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 240, rng.randint(120, 255)))
    _sun(draw, glaze, rng, light, width, horizon, unit)
    if not light.night:
        for _ in range(rng.randint(1, 4)):
            _cloud(glaze, rng, width, horizon, unit)
    if rng.random() < 0.35:
        _sea(draw, glaze, rng, light, width, height, horizon, unit)
    else:
        _hills(draw, rng, light, width, height, horizon, unit)
    if not light.night:
        for _ in range(rng.randint(0, 5)):
            _bird(glaze, rng, width, horizon, unit)
    return image


def _vertical_gradient(width, height, top, bottom, until: int) -> Image.Image:
    """`top` to `bottom` down to row `until`, then `bottom`, in 96 bands: filling rectangles
    costs less than any per-pixel gradient, and the grain hides the steps."""
    image = Image.new("RGB", (width, height), bottom)
    draw = ImageDraw.Draw(image)
    steps = 96
    for i in range(steps):
        band = (0, until * i // steps, width, until * (i + 1) // steps)
        draw.rectangle(band, fill=_mix(top, bottom, i / steps))
    return image


def _sun(draw, glaze, rng, light: _Light, width: int, horizon: int, unit: int) -> None:
    x = rng.uniform(0.15, 0.85) * width
    y = horizon * rng.uniform(0.25, 0.8)
    r = unit * rng.uniform(0.05, 0.09)
    for grow, alpha in ((2.6, 30), (1.6, 60)):  # the glow, faint to bright
        g = r * grow
        glaze.ellipse((x - g, y - g, x + g, y + g), fill=(*light.sun, alpha))
    draw.ellipse((x - r, y - r, x + r, y + r), fill=light.sun)
    if light.night:  # a crescent: the sky's colour bites into the moon
        d = r * 0.45
        draw.ellipse((x - r + d, y - r - d * 0.4, x + r + d, y + r - d * 0.4),
                     fill=light.sky_top)  # fmt: skip


def _cloud(draw, rng, width: int, horizon: int, unit: int) -> None:
    x, y = rng.uniform(-0.1, 1.0) * width, rng.uniform(0.08, 0.55) * horizon
    size = unit * rng.uniform(0.04, 0.08)
    for _ in range(rng.randint(3, 6)):
        dx, dy = rng.uniform(0, size * 3), rng.uniform(-size * 0.4, size * 0.4)
        r = size * rng.uniform(0.7, 1.3)
        draw.ellipse((x + dx - r * 1.6, y + dy - r, x + dx + r * 1.6, y + dy + r),
                     fill=(255, 255, 255, 150))  # fmt: skip


def _hills(draw, rng, light: _Light, width, height, horizon: int, unit: int) -> None:
    layers = rng.randint(3, 4)
    step = max(1, width // 32)
    for i in range(layers):
        depth = i / max(1, layers - 1)  # 0 far, 1 near
        base = horizon + (height - horizon) * depth * 0.55
        amplitude = unit * rng.uniform(0.04, 0.12) * (1.4 - depth * 0.6)
        waves = [
            (rng.uniform(0.6, 3.5), rng.uniform(0, 6.3), rng.uniform(0.3, 1.0)) for _ in range(3)
        ]
        ridge = []
        for x in range(0, width + step, step):
            t = x / width * 6.283
            y = base - amplitude * sum(a * math.sin(f * t + p) for f, p, a in waves) / 1.6
            ridge.append((x, y))
        color = _mix(light.far, light.near, depth)
        draw.polygon([*ridge, (width, height), (0, height)], fill=color)
        if i == layers - 1 and not light.night:
            for _ in range(rng.randint(3, 12)):
                x, y = rng.choice(ridge[1:-1])
                _tree(draw, rng, x, y + unit * 0.02, unit, _mix(light.near, (0, 0, 0), 0.35))


def _tree(draw, rng, x: float, y: float, unit: int, color) -> None:
    h = unit * rng.uniform(0.04, 0.09)
    w = h * rng.uniform(0.3, 0.45)
    draw.polygon([(x, y - h), (x - w, y), (x + w, y)], fill=color)


def _sea(draw, glaze, rng, light: _Light, width, height, horizon: int, unit: int) -> None:
    water_far = _mix(light.sky_horizon, light.near, 0.35)
    water_near = _mix(light.near, (10, 40, 90), 0.5)
    rows = 24
    for i in range(rows):  # bands, lighter at the horizon
        top = horizon + (height - horizon) * (i / rows) ** 1.6
        bottom = horizon + (height - horizon) * ((i + 1) / rows) ** 1.6
        draw.rectangle((0, top, width, bottom + 1), fill=_mix(water_far, water_near, i / rows))
    for _ in range(rng.randint(12, 30)):  # wave crests
        y = horizon + (height - horizon) * rng.random() ** 1.5
        length = unit * rng.uniform(0.03, 0.12) * (1 + (y - horizon) / max(1, height - horizon))
        x = rng.uniform(0, width)
        glaze.line((x, y, x + length, y), fill=(255, 255, 255, 110), width=max(1, unit // 400))
    if rng.random() < 0.5:  # a far headland
        x0 = rng.uniform(-0.2, 0.6) * width
        w, h = rng.uniform(0.2, 0.5) * width, unit * rng.uniform(0.03, 0.07)
        draw.polygon([(x0, horizon + 1), (x0 + w * 0.3, horizon - h), (x0 + w * 0.7, horizon - h * 0.7),
                      (x0 + w, horizon + 1)], fill=light.far)  # fmt: skip


def _bird(draw, rng, width: int, horizon: int, unit: int) -> None:
    x, y = rng.uniform(0.1, 0.9) * width, rng.uniform(0.15, 0.7) * horizon
    s = unit * rng.uniform(0.008, 0.018)
    line = max(1, unit // 350)
    draw.line((x - s, y - s * 0.5, x, y, x + s, y - s * 0.5), fill=(30, 30, 40, 200), width=line)


def _shifted(light: _Light, hue: float) -> _Light:
    """The same light with every colour's hue turned a little, so no two scenes match."""

    def turn(rgb):
        h, lum, s = colorsys.rgb_to_hls(*(c / 255 for c in rgb))
        return tuple(int(c * 255) for c in colorsys.hls_to_rgb((h + hue) % 1.0, lum, s))

    return replace(light, **{name: turn(getattr(light, name))
                             for name in ("sky_top", "sky_horizon", "far", "near")})  # fmt: skip


def _mix(a, b, t: float) -> tuple[int, int, int]:
    return tuple(int(x + (y - x) * t) for x, y in zip(a, b, strict=True))


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


# Fonts with Chinese, Japanese and Korean glyphs, where Debian's packages put them
# (fonts-noto-cjk, fonts-wqy-microhei, fonts-wqy-zenhei, fonts-arphic-uming).
CJK_FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
_LATIN_END = 0x2B0  # Basic Latin to Latin Extended-B and IPA: what the default font draws


@functools.lru_cache(maxsize=1)
def cjk_font_path() -> str | None:
    return next((path for path in CJK_FONT_PATHS if os.path.exists(path)), None)


@functools.lru_cache(maxsize=32)
def _font(size: int, cjk: bool = False) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    if cjk and cjk_font_path():
        return ImageFont.truetype(cjk_font_path(), size)
    return ImageFont.load_default(size=size)


def caption_text(prompt: str, *, cjk_font: bool) -> str:
    """The prompt's first words for the corner. Without a CJK font, only the Latin letters are
    kept: a caption with boxes for every Chinese character looks broken."""
    if not cjk_font:
        prompt = "".join(ch if ord(ch) < _LATIN_END else " " for ch in prompt)
    words = " ".join(prompt.split()[:6])
    limit = 48 if all(ord(ch) < _LATIN_END for ch in words) else 18
    return words[:limit].strip(" ,.;:-")


def _caption(image: Image.Image, prompt: str) -> None:
    cjk = cjk_font_path() is not None
    words = caption_text(prompt, cjk_font=cjk)
    if not words:
        return
    size = max(12, image.width // 56)
    font = _font(size, cjk and any(ord(ch) >= _LATIN_END for ch in words))
    draw = ImageDraw.Draw(image, "RGBA")
    draw.text((size + 1, size + 1), words, font=font, fill=(0, 0, 0, 110))  # a soft shadow
    draw.text((size, size), words, font=font, fill=(255, 255, 255, 225))


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
    """The images drawn lately. Like the real service, which has stored the picture by the
    time it answers with a link, a `url` answer has its picture drawn during the wait
    (`prepare`), so fetching the link costs no drawing; a second fetch is free too."""

    def __init__(self, size: int = IMAGE_CACHE_SIZE, draw_threads: int = DRAW_AHEAD_THREADS):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()
        self.pending: dict[Picture, Future] = {}
        self.drawing = ThreadPoolExecutor(draw_threads, thread_name_prefix="emulator-draw")

    def prepare(self, picture: Picture) -> None:
        """Start drawing a picture in the background, unless it is drawn or on its way."""
        with self.lock:
            if picture in self.items or picture in self.pending:
                return
            self.pending[picture] = self.drawing.submit(self._draw, picture)

    def get(self, picture: Picture) -> bytes:
        with self.lock:
            data = self.items.get(picture)
            if data is not None:
                self.items.move_to_end(picture)
                return data
            future = self.pending.get(picture)
        if future is not None and not future.cancel():
            return future.result()  # being drawn already: wait for it rather than draw twice
        return self._draw(picture)  # outside the lock: draws run in parallel threads

    def _draw(self, picture: Picture) -> bytes:
        data = render_jpeg(picture)
        with self.lock:
            self.pending.pop(picture, None)
            self.items[picture] = data
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return data


# --- Signed links ---------------------------------------------------------------------


def sign_token(secret: bytes, payload: dict[str, Any]) -> str:
    """The payload as URL-safe text with an HMAC, so a link cannot be forged or altered."""
    encoded = json.dumps(payload, separators=(",", ":")).encode()
    body = base64.urlsafe_b64encode(encoded).rstrip(b"=")
    signature = hmac.new(secret, body, hashlib.sha256).hexdigest()[:32]
    return f"{body.decode()}.{signature}"


def read_token(secret: bytes, token: str) -> dict[str, Any] | None:
    """The payload of a token signed with this secret, or None for a forged or altered one."""
    body, _, signature = token.rpartition(".")
    expected = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()[:32]
    if not body or not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _link_payload(picture: Picture, kind: str, expires: int) -> dict[str, Any]:
    payload = {
        "p": picture.prompt,
        "s": picture.seed,
        "w": picture.width,
        "h": picture.height,
        "g": picture.guidance,
        "m": picture.watermark,
        "x": expires,
    }
    if kind:
        payload["k"] = kind
    return payload


def _picture_from_link(payload: dict[str, Any]) -> Picture:
    picture = Picture(
        payload["p"], payload["s"], payload["w"], payload["h"], payload["g"], payload["m"]
    )
    if payload.get("k") == "url_wrong_size":
        return replace(picture, width=picture.width // 2, height=picture.height // 2)
    return picture


# --- Responses ----------------------------------------------------------------------


class ProviderError(JSONResponse):
    """An error in the provider's JSON shape; it keeps its code for the stats."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        request_id: str,
        param: str = "",
        status: int | None = None,
    ) -> None:
        self.code = code
        if status is None:
            status = contract.PROVIDER_CODE_STATUS.get(code.split(".")[0], 400)
        body = contract.error_body(code, message, param=param, request_id=request_id)
        super().__init__(body, status_code=status)


def success_body(model: str, item: dict[str, str]) -> dict[str, Any]:
    return {
        "model": model,
        "created": int(time.time()),
        "data": [item],
        "usage": {"generated_images": 1},
    }


def fault_response(fault: Fault, request_id: str) -> Response:
    """The answer an injected fault gives in place of the model's."""
    if fault.kind == "malformed_body":
        # Labelled JSON but not JSON, as a proxy's error page sometimes is.
        return Response(
            "<html><body>502 Bad Gateway</body></html>",
            status_code=fault.status,
            media_type="application/json",
        )
    if fault.kind == "no_data":
        body = {"model": contract.DEFAULT_MODEL, "created": int(time.time()), "data": [],
                "usage": {"generated_images": 0}}  # fmt: skip
        return JSONResponse(body)
    message = f"{fault.code}: injected by the emulator's test controls."
    status = 200 if fault.kind == "error_in_200" else fault.status
    return ProviderError(fault.code, message, request_id=request_id, status=status)


def ipm_exceeded(limit: int, wait: float, request_id: str) -> Response:
    """The account's images-per-minute limit is reached: 429 at once, with when to retry."""
    message = (
        f"The request has exceeded the images per minute limit ({limit}) of this account "
        "for the model. Please retry later."
    )
    response = ProviderError(IPM_CODE, message, request_id=request_id, status=429)
    response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def storage_error(status: int, code: str, message: str) -> Response:
    """An error as object storage answers a bad link: XML, not the API's JSON."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return Response(body, status_code=status, media_type="application/xml")


# --- Request checks -----------------------------------------------------------------


def check_request(
    request: Request, raw: bytes, config: EmulatorConfig, request_id: str
) -> contract.GenerationParams | ProviderError:
    """The provider's checks in its order: key, content type, JSON, model, then each field."""
    if not _key_accepted(request.headers.get("authorization", ""), config.keys):
        return ProviderError(
            "AuthenticationError",
            "The API key in the request is missing or invalid.",
            request_id=request_id,
        )
    try:
        body = _json_object(request.headers.get("content-type", ""), raw)
        model = body.get("model")
        if isinstance(model, str) and model.strip() and model not in config.models:
            return ProviderError(
                "InvalidEndpointOrModel",
                f"The model or endpoint {model[:80]} does not exist or you do not have access "
                "to it.",
                request_id=request_id,
                param="model",
            )
        contract.refuse_unsupported(body)
        return contract.params_from_body(body, allowed_models=config.models, product=False)
    except contract.ParameterError as exc:
        return ProviderError(
            exc.code, _parameter_message(exc), request_id=request_id, param=exc.param
        )


def _key_accepted(header: str, keys: tuple[str, ...]) -> bool:
    scheme, _, key = header.partition(" ")
    given = key.strip().encode()
    return scheme.lower() == "bearer" and any(
        hmac.compare_digest(given, accepted.encode()) for accepted in keys
    )


def _json_object(content_type: str, raw: bytes) -> dict[str, Any]:
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise contract.ParameterError("body", "Content-Type must be application/json.")
    try:
        body = json.loads(raw)
    except ValueError as exc:  # UnicodeDecodeError included
        raise contract.ParameterError("body", "The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise contract.ParameterError("body", "The request body must be a JSON object.")
    return body


def _parameter_message(exc: contract.ParameterError) -> str:
    if exc.param == "body":
        return exc.message
    return f"The parameter `{exc.param}` specified in the request is not valid: {exc.message}"


def _picture_for(params: contract.GenerationParams) -> Picture:
    seed = params.seed if params.seed is not None and params.seed >= 0 else _random_seed()
    width, height = params.dimensions
    guidance = (
        params.guidance_scale if params.guidance_scale is not None else contract.GUIDANCE_DEFAULT
    )
    return Picture(params.prompt, seed, width, height, guidance, bool(params.watermark))


def _random_seed() -> int:
    return secrets.randbelow(contract.SEED_MAX + 1)


def new_request_id() -> str:
    """An id shaped like the provider's: a UTC timestamp and random hex."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(12)


async def drop_connection(request: Request) -> Response:
    """Close the connection without answering, with a TCP reset, as a crashed proxy does."""
    transport = request.scope["state"][TRANSPORT_STATE_KEY]
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger on, zero seconds: closing sends RST rather than FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # The server marks the request disconnected once the loss is processed; after that it
    # sends nothing, so the response below never leaves.
    await asyncio.wait_for(request.receive(), timeout=5)
    return Response(status_code=500)


# --- The app --------------------------------------------------------------------------


class RequestIdMiddleware:
    """Gives every request an id, as the provider does, and answers it in X-Request-Id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        header = (contract.REQUEST_ID_HEADER.lower().encode(), request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_app(config: EmulatorConfig) -> Starlette:
    """The emulator as an ASGI app."""
    if not config.keys:
        raise ValueError("the emulator needs at least one API key")
    state = State()
    cache = ImageCache()

    async def generations(request: Request) -> Response:
        state.requests += 1
        fault = state.next_fault()
        raw = await request.body()
        delay = config.latency_s + (fault.latency_s if fault else 0.0)
        if fault and fault.kind == "reset":
            await asyncio.sleep(delay)
            state.by_status["reset"] += 1
            return await drop_connection(request)
        response = await _answer(request, raw, fault, delay)
        state.record(response)
        return response

    async def _answer(request: Request, raw: bytes, fault: Fault | None, delay: float) -> Response:
        request_id = request.state.request_id
        if fault and fault.kind in ANSWER_KINDS:
            await asyncio.sleep(delay)
            return fault_response(fault, request_id)
        checked = check_request(request, raw, config, request_id)
        if isinstance(checked, ProviderError):
            await asyncio.sleep(delay)
            return checked
        if config.ipm:
            wait = state.take_ipm(config.ipm, time.monotonic())
            if wait:
                return ipm_exceeded(config.ipm, wait, request_id)
        link_kind = fault.kind if fault and fault.kind in URL_KINDS else ""
        return await _success(request, checked, delay, link_kind)

    async def _success(
        request: Request, params: contract.GenerationParams, delay: float, link_kind: str
    ) -> Response:
        picture = _picture_for(params)
        if params.response_format == "b64_json":
            # Draw while "the model works", off the loop, so the wait covers the drawing.
            drawn, _ = await asyncio.gather(
                run_in_threadpool(cache.get, picture), asyncio.sleep(delay)
            )
            item = {"b64_json": base64.b64encode(drawn).decode()}
        else:
            # The link carries the picture, drawn during the wait and kept for the fetch.
            cache.prepare(picture)
            await asyncio.sleep(delay)
            item = {"url": _image_url(request, picture, link_kind)}
        state.images += 1
        return JSONResponse(success_body(params.model, item))

    def _image_url(request: Request, picture: Picture, kind: str) -> str:
        payload = _link_payload(picture, kind, int(time.time()) + config.url_ttl_s)
        token = sign_token(config.signing_secret, payload)
        base = config.public_url.rstrip("/") or str(request.base_url).rstrip("/")
        return f"{base}{IMAGE_PATH}{token}.jpeg?X-Expires={config.url_ttl_s}"

    async def image(request: Request) -> Response:
        token = request.path_params["token"].removesuffix(".jpeg")
        payload = read_token(config.signing_secret, token)
        if payload is None:
            return storage_error(403, "SignatureDoesNotMatch", "The request signature is invalid.")
        if payload["x"] < time.time():
            return storage_error(403, "AccessDenied", "Request has expired.")
        kind = payload.get("k", "")
        if kind == "url_404":
            return storage_error(404, "NoSuchKey", "The specified key does not exist.")
        if kind == "url_html":
            return Response("<html><body><h1>Welcome</h1></body></html>", media_type="text/html")
        data = await run_in_threadpool(cache.get, _picture_from_link(payload))
        if kind == "url_truncated":
            data = data[: len(data) // 2]
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private"})

    async def stats(request: Request) -> Response:
        return JSONResponse(state.as_json())

    async def faults(request: Request) -> Response:
        try:
            fault = parse_fault(json.loads(await request.body()))
        except ValueError as exc:  # a body that is not JSON included
            return JSONResponse({"error": f"bad fault spec: {exc}"}, status_code=400)
        if fault.kind == "reset" and TRANSPORT_STATE_KEY not in request.scope.get("state", {}):
            message = "bad fault spec: kind 'reset' needs the emulator run by serve()"
            return JSONResponse({"error": message}, status_code=400)
        state.faults.append(fault)
        return JSONResponse({"pending": sum(f.count for f in state.faults)})

    async def reset(request: Request) -> Response:
        state.clear()
        return JSONResponse({"reset": True})

    routes = [
        Route("/v1" + contract.GENERATIONS_PATH, generations, methods=["POST"]),
        Route("/api/v3" + contract.GENERATIONS_PATH, generations, methods=["POST"]),
        Route(IMAGE_PATH + "{token}", image, methods=["GET"]),
        Route("/_emulator/stats", stats, methods=["GET"]),
        Route("/_emulator/faults", faults, methods=["POST"]),
        Route("/_emulator/reset", reset, methods=["POST"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(RequestIdMiddleware)])


# --- Serving ----------------------------------------------------------------------------


class _TransportInState(AutoHTTPProtocol):
    """uvicorn's HTTP protocol, putting the connection in each request's state so the
    `reset` fault can cut it; ASGI itself offers no way to drop a connection unanswered."""

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        self.app_state = {**self.app_state, TRANSPORT_STATE_KEY: transport}


def serve(config: EmulatorConfig, *, host: str, port: int) -> None:
    """Run the emulator under uvicorn: one process, the asyncio loop, no access log."""
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        http=_TransportInState,
        loop="asyncio",
        lifespan="off",
        access_log=False,
        log_level="warning",
        backlog=2048,
        timeout_keep_alive=30,
    )
