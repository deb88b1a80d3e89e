"""The gallery's browsing: batches on images (stacks), favourites, keyset and search indexes.

PostgreSQL gets pg_trgm and three GIN indexes (full-text words, trigram partial words, CJK
characters and pairs); SQLite searches with a plain match and needs none."""

import uuid

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

POSTGRES_SEARCH = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS image_prompt_fts_idx ON gallery_image "
    "USING gin (to_tsvector('english'::regconfig, prompt))",
    "CREATE INDEX IF NOT EXISTS image_prompt_trgm_idx ON gallery_image "
    "USING gin (prompt gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS image_search_tokens_idx ON gallery_image "
    "USING gin (to_tsvector('simple'::regconfig, search_tokens))",
]
POSTGRES_SEARCH_REVERSE = [
    "DROP INDEX IF EXISTS image_prompt_fts_idx",
    "DROP INDEX IF EXISTS image_prompt_trgm_idx",
    "DROP INDEX IF EXISTS image_search_tokens_idx",
]


def backfill(apps, schema_editor):
    """Existing images join their generation's batch (else a batch of their own) and get
    their search tokens."""
    from gallery.search import prompt_tokens

    Image = apps.get_model("gallery", "Image")
    for image in Image.objects.select_related("generation").iterator():
        image.batch = image.generation.batch if image.generation_id else uuid.uuid4()
        image.search_tokens = prompt_tokens(image.prompt)
        image.save(update_fields=["batch", "search_tokens"])


def search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRES_SEARCH:
            schema_editor.execute(statement)


def drop_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in POSTGRES_SEARCH_REVERSE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("gallery", "0002_pipeline_pay_once"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Favourite",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
        ),
        migrations.AddField(
            model_name="image",
            name="batch",
            field=models.UUIDField(default=uuid.uuid4),
        ),
        migrations.AddField(
            model_name="image",
            name="search_tokens",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.AddIndex(
            model_name="image",
            index=models.Index(fields=["created_at", "id"], name="image_keyset_idx"),
        ),
        migrations.AddIndex(
            model_name="image",
            index=models.Index(fields=["owner", "created_at", "id"], name="image_owner_keyset_idx"),
        ),
        migrations.AddIndex(
            model_name="image",
            index=models.Index(fields=["batch", "id"], name="image_batch_idx"),
        ),
        migrations.AddField(
            model_name="favourite",
            name="image",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="favourites",
                to="gallery.image",
            ),
        ),
        migrations.AddField(
            model_name="favourite",
            name="user",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="favourites",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddConstraint(
            model_name="favourite",
            constraint=models.UniqueConstraint(
                fields=("user", "image"), name="favourite_once_per_member"
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(search_indexes, drop_search_indexes),
    ]
