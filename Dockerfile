# Provider image. Multi-stage: wheels are built in the first stage, the runtime stage has no
# compiler and runs as a non-root user. (Docker cannot run on the machines where this project is
# developed; this file is kept simple and checked by reading.)
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements.lock pyproject.toml README.md ./
COPY idp ./idp
COPY migrations ./migrations
COPY relying_party_demo ./relying_party_demo
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.lock . 

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /srv/idp --create-home idp
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels national-idp && rm -rf /wheels
USER idp
WORKDIR /srv/idp
ENV IDP_ENV=production \
    IDP_KEYS_DIR=/srv/idp/keys
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/login', timeout=2)" || exit 1
CMD ["idp", "serve", "--host", "0.0.0.0", "--port", "8000"]
