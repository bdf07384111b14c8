# syntax=docker/dockerfile:1
# r2plus1d: build with the official Swift 6 image, run on Debian bookworm-slim with only the runtime libraries.
#   docker build -t r2plus1d .                                   (bakes in whatever weights/ holds)
#   docker build --build-arg WEIGHTS_URL=https://download.pytorch.org/models/r2plus1d_18-91a641e6.pth -t r2plus1d .
#   docker run -p 8080:8080 -v "$PWD/weights:/app/weights:ro" r2plus1d   (or -e R2PLUS1D_DEMO_WEIGHTS=1 to try it without weights)

FROM swift:6.3-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas-dev libavformat-dev libavcodec-dev libavutil-dev \
      libswscale-dev libssl-dev zlib1g-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
# Package.swift declares the test and fuzz targets too, and SwiftPM refuses a manifest whose target folders are missing.
COPY Tests ./Tests
COPY fuzz/Sources ./fuzz/Sources
RUN swift build -c release --product r2plus1d \
 && install -D "$(swift build -c release --show-bin-path)/r2plus1d" /out/r2plus1d

FROM debian:bookworm-slim AS weights
ARG WEIGHTS_URL=""
ARG WEIGHTS_SHA256=""
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /weights
COPY weights/ ./
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# WEIGHTS_SHA256 checks any file whole; without it, a torchvision file is checked against the first 8 hex digits
# of its SHA-256, which its name carries, and a file with no hash in its name (a MindSpore .ckpt) is refused.
RUN if [ -n "$WEIGHTS_URL" ]; then \
      name="$(basename "$WEIGHTS_URL")"; \
      if [ -n "$WEIGHTS_SHA256" ]; then expected="$WEIGHTS_SHA256"; \
      elif [[ $name =~ -([0-9a-f]{8})\.pth$ ]]; then expected="${BASH_REMATCH[1]}"; \
      else echo "$name has no SHA-256 prefix in its name: give --build-arg WEIGHTS_SHA256=..."; exit 1; fi; \
      curl -fsSL -o "$name" "$WEIGHTS_URL"; \
      sha256sum "$name" | grep -q "^$expected" || { echo "checksum mismatch for $name"; exit 1; }; \
    fi

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0-pthread libavformat59 libavcodec59 libavutil57 \
      libswscale6 libssl3 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /app r2plus1d
WORKDIR /app
COPY --from=build /out/r2plus1d /usr/local/bin/r2plus1d
COPY --from=build /usr/lib/swift/linux/*.so /usr/lib/swift/linux/
COPY --from=weights --chown=r2plus1d /weights ./weights
ENV LD_LIBRARY_PATH=/usr/lib/swift/linux \
    R2PLUS1D_DEMO_WEIGHTS=0 \
    R2PLUS1D_PORT=8080
USER 10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s CMD ["curl", "-fsS", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["r2plus1d"]
CMD ["serve"]
