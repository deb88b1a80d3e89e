"""The interface in English and Simplified Chinese: follows the browser, switchable, and its
compiled catalogue ships current (no gettext needed to run it)."""

import gettext
import re
from pathlib import Path

import pytest

from tests.images import make_image

pytestmark = pytest.mark.django_db
LOCALE = Path(__file__).resolve().parent.parent / "locale"


def test_the_gallery_follows_a_chinese_browser(alice_client, alice):
    make_image(alice)
    html = alice_client.get("/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert '<html lang="zh-hans">' in html
    assert "<h1>图库</h1>" in html and '<label for="id_q">搜索</label>' in html


def test_english_is_the_default(alice_client, alice):
    html = alice_client.get("/", HTTP_ACCEPT_LANGUAGE="fr-FR").content.decode()
    assert '<html lang="en">' in html and '<label for="id_q">Search</label>' in html


def test_the_switch_sets_the_language_and_returns_to_the_page(alice_client, alice):
    image = make_image(alice)
    response = alice_client.post(
        "/i18n/setlang/", {"language": "zh-hans", "next": f"/images/{image.pk}/"}
    )
    assert response.status_code == 302 and response["Location"] == f"/images/{image.pk}/"
    html = alice_client.get(f"/images/{image.pk}/").content.decode()
    assert ">下载</a>" in html and ">再创作</a>" in html
    alice_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert ">Download</a>" in alice_client.get(f"/images/{image.pk}/").content.decode()


def test_bad_filter_errors_are_translated(alice_client, alice):
    html = alice_client.get("/?per_page=0", HTTP_ACCEPT_LANGUAGE="zh-Hans").content.decode()
    assert "每页数量必须在 1 到 100 之间。" in html


def test_the_compiled_catalogue_holds_every_translation_of_the_source():
    po = (LOCALE / "zh_Hans/LC_MESSAGES/django.po").read_text(encoding="utf-8")
    with open(LOCALE / "zh_Hans/LC_MESSAGES/django.mo", "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    pairs = re.findall(r'^msgid "(.+)"\n(?:msgid_plural ".*"\n)?msgstr(?:\[0\])? "(.*)"$', po, re.M)
    assert len(pairs) > 80
    for msgid, msgstr in pairs:
        assert msgstr, f"untranslated: {msgid}"
        assert compiled.gettext(msgid.replace('\\"', '"')) == msgstr.replace('\\"', '"'), msgid
