"""Errors in the site's layout, and a polite word to the owner of an image staff have hidden."""

import pytest
from django.template.loader import render_to_string

from tests.test_gallery_pages import make_image

pytestmark = pytest.mark.django_db


def test_a_missing_image_is_a_404_in_the_sites_layout(alice_client):
    response = alice_client.get("/images/999999/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "There is nothing here" in html
    assert 'class="topbar"' in html and ">Gallery</a>" in html  # the site's navigation


def test_an_unknown_address_is_a_404_in_the_sites_layout(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "There is nothing here" in response.content.decode()


@pytest.mark.parametrize(
    ("template", "text"),
    [
        ("403.html", "You may not open this page"),
        ("404.html", "There is nothing here"),
        ("500.html", "Something went wrong on our side"),
    ],
)
def test_error_templates_render_without_a_request(template, text):
    html = render_to_string(template)  # as Django's handler500 does: no request, no user
    assert text in html and 'class="topbar"' in html
    assert "Log out" not in html


def test_the_owner_of_a_hidden_image_is_told_staff_hid_it(alice_client, alice):
    image = make_image(alice, 5)
    image.is_hidden = True
    image.save()
    response = alice_client.get(f"/images/{image.pk}/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "Staff have hidden this image" in html
    assert "X-Amz-Signature" not in html  # the picture itself stays out of reach


def test_another_member_gets_a_plain_404_for_a_hidden_image(client, alice, bob):
    image = make_image(alice, 6)
    image.is_hidden = True
    image.save()
    client.force_login(bob)
    response = client.get(f"/images/{image.pk}/")
    assert response.status_code == 404
    assert "Staff have hidden" not in response.content.decode()
