# The app image: web (gunicorn with uvicorn workers), worker, beat, migrate and the emulator all run from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --system --user-group --uid 10001 --home-dir /app --no-create-home app
WORKDIR /app

# Dependencies first, pinned by constraints.txt, so a code change does not reinstall them.
# pyproject.toml declares no packages of its own: this installs the dependencies only.
COPY pyproject.toml constraints.txt README.md ./
RUN pip install -c constraints.txt . && rm -rf build ./*.egg-info

COPY . .

# collectstatic needs some SECRET_KEY to load settings: a throwaway one for this step only,
# never in the image's environment (the real key comes from the environment at run time).
ARG COLLECTSTATIC_SECRET_KEY=collectstatic-only-not-a-secret
RUN SECRET_KEY="$COLLECTSTATIC_SECRET_KEY" python manage.py collectstatic --noinput \
    && chown app:app /app/.local

# The code stays root-owned and read-only to the app user.
USER app
EXPOSE 8000

# Sends the first ALLOWED_HOSTS entry as Host (Django refuses others) and claims https, so
# neither a real domain in ALLOWED_HOSTS nor SECURE_SSL_REDIRECT fails the check.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; h = os.environ.get('ALLOWED_HOSTS', '').split(',')[0].strip().lstrip('.').replace('*', '') or 'localhost'; r.urlopen(r.Request('http://127.0.0.1:8000/healthz', headers={'Host': h, 'X-Forwarded-Proto': 'https'}), timeout=8)"]

CMD ["sh", "-c", "exec gunicorn config.asgi:application --worker-class uvicorn_worker.UvicornWorker --bind 0.0.0.0:8000 --workers ${WEB_CONCURRENCY:-2} --access-logfile -"]
