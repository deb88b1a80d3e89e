"""The Celery app: Redis broker, JSON only, late acks; settings come from Django's CELERY_*."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("seedgallery")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
