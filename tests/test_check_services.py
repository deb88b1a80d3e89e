"""Start-up checks give one clear line per unreachable service, never a stack trace."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gallery.devstack import free_port
from gallery.health import check_redis, check_s3


@pytest.mark.django_db
def test_check_services_passes_when_all_answer(redis_url, s3_server, capsys):
    call_command("check_services")
    assert "reachable: database, redis, s3" in capsys.readouterr().out


@pytest.mark.django_db
def test_unreachable_redis_is_one_line_naming_redis_and_the_fix(settings, s3_server):
    port = free_port()
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    with pytest.raises(CommandError) as caught:
        call_command("check_services")
    message = str(caught.value)
    assert message.count("\n") == 0
    assert message.startswith(f"Redis at redis://127.0.0.1:{port}/0 is unreachable")
    assert "REDIS_URL" in message


def test_redis_password_is_redacted_in_the_message(settings):
    settings.REDIS_URL = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    problem = check_redis()
    assert "s3cret" not in problem
    assert "***@127.0.0.1" in problem


def test_unreachable_s3_names_the_endpoint_and_variable(settings):
    settings.AWS_S3_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    from tests.fixtures.services import _reset_storages

    _reset_storages()
    problem = check_s3()
    assert settings.AWS_S3_ENDPOINT_URL in problem
    assert "AWS_S3_ENDPOINT_URL" in problem


def test_unknown_service_name_is_refused():
    with pytest.raises(CommandError, match="unknown service"):
        call_command("check_services", "mongodb")


def test_ensure_bucket_reports_unreachable_s3_in_one_line(settings):
    settings.AWS_S3_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CommandError) as caught:
        call_command("ensure_bucket")
    assert "\n" not in str(caught.value)
    assert "unreachable" in str(caught.value)


@pytest.mark.django_db
def test_ensure_bucket_creates_a_missing_bucket_once(settings, s3_server, capsys):
    settings.AWS_STORAGE_BUCKET_NAME = "created-by-test"
    call_command("ensure_bucket")
    call_command("ensure_bucket")
    out = capsys.readouterr().out
    assert "bucket 'created-by-test' created" in out
    assert "bucket 'created-by-test' already exists" in out
