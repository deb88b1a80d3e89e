"""`make dev` keeps everything on loopback: the emulator (whose fault and reset endpoints
take anonymous POSTs), the web server, Redis and every SeaweedFS port."""

from pathlib import Path

from gallery import devstack

ROOT = Path(__file__).resolve().parent.parent


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile.dev").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_emulator_and_web_bind_to_loopback():
    processes = procfile()
    assert "--host 127.0.0.1 " in processes["emulator"]
    assert "uvicorn config.asgi:application --host 127.0.0.1 --port $WEB_PORT" in processes["web"]


def test_redis_and_seaweedfs_bind_to_loopback(tmp_path):
    assert "--bind" in (redis := devstack.redis_argv(6380, tmp_path))
    assert redis[redis.index("--bind") + 1] == "127.0.0.1"
    ports = devstack.SeaweedPorts.around(8333)
    weed = devstack.seaweedfs_argv(tmp_path, ports, tmp_path / "ids.json")
    assert "-ip.bind=127.0.0.1" in weed
    assert {"-webdav=false", "-admin.ui=false", "-disableHttp", "-debug=false"} <= set(weed)


def test_each_seaweedfs_start_draws_its_own_jwt_keys_and_certificate(tmp_path):
    first = devstack.seaweedfs_env(tmp_path / "one")
    second = devstack.seaweedfs_env(tmp_path / "two")
    keys = [name for name in first if name.startswith("WEED_JWT_")]
    assert len(keys) == 4
    assert all(len(first[k]) >= 32 and first[k] != second[k] for k in keys)
    ca = Path(first["WEED_GRPC_CA"])
    assert ca.read_bytes() != Path(second["WEED_GRPC_CA"]).read_bytes()
    assert not (ca.parent / "ca.key").exists()  # nothing can sign another certificate
    assert Path(first["WEED_GRPC_CLIENT_KEY"]).stat().st_mode & 0o077 == 0
