#!/usr/bin/env bash
# Tests of the EC2 and ECS deployment files, offline:
#   1. shellcheck on the shell scripts;
#   2. the systemd unit: `systemd-analyze verify --man=no` on the unit with ExecStart pointing at
#      the real binary (systemd is not PID 1 here, but verify still loads the unit: unknown
#      sections/keys, unparsable values and a missing or non-executable ExecStart binary are
#      reported; any output or a non-zero exit fails), proven to catch those by verifying three
#      broken copies, and `systemd-analyze security --offline=true` exposure <= 2.0;
#   3. the unit's seccomp filter admits every system call tern makes (strace of a short run
#      with the EC2 config, OTLP traces and metrics in, checked against the unit's
#      SystemCallFilter groups) and the address families it opens;
#   4. install.sh into a temporary DESTDIR: layout and modes, checksum refused when wrong,
#      upgrade keeps a modified config (new one as config.yaml.new), --prefix, uninstall removes
#      the binary and unit and keeps the config, --purge removes everything it installed;
#   5. `tern validate` on deploy/ec2/config.yaml (and refuses a broken copy of it) and on
#      deploy/ecs/config.yaml, the value of the SSM parameter the task definition reads (the
#      task definition embeds no config: it passes it as the secret TERN_CONFIG);
#   6. the ECS task definition against botocore's RegisterTaskDefinition input shape.
#
# Needs: the tern binary (TERN_BIN, default target/debug/tern, built if missing),
# systemd-analyze, shellcheck, strace, python3 with botocore (TERN_PYTHON, default
# cdk/.venv/bin/python). Missing tools fail the test; nothing is skipped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$(pwd)"

passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }
need() { command -v "$1" >/dev/null 2>&1 || { echo "FAIL: $1 is not installed (deploy/ci.sh installs it)" >&2; exit 1; }; }

need systemd-analyze
need shellcheck
need strace
need curl
python="${TERN_PYTHON:-$repo/cdk/.venv/bin/python}"
[ -x "$python" ] || { echo "FAIL: $python missing (deploy/ci.sh creates it)" >&2; exit 1; }

tern="${TERN_BIN:-$repo/target/debug/tern}"
if [ ! -x "$tern" ]; then
    echo "building tern-sidecar ($tern missing)"
    cargo build -q -p tern-sidecar
fi
[ -x "$tern" ] || { echo "FAIL: no tern binary at $tern" >&2; exit 1; }
tern="$(cd "$(dirname "$tern")" && pwd)/$(basename "$tern")"

tmp="$(mktemp -d)"
tern_pid=""
cleanup() {
    if [ -n "$tern_pid" ]; then kill "$tern_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

amp_url="https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-0123456789/api/v1/remote_write"

# --- 1. shellcheck ---------------------------------------------------------------------------
if shellcheck deploy/install.sh deploy/test.sh deploy/ci.sh; then ok "shellcheck"; else fail "shellcheck"; fi

# --- 2. unit ---------------------------------------------------------------------------------
unit_src=deploy/systemd/tern.service
render_unit() {  # render_unit OUT [SED-EXPR]: the unit with ExecStart on the real binary
    local exprs=(-e "s#/usr/local/bin/tern#$tern#g")
    if [ $# -ge 2 ]; then exprs+=(-e "$2"); fi
    sed "${exprs[@]}" "$unit_src" > "$1"
}
verify_unit() {  # prints what verify says; succeeds only when it says nothing and exits 0
    local out rc=0
    out="$(systemd-analyze verify --man=no "$1" 2>&1)" || rc=$?
    [ "$rc" -eq 0 ] && [ -z "$out" ] && return 0
    echo "$out"
    return 1
}
mkdir -p "$tmp/unit"
render_unit "$tmp/unit/tern.service"
if verify_unit "$tmp/unit/tern.service"; then ok "systemd-analyze verify: unit"; else fail "systemd-analyze verify: unit"; fi
for broken in 's/^NoNewPrivileges=yes/NoNewPrivilege=yes/' 's/^Restart=on-failure/Restart=sometimes/' \
              "s#^ExecStart=.*#ExecStart=$tmp/no-such-tern --config /etc/tern/config.yaml#"; do
    mkdir -p "$tmp/broken" && render_unit "$tmp/broken/tern.service" "$broken"
    if cmp -s "$tmp/broken/tern.service" "$tmp/unit/tern.service"; then
        fail "mutation $broken changed nothing"; continue
    fi
    if verify_unit "$tmp/broken/tern.service" >/dev/null; then
        fail "systemd-analyze verify accepted a broken unit ($broken)"
    else
        ok "systemd-analyze verify refuses a broken unit ($broken)"
    fi
done
if systemd-analyze security --offline=true --threshold=20 "$tmp/unit/tern.service" >"$tmp/security.txt" 2>&1; then
    ok "systemd-analyze security: $(grep -o 'exposure level.*' "$tmp/security.txt")"
else
    cat "$tmp/security.txt"; fail "systemd-analyze security above 2.0"
fi
# shellcheck disable=SC2016  # $MAINPID is literal unit text
for line in 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'StateDirectory=tern' 'Restart=on-failure' \
            'ExecReload=/bin/kill -HUP $MAINPID' 'User=tern' 'ExecStart=/usr/local/bin/tern --config /etc/tern/config.yaml'; do
    if grep -qxF "$line" "$unit_src"; then ok "unit has $line"; else fail "unit lacks $line"; fi
done

# --- 3. seccomp filter and address families vs. what tern really calls ----------------------
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=test-secret \
    AWS_EC2_METADATA_DISABLED=true
sed "s#/var/lib/tern/file_storage#$tmp/state#" deploy/ec2/config.yaml > "$tmp/run.yaml"
AMP_REMOTE_WRITE_ENDPOINT="http://127.0.0.1:9/api/v1/remote_write" \
    strace -f -qq -o "$tmp/strace.txt" "$tern" --config "$tmp/run.yaml" \
    --config 'yaml:extensions::sigv4auth::service: aps' --config 'yaml:extensions::sigv4auth::region: us-east-1' \
    --shutdown-timeout 1s >"$tmp/tern.log" 2>&1 &
strace_pid=$!
# tern is strace's child; on a loaded machine it can take a while to appear.
for _ in $(seq 1 300); do
    tern_pid="$(pgrep -P "$strace_pid" || true)"
    [ -n "$tern_pid" ] && break
    sleep 0.1
done
[ -n "$tern_pid" ] || fail "tern did not start under strace within 30 s"
healthy=no
for _ in $(seq 1 100); do
    if "$tern" healthcheck --timeout 1s >/dev/null 2>&1; then healthy=yes; break; fi
    sleep 0.2
done
now="$(date +%s)000000000"
codes=""
codes+="$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' http://127.0.0.1:4318/v1/metrics \
    -d '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[{"asDouble":1,"timeUnixNano":"'"$now"'"}]}}]}]}]}' || true)"
codes+=" $(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' http://127.0.0.1:4318/v1/traces \
    -d '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"s","kind":2,"startTimeUnixNano":"'"$now"'","endTimeUnixNano":"'"$now"'"}]}]}]}' || true)"
sleep 2
# tern itself (strace ends with it); bounded: a tern that does not stop fails the check
# instead of hanging the run.
if [ -n "$tern_pid" ]; then kill -TERM "$tern_pid" 2>/dev/null || true; fi
stopped=no
for _ in $(seq 1 150); do
    if ! kill -0 "$strace_pid" 2>/dev/null; then stopped=yes; break; fi
    sleep 0.2
done
if [ "$stopped" = no ]; then
    fail "tern under strace did not stop within 30 s of SIGTERM"
    kill -KILL "$strace_pid" ${tern_pid:+"$tern_pid"} 2>/dev/null || true
fi
wait "$strace_pid" 2>/dev/null || true
tern_pid=""
if [ "$healthy" = yes ] && [ "$codes" = "200 200" ]; then
    ok "tern ran with the EC2 config under strace (health check, OTLP metrics and traces: $codes)"
else
    tail -20 "$tmp/tern.log"; fail "tern under strace: healthy=$healthy, OTLP answers '$codes'"
fi
if "$python" - "$tmp/strace.txt" "$unit_src" <<'PY'
import re, subprocess, sys
trace, unit = sys.argv[1], sys.argv[2]
used = set()
families = set()
for line in open(trace):
    m = re.match(r"\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", line)
    if m and not line.split(None, 1)[1].startswith(("---", "+++")):
        used.add(m.group(1))
    families.update(re.findall(r"socket(?:pair)?\((AF_[A-Z0-9]+)", line))
def group(name, seen=None):
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True, text=True, check=True).stdout
    names = set()
    for l in out.splitlines():
        l = l.strip()
        if not l or l.startswith("#") or l == name:
            continue
        names |= group(l) if l.startswith("@") else {l}
    return names
allow, deny, afs = set(), set(), set()
for line in open(unit):
    line = line.strip()
    if line.startswith("SystemCallFilter="):
        v = line.split("=", 1)[1]
        target = deny if v.startswith("~") else allow
        for g in v.lstrip("~").split():
            target |= group(g) if g.startswith("@") else {g}
    if line.startswith("RestrictAddressFamilies="):
        afs |= set(line.split("=", 1)[1].split())
used.discard("exit"); used.discard("execve")  # before the filter applies / always allowed
blocked = sorted(s for s in used if s not in allow or s in deny)
print(f"{len(used)} system calls seen; families {sorted(families)}")
bad_af = sorted(families - afs)
if len(used) < 20:
    print("too few system calls in the trace: strace did not see tern run"); sys.exit(1)
if blocked or bad_af:
    print("blocked by the unit:", blocked, bad_af); sys.exit(1)
PY
then ok "unit's SystemCallFilter and RestrictAddressFamilies admit every call tern made"
else fail "unit's seccomp filter would block tern"; fi

# --- 4. install.sh in a DESTDIR --------------------------------------------------------------
export AMP_REMOTE_WRITE_ENDPOINT="$amp_url"
dest="$tmp/dest"
sum="$(sha256sum "$tern" | cut -d' ' -f1)"
mode() { stat -c '%a' "$1"; }
check() {  # check DESCRIPTION COMMAND...
    local what="$1"; shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}
if sh deploy/install.sh --destdir "$dest" --binary "$tern" --sha256 0000000000000000000000000000000000000000000000000000000000000000 \
        --config deploy/ec2/config.yaml >"$tmp/bad-sum.log" 2>&1; then
    fail "install.sh accepted a wrong SHA-256"
else
    check "install.sh refuses a wrong SHA-256 and installs nothing" \
        bash -c "grep -q 'SHA-256 mismatch' '$tmp/bad-sum.log' && [ ! -e '$dest' ] || [ -z \"\$(ls -A '$dest' 2>/dev/null)\" ]"
fi
printf 'receivers: {otlp: {protocols: {http: {}}}}\nexporters: {nope: {}}\n' > "$tmp/invalid.yaml"
if sh deploy/install.sh --destdir "$dest" --binary "$tern" --config "$tmp/invalid.yaml" >"$tmp/invalid.log" 2>&1; then
    fail "install.sh installed an invalid config"
else
    check "install.sh refuses an invalid config before installing" \
        bash -c "grep -q 'is invalid; nothing was changed' '$tmp/invalid.log' && [ ! -e '$dest/usr/local/bin/tern' ]"
fi

PATH_BEFORE="$PATH"
# Fake useradd/systemctl/chown: under --destdir none of them may run.
mkdir -p "$tmp/fakebin"
for cmd in useradd userdel systemctl chown; do
    printf '#!/bin/sh\necho "%s $*" >> %s/forbidden.log\n' "$cmd" "$tmp" > "$tmp/fakebin/$cmd"
    chmod +x "$tmp/fakebin/$cmd"
done
export PATH="$tmp/fakebin:$PATH"
check "install.sh --destdir installs" sh deploy/install.sh --destdir "$dest" --binary "$tern" --sha256 "$sum" --config deploy/ec2/config.yaml
check "binary $(mode "$dest/usr/local/bin/tern" 2>/dev/null) == 755" [ "$(mode "$dest/usr/local/bin/tern")" = 755 ]
check "binary is the given one" cmp -s "$tern" "$dest/usr/local/bin/tern"
check "/etc/tern is 750" [ "$(mode "$dest/etc/tern")" = 750 ]
check "config is 640 and the given one" bash -c "[ \"\$(stat -c %a '$dest/etc/tern/config.yaml')\" = 640 ] && cmp -s deploy/ec2/config.yaml '$dest/etc/tern/config.yaml'"
check "unit is 644 and equals deploy/systemd/tern.service" bash -c "[ \"\$(stat -c %a '$dest/etc/systemd/system/tern.service')\" = 644 ] && cmp -s '$unit_src' '$dest/etc/systemd/system/tern.service'"
check "installed config validates with the installed binary" "$dest/usr/local/bin/tern" validate --config "$dest/etc/tern/config.yaml"
expected_files="$(printf '%s\n' etc/systemd/system/tern.service etc/tern/config.yaml usr/local/bin/tern)"
check "exactly the expected files" bash -c "[ \"\$(cd '$dest' && find . -type f | sed 's#^./##' | sort)\" = '$expected_files' ]"

# Upgrade: the admin changed the config; a new binary and the packaged config come in.
printf '# local change\n' >> "$dest/etc/tern/config.yaml"
cp "$dest/etc/tern/config.yaml" "$tmp/modified.yaml"
cp "$tern" "$tmp/tern-new" && printf 'x' >> "$tmp/tern-new"   # a different (still runnable) binary
check "install.sh upgrades" sh deploy/install.sh --destdir "$dest" --binary "$tmp/tern-new" --sha256 "$(sha256sum "$tmp/tern-new" | cut -d' ' -f1)" --config deploy/ec2/config.yaml
check "upgrade replaced the binary" cmp -s "$tmp/tern-new" "$dest/usr/local/bin/tern"
check "upgrade kept the modified config" cmp -s "$tmp/modified.yaml" "$dest/etc/tern/config.yaml"
check "upgrade wrote the packaged config as config.yaml.new" cmp -s deploy/ec2/config.yaml "$dest/etc/tern/config.yaml.new"
check "no temporary binary left" [ ! -e "$dest/usr/local/bin/tern.new" ]

# --prefix rewrites the unit's paths.
dest2="$tmp/dest2"
check "install.sh --prefix /opt/tern" sh deploy/install.sh --destdir "$dest2" --prefix /opt/tern --binary "$tern" --config deploy/ec2/config.yaml
check "--prefix: binary in /opt/tern/bin" [ -x "$dest2/opt/tern/bin/tern" ]
check "--prefix: unit runs /opt/tern/bin/tern" bash -c "grep -qx 'ExecStart=/opt/tern/bin/tern --config /etc/tern/config.yaml' '$dest2/etc/systemd/system/tern.service' && ! grep -q /usr/local '$dest2/etc/systemd/system/tern.service'"

# Uninstall keeps config and state; purge removes everything.
mkdir -p "$dest/var/lib/tern/file_storage" && echo data > "$dest/var/lib/tern/file_storage/segment"
check "install.sh --uninstall" sh deploy/install.sh --destdir "$dest" --uninstall
check "uninstall removed binary and unit" bash -c "[ ! -e '$dest/usr/local/bin/tern' ] && [ ! -e '$dest/etc/systemd/system/tern.service' ]"
check "uninstall kept the config and the queue data" bash -c "cmp -s '$tmp/modified.yaml' '$dest/etc/tern/config.yaml' && [ -f '$dest/var/lib/tern/file_storage/segment' ]"
check "install.sh --uninstall --purge" sh deploy/install.sh --destdir "$dest" --uninstall --purge
check "purge left no file" bash -c "[ -z \"\$(find '$dest' -type f)\" ]"
check "useradd, systemctl, chown never ran under --destdir" [ ! -e "$tmp/forbidden.log" ]
export PATH="$PATH_BEFORE"

# --- 5. configs validate with the real binary -------------------------------------------------
check "tern validate deploy/ec2/config.yaml" "$tern" validate --config deploy/ec2/config.yaml
sed 's/exporters: \[awsxray\]/exporters: [awsxrayy]/' deploy/ec2/config.yaml > "$tmp/broken-ec2.yaml"
check "tern validate refuses a broken copy of it" bash -c "! '$tern' validate --config '$tmp/broken-ec2.yaml' >/dev/null 2>&1"
check "tern validate deploy/ecs/config.yaml (the SSM parameter value of the task definition)" "$tern" validate --config deploy/ecs/config.yaml
check "the ECS config's health check endpoint is the one the task definition's health check asks" \
    grep -qxF '    endpoint: 127.0.0.1:13133' deploy/ecs/config.yaml

# --- 6. ECS task definition shape -------------------------------------------------------------
if "$python" - deploy/ecs/task-definition.json <<'PY'
import json, sys
import botocore.session
from botocore.validate import ParamValidator
td = json.load(open(sys.argv[1]))
model = botocore.session.get_session().get_service_model("ecs")
shape = model.operation_model("RegisterTaskDefinition").input_shape
report = ParamValidator().validate(td, shape)
if report.has_errors():
    print(report.generate_report()); sys.exit(1)
PY
then ok "task-definition.json matches RegisterTaskDefinition's input shape"
else fail "task-definition.json does not match RegisterTaskDefinition"; fi

echo
echo "deploy/test.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
