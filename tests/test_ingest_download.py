"""The ingest fetches provider images safely: allowed hosts only, redirects re-checked, a size
cap, and timeouts."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gallery.services.ingest import IngestError, check_fetchable, download


class Handler(BaseHTTPRequestHandler):
    routes: dict = {}

    def do_GET(self):  # noqa: N802 - http.server's name
        status, headers, body = self.routes.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Handler.routes = {}
    yield f"http://127.0.0.1:{httpd.server_address[1]}", Handler.routes
    httpd.shutdown()


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/x.jpg",
        "gopher://127.0.0.1/",
        "http://10.0.0.8/x.jpg",
        "http://example.com/x.jpg",
        "https://127.0.0.1/x.jpg",
        "https://localhost/x.jpg",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/x.jpg",
        "https://10.1.2.3/x.jpg",
        "not a url",
    ],
)
def test_links_to_non_public_or_non_web_places_are_refused(url, settings):
    settings.INGEST_ALLOWED_HTTP_HOSTS = ["emulator.internal"]
    with pytest.raises(IngestError) as caught:
        check_fetchable(url)
    assert caught.value.code == "download_refused"
    assert not caught.value.retryable


def test_allow_listed_http_host_is_fetched(server, settings):
    base, routes = server
    routes["/img"] = (200, {"Content-Type": "image/jpeg"}, b"\xff\xd8bytes")
    assert download(f"{base}/img") == (b"\xff\xd8bytes", "image/jpeg")


def test_redirect_to_an_internal_address_is_refused(server):
    base, routes = server
    routes["/img"] = (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")
    with pytest.raises(IngestError) as caught:
        download(f"{base}/img")
    assert caught.value.code == "download_refused"


def test_redirect_within_allowed_hosts_is_followed(server):
    base, routes = server
    routes["/a"] = (302, {"Location": "/b"}, b"")
    routes["/b"] = (200, {"Content-Type": "image/png"}, b"png")
    assert download(f"{base}/a") == (b"png", "image/png")


def test_redirect_loops_are_cut(server):
    base, routes = server
    routes["/loop"] = (302, {"Location": "/loop"}, b"")
    with pytest.raises(IngestError, match="redirected too many times"):
        download(f"{base}/loop")


def test_larger_than_the_cap_is_refused(server, settings):
    base, routes = server
    settings.INGEST_MAX_BYTES = 1000
    routes["/big"] = (200, {"Content-Type": "image/jpeg"}, b"x" * 5000)
    with pytest.raises(IngestError) as caught:
        download(f"{base}/big")
    assert caught.value.code == "too_large"


@pytest.mark.parametrize(("status", "code", "retryable"), [
    (404, "image_unavailable", False),
    (403, "image_unavailable", False),
    (500, "download_failed", True),
    (503, "download_failed", True),
    (400, "download_failed", False),
])  # fmt: skip
def test_error_answers_map_to_codes(server, status, code, retryable):
    base, routes = server
    routes["/e"] = (status, {}, b"nope")
    with pytest.raises(IngestError) as caught:
        download(f"{base}/e")
    assert (caught.value.code, caught.value.retryable) == (code, retryable)


def test_unreachable_host_is_a_retryable_failure(settings):
    from gallery.devstack import free_port

    with pytest.raises(IngestError) as caught:
        download(f"http://127.0.0.1:{free_port()}/x.jpg")
    assert caught.value.code == "download_failed"
    assert caught.value.retryable


def test_a_server_that_never_answers_times_out(settings):
    import socket

    settings.INGEST_READ_TIMEOUT = 0.3
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with pytest.raises(IngestError) as caught:
            download(f"http://127.0.0.1:{port}/x.jpg")
    assert caught.value.code == "download_timeout"
    assert caught.value.retryable


def test_a_slow_drip_stops_at_the_total_deadline(settings):
    import socket
    import time

    settings.INGEST_TOTAL_TIMEOUT = 1.0
    settings.INGEST_READ_TIMEOUT = 5.0

    def drip(listener):
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 100\r\n\r\n"
            )
            for _ in range(100):
                time.sleep(0.2)
                try:
                    conn.sendall(b"x")
                except OSError:
                    return

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        threading.Thread(target=drip, args=(listener,), daemon=True).start()
        started = time.monotonic()
        with pytest.raises(IngestError) as caught:
            download(f"http://127.0.0.1:{listener.getsockname()[1]}/x.jpg")
    assert time.monotonic() - started < 2.0
    assert (caught.value.code, caught.value.retryable) == ("download_timeout", True)


def test_a_public_https_link_is_checked_and_pinned_to_its_address():
    assert check_fetchable("https://93.184.216.34/x.jpg") == "93.184.216.34"


@pytest.fixture
def tls_server(tmp_path):
    """An https server at 127.0.0.1 whose certificate names images.example.test (a name that
    resolves nowhere), and the CA file that trusts it."""
    import ssl
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=images.example.test",
         "-addext", "subjectAltName=DNS:images.example.test"],
        check=True, capture_output=True,
    )  # fmt: skip
    seen = []

    class Recorder(Handler):
        def do_GET(self):  # noqa: N802
            seen.append(self.headers["Host"])
            super().do_GET()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    Handler.routes = {"/img": (200, {"Content-Type": "image/jpeg"}, b"\xff\xd8pinned")}
    yield httpd.server_address[1], str(cert), seen
    httpd.shutdown()


def test_a_pinned_download_connects_to_the_checked_address_as_the_named_host(
    tls_server, monkeypatch
):
    from gallery.services import ingest

    port, ca, seen = tls_server
    monkeypatch.setattr(ingest, "CA_BUNDLE", ca)
    url = f"https://images.example.test:{port}/img"
    with ingest.pinned_get(url, "127.0.0.1", timeout=(2, 2)) as response:
        assert response.status_code == 200
        assert response.content == b"\xff\xd8pinned"
    assert seen == [f"images.example.test:{port}"]


def test_a_pinned_download_still_checks_the_certificate_name(tls_server, monkeypatch):
    import requests

    from gallery.services import ingest

    port, ca, _ = tls_server
    monkeypatch.setattr(ingest, "CA_BUNDLE", ca)
    with pytest.raises(requests.exceptions.SSLError):
        ingest.pinned_get(f"https://other.example.test:{port}/img", "127.0.0.1", timeout=(2, 2))
