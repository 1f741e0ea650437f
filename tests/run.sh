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

# Deployment layer: CDK constructs (jest, cdk-nag, cfn-lint, synth), the EC2 install script,
# the systemd unit and the ECS task definition (installs Node >= 20, cfn-lint, systemd tools).
bash deploy/ci.sh

TERN_BIN="$PWD/target/debug/tern" .venv/bin/python -m pytest tests/e2e -q -p no:cacheprovider
