"""/healthz says whether DB, Redis and S3 answer, and names the ones that do not."""

import pytest

from gallery.devstack import free_port


@pytest.mark.django_db
def test_healthz_is_200_when_every_service_answers(client, redis_url, s3_server):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok", "s3": "ok"},
    }


@pytest.mark.django_db
def test_healthz_is_503_naming_an_unreachable_redis(client, settings, s3_server):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["redis"]
    assert body["checks"]["s3"] == "ok"


@pytest.mark.django_db
def test_healthz_is_503_naming_a_missing_bucket(client, settings, redis_url, s3_server):
    settings.AWS_STORAGE_BUCKET_NAME = "no-such-bucket-here"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["s3"]


@pytest.mark.django_db
def test_healthz_does_not_leak_connection_details(client, settings, s3_server):
    settings.REDIS_URL = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    response = client.get("/healthz")
    assert b"hunter2" not in response.content
    assert b"127.0.0.1" not in response.content


@pytest.mark.django_db
def test_healthz_reuses_the_shared_s3_client(client, redis_url, s3_server, monkeypatch):
    import boto3

    client.get("/healthz")  # the first probe may build the process's one client

    def no_new_clients(*args, **kwargs):
        raise AssertionError("a new S3 client was built for a health probe")

    monkeypatch.setattr(boto3, "client", no_new_clients)
    monkeypatch.setattr(boto3.session.Session, "client", no_new_clients)
    assert client.get("/healthz").json()["checks"]["s3"] == "ok"
