# docker build --build-arg VERSION=$(git describe --tags --always) -t miner-detector .
# cmd/miner-detector/dockerfile_test.go runs this file's build command and
# checks the result (static, version stamped, same as `make build`).

# Build: a static binary, version stamped (the same command as `make build`).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/miner-detector ./cmd/miner-detector

# Run: no shell, no nvidia-smi, non-root (distroless "nonroot" is 65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/miner-detector /miner-detector
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/miner-detector"]
CMD ["run"]
