# The bridge's image (the default target) and, for test stands, the mock providers' (`--target idp-mock`).
# Each is its distributions' wheels over dependencies installed from a lock with hashes
# (requirements/bridge.txt, requirements/idp-mock.txt; `./dev lock` writes them). The demo (./demo,
# with its published test key) is not in the build context at all: see .dockerignore.

FROM python:3.11-slim AS wheels
WORKDIR /src
COPY requirements/build.txt requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/build.txt
COPY pyproject.toml README.md ./
COPY bridge ./bridge
COPY gost_jws ./gost_jws
COPY idp_mock ./idp_mock
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels . ./gost_jws ./idp_mock

FROM python:3.11-slim AS idp-mock
# OpenSSL's gost engine: GOST signatures in C (gost_jws/backend.py); without it, a logged fallback.
RUN apt-get update && apt-get install -y --no-install-recommends libengine-gost-openssl \
    && rm -rf /var/lib/apt/lists/*
COPY requirements/idp-mock.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt
COPY --from=wheels /wheels/edu_id_gost_jws-*.whl /wheels/edu_id_idp_mock-*.whl /tmp/wheels/
RUN pip install --no-cache-dir --no-deps /tmp/wheels/*.whl && pip check \
    && rm -r /tmp/wheels /tmp/requirements.txt && useradd --system --no-create-home idp-mock
USER idp-mock
EXPOSE 9000
CMD ["idp-mock", "--host", "0.0.0.0", "--port", "9000"]

FROM python:3.11-slim AS bridge
WORKDIR /app
# OpenSSL's gost engine: GOST signatures in C (gost_jws/backend.py); without it, a logged fallback.
RUN apt-get update && apt-get install -y --no-install-recommends libengine-gost-openssl \
    && rm -rf /var/lib/apt/lists/*
COPY requirements/bridge.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt
COPY --from=wheels /wheels/edu_id_bridge-*.whl /wheels/edu_id_gost_jws-*.whl /tmp/wheels/
RUN pip install --no-cache-dir --no-deps /tmp/wheels/*.whl && pip check \
    && rm -r /tmp/wheels /tmp/requirements.txt && useradd --system --home /app bridge
USER bridge
EXPOSE 8000
# Waits for the database, applies the migrations, then serves (bridge/cli/start.py).
CMD ["bridge", "start", "--host", "0.0.0.0", "--port", "8000"]
