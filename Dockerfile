# The TradAI image (compose.yaml): `tradai serve` by default; the same image runs `tradai worker`,
# `tradai relay` and `tradai seed`. Build: `docker build -t tradai-backend .`
#
# Stage 1 installs the image's pinned lock (every package checked against its hash) and then the
# project into a virtual environment; stage 2 copies that environment next to bubblewrap and runs
# it as an unprivileged user. Both stages use the same base image, so the environment's
# interpreter link (/usr/local/bin/python3.11) is valid in both.
FROM python:3.11-slim-bookworm AS build
ENV UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
# The image's lock: the service's dependencies and the build backend, the versions and hashes of
# requirements.lock (`make lock` derives it), without the dev extra's test and benchmark tools.
COPY requirements-image.lock ./
# Bytecode is compiled now: sandboxed runs see the environment read-only.
RUN uv venv --python /usr/local/bin/python3.11 /opt/venv \
    && uv pip sync --no-cache --require-hashes --compile-bytecode --python /opt/venv/bin/python \
        requirements-image.lock
COPY pyproject.toml README.md ./
COPY domain domain
COPY commands commands
COPY projections projections
COPY adapters adapters
COPY app app
# hatchling comes from the lock (its `build` extra): no unpinned build environment.
RUN uv pip install --no-cache --no-deps --no-build-isolation --compile-bytecode \
        --python /opt/venv/bin/python .

# The web UI's libraries (uPlot, jsdiff) from npm, pinned with their hashes by package-lock.json;
# only their distribution files go into the image (app/controllers/ui.py finds them under
# /opt/venv/share/tradai/node_modules).
FROM node:22-bookworm-slim AS ui
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM python:3.11-slim-bookworm
# bubblewrap sandboxes strategy runs; setpriv (util-linux) is what the sandbox uses when the
# service runs as root. A worker container needs extra security options: see compose.yaml.
# Not pinned: bookworm's point releases replace the versions (security fixes) and drop the old.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap util-linux libseccomp2 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 tradai \
    && useradd --system --uid 10001 --gid tradai --home-dir /var/lib/tradai \
        --shell /usr/sbin/nologin tradai \
    && install -d -o tradai -g tradai -m 0750 /var/lib/tradai
COPY --from=build /opt/venv /opt/venv
COPY --from=ui /src/node_modules/uplot/dist /opt/venv/share/tradai/node_modules/uplot/dist
COPY --from=ui /src/node_modules/diff/dist /opt/venv/share/tradai/node_modules/diff/dist
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    BACKEND_DATA_DIR=/var/lib/tradai
WORKDIR /var/lib/tradai
# A numeric user, so an orchestrator can check that the container does not run as root.
USER 10001:10001
EXPOSE 8000
CMD ["tradai", "serve"]
