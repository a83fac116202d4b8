#!/usr/bin/env bash
# Refresh requirements.lock: the exact version and the hashes of every Python package
# scripts/setup.sh and tox install (pyproject.toml's dependencies, its test extra, and its
# install group: pip and the build backend), resolved for Python 3.11 on Linux.
#
#   bash scripts/lock.sh                            after editing pyproject.toml: the lock's versions
#                                                   are kept wherever they still satisfy it
#   bash scripts/lock.sh --upgrade                  every package at the newest version allowed
#   bash scripts/lock.sh --upgrade-package uvicorn  one package (any uv pip compile option works)
#
# Then bash scripts/setup.sh (the lock is part of its stamp: it reinstalls) and
# bash scripts/run test. A new uvicorn fails tests/unit/test_uvicorn_private.py until it
# is checked and added there (fxml/web/server.py subclasses uvicorn's private HTTP protocol).
#
# uv comes from PyPI into a throw-away virtual environment, at the version below.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/python" -m pip install -q "uv==$UV_VERSION"
"$tools/bin/uv" pip compile pyproject.toml --extra test --group install --generate-hashes \
  --python-version 3.11 --custom-compile-command "bash scripts/lock.sh" -o requirements.lock "$@"
