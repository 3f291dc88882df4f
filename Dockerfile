# The ledger service, built from source with the official Swift image.
FROM swift:6.0-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq-dev libmicrohttpd-dev libssl-dev libcurl4-openssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product ledger

FROM swift:6.0-bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 libmicrohttpd12 libssl3 libcurl4 curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /app ledger
WORKDIR /app
COPY --from=build /src/.build/release/ledger /usr/local/bin/ledger
COPY Schema ./Schema
ENV LEDGER_SCHEMA_DIR=/app/Schema \
    LEDGER_LISTEN=0.0.0.0:8080
USER ledger
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["ledger"]
CMD ["serve"]
