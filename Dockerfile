# DOdata Connector: slim, non-root, migrations at start, health check on /healthz.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY connector ./connector
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/connector --create-home connector
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY policies /opt/connector/policies
ENV CONNECTOR_DATA_DIR=/var/lib/connector/data \
    CONNECTOR_POLICY_DIR=/opt/connector/policies \
    PYTHONUNBUFFERED=1
USER connector
WORKDIR /var/lib/connector
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"]
# `serve` applies migrations before it listens.
ENTRYPOINT ["connector"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
