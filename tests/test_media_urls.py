"""Image URLs handed to browsers: signed for the public S3 endpoint, stable within a time
window so the browser cache hits, and downloads that save under a readable name."""

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from django.core.files.storage import default_storage

from gallery import storage
from gallery.models import Generation, Image

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db


def make_image(user, *, prompt="a red kite over the dunes", seed=7, key="originals/k.jpg"):
    generation = Generation.objects.create(
        user=user, prompt=prompt, model="m", width=1024, height=1024, seed=seed,
        guidance_scale=2.5, status="succeeded",
    )  # fmt: skip
    return Image.objects.create(
        generation=generation, owner=user, prompt=prompt, model="m", seed=seed,
        guidance_scale=2.5, width=1024, height=1024, original_key=key,
        content_type="image/jpeg", byte_size=1, sha256="1" * 64, provider_sha256="0" * 64,
        thumbnail_key="thumbnails/k.webp", thumb_width=384, thumb_height=384,
    )  # fmt: skip


def test_storage_url_from_the_compose_settings_names_the_public_host():
    probe = (
        "import django; django.setup(); "
        "from django.core.files.storage import default_storage; "
        "print(default_storage.url('thumbnails/ab/x.webp'))"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "probe",
        "AWS_ACCESS_KEY_ID": "id",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "SEEDREAM_API_KEY": "key",
        "AWS_S3_ENDPOINT_URL": "http://seaweedfs:8333",
        "AWS_S3_PUBLIC_ENDPOINT_URL": "https://media.example.com",
    }
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert url.startswith("https://media.example.com/seedgallery/thumbnails/ab/x.webp?")
    assert "X-Amz-Signature=" in url and "seaweedfs" not in url


def test_the_compose_stacks_own_settings_sign_for_the_proxy_host():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    web = compose["services"]["web"]["environment"]
    defaults = {"${MEDIA_ADDRESS:-media.localhost}": "media.localhost"}
    public = web["AWS_S3_PUBLIC_ENDPOINT_URL"]
    for reference, value in defaults.items():
        public = public.replace(reference, value)
    probe = (
        "import django; django.setup(); "
        "from django.core.files.storage import default_storage; "
        "print(default_storage.url('originals/ab/x.jpg'))"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "probe",
        "AWS_S3_ENDPOINT_URL": web["AWS_S3_ENDPOINT_URL"],
        "AWS_S3_PUBLIC_ENDPOINT_URL": public,
    }
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert web["AWS_S3_ENDPOINT_URL"] == "http://seaweedfs:8333"
    assert done.stdout.startswith("https://media.localhost/")


def test_public_endpoint_defaults_to_the_app_endpoint(settings):
    assert settings.AWS_S3_PUBLIC_ENDPOINT_URL == settings.AWS_S3_ENDPOINT_URL


def test_default_storage_url_is_signed_for_the_public_endpoint(settings):
    settings.AWS_S3_ENDPOINT_URL = "http://seaweedfs:8333"
    settings.AWS_S3_PUBLIC_ENDPOINT_URL = "https://media.example.com"
    assert default_storage.url("originals/ab/c.jpg").startswith(
        f"https://media.example.com/{settings.AWS_STORAGE_BUCKET_NAME}/originals/ab/c.jpg?"
    )


def test_urls_are_identical_within_a_window_and_change_after_it(settings, monkeypatch):
    settings.AWS_QUERYSTRING_EXPIRE = 400  # a window of 100 s
    clock = [1_000_000.0]
    monkeypatch.setattr(storage.time, "time", lambda: clock[0])
    first = storage.presigned_url("thumbnails/a.webp")
    clock[0] += 99
    assert storage.presigned_url("thumbnails/a.webp") == first
    clock[0] += 2
    later = storage.presigned_url("thumbnails/a.webp")
    assert later != first
    expires = int(parse_qs(urlsplit(later).query)["X-Amz-Expires"][0])
    assert expires == 400


def test_two_renders_of_the_gallery_give_identical_thumbnail_urls(alice_client, alice, s3_server):
    make_image(alice)
    pattern = re.compile(r'<img src="([^"]+)"')
    first = pattern.findall(alice_client.get("/").content.decode())
    second = pattern.findall(alice_client.get("/").content.decode())
    assert first and first == second


def test_signed_url_opens_the_object_and_a_download_url_saves_it_by_name(
    alice, s3_server, settings
):
    storage.put_object("originals/dl/k.jpg", b"\xff\xd8jpeg bytes", "image/jpeg")
    image = make_image(alice, prompt='灯塔 at dusk, "quoted"', seed=42, key="originals/dl/k.jpg")
    assert requests.get(image.original_url, timeout=10).content == b"\xff\xd8jpeg bytes"
    response = requests.get(image.download_url, timeout=10)
    assert response.status_code == 200, response.text
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="at-dusk-quoted-seed42.jpg"')
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == "灯塔-at-dusk-quoted-seed42.jpg"
    assert image.download_name == "灯塔-at-dusk-quoted-seed42.jpg"


def test_a_tampered_signed_url_is_refused(alice, s3_server):
    storage.put_object("originals/dl/t.jpg", b"x", "image/jpeg")
    url = storage.presigned_url("originals/dl/t.jpg", download_name="a.jpg")
    assert requests.get(url.replace("a.jpg", "b.jpg"), timeout=10).status_code == 403


def test_image_page_download_link_carries_content_disposition(alice_client, alice, s3_server):
    image = make_image(alice)
    html = alice_client.get(f"/images/{image.pk}/").content.decode()
    # The page links to the download view, which checks visibility on every click.
    link = re.search(r'<a class="button" href="([^"]+)">Download</a>', html).group(1)
    response = alice_client.get(link)
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["response-content-disposition"][0].startswith("attachment;")
    assert "a-red-kite-over-the-dunes-seed7.jpg" in query["response-content-disposition"][0]
