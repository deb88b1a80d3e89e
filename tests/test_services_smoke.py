import redis
from django.core.files.base import ContentFile

from gallery.storage import media_storage


def test_redis_fixture_answers_ping(redis_url):
    assert redis.Redis.from_url(redis_url).ping() is True


def test_s3_fixture_stores_and_reads_back(s3_server):
    storage = media_storage()
    name = storage.save("smoke/hello.txt", ContentFile(b"hello"))
    with storage.open(name) as fh:
        assert fh.read() == b"hello"
    storage.delete(name)
