#!/usr/bin/env bash
# A busy machine, to check that the tests give the same answer under load as on an idle machine:
#
#   bash tests/busy.sh [SECONDS]     (default 1200: it stops by itself after 20 minutes)
#
# Starts, each in its own process group:
#   - BUSY_CPU (12) CPU-bound shell loops: a load average of 12 and more on their own;
#   - BUSY_PIPES (2) pipelines that move data through gzip and sha256sum;
#   - BUSY_SANDBOX (2) loops that start `sandbox --lower rootfs/busybox --name busyN --state-dir
#     <tmp> -- true` over and over (SANDBOX: the binary, default the release build);
#   - BUSY_NETNS (2) loops of `unshare -n true`: the kernel tears network namespaces down in the
#     background, which slows every other start of a namespace on the machine.
# On SIGTERM, SIGINT or its end it kills every process group it started, waits for them and
# removes its state directory. It prints the load average when it starts and every minute.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-${BUSY_SECONDS:-1200}}
bin=${SANDBOX:-$repo/target/x86_64-unknown-linux-musl/release/sandbox}
image="$repo/rootfs/busybox"
[ -x "$bin" ] || { echo "busy: no sandbox binary at $bin (just build, or set SANDBOX)" >&2; exit 1; }
[ -x "$image/bin/busybox" ] || { echo "busy: no image at $image (just rootfs)" >&2; exit 1; }
state=$(mktemp -d /tmp/busy-state.XXXXXX)

# Each worker is a job of its own (job control on): its process group is its pid.
set -m
groups=()
start() {
  "$@" &
  groups+=("$!")
}

stop() {
  trap - EXIT INT TERM
  local g
  [ -n "${sleeper:-}" ] && kill "$sleeper" 2>/dev/null
  for g in "${groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # A killed sandbox leaves its layer (its mounts died with its mount namespace).
  rm -rf "$state"
  echo "busy: stopped; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
}
trap stop EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

cpu() { while :; do :; done; }
pipe() { while :; do head -c 64M /dev/urandom | gzip -1 | sha256sum >/dev/null; done; }
sandboxes() {
  while :; do "$bin" --lower "$image" --name "busy$1" --state-dir "$state" -- true >/dev/null 2>&1 || true; done
}
netns() { while :; do unshare -n true || true; done; }

for _ in $(seq "${BUSY_CPU:-12}"); do start cpu; done
for _ in $(seq "${BUSY_PIPES:-2}"); do start pipe; done
for i in $(seq "${BUSY_SANDBOX:-2}"); do start sandboxes "$i"; done
for _ in $(seq "${BUSY_NETNS:-2}"); do start netns; done

echo "busy: ${#groups[@]} workers for ${seconds}s (state $state); load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
end=$((SECONDS + seconds))
while [ "$SECONDS" -lt "$end" ]; do
  left=$((end - SECONDS))
  sleep $((left < 60 ? left : 60)) &
  sleeper=$!
  wait "$sleeper" || true
  echo "busy: load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done
