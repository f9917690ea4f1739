# The provider's production image (docs/deploy.md).
#
# Two stages: `build` installs the locked requirements and the provider's own wheel into a
# virtual environment; the runtime stage gets only that environment, on the same slim base, and
# runs as an unprivileged user with a fixed uid (10001), so that files it must read (keys,
# secrets) can be given to that uid on the host. It was written without a Docker daemon at hand:
# it is kept simple, checked by reading, and the build stage's commands were run by hand.
#
#   docker build -t national-idp .
#   docker run --env-file idp.env -p 8000:8000 -v "$PWD/keys:/srv/idp/keys:ro" national-idp
#
# The default command is `idp serve`; any other `idp` command runs in its place
# (`docker run ... national-idp idp db upgrade`).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/idp
WORKDIR /src
# The locked requirements first, in a layer of their own: it is rebuilt only when they change.
COPY requirements.lock ./
RUN /opt/idp/bin/pip install --no-deps -r requirements.lock
COPY pyproject.toml setup.py README.md ./
COPY idp ./idp
COPY migrations ./migrations
COPY relying_party_demo ./relying_party_demo
# The provider as a wheel, then two checks: every requirement is satisfied, and the installed
# package (imported from outside the source tree) carries its Alembic scripts, without which
# `idp db upgrade` could not run from the image.
RUN /opt/idp/bin/pip wheel --no-deps --wheel-dir /src/dist . \
    && /opt/idp/bin/pip install --no-deps /src/dist/*.whl \
    && /opt/idp/bin/pip check \
    && cd / && /opt/idp/bin/python -c "from idp.storage.migrate import migrations_folder as f; f()"

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 idp \
    && useradd --system --uid 10001 --gid 10001 --home-dir /srv/idp --create-home \
        --shell /usr/sbin/nologin idp \
    && install --directory --owner 10001 --group 10001 --mode 0700 /srv/idp/keys
COPY --from=build /opt/idp /opt/idp
ENV PATH=/opt/idp/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    IDP_ENV=production \
    IDP_KEYS_DIR=/srv/idp/keys \
    IDP_HOST=0.0.0.0 \
    IDP_PORT=8000 \
    IDP_WORKERS=2
WORKDIR /srv/idp
USER 10001:10001
EXPOSE 8000
# Liveness only: /healthz touches neither the database nor the keys, so an outage of the
# database never gets healthy containers restarted (docs/operations/observability.md).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3)" \
        "http://127.0.0.1:${IDP_PORT}/healthz"
# A shell only to read IDP_HOST, IDP_PORT and IDP_WORKERS; `exec` leaves `idp serve` as PID 1,
# so it receives the SIGTERM of `docker stop` and lets its workers finish their requests.
CMD ["sh", "-c", "exec idp serve --host \"$IDP_HOST\" --port \"$IDP_PORT\" --workers \"$IDP_WORKERS\""]
