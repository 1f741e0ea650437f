#!/usr/bin/env bash
# The project's test command: unit/integration tests (cargo) + black-box e2e tests (pytest).
# Works from any directory; fails (never skips) when something is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Python venv for the e2e suite (created once, reused afterwards).
if ! .venv/bin/python -c 'import sys' >/dev/null 2>&1; then
    rm -rf .venv
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt

cargo fmt --all -- --check
cargo build --workspace
cargo test --workspace

TERN_BIN="$PWD/target/debug/tern" .venv/bin/python -m pytest tests/e2e -q -p no:cacheprovider
