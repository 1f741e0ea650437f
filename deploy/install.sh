#!/bin/sh
# Installs, upgrades or removes Tern as a systemd service (the EC2 agent).
#
#   sudo sh install.sh --binary ./tern [--sha256 HEX] [--config ./config.yaml]
#   sudo sh install.sh --url https://…/tern --sha256 HEX [--config ./config.yaml]
#   sudo sh install.sh --uninstall [--purge]
#
# Options (the environment variables DESTDIR and PREFIX are honoured too; options win):
#   --binary PATH      the tern binary to install
#   --url URL          download the binary (https only; --sha256 is then required)
#   --sha256 HEX       expected SHA-256 of the binary; checked before anything is changed
#   --config FILE      config to install as /etc/tern/config.yaml. An existing config is kept
#                      (it may hold local changes); the new one is written beside it as
#                      config.yaml.new when it differs. --replace-config overwrites instead
#                      (the old one is saved as config.yaml.old).
#   --unit FILE        systemd unit template (default: systemd/tern.service beside this script)
#   --prefix DIR       binary goes to DIR/bin/tern (default /usr/local)
#   --destdir DIR      stage under DIR (packaging, tests): no user is created, nothing is
#                      chowned, no service is touched
#   --no-start         install only; do not enable or (re)start the service
#   --uninstall        stop and disable the service, remove the binary and the unit; keeps
#                      /etc/tern and /var/lib/tern (unsent data) unless --purge
#   --purge            with --uninstall: also remove /etc/tern, /var/lib/tern and the tern user
#
# Layout: PREFIX/bin/tern (root 0755), /etc/tern (root:tern 0750), /etc/tern/config.yaml
# (root:tern 0640), /etc/systemd/system/tern.service (root 0644), /var/lib/tern (created by
# systemd from StateDirectory=tern). The config is validated with the new binary before the
# running service is touched.
set -eu

destdir="${DESTDIR:-}"
prefix="${PREFIX:-/usr/local}"
binary=""
url=""
sha256=""
config=""
unit=""
start=yes
action=install
purge=no
replace_config=no

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
        --url) url="${2:?--url needs a URL}"; shift 2 ;;
        --sha256) sha256="${2:?--sha256 needs a hex digest}"; shift 2 ;;
        --config) config="${2:?--config needs a file}"; shift 2 ;;
        --unit) unit="${2:?--unit needs a file}"; shift 2 ;;
        --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
        --destdir) destdir="${2:?--destdir needs a directory}"; shift 2 ;;
        --no-start) start=no; shift ;;
        --replace-config) replace_config=yes; shift ;;
        --uninstall) action=uninstall; shift ;;
        --purge) purge=yes; shift ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
done

case "$prefix" in /*) ;; *) die "--prefix must be an absolute path" ;; esac
if [ -n "$destdir" ]; then
    case "$destdir" in /*) ;; *) destdir="$(pwd)/$destdir" ;; esac
    start=no
fi
[ "$purge" = no ] || [ "$action" = uninstall ] || die "--purge only goes with --uninstall"

bin_path="$destdir$prefix/bin/tern"
etc_dir="$destdir/etc/tern"
config_path="$etc_dir/config.yaml"
unit_path="$destdir/etc/systemd/system/tern.service"
state_dir="$destdir/var/lib/tern"

# systemd is usable only when it is PID 1 and we are not staging into a DESTDIR.
systemd_running() {
    [ -z "$destdir" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1
}

if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root (or stage with --destdir)"
fi

if [ "$action" = uninstall ]; then
    if systemd_running; then
        systemctl disable --now tern.service 2>/dev/null || true
    fi
    rm -f "$unit_path" "$bin_path"
    if systemd_running; then
        systemctl daemon-reload
    fi
    if [ "$purge" = yes ]; then
        rm -rf "$etc_dir" "$state_dir"
        if [ -z "$destdir" ] && id tern >/dev/null 2>&1; then
            userdel tern
        fi
        say "removed tern, its unit, /etc/tern, /var/lib/tern and the tern user"
    else
        say "removed $prefix/bin/tern and the unit; kept /etc/tern and /var/lib/tern (--purge removes them)"
    fi
    exit 0
fi

# --- install or upgrade ---------------------------------------------------------------------
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ -n "$url" ]; then
    [ -z "$binary" ] || die "give --binary or --url, not both"
    [ -n "$sha256" ] || die "--url needs --sha256"
    case "$url" in https://*) ;; *) die "--url must be https://" ;; esac
    command -v curl >/dev/null 2>&1 || die "curl is needed for --url"
    curl -fsSL --proto '=https' -o "$work/tern" "$url" || die "download failed: $url"
    binary="$work/tern"
fi
[ -n "$binary" ] || die "give --binary PATH or --url URL (see --help)"
[ -f "$binary" ] || die "binary not found: $binary"

if [ -z "$unit" ]; then
    unit="$(dirname "$0")/systemd/tern.service"
fi
[ -f "$unit" ] || die "unit template not found: $unit (give --unit)"
[ -z "$config" ] || [ -f "$config" ] || die "config not found: $config"

# 1. Checksum (before anything is changed).
actual_sha256="$(sha256sum "$binary" | cut -d' ' -f1)"
if [ -n "$sha256" ]; then
    expected="$(printf '%s' "$sha256" | tr 'A-F' 'a-f')"
    [ "$actual_sha256" = "$expected" ] || die "SHA-256 mismatch for $binary: expected $expected, got $actual_sha256"
    say "SHA-256 verified: $actual_sha256"
fi

# 2. The binary is an ELF executable for this machine (e_machine at offset 18).
magic="$(od -An -tx1 -N4 "$binary" | tr -d ' \n')"
[ "$magic" = 7f454c46 ] || die "$binary is not an ELF executable"
machine="$(od -An -tx1 -j18 -N2 "$binary" | tr -d ' \n')"
case "$machine" in
    3e00) bin_arch=x86_64 ;;
    b700) bin_arch=aarch64 ;;
    *) bin_arch="unknown($machine)" ;;
esac
host_arch="$(uname -m)"
runnable=yes
if [ "$bin_arch" != "$host_arch" ]; then
    [ -n "$destdir" ] || die "$binary is built for $bin_arch, this machine is $host_arch"
    runnable=no
    say "staging a $bin_arch binary on $host_arch: config validation skipped"
fi

# 3. The config the service will run: the existing one is kept.
upgrade=no
[ -e "$bin_path" ] && upgrade=yes
effective_config="$config"
if [ -f "$config_path" ]; then
    if [ -n "$config" ] && [ "$replace_config" = no ]; then
        effective_config="$config_path"
    elif [ -z "$config" ]; then
        effective_config="$config_path"
    fi
fi
[ -n "$effective_config" ] || die "no config: give --config FILE (nothing at $config_path yet)"

# 4. Validate with the new binary before touching anything that runs.
if [ "$runnable" = yes ]; then
    cp "$binary" "$work/tern-check"
    chmod 0755 "$work/tern-check"
    if [ -f "$destdir/etc/tern/tern.env" ]; then
        # Variables the unit would set (EnvironmentFile) for ${env:...} in the config.
        set -a
        # shellcheck source=/dev/null
        . "$destdir/etc/tern/tern.env"
        set +a
    fi
    "$work/tern-check" validate --config "$effective_config" || die "config $effective_config is invalid; nothing was changed"
fi

# 5. User and group.
if [ -z "$destdir" ] && ! id tern >/dev/null 2>&1; then
    nologin=/usr/sbin/nologin
    [ -x "$nologin" ] || nologin=/sbin/nologin
    useradd --system --no-create-home --home-dir /var/lib/tern --shell "$nologin" --user-group tern
    say "created system user tern"
fi
owner() {  # owner USER:GROUP FILE... (only on a real install)
    if [ -z "$destdir" ]; then chown "$@"; fi
}

# 6. Files. The binary is replaced by rename, so a running tern keeps its old inode.
install -d -m 0755 "$destdir$prefix/bin" "$destdir/etc/systemd/system"
install -m 0755 "$binary" "$bin_path.new"
owner root:root "$bin_path.new"
mv -f "$bin_path.new" "$bin_path"

install -d -m 0750 "$etc_dir"
owner root:tern "$etc_dir"
if [ -n "$config" ]; then
    if [ ! -f "$config_path" ]; then
        install -m 0640 "$config" "$config_path"
        owner root:tern "$config_path"
    elif [ "$replace_config" = yes ]; then
        cp -p "$config_path" "$config_path.old"
        install -m 0640 "$config" "$config_path"
        owner root:tern "$config_path"
        say "replaced $config_path (previous one saved as config.yaml.old)"
    elif ! cmp -s "$config" "$config_path"; then
        install -m 0640 "$config" "$config_path.new"
        owner root:tern "$config_path.new"
        say "kept $config_path (it differs from $config, which was written as config.yaml.new)"
    fi
fi

sed "s#/usr/local/bin/tern#$prefix/bin/tern#g" "$unit" > "$work/tern.service"
install -m 0644 "$work/tern.service" "$unit_path"
owner root:root "$unit_path"

if [ "$upgrade" = yes ]; then
    say "upgraded $bin_path (sha256 $actual_sha256)"
else
    say "installed $bin_path (sha256 $actual_sha256)"
fi

# 7. Service.
if [ "$start" = no ]; then
    say "not starting the service (--no-start or --destdir)"
    exit 0
fi
if ! systemd_running; then
    say "systemd is not running here: start tern yourself (systemctl enable --now tern)"
    exit 0
fi
systemctl daemon-reload
systemctl enable tern.service >/dev/null
if [ "$upgrade" = yes ]; then
    systemctl restart tern.service
else
    systemctl start tern.service
fi
i=0
while [ $i -lt 20 ]; do
    if systemctl is-active --quiet tern.service && "$bin_path" healthcheck --timeout 1s >/dev/null 2>&1; then
        say "tern is running and healthy (journalctl -u tern for its logs)"
        exit 0
    fi
    sleep 0.5
    i=$((i + 1))
done
systemctl is-active --quiet tern.service || die "tern did not start: journalctl -u tern"
say "tern is running but its health check did not answer (no health_check extension on localhost:13133?)"
