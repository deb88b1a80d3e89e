"""Property-based run of the JSON API against its own OpenAPI schema (Schemathesis, driving
the WSGI app in-process): for generated valid and invalid requests to every operation, no
500, and every answer's status, content type and body match the schema. Bounded: a fixed
number of examples per operation, no shrinking past a few seconds."""

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from config.wsgi import application
from gallery.models import Generation, Image

schema = schemathesis.openapi.from_wsgi("/api/schema", application)

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


@pytest.fixture
def gallery_with_jobs(transactional_db, redis_url, alice, bob, alice_token, settings):
    """Something for every operation to find: images, jobs of each state, and a token."""
    settings.API_TOKEN_RATE_LIMIT = 0
    for n, (user, status) in enumerate(
        [(alice, "queued"), (alice, "failed"), (alice, "succeeded"), (bob, "succeeded")], 1
    ):
        generation = Generation.objects.create(
            user=user, prompt=f"kite {n}", model=settings.SEEDREAM_MODEL, width=1024,
            height=1024, seed=n, guidance_scale=2.5, status=status,
        )  # fmt: skip
        if status == "succeeded":
            Image.objects.create(
                generation=generation, owner=user, prompt=generation.prompt, model=generation.model,
                seed=n, guidance_scale=2.5, width=1024, height=1024, original_key=f"o/{n}.jpg",
                content_type="image/jpeg", byte_size=1, sha256=f"{n:064d}",
                provider_sha256="0" * 64, thumbnail_key=f"t/{n}.webp", thumb_width=384,
                thumb_height=384,
            )  # fmt: skip
    # and something for the organising operations: tags, collections, a share link
    from gallery.services import collections as collection_service
    from gallery.services import sharing
    from gallery.services import tags as tag_service

    image = Image.objects.filter(owner=alice).first()
    tag_service.add_tags(alice, [image], ["kite", "sky"])
    mine = collection_service.create_collection(alice, "Kites")
    collection_service.add_images(alice, mine, [image])
    collection_service.set_cover(alice, mine, image)
    collection_service.create_collection(bob, "Bob's", team_can_add=True)
    sharing.create_link(user=alice, choices=sharing.LinkChoices(), image=image)
    # a link just revoked, for the undo; one with a password, for the edit
    revoked, _token = sharing.create_link(user=alice, choices=sharing.LinkChoices(), image=image)
    sharing.revoke_link(user=alice, link=revoked)
    sharing.create_link(
        user=alice, choices=sharing.LinkChoices(), password="open-sesame", collection=mine
    )
    return {"Authorization": f"Bearer {alice_token}"}


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_its_schema_says(case, gallery_with_jobs):
    case.call_and_validate(headers=gallery_with_jobs, checks=CHECKS)
