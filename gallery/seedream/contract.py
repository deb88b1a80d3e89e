"""The Seedream image-generation contract: parameters, size rules and error codes.

The one place the form, the JSON API, the gateway, the client and the emulator read, so all
of them accept and reject the same things. Knows nothing of Django. Values the provider's own
pages could not confirm are marked *(unconfirmed)* and kept in one named constant each.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_MODEL = "doubao-seedream-3-0-t2i-250415"
# What people call each model; a model not listed shows its id.
MODEL_LABELS: dict[str, str] = {DEFAULT_MODEL: "Seedream 3.0"}
GENERATIONS_PATH = "/images/generations"

RECOMMENDED_SIZES: tuple[str, ...] = (
    "1024x1024",
    "864x1152",
    "1152x864",
    "1280x720",
    "720x1280",
    "832x1248",
    "1248x832",
    "1512x648",
)
DEFAULT_SIZE = "1024x1024"

SEED_RANDOM = -1
SEED_MIN = -1
SEED_MAX = 2_147_483_647

GUIDANCE_MIN = 1.0
GUIDANCE_MAX = 10.0
GUIDANCE_DEFAULT = 2.5

# (unconfirmed) the provider documents no prompt limit for 3.0; this bound keeps requests sane.
PROMPT_MAX_CHARS = 2000

RESPONSE_FORMATS = ("url", "b64_json")
DEFAULT_RESPONSE_FORMAT = "url"

# (unconfirmed) the image's format; check the bytes, never the extension.
PROVIDER_IMAGE_CONTENT_TYPE = "image/jpeg"
# (unconfirmed) lifetime of the provider's signed image URL.
PROVIDER_URL_LIFETIME_S = 24 * 3600

# Fields of newer models on the same endpoint: the official SDK sends them as null (absent);
# a non-null value is an error for a model without them.
UNSUPPORTED_FIELDS = (
    "image",
    "stream",
    "optimize_prompt",
    "sequential_image_generation",
    "sequential_image_generation_options",
    "output_format",
)

REQUEST_ID_HEADER = "X-Request-Id"
CLIENT_REQUEST_ID_HEADER = "X-Client-Request-Id"

# Characters a prompt loses before anything else sees it: terminal escape sequences, control
# characters (tab and newline stay), lone surrogates and U+FFFE/U+FFFF (XML forbids all of
# these, and the prompt goes into the stored file's XMP), and the bidi embeddings, overrides
# and isolates that would reorder the text around the prompt wherever it is shown.
_ANSI_ESCAPE_RE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])"
)
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_KEPT_CONTROLS = frozenset("\t\n")
# Letters that draw nothing: a prompt made only of these (and spaces, format characters and
# combining marks) has no visible character.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Cn", "Co", "Zs", "Zl", "Zp", "Mn", "Me"})

_SIZE_RE = re.compile(r"^\s*(\d{1,5})\s*[xX×*]\s*(\d{1,5})\s*$")


@dataclass(frozen=True)
class SizeRule:
    """What sizes a model accepts: a pixel budget, per-side bounds and an aspect bound."""

    min_pixels: int
    max_pixels: int
    min_side: int
    max_side: int
    max_aspect: float | None = None
    presets: tuple[str, ...] = RECOMMENDED_SIZES


# The provider's documented rule for 3.0: total pixels between 512x512 and 2048x2048. The side
# bounds are ours (unconfirmed): no side rule is documented and JPEG caps a side at 65535.
PROVIDER_SIZE_RULES: dict[str, SizeRule] = {
    DEFAULT_MODEL: SizeRule(
        min_pixels=512 * 512, max_pixels=2048 * 2048, min_side=64, max_side=4096
    ),
}
# The product's own, safer rule for its forms, JSON API and gateway: each side in [512, 2048]
# and no more than 3:1 either way (1512x648, the widest preset, is 2.33:1).
PRODUCT_SIZE_RULES: dict[str, SizeRule] = {
    DEFAULT_MODEL: SizeRule(
        min_pixels=512 * 512, max_pixels=2048 * 2048, min_side=512, max_side=2048, max_aspect=3.0
    ),
}


def size_rule(model: str, *, product: bool) -> SizeRule:
    """The size rule for a model; models not listed get the 3.0 rule."""
    rules = PRODUCT_SIZE_RULES if product else PROVIDER_SIZE_RULES
    return rules.get(model, rules[DEFAULT_MODEL])


class ParameterError(ValueError):
    """A request parameter breaks the contract: `code` is the provider's, `param` names it."""

    def __init__(self, param: str, message: str, code: str = "InvalidParameter") -> None:
        super().__init__(message)
        self.param = param
        self.message = message
        self.code = code


@dataclass(frozen=True)
class GenerationParams:
    """One image request, validated. None means 'not sent': the provider's default applies."""

    prompt: str
    model: str = DEFAULT_MODEL
    size: str | None = None
    seed: int | None = None
    guidance_scale: float | None = None
    watermark: bool | None = None
    response_format: str = DEFAULT_RESPONSE_FORMAT

    def to_request_body(self) -> dict[str, Any]:
        """The JSON body the provider expects, leaving out what the caller left unset."""
        return {key: value for key, value in asdict(self).items() if value is not None}

    @property
    def dimensions(self) -> tuple[int, int]:
        return parse_size(self.size or DEFAULT_SIZE)


def model_label(model: str) -> str:
    """A model's friendly name, e.g. 'Seedream 3.0'."""
    return MODEL_LABELS.get(model, model)


def parse_size(value: str) -> tuple[int, int]:
    """'WIDTHxHEIGHT' to (width, height); syntax only, no range check."""
    if not isinstance(value, str):
        raise ParameterError("size", "size must be a string like 1024x1024.")
    match = _SIZE_RE.match(value)
    if not match:
        raise ParameterError("size", f"size {value[:40]!r} is not of the form WIDTHxHEIGHT.")
    return int(match.group(1)), int(match.group(2))


def validate_size(value: Any, model: str = DEFAULT_MODEL, *, product: bool = True) -> str:
    """Check a size against the model's rule; return it normalised as 'WxH'."""
    width, height = parse_size(value)
    rule = size_rule(model, product=product)
    if not (rule.min_side <= width <= rule.max_side and rule.min_side <= height <= rule.max_side):
        raise ParameterError(
            "size",
            f"size {width}x{height} is out of range: each side must be between "
            f"{rule.min_side} and {rule.max_side} pixels.",
        )
    pixels = width * height
    if not rule.min_pixels <= pixels <= rule.max_pixels:
        raise ParameterError(
            "size",
            f"size {width}x{height} is out of range: total pixels must be between "
            f"{rule.min_pixels:,} and {rule.max_pixels:,}.",
        )
    if rule.max_aspect and max(width, height) / min(width, height) > rule.max_aspect:
        raise ParameterError(
            "size",
            f"size {width}x{height} is too {'wide' if width > height else 'narrow'}: "
            f"the aspect ratio may be at most "
            f"{rule.max_aspect:g}:1.",
        )
    return f"{width}x{height}"


def clean_prompt_text(value: str) -> str:
    """The prompt without escape sequences, control characters, characters XML forbids and
    bidi controls; CRLF becomes LF, outer whitespace goes."""
    text = _ANSI_ESCAPE_RE.sub("", value.replace("\r\n", "\n"))
    return "".join(
        char
        for char in text
        if char in _KEPT_CONTROLS
        or not (
            char in _BIDI_CONTROLS
            or char in ("\ufffe", "\uffff")
            or unicodedata.category(char) in ("Cc", "Cs")
        )
    ).strip()


def has_visible_character(text: str) -> bool:
    return any(
        unicodedata.category(char) not in _INVISIBLE_CATEGORIES and char not in _BLANK_LETTERS
        for char in text
    )


def validate_prompt(value: Any, *, product: bool = True) -> str:
    """A prompt fit to send and to store. The product cleans it first (`clean_prompt_text`)
    and refuses one with no visible character; the emulator (`product=False`) takes what the
    provider takes."""
    if value is None:
        raise ParameterError("prompt", "prompt is required.", code="MissingParameter")
    if not isinstance(value, str):
        raise ParameterError("prompt", "prompt must be a string.")
    prompt = clean_prompt_text(value) if product else value.strip()
    if not value.strip():
        raise ParameterError("prompt", "prompt must not be empty.", code="MissingParameter")
    if not prompt or (product and not has_visible_character(prompt)):
        raise ParameterError("prompt", "prompt has no visible character.", code="MissingParameter")
    if len(prompt) > PROMPT_MAX_CHARS:
        raise ParameterError(
            "prompt", f"prompt is {len(prompt)} characters; at most {PROMPT_MAX_CHARS} allowed."
        )
    return prompt


def validate_seed(value: Any) -> int:
    # bool is an int in Python; JSON true is not a seed.
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ParameterError("seed", "seed must be an integer.")
    if not SEED_MIN <= value <= SEED_MAX:
        raise ParameterError("seed", f"seed must be between {SEED_MIN} and {SEED_MAX}.")
    return value


def validate_guidance_scale(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError("guidance_scale", "guidance_scale must be a number.")
    value = float(value)
    if not math.isfinite(value) or not GUIDANCE_MIN <= value <= GUIDANCE_MAX:
        raise ParameterError(
            "guidance_scale",
            f"guidance_scale must be between {GUIDANCE_MIN:g} and {GUIDANCE_MAX:g}.",
        )
    return value


def validate_watermark(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ParameterError("watermark", "watermark must be true or false.")
    return value


def validate_response_format(value: Any) -> str:
    if value not in RESPONSE_FORMATS:
        raise ParameterError(
            "response_format", f"response_format must be one of {', '.join(RESPONSE_FORMATS)}."
        )
    return value


def validate_model(value: Any, allowed: tuple[str, ...] | list[str] | None = None) -> str:
    if value is None:
        raise ParameterError("model", "model is required.", code="MissingParameter")
    if not isinstance(value, str) or not value.strip():
        raise ParameterError("model", "model must be a non-empty string.")
    if allowed is not None and value not in allowed:
        raise ParameterError("model", f"model {value[:80]!r} is not available.")
    return value


def params_from_body(
    body: Mapping[str, Any],
    *,
    allowed_models: tuple[str, ...] | list[str] | None = None,
    product: bool = True,
) -> GenerationParams:
    """Validate a JSON request body (nulls read as absent) into GenerationParams.

    Raises the first ParameterError. `product=False` applies the provider's looser size rule
    (the emulator); the product's surfaces use the stricter product rule.
    """
    if not isinstance(body, Mapping):
        raise ParameterError("body", "the request body must be a JSON object.")
    model = validate_model(body.get("model"), allowed_models)
    prompt = validate_prompt(body.get("prompt"), product=product)
    fields: dict[str, Any] = {"model": model, "prompt": prompt}
    if body.get("response_format") is not None:
        fields["response_format"] = validate_response_format(body["response_format"])
    if body.get("size") is not None:
        fields["size"] = validate_size(body["size"], model, product=product)
    if body.get("seed") is not None:
        fields["seed"] = validate_seed(body["seed"])
    if body.get("guidance_scale") is not None:
        fields["guidance_scale"] = validate_guidance_scale(body["guidance_scale"])
    if body.get("watermark") is not None:
        fields["watermark"] = validate_watermark(body["watermark"])
    return GenerationParams(**fields)


def refuse_unsupported(body: Mapping[str, Any]) -> None:
    """ParameterError for the first newer-model field that is present and not null."""
    for name in UNSUPPORTED_FIELDS:
        if body.get(name) is not None:
            raise ParameterError(name, f"{name} is not supported by this model.")


# --- Errors -----------------------------------------------------------------


@dataclass(frozen=True)
class ErrorClass:
    """How the product treats one kind of provider failure."""

    code: str  # the product's stable code, kept on a failed Generation
    retryable: bool
    user_message: str
    # The request may have reached the provider, which may have made (and billed) the image.
    ambiguous: bool = False


INVALID_PARAMETER = ErrorClass(
    "invalid_parameter", False, "The provider rejected a parameter of this request."
)
INPUT_REFUSED = ErrorClass(
    "input_refused", False, "The prompt was refused by the provider's content filter."
)
OUTPUT_REFUSED = ErrorClass(
    "output_refused",
    False,
    "The generated image was withheld by the provider's content filter; another seed may pass.",
)
AUTH_FAILED = ErrorClass(
    "auth_failed", False, "The image service rejected our API key; an operator must fix it."
)
ACCESS_DENIED = ErrorClass(
    "access_denied",
    False,
    "The image service account cannot use this model right now; an operator must fix it.",
)
MODEL_UNAVAILABLE = ErrorClass(
    "model_unavailable", False, "The requested model is not available from the image service."
)
RATE_LIMITED = ErrorClass("rate_limited", True, "The image service is busy; retrying shortly.")
QUOTA_EXCEEDED = ErrorClass(
    "quota_exceeded", False, "The image service spending limit is reached; an operator must act."
)
PROVIDER_ERROR = ErrorClass(
    "provider_error", True, "The image service had an internal error; retrying shortly."
)
TIMEOUT = ErrorClass("timeout", True, "The image service took too long to answer.", ambiguous=True)
CONNECTION_LOST = ErrorClass(
    "connection_lost",
    True,
    "The connection to the image service broke after the request was sent.",
    ambiguous=True,
)
CONNECTION_ERROR = ErrorClass("connection_error", True, "The image service could not be reached.")
BAD_RESPONSE = ErrorClass(
    "bad_response", False, "The image service sent an answer we could not understand."
)
UNKNOWN_ERROR = ErrorClass("provider_error", False, "The image service refused the request.")

# Prefix of the provider's `code` field -> class. Dotted forms (RateLimitExceeded.X) match
# their prefix. Order matters: the longer, more specific prefix first.
_CODE_PREFIXES: tuple[tuple[str, ErrorClass], ...] = (
    ("OutputImageSensitiveContentDetected", OUTPUT_REFUSED),
    ("InputTextSensitiveContentDetected", INPUT_REFUSED),
    ("InputImageSensitiveContentDetected", INPUT_REFUSED),
    ("SensitiveContentDetected", INPUT_REFUSED),
    ("MissingParameter", INVALID_PARAMETER),
    ("InvalidParameter", INVALID_PARAMETER),
    ("AuthenticationError", AUTH_FAILED),
    ("AccessDenied", ACCESS_DENIED),
    ("AccountOverdueError", ACCESS_DENIED),
    ("ServiceNotOpen", ACCESS_DENIED),
    ("InvalidAccountStatus", ACCESS_DENIED),
    ("InvalidEndpointOrModel", MODEL_UNAVAILABLE),
    ("ModelNotOpen", MODEL_UNAVAILABLE),
    ("QuotaExceeded", QUOTA_EXCEEDED),
    ("SetLimitExceeded", QUOTA_EXCEEDED),
    ("RateLimitExceeded", RATE_LIMITED),
    ("ModelAccountIpmRateLimitExceeded", RATE_LIMITED),
    ("RequestBurstTooFast", RATE_LIMITED),
    ("ServerOverloaded", RATE_LIMITED),
    ("InternalServiceError", PROVIDER_ERROR),
)

# The HTTP status the provider answers each code with (what the emulator sends).
PROVIDER_CODE_STATUS: dict[str, int] = {
    "MissingParameter": 400,
    "InvalidParameter": 400,
    "InputTextSensitiveContentDetected": 400,
    "SensitiveContentDetected": 400,
    "OutputImageSensitiveContentDetected": 400,
    "AuthenticationError": 401,
    "AccessDenied": 403,
    "AccountOverdueError": 403,
    "ServiceNotOpen": 403,
    "InvalidAccountStatus": 403,
    "InvalidEndpointOrModel": 404,
    "ModelNotOpen": 404,
    "RateLimitExceeded": 429,
    "ModelAccountIpmRateLimitExceeded": 429,
    "RequestBurstTooFast": 429,
    "ServerOverloaded": 429,
    "QuotaExceeded": 429,
    "SetLimitExceeded": 429,
    "InternalServiceError": 500,
}
PROVIDER_ERROR_TYPES: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    429: "TooManyRequests",
    500: "InternalServerError",
}


def classify_error(http_status: int, provider_code: str | None) -> ErrorClass:
    """The product's view of a provider failure, from its status and `code` field."""
    if provider_code:
        for prefix, error_class in _CODE_PREFIXES:
            if provider_code == prefix or provider_code.startswith(prefix + "."):
                return error_class
    if http_status == 429:
        return RATE_LIMITED
    if http_status >= 500:
        return PROVIDER_ERROR
    if http_status == 401:
        return AUTH_FAILED
    if http_status == 403:
        return ACCESS_DENIED
    if http_status == 404:
        return MODEL_UNAVAILABLE
    if http_status == 400:
        return INVALID_PARAMETER
    return UNKNOWN_ERROR


def error_body(code: str, message: str, *, param: str | None = None, request_id: str = "") -> dict:
    """An error body in the provider's shape."""
    status = PROVIDER_CODE_STATUS.get(code.split(".")[0], 400)
    if request_id:
        message = f"{message} Request id: {request_id}"
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "param": param or "",
        "type": PROVIDER_ERROR_TYPES.get(status, "BadRequest"),
    }
    return {"error": error}
