"""A throwaway stack for benchmarks: Redis, SeaweedFS and the emulator on free ports, and a
fresh database, all stopped on exit. Call `start()` before importing anything from Django."""

from __future__ import annotations

import atexit
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gallery import devstack  # noqa: E402  (plain module, no Django needed)


class Stack:
    def __init__(self) -> None:
        self.procs = []
        self.tmp = Path(tempfile.mkdtemp(prefix="seedgallery-bench-"))
        self.env: dict[str, str] = {}

    def stop(self) -> None:
        for proc in reversed(self.procs):
            devstack.stop(proc)


def start(
    *, emulator_latency: float = 0.0, database: str = "sqlite", extra_env: dict | None = None
) -> Stack:
    stack = Stack()
    atexit.register(stack.stop)
    redis_port, emulator_port = devstack.free_port(), devstack.free_port()
    ports = devstack.SeaweedPorts.free()
    s3_port = ports.s3
    key = "bench-key"
    env = {
        "SECRET_KEY": "bench-only",
        "DEBUG": "0",
        # Production-like, but over plain HTTP: benchmarks talk to the app without TLS.
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_STORAGE_BUCKET_NAME": "bench",
        "SEEDREAM_BASE_URL": f"http://127.0.0.1:{emulator_port}/v1",
        "SEEDREAM_API_KEY": key,
        "SEEDREAM_EMULATOR_KEYS": key,
        "SEEDREAM_EMULATOR_LATENCY": str(emulator_latency),
        "INGEST_ALLOWED_HTTP_HOSTS": "127.0.0.1",
        "GENERATION_DAILY_IMAGE_LIMIT": "100000",
    }
    if database == "postgres":
        env["DATABASE_URL"] = os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/seedgallery_bench"
        )
    else:
        env["SQLITE_PATH"] = str(stack.tmp / "bench.sqlite3")
    env.update(extra_env or {})
    os.environ.update(env)
    stack.env = dict(os.environ)

    redis_dir = stack.tmp / "redis"
    redis_dir.mkdir()
    stack.procs.append(
        devstack.start(devstack.redis_argv(redis_port, redis_dir), log_path=stack.tmp / "redis.log")
    )
    weed_dir = stack.tmp / "weed"
    weed_dir.mkdir()
    identities = stack.tmp / "s3.json"
    devstack.write_s3_identities(identities, "bench", "bench-secret")
    stack.procs.append(
        devstack.start(
            devstack.seaweedfs_argv(weed_dir, ports, identities),
            log_path=stack.tmp / "weed.log",
            env=devstack.seaweedfs_env(stack.tmp / "weed-tls"),
        )
    )
    stack.procs.append(
        devstack.start(
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "seedream_emulator",
                "--port",
                str(emulator_port),
            ],
            log_path=stack.tmp / "emulator.log",
        )
    )
    for port in (redis_port, s3_port, emulator_port):
        devstack.wait_for_port(port, timeout=60)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    if database == "postgres":
        _recreate_postgres_database(env["DATABASE_URL"])
    call_command("migrate", verbosity=0)
    deadline = time.monotonic() + 30
    while True:
        try:
            call_command("ensure_bucket", verbosity=0)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    return stack


def _recreate_postgres_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
