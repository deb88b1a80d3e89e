# The app image: web (gunicorn), worker, beat and the emulator all run from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Dependencies first, pinned by constraints.txt, so code changes do not reinstall them.
COPY pyproject.toml constraints.txt README.md ./
RUN pip install -c constraints.txt .

COPY . .
# A throwaway key for this one step only; it is not in the image's environment.
RUN SECRET_KEY=collectstatic-only-not-a-secret python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home /app app \
    && mkdir -p /app/.local && chown app /app/.local
USER app

EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
