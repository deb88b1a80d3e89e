"""A member reports another's image from its page: a reason from the list and optional
details; not their own image, once while it is open, never an image they cannot see; the
author never learns who reported it."""

import re

import pytest

from gallery.models import Report
from tests.images import make_image

pytestmark = pytest.mark.django_db


def report(client, image, **data):
    return client.post(f"/images/{image.pk}/report/", {"reason": "spam", **data})


def test_the_page_offers_report_to_others_but_not_to_the_author(client, alice, bob):
    image = make_image(alice)
    client.force_login(bob)
    html = client.get(f"/images/{image.pk}/").content.decode()
    assert "<summary>Report</summary>" in html and 'name="reason"' in html
    client.force_login(alice)
    assert "<summary>Report</summary>" not in client.get(f"/images/{image.pk}/").content.decode()


def test_a_report_is_filed_once_and_kept_for_staff(client, alice, bob):
    image = make_image(alice)
    client.force_login(bob)
    answer = report(client, image, reason="violent", details="too much")
    assert answer.status_code == 302 and answer["Location"] == f"/images/{image.pk}/"
    assert report(client, image).status_code == 302  # a repeat adds nothing
    filed = Report.objects.get()
    assert (filed.image, filed.reason, filed.details, filed.reporter) == (
        image, "violent", "too much", bob,
    )  # fmt: skip
    assert "already reported" in client.get(f"/images/{image.pk}/").content.decode()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"reason": ""}, "reason"),
        ({"reason": "boring"}, "reason"),
        ({"details": "x" * 2001}, "details"),
    ],  # fmt: skip
)
def test_bad_input_is_a_field_error_and_files_nothing(client, alice, bob, data, field):
    image = make_image(alice)
    client.force_login(bob)
    answer = report(client, image, **data)
    assert answer.status_code == 400 and field in answer.context["form"].errors
    assert not Report.objects.exists()


def test_the_author_cannot_report_their_own_image(client, alice):
    image = make_image(alice)
    client.force_login(alice)
    assert report(client, image).status_code == 302
    assert not Report.objects.exists()


def test_an_image_the_member_cannot_see_cannot_be_reported(client, alice, bob):
    hidden = make_image(alice, is_hidden=True)
    private = make_image(alice, visibility="private")
    client.force_login(bob)
    assert report(client, hidden).status_code == 404
    assert report(client, private).status_code == 404
    assert client.post("/images/999999/report/", {"reason": "spam"}).status_code == 404
    assert not Report.objects.exists()


def test_visitors_are_sent_to_log_in(client, alice):
    image = make_image(alice)
    answer = report(client, image)
    assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]


def test_the_author_never_sees_who_reported(client, alice, bob):
    image = make_image(alice)
    client.force_login(bob)
    report(client, image, details="signed, bob")
    client.force_login(alice)
    html = client.get(f"/images/{image.pk}/").content.decode()
    # Neither the reporter's name nor their words (the page's own "combobox" holds "bob").
    assert not re.search(r"\bbob\b", html)
    assert "signed" not in html
