# A static gatedpo image: the four commands, built with CGO_ENABLED=0 (the
# pure-Go BLAS), on a minimal base. deploy/k8s-indexed-job.yaml runs it.
#
#   docker build -t registry.example.com/gatedpo:latest .
#   docker run --rm -v $PWD/runs:/results registry.example.com/gatedpo:latest -grid default -out /results/default
#
# The shared data for the built-in `paper` grids is not in the image: mount
# it at /src/shared (the job file does).
FROM golang:1.26-bookworm AS build
WORKDIR /src/gatedpo
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X gatedpo/cmd/internal/cli.Version=${VERSION}" -o /out/ ./cmd/sweep ./cmd/figures ./cmd/compare ./cmd/inspect ./cmd/bench

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
WORKDIR /src/gatedpo
ENTRYPOINT ["/usr/local/bin/sweep"]
