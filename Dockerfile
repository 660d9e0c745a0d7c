# deskprov in a container: the server in a virtual environment installed from the lock file,
# its data (SQLite database and key file) in the /data volume. See docs/operations.md.
#
#   docker build -t deskprov .
#   docker run -d --name deskprov -p 8080:8080 -v deskprov-data:/data \
#     -e DESKPROV_PUBLIC_URL=http://prov.example.com:8080 deskprov
#   docker exec deskprov deskprov org create "Acme"
#
# The base: Python 3.11 (the lock file's floor) on Debian 12, pinned by version and digest (a
# rebuild of the tag does not change what is built; move both deliberately). BASE may name any
# image with python3 and its venv module (CI builds on a Debian 12 base it makes with
# debootstrap, Docker Hub being out of its reach).
ARG BASE=python:3.11.11-slim-bookworm@sha256:081075da77b2b55c23c088251026fb69a7b2bf92471e491ff5fd75c192fd38e5
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/deskprov/bin:$PATH \
    DESKPROV_HOST=0.0.0.0 \
    DESKPROV_PORT=8080 \
    DESKPROV_DATABASE_URL=sqlite+aiosqlite:////data/deskprov.db \
    DESKPROV_KEY_FILE=/data/deskprov.keys

# Dependencies first (their layer is rebuilt only when the lock file changes), every one pinned
# with its hashes; then deskprov itself, without resolving anything again.
COPY requirements/image.txt /opt/deskprov-src/requirements.txt
RUN python3 -m venv /opt/deskprov \
    && /opt/deskprov/bin/pip install --no-cache-dir --disable-pip-version-check \
       --require-hashes -r /opt/deskprov-src/requirements.txt
COPY pyproject.toml README.md LICENSE /opt/deskprov-src/
COPY src /opt/deskprov-src/src
COPY device_templates /opt/deskprov-src/device_templates
RUN /opt/deskprov/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps \
       /opt/deskprov-src \
    && rm -rf /opt/deskprov-src \
    && mkdir -p /data && chown 10001:10001 /data

# Any user id works (`docker run --user "$(id -u):$(id -g)"` for a bind-mounted folder that
# user owns); by default 10001, which owns the /data of a named volume.
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# Asks /healthz on the port DESKPROV_PORT names (and over HTTPS when DESKPROV_TLS_CERT is set).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD ["deskprov", "healthcheck"]
CMD ["deskprov", "serve"]
