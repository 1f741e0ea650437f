#!/usr/bin/env bash
# Builds the Tern Lambda layer: the release binary of tern-extension (profile `lambda`: release
# optimised for size) and
# dist/tern-layer-<arch>.zip holding it as extensions/tern (nothing else is needed at run time).
#
#   bash extension/package.sh            # x86_64 (native build on an x86_64 Linux host)
#   bash extension/package.sh arm64      # aarch64 cross build, see README "Lambda" for the setup
#
# Prints the binary and zip sizes. CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

arch="${1:-x86_64}"
target_dir="${CARGO_TARGET_DIR:-target}"
case "$arch" in
    x86_64|amd64)
        arch=x86_64
        if [ "$(uname -m)" = x86_64 ]; then
            cargo build --profile lambda --locked -p tern-extension
            bin="$target_dir/lambda/tern-extension"
        else
            cargo build --profile lambda --locked -p tern-extension --target x86_64-unknown-linux-gnu
            bin="$target_dir/x86_64-unknown-linux-gnu/lambda/tern-extension"
        fi
        ;;
    arm64|aarch64)
        arch=arm64
        if [ "$(uname -m)" = aarch64 ]; then
            cargo build --profile lambda --locked -p tern-extension
            bin="$target_dir/lambda/tern-extension"
        else
            export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER="${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER:-aarch64-linux-gnu-gcc}"
            export CC_aarch64_unknown_linux_gnu="${CC_aarch64_unknown_linux_gnu:-aarch64-linux-gnu-gcc}"
            cargo build --profile lambda --locked -p tern-extension --target aarch64-unknown-linux-gnu
            bin="$target_dir/aarch64-unknown-linux-gnu/lambda/tern-extension"
        fi
        ;;
    *)
        echo "usage: $0 [x86_64|arm64]" >&2
        exit 2
        ;;
esac

mkdir -p dist
zip_path="dist/tern-layer-$arch.zip"
python3 - "$bin" "$zip_path" <<'PY'
import sys, zipfile
binary, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    for d in ("extensions/",):
        info = zipfile.ZipInfo(d, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = (0o40755 << 16) | 0x10
        z.writestr(info, b"")
    info = zipfile.ZipInfo("extensions/tern", date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = 0o100755 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(binary, "rb") as f:
        z.writestr(info, f.read(), compresslevel=9)
PY
bin_size=$(stat -c %s "$bin")
zip_size=$(stat -c %s "$zip_path")
echo "binary: $bin ($bin_size bytes, $((bin_size / 1024)) KiB)"
echo "layer:  $zip_path ($zip_size bytes, $((zip_size / 1024)) KiB)"
