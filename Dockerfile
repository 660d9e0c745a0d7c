# deskprov: one process, data (SQLite database and key file) in the /data volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DESKPROV_HOST=0.0.0.0 \
    DESKPROV_PORT=8080 \
    DESKPROV_DATABASE_URL=sqlite+aiosqlite:////data/deskprov.db \
    DESKPROV_KEY_FILE=/data/deskprov.keys

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY device_templates ./device_templates
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /data deskprov \
    && mkdir -p /data && chown deskprov /data

USER deskprov
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s \
  CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)" || exit 1
CMD ["deskprov", "serve"]
