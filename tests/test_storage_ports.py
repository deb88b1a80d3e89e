"""The local SeaweedFS (the same launcher `make dev` uses) serves objects on its S3 port only:
its filer, WebDAV, master and volume HTTP neither list, read, write nor delete without S3's
credentials, its gRPC ports talk only to its own certificate, and Go's pprof is not
listening."""

import socket
import ssl

import psutil
import pytest
import requests
from django.core.files.base import ContentFile

from gallery.storage import media_storage


@pytest.fixture(scope="module")
def stored_object(s3_server):
    storage = media_storage()
    name = storage.save("originals/ab/probe.txt", ContentFile(b"a private original"))
    yield name
    storage.delete(name)


def _url(port: int, path: str) -> str:
    return f"http://127.0.0.1:{port}{path}"


def _bucket() -> str:
    from django.conf import settings

    return settings.AWS_STORAGE_BUCKET_NAME


def test_filer_port_refuses_a_listing_and_a_read(s3_server, stored_object):
    filer = s3_server.ports.base + 2
    listing = requests.get(
        _url(filer, f"/buckets/{_bucket()}/originals/ab/"),
        headers={"Accept": "application/json"},
        timeout=5,
    )
    read = requests.get(_url(filer, f"/buckets/{_bucket()}/{stored_object}"), timeout=5)
    assert listing.status_code in (401, 403, 404)
    assert "probe.txt" not in listing.text
    assert read.status_code in (401, 403, 404)
    assert b"a private original" not in read.content


def test_filer_port_refuses_writes_and_deletes(s3_server, stored_object):
    filer = s3_server.ports.base + 2
    written = requests.post(
        _url(filer, f"/buckets/{_bucket()}/originals/ab/planted.txt"),
        files={"file": b"planted"},
        timeout=5,
    )
    deleted = requests.delete(
        _url(filer, f"/buckets/{_bucket()}/originals/?recursive=true"), timeout=5
    )
    assert written.status_code in (401, 403, 404)
    assert deleted.status_code in (401, 403, 404)
    with media_storage().open(stored_object) as fh:
        assert fh.read() == b"a private original"
    assert not media_storage().exists("originals/ab/planted.txt")


def test_webdav_port_refuses_connections(s3_server):
    with pytest.raises(requests.ConnectionError):
        requests.request("PROPFIND", _url(s3_server.ports.base + 4, "/"), timeout=5)


def test_master_refuses_its_admin_api(s3_server, stored_object):
    master = s3_server.ports.base
    for path in (
        f"/col/delete?collection={_bucket()}",
        "/dir/assign",
        "/vol/grow?count=1",
        "/dir/status",
    ):
        assert requests.get(_url(master, path), timeout=5).status_code == 404, path
    with media_storage().open(stored_object) as fh:
        assert fh.read() == b"a private original"


def test_volume_server_refuses_reads_and_writes_without_a_token(s3_server, stored_object):
    volume = s3_server.ports.base + 1
    for volume_id in range(1, 8):
        answer = requests.get(_url(volume, f"/{volume_id},01"), timeout=5)
        assert answer.status_code == 401, volume_id
    written = requests.post(_url(volume, "/1,0123456789"), files={"file": b"x"}, timeout=5)
    assert written.status_code == 401


def test_seaweedfs_listens_only_on_its_own_ports_and_not_on_pprof(s3_server):
    listening = {
        conn.laddr.port
        for conn in psutil.Process(s3_server.proc.pid).net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN
    }
    assert s3_server.ports.s3 in listening
    assert 6060 not in listening
    assert s3_server.ports.base + 4 not in listening  # WebDAV
    assert listening <= set(s3_server.ports.all())


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _grpc_answer(port: int, *, tls: bool) -> bytes:
    """What a gRPC port sends back to an HTTP/2 client holding no certificate."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock)
        sock.sendall(H2_PREFACE)
        return sock.recv(64)
    except (ssl.SSLError, ConnectionError):
        return b""
    finally:
        sock.close()


def test_grpc_ports_refuse_clients_without_the_certificate(s3_server, stored_object):
    grpc_ports = [port + 10000 for port in (s3_server.ports.base, s3_server.ports.base + 1,
                                            s3_server.ports.base + 2, s3_server.ports.s3)]  # fmt: skip
    for port in grpc_ports:
        for tls in (False, True):
            answer = _grpc_answer(port, tls=tls)
            # An HTTP/2 server's first frame is SETTINGS (type 4): none may come back.
            assert not (len(answer) >= 9 and answer[3] == 4), (port, tls, answer)
    with media_storage().open(stored_object) as fh:
        assert fh.read() == b"a private original"
