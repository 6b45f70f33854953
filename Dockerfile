# The bridge (and, for test stands, the mock providers) as one image.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bridge ./bridge
COPY idp_mock ./idp_mock
COPY gost_jws ./gost_jws
RUN pip install --no-cache-dir . && useradd --system --home /app bridge
USER bridge
EXPOSE 8000
CMD ["sh", "-c", "bridge db upgrade && bridge serve --host 0.0.0.0 --port 8000"]
