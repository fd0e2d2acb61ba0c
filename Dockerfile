# syntax=docker/dockerfile:1
# Build: a static sendq binary, the same `go build` the tests use.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X github.com/sendq/sendq/whautomate.Version=${VERSION}" \
      -o /out/sendq ./cmd/sendq

# Run: nothing but the binary, CA certificates and a non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sendq /usr/local/bin/sendq
USER nonroot:nonroot
ENV SENDQ_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/sendq"]
CMD ["worker"]
