"""Shared fixtures: real services (Redis, SeaweedFS, Celery worker, emulator) and the cast."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.people",
    "tests.fixtures.browser",
    "tests.fixtures.worker",
    "tests.fixtures.emulator",
    "tests.fixtures.gateway",
]
