# One image for web, worker and beat; docker-compose.yml picks the process with `command`.
FROM python:3.11-slim

# manage.py, gunicorn and celery import the apps from /app, where templates/ and the apps'
# static files live next to the code (BASE_DIR in settings.py is /app); pip installs the
# project for its dependencies and the console scripts (gunicorn, celery).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    MEDIA_ROOT=/data/uploads

WORKDIR /app
COPY . .

RUN pip install -c requirements.lock . \
    && groupadd --system --gid 10001 rxrevops \
    && useradd --system --uid 10001 --gid rxrevops --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin rxrevops \
    && mkdir -p /data/uploads \
    && chown rxrevops:rxrevops /data/uploads

# Static files are collected into the image (STATIC_ROOT=/app/var/static) and served by
# WhiteNoise. The SECRET_KEY here exists only for this step and is not kept in the image.
RUN RXREVOPS_ENV=production SECRET_KEY=build-time-only-collectstatic-key-not-used-at-runtime \
    python manage.py collectstatic --no-input

USER rxrevops:rxrevops
EXPOSE 8000
CMD ["gunicorn", "rxrevops.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4"]
