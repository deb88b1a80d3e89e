"""Image checks, lossless metadata and thumbnails, on images made in memory."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import UTC, datetime

import pytest
from PIL import Image

from gallery import imaging


def make(fmt: str = "JPEG", size=(640, 480), mode="RGB", color=(200, 40, 40), **save) -> bytes:
    image = Image.new(mode, size, color)
    for x in range(0, size[0], 7):  # some detail, so a cut in the middle loses real data
        image.putpixel((x, x % size[1]), (0, 0, 0) if mode == "RGB" else (0, 0, 0, 255))
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


META = imaging.ImageMetadata(
    prompt="瓷器狐狸 <in> \"fog\" & 'rain'",
    seed=42,
    size="640x480",
    guidance_scale=2.5,
    model="doubao-seedream-3-0-t2i-250415",
    generated_at=datetime(2026, 11, 24, 12, 0, tzinfo=UTC),
    produce_id="req-123",
)


@pytest.mark.parametrize(("fmt", "content_type"), [
    ("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp"),
])  # fmt: skip
def test_accepted_formats_verify(fmt, content_type):
    verified = imaging.verify_image(make(fmt), claimed_content_type=f"{content_type}; charset=x")
    assert (verified.format, verified.content_type, verified.width, verified.height) == (
        fmt,
        content_type,
        640,
        480,
    )


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "not_an_image"),
        (b"\x00\x01 random bytes" * 50, "not_an_image"),
        (b"<!doctype html><html><body>Not found</body></html>", "not_an_image"),
        (make("GIF"), "unsupported_format"),
        (make("BMP"), "unsupported_format"),
    ],
)
def test_non_images_and_other_formats_are_rejected(data, code):
    with pytest.raises(imaging.ImageRejected) as caught:
        imaging.verify_image(data)
    assert caught.value.code == code


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
@pytest.mark.parametrize("check", ["verify", "inspect"])
def test_a_truncated_image_is_rejected_never_grey_filled(fmt, check):
    data = make(fmt, size=(1024, 1024))
    cut = data[: len(data) * 2 // 3]
    with pytest.raises(imaging.ImageRejected) as caught:
        if check == "verify":
            imaging.verify_image(cut)
        else:
            imaging.inspect_image(cut)
    assert caught.value.code in ("truncated", "not_an_image")


def test_a_decompression_bomb_is_refused_before_decoding():
    data = bytearray(make("PNG", size=(10, 10)))
    data[16:24] = struct.pack(">II", 100_000, 100_000)  # IHDR claims 10^10 pixels
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # with a valid CRC
    with pytest.raises(imaging.ImageRejected) as caught:
        imaging.verify_image(bytes(data))
    assert caught.value.code == "too_many_pixels"


def test_max_pixels_is_enforced():
    with pytest.raises(imaging.ImageRejected) as caught:
        imaging.verify_image(make(size=(1000, 1000)), max_pixels=999_999)
    assert caught.value.code == "too_many_pixels"


def test_a_claimed_type_that_does_not_match_is_rejected():
    with pytest.raises(imaging.ImageRejected) as caught:
        imaging.verify_image(make("PNG"), claimed_content_type="image/jpeg")
    assert caught.value.code == "format_mismatch"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_metadata_round_trips_and_pixels_stay_identical(fmt):
    original = make(fmt)
    labelled = imaging.embed_metadata(original, fmt, META)
    before, after = Image.open(io.BytesIO(original)), Image.open(io.BytesIO(labelled))
    assert before.tobytes() == after.tobytes()
    meta = imaging.read_metadata(labelled)
    assert meta["prompt"] == META.prompt
    assert meta["description"] == META.prompt
    assert (meta["seed"], meta["size"], meta["guidance_scale"]) == (42, "640x480", 2.5)
    assert meta["model"] == "doubao-seedream-3-0-t2i-250415"
    assert meta["digital_source_type"] == imaging.DIGITAL_SOURCE_TYPE
    assert meta["aigc"]["Label"] == "1"
    assert meta["aigc"]["ContentPropagator"] == "Seedgallery"
    assert meta["created"] == "2026-11-24T12:00:00+00:00"


def test_pillow_sees_the_xmp_in_a_stored_jpeg():
    labelled = imaging.embed_metadata(make("JPEG"), "JPEG", META)
    xmp = Image.open(io.BytesIO(labelled)).info["xmp"]
    assert b"trainedAlgorithmicMedia" in xmp
    assert "瓷器狐狸".encode() in xmp


def test_embedding_twice_replaces_our_segment():
    once = imaging.embed_metadata(make("JPEG"), "JPEG", META)
    twice = imaging.embed_metadata(once, "JPEG", META)
    assert once == twice
    png_once = imaging.embed_metadata(make("PNG"), "PNG", META)
    assert imaging.embed_metadata(png_once, "PNG", META) == png_once


def test_a_providers_own_exif_and_xmp_survive():
    exif = Image.Exif()
    exif[0x010E] = "provider description"
    original = make("JPEG", exif=exif.tobytes())
    provider_xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>AIGC provider label</x:xmpmeta>"
    segment = b"\xff\xe1" + struct.pack(">H", len(provider_xmp) + 2) + provider_xmp
    with_label = original[:2] + segment + original[2:]
    labelled = imaging.embed_metadata(with_label, "JPEG", META)
    assert provider_xmp in labelled
    assert Image.open(io.BytesIO(labelled)).getexif()[0x010E] == "provider description"
    assert imaging.read_metadata(labelled)["seed"] == 42


def test_webp_metadata_is_refused_clearly():
    with pytest.raises(imaging.ImageRejected) as caught:
        imaging.embed_metadata(make("WEBP"), "WEBP", META)
    assert caught.value.code == "unsupported_format"


@pytest.mark.parametrize(("size", "thumb"), [((1024, 1024), (384, 384)), ((1512, 648), (384, 165)),
                                              ((720, 1280), (216, 384)), ((200, 100), (200, 100))])  # fmt: skip
def test_thumbnails_are_webp_keeping_the_aspect(size, thumb):
    derivatives = imaging.make_derivatives(make("JPEG", size=size))
    image = Image.open(io.BytesIO(derivatives.thumbnail))
    assert image.format == "WEBP"
    assert image.size == thumb == (derivatives.thumb_width, derivatives.thumb_height)


def test_inspect_gives_the_same_as_verify_and_derive():
    data = make("JPEG", size=(1024, 768))
    verified, derivatives = imaging.inspect_image(data)
    assert verified == imaging.verify_image(data)
    assert (derivatives.thumb_width, derivatives.thumb_height) == (384, 288)


def test_dominant_colour_of_a_red_image_is_red():
    color = imaging.make_derivatives(make("PNG", color=(255, 0, 0))).dominant_color
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    assert r > 240 and g < 20 and b < 20


def test_rgba_png_keeps_its_transparency_in_the_thumbnail():
    data = make("PNG", mode="RGBA", color=(0, 128, 0, 0))
    image = Image.open(io.BytesIO(imaging.make_derivatives(data).thumbnail))
    assert image.mode == "RGBA"


def test_exif_rotated_jpeg_gives_an_upright_thumbnail():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = make("JPEG", size=(800, 400), exif=exif.tobytes())
    derivatives = imaging.make_derivatives(data)
    assert (derivatives.thumb_width, derivatives.thumb_height) == (192, 384)
