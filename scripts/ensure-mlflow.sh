#!/usr/bin/env bash
# A real MLflow tracking server for the gateway's test, in its own environment (.tools/mlflow),
# installed from its own lock (tests/mlflow/requirements.lock, every package with its hash): the
# project's lock does not carry MLflow. Reinstalled when the lock changes.
set -euo pipefail
UV="${UV:-.tools/bin/uv}"
ENV_DIR=.tools/mlflow
LOCK=tests/mlflow/requirements.lock
STAMP="$ENV_DIR/.installed"
if [ -f "$STAMP" ] && [ "$STAMP" -nt "$LOCK" ]; then
  exit 0
fi
test -x "$ENV_DIR/bin/python" || "$UV" venv --quiet --python python3 "$ENV_DIR"
"$UV" pip sync --quiet --require-hashes --python "$ENV_DIR/bin/python" "$LOCK"
touch "$STAMP"
