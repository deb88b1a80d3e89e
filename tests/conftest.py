"""Shared fixtures: real services (Redis, SeaweedFS, Celery worker, emulator) and the cast."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.people",
    "tests.fixtures.browser",
    "tests.fixtures.worker",
    "tests.fixtures.emulator",
    "tests.fixtures.gateway",
]


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2's deliberate slowness costs ~0.5 s a user on a busy machine; tests need none."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
