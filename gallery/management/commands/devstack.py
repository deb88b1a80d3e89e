"""Pieces of `make dev`: a port preflight and the native Redis and SeaweedFS processes."""

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from gallery import devstack

LOCAL = Path(settings.BASE_DIR) / ".local"


class Command(BaseCommand):
    help = "Run one part of the local stack: preflight | redis | seaweedfs."

    def add_arguments(self, parser):
        parser.add_argument("part", choices=["preflight", "redis", "seaweedfs"])
        parser.add_argument(
            "--port", action="append", default=[], metavar="VAR=PORT",
            help="preflight: a port the stack needs and the variable that moves it",
        )  # fmt: skip
        parser.add_argument("--s3-port", type=int, default=8333)
        parser.add_argument("--redis-port", type=int, default=6380)

    def handle(self, *args, part: str, **options):
        LOCAL.mkdir(exist_ok=True)
        if part == "preflight":
            self.preflight(options["port"])
        elif part == "redis":
            self.exec(devstack.redis_argv(options["redis_port"], _dir("redis")))
        else:
            self.seaweedfs(options["s3_port"])

    def preflight(self, ports: list[str]) -> None:
        busy = []
        for spec in ports:
            variable, _, value = spec.partition("=")
            if not value.isdigit():
                raise CommandError(f"--port wants VAR=PORT, got {spec!r}")
            if devstack.port_in_use(int(value)):
                busy.append(f"port {value} is already in use: set {variable} to move it")
        if busy:
            raise CommandError("\n".join(busy))
        self.stdout.write(f"ports free: {', '.join(p.partition('=')[2] for p in ports)}")

    def seaweedfs(self, s3_port: int) -> None:
        if not settings.AWS_ACCESS_KEY_ID or not settings.AWS_SECRET_ACCESS_KEY:
            raise CommandError("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
        identities = LOCAL / "s3-identities.json"
        devstack.write_s3_identities(
            identities, settings.AWS_ACCESS_KEY_ID, settings.AWS_SECRET_ACCESS_KEY
        )
        ports = devstack.SeaweedPorts.around(s3_port)
        busy = [p for p in ports.all() if devstack.port_in_use(p)]
        if busy:
            raise CommandError(
                f"SeaweedFS needs ports {busy} which are in use: set S3_PORT to move the stack's "
                "S3 (its internal ports follow it)"
            )
        self.exec(
            devstack.seaweedfs_argv(_dir("seaweedfs"), ports, identities),
            env=devstack.seaweedfs_env(_dir("seaweedfs-tls")),
        )

    def exec(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.stdout.write(" ".join(argv[:2]) + " ...")
        self.stdout.flush()
        os.execve(argv[0], argv, {**os.environ, **(env or {})})


def _dir(name: str) -> Path:
    path = LOCAL / name
    path.mkdir(parents=True, exist_ok=True)
    return path
