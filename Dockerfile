# The bridge (and, for test stands, the mock providers) as one image.
FROM python:3.11-slim
WORKDIR /app
# OpenSSL's gost engine: ESIA's GOST signatures in C (gost_jws/backend.py); without it the bridge falls back.
RUN apt-get update && apt-get install -y --no-install-recommends libengine-gost-openssl \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY bridge ./bridge
COPY idp_mock ./idp_mock
COPY gost_jws ./gost_jws
RUN pip install --no-cache-dir . && useradd --system --home /app bridge
USER bridge
EXPOSE 8000
CMD ["sh", "-c", "bridge db upgrade && bridge serve --host 0.0.0.0 --port 8000"]
