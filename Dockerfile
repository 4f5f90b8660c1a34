# Image for compose.yaml: the pinned lock file, then the project.
FROM python:3.11-slim
WORKDIR /srv/tradai
# bubblewrap sandboxes strategy runs (the container needs CAP_SYS_ADMIN or user namespaces).
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir uv==0.13.9
COPY requirements.lock pyproject.toml README.md ./
RUN uv pip install --system --require-hashes -r requirements.lock
COPY domain domain
COPY commands commands
COPY projections projections
COPY adapters adapters
COPY app app
RUN uv pip install --system --no-deps --no-build-isolation .
ENV BACKEND_DATA_DIR=/var/lib/tradai
EXPOSE 8000
CMD ["tradai", "serve"]
