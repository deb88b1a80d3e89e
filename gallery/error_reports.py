"""What Django's error reports (the DEBUG page, mailed reports) may show of the settings."""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter

# The password part of scheme://user:password@host URLs.
URL_PASSWORD_RE = re.compile(
    r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]+)@", re.I
)


class SecretUrlReporterFilter(SafeExceptionReporterFilter):
    """Masks passwords inside URL settings (DATABASE_URL, REDIS_URL, CELERY_BROKER_URL, ...)
    on top of Django's masking of names that look secret."""

    def cleanse_setting(self, key, value):
        value = super().cleanse_setting(key, value)
        if isinstance(value, str):  # lazy strings too: str() evaluates them
            return URL_PASSWORD_RE.sub(rf"\g<head>{self.cleansed_substitute}@", str(value))
        return value
