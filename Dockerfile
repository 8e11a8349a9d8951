# syntax=docker/dockerfile:1
# Build: docker build -t sluice .
# Run:   docker run -v $PWD/config.yaml:/etc/sluice/config.yaml -v /lake:/lake sluice
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# librdkafka and DuckDB are linked in through cgo.
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o /out/sluice ./cmd/sluice

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /nonexistent sluice
COPY --from=build /out/sluice /usr/local/bin/sluice
USER sluice
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["run", "-c", "/etc/sluice/config.yaml"]
