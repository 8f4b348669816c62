#!/usr/bin/env bash
# Start-up latency benchmark (`just bench`): one hyperfine run, side by side, of every way to start
# /bin/true from the busybox image with the same isolation (new mount, PID, UTS, IPC and network
# namespaces): sandbox (and sandbox --net host), bubblewrap, unshare + chroot, crun and runc on an OCI
# bundle of the same image, and the reference floor (../shared/bench/floor.c, the bare syscall
# sequence). Writes target/bench/results.md (medians, mean ± σ, ratio of each median to sandbox's,
# the machine, peak RSS and binary sizes) and prints it.
#
# The engines' side, on the same bundle: the OCI lifecycle create + start + wait + delete of
# /bin/true with sandbox-oci (the binary called by that name), crun and runc, driven by
# `lifecycle` (a tiny static helper built here: a child subreaper, so the container's process,
# re-parented to it, is waited for as an engine's shim or conmon does), and `podman run --rm`
# with each runtime (storage under /tmp, configuration in the bench's own containers.conf; the
# image imported from a tar of it). Targets (reported, not asserted): sandbox-oci's lifecycle at
# least 2x faster than crun's and 5x faster than runc's. PODMAN=0 leaves podman out (each of its
# runs takes a few hundred ms: RUNS of them per runtime).
#
# Needs root. Installs hyperfine, bubblewrap, crun, runc, util-linux and time with apt-get if they
# are missing. Environment: SANDBOX (the binary; default the musl release build), SHARED_DIR (where
# bench/floor.c is; default ../shared), RUNS (default 300), WARMUP (default 20), PAIRS (rounds of the interleaved
# comparison, default 400), SETTLE_MS (pause before each of its starts, default none).
#
# crun 1.8 refuses hybrid cgroups (v1 + /sys/fs/cgroup/unified, as on this host), even with
# --cgroup-manager=disabled. So the script makes ONE mount namespace, held by a sleeping process,
# in which /sys/fs/cgroup is a cgroup2-only mount, and each crun run enters it (/proc/PID/ns/mnt)
# through `inns`, a tiny static helper built here (open + setns + execv; cheaper than nsenter).
# The helper's own cost is measured in the same run ("inns + true" against "true"), so it can be
# subtracted. runc 1.1 runs on the hybrid host as it is (it uses the v1 cgroups).
#
# Leaves nothing behind: the namespace's holder is killed, crun/runc state dirs removed,
# /run/sandbox/bench and the floor's /tmp/floorstate.* are checked.
set -euo pipefail

# Layers on tmpfs for everyone, as on a host whose /run and /tmp are tmpfs: the floor keeps its
# layer under /tmp and syncs it at unmount, which on a disk measures the disk, not the start-up.
# BENCH_TMPFS=0 keeps the host's own /tmp and /run.
if [ -z "${BENCH_IN_NS:-}" ] && [ "${BENCH_TMPFS:-1}" = 1 ]; then
  exec unshare -m --propagation private env BENCH_IN_NS=1 bash -c \
    'mount -t tmpfs -o mode=1777 tmpfs /tmp && mount -t tmpfs -o mode=755 tmpfs /run && exec bash "$0" "$@"' "$0" "$@"
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
out=target/bench
mkdir -p "$out"

runs=${RUNS:-300}
warmup=${WARMUP:-20}
sandbox=${SANDBOX:-target/x86_64-unknown-linux-musl/release/sandbox}
shared=${SHARED_DIR:-../shared}
image=rootfs/busybox
image_abs="$repo/$image"
holder=""
nsfile=/nonexistent
crun_root=/run/bench-crun
runc_root=/run/bench-runc
oci_root=/run/bench-sandbox-oci
podman_dir=/tmp/bench-podman

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (namespaces, mounts, crun, runc)"
[ -x "$sandbox" ] || die "no binary at $sandbox: run 'just build' (or set SANDBOX)"
[ -x "$image/bin/busybox" ] || die "no image at $image: run 'just rootfs'"
[ -f "$shared/bench/floor.c" ] || die "no floor at $shared/bench/floor.c (set SHARED_DIR)"
sandbox=$(cd "$(dirname "$sandbox")" && pwd)/$(basename "$sandbox")
# The OCI runtime is the same binary called as sandbox-oci (`just build` makes the link).
oci=$(dirname "$sandbox")/sandbox-oci
[ -e "$oci" ] || ln -s "$(basename "$sandbox")" "$oci"

# --- tools: install only what is missing, quietly ---------------------------------------------
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need hyperfine hyperfine
[ "${PODMAN:-1}" = 0 ] || { need podman podman; need conmon conmon; }
need bwrap bubblewrap
need crun crun
need runc runc
need unshare util-linux
need nsenter util-linux
need gcc gcc
need python3 python3
need strip binutils
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || say "apt-get install failed: ${missing[*]}"
  fi
fi
for t in hyperfine gcc python3; do command -v $t >/dev/null || die "$t is required"; done

podman_env() { CONTAINERS_CONF="$podman_dir/containers.conf" CONTAINERS_STORAGE_CONF="$podman_dir/storage.conf" "$@"; }

# --- state and cleanup -------------------------------------------------------------------------
cleanup() {
  set +e
  [ -n "$holder" ] && { kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null; }
  [ -d "$crun_root" ] && { crun --root "$crun_root" delete -f bench-crun >/dev/null 2>&1; rm -rf "$crun_root"; }
  [ -d "$runc_root" ] && { runc --root "$runc_root" delete -f bench-runc >/dev/null 2>&1; rm -rf "$runc_root"; }
  [ -d "$oci_root" ] && { "$oci" --root "$oci_root" delete -f bench-lc-sandbox-oci >/dev/null 2>&1; rm -rf "$oci_root"; }
  if [ -d "$podman_dir" ]; then
    podman_env podman rm -af -t 0 >/dev/null 2>&1
    podman_env podman system reset -f >/dev/null 2>&1
    awk -v d="$podman_dir" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r | xargs -r umount -l 2>/dev/null
    rm -rf "$podman_dir"
  fi
  if [ -e /run/sandbox/bench ]; then
    say "warning: /run/sandbox/bench was left behind; removing it"
    umount -R /run/sandbox/bench 2>/dev/null; rm -rf /run/sandbox/bench
  fi
  rm -f "$out/verify.err" "$out/holder.out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup 2>/dev/null   # a previous, interrupted run

# --- the floor and the namespace helper --------------------------------------------------------
gcc -O2 -static -o "$out/floor" "$shared/bench/floor.c"
cat >"$out/inns.c" <<'EOF'
/* inns NSFILE PROG ARGS...: enter the mount namespace bound at NSFILE, exec PROG (absolute). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc < 3) { fputs("usage: inns NSFILE PROG [ARG...]\n", stderr); return 2; }
  int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, CLONE_NEWNS)) { perror("inns: setns"); return 125; }
  execv(argv[2], argv + 2);
  perror("inns: execv");
  return 127;
}
EOF
gcc -O2 -static -o "$out/inns" "$out/inns.c"
cat >"$out/lifecycle.c" <<'EOF'
/* lifecycle NSFILE|- BUNDLE ID RUNTIME [GLOBAL-OPTION...]: what an engine does for one container
   that runs to its end: RUNTIME create --bundle BUNDLE --pid-file F ID, RUNTIME start ID, wait
   for the container's process, RUNTIME delete ID. A child subreaper (as conmon and containerd's
   shim are), so the container's process, re-parented here when create exits, is waited for.
   With NSFILE, the mount namespace bound there is entered first. Exit 0 when every step and the
   container's process succeeded. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
static char **base; static int nbase;
static int step(const char *a, const char *b, const char *c, const char *d, const char *e, const char *f) {
  const char *extra[] = {a, b, c, d, e, f};
  char *argv[64]; int n = 0;
  for (int i = 0; i < nbase && n < 56; i++) argv[n++] = base[i];
  for (int i = 0; i < 6 && extra[i]; i++) argv[n++] = (char *)extra[i];
  argv[n] = NULL;
  pid_t p = fork();
  if (p == 0) { execv(argv[0], argv); _exit(127); }
  int st;
  if (p < 0 || waitpid(p, &st, 0) != p) return -1;
  if (st) fprintf(stderr, "lifecycle: %s %s failed (%#x)\n", argv[0], a, st);
  return st;
}
int main(int argc, char **argv) {
  if (argc < 5) { fputs("usage: lifecycle NSFILE|- BUNDLE ID RUNTIME [OPTION...]\n", stderr); return 2; }
  if (strcmp(argv[1], "-")) {
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNS)) { perror("lifecycle: setns"); return 125; }
  }
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) { perror("lifecycle: subreaper"); return 125; }
  const char *bundle = argv[2], *id = argv[3];
  base = argv + 4; nbase = argc - 4;
  char pidfile[256]; snprintf(pidfile, sizeof pidfile, "/run/lifecycle-%s.pid", id);
  if (step("create", "--bundle", bundle, "--pid-file", pidfile, id)) return 1;
  char buf[32] = {0}; int fd = open(pidfile, O_RDONLY);
  if (fd < 0 || read(fd, buf, sizeof buf - 1) <= 0) { perror("lifecycle: pid file"); return 1; }
  close(fd); unlink(pidfile);
  pid_t pid = atoi(buf);
  if (step("start", id, NULL, NULL, NULL, NULL)) return 1;
  int st = 0, cst = -1;
  for (;;) {  /* every orphan that comes here is reaped; the container's own status is kept */
    pid_t r = waitpid(-1, &st, 0);
    if (r == pid) { cst = st; break; }
    if (r < 0 && errno == ECHILD) {  /* not re-parented here: poll until it is gone */
      while (kill(pid, 0) == 0) usleep(100);
      cst = 0; break;
    }
  }
  if (step("delete", id, NULL, NULL, NULL, NULL)) return 1;
  return cst ? 1 : 0;
}
EOF
gcc -O2 -static -o "$out/lifecycle" "$out/lifecycle.c"

# The persistent mount namespace for crun: private, with cgroup2 alone on /sys/fs/cgroup.
crun_ns_err=""
if command -v crun >/dev/null; then
  # (A namespace file bound with `unshare --mount=FILE` failed now and then with EINVAL on this
  # kernel; a process that stays in the namespace needs no bind.)
  unshare --mount --propagation private sh -c \
    'umount -R /sys/fs/cgroup 2>/dev/null || umount -l /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 none /sys/fs/cgroup && echo ready && exec sleep 100000' \
    >"$out/holder.out" 2>"$out/verify.err" &
  holder=$!
  # Until it is ready or gone (at most 5 minutes: a busy machine is slow, only a hang takes that).
  for _ in $(seq 6000); do grep -q ready "$out/holder.out" 2>/dev/null && break; kill -0 "$holder" 2>/dev/null || break; sleep 0.05; done
  nsfile=/proc/$holder/ns/mnt
  if grep -q ready "$out/holder.out" 2>/dev/null
  then :; else crun_ns_err="cannot make a cgroup2 mount namespace: $(head -n1 "$out/verify.err" 2>/dev/null || true)"; fi
fi

# --- the OCI bundle (crun spec, or runc spec, edited with sed) ---------------------------------
bundle="$repo/$out/bundle"
spec=$(command -v crun || command -v runc || true)
if [ -n "$spec" ]; then
  rm -rf "$bundle"; mkdir -p "$bundle"
  (cd "$bundle" && "$spec" spec)
  # terminal false, args ["/bin/true"], root = the image (absolute), writable root, no cgroup ns.
  sed -i -e 's/"terminal": true/"terminal": false/' \
         -e 's|^\(\s*\)"sh"$|\1"/bin/true"|' \
         -e "s|\"path\": \"rootfs\"|\"path\": \"$image_abs\"|" \
         -e 's/"readonly": true/"readonly": false/' "$bundle/config.json"
  grep -q '"/bin/true"' "$bundle/config.json" && grep -q '"terminal": false' "$bundle/config.json" \
    || die "could not edit $bundle/config.json"
  for ns in pid network ipc uts mount; do
    grep -q "\"type\": \"$ns\"" "$bundle/config.json" || die "bundle lacks the $ns namespace"
  done
fi

# --- podman: its own storage (on /tmp) and configuration, the image imported ---------------------
podman_err=""
if [ "${PODMAN:-1}" != 0 ] && command -v podman >/dev/null; then
  rm -rf "$podman_dir"; mkdir -p "$podman_dir"
  printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/storage"\nrunroot = "%s/runroot"\n' \
    "$podman_dir" "$podman_dir" >"$podman_dir/storage.conf"
  # runtime_supports_nocgroup: the runtimes that may run with --cgroups=disabled (this host's
  # cgroups are hybrid; sandbox-oci and crun make no cgroup then, runc uses v1's).
  printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime_supports_json = ["crun", "runc", "sandbox-oci"]\nruntime_supports_nocgroup = ["crun", "sandbox-oci"]\n' \
    >"$podman_dir/containers.conf"
  tar --numeric-owner -C "$image" -cf "$podman_dir/image.tar" .
  podman_env podman import -q "$podman_dir/image.tar" localhost/busybox:bench >/dev/null 2>"$out/verify.err" \
    || podman_err="podman import failed: $(head -n1 "$out/verify.err")"
  rm -f "$podman_dir/image.tar"
  export CONTAINERS_CONF="$podman_dir/containers.conf" CONTAINERS_STORAGE_CONF="$podman_dir/storage.conf"
fi
podman_run="run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024"

# --- the commands ------------------------------------------------------------------------------
# static busybox: the exec baseline for the helper's overhead. Its applet by name, as the image's
# bin/true is a link to /bin/busybox, which only resolves inside the image.
true_bin="$image_abs/bin/busybox true"
names=() cmds=() notes=()
# sandbox runs right after the floor, and each after its floor: the kernel tears network
# namespaces down in the background, so neighbours in time share the same conditions.
add() { names+=("$1"); cmds+=("$2"); notes+=("${3:-}"); }
add "floor (net ns)"         "$repo/$out/floor $image_abs net"
add "sandbox"                "$sandbox --lower $image --name bench -- /bin/true"
add "floor (no net ns)"      "$repo/$out/floor $image_abs" "no network namespace"
add "sandbox --net host"     "$sandbox --lower $image --name bench --net host -- /bin/true" "no network namespace"
add "bubblewrap"             "$(command -v bwrap || echo bwrap) --ro-bind $image / --proc /proc --dev /dev --tmpfs /tmp --unshare-pid --unshare-ipc --unshare-uts --unshare-net /bin/true"
add "unshare + chroot"       "$(command -v unshare || echo unshare) --mount --pid --fork --uts --ipc --net $(command -v chroot) $image /bin/true"
add "crun"                   "$repo/$out/inns $nsfile $(command -v crun || echo /usr/bin/crun) --root $crun_root --cgroup-manager=disabled run --bundle $bundle bench-crun" "via inns (see its row)"
add "runc"                   "$(command -v runc || echo runc) --root $runc_root run --bundle $bundle bench-runc" "v1 cgroups (runc cannot disable them)"
add "lifecycle sandbox-oci"  "$repo/$out/lifecycle - $bundle bench-lc-sandbox-oci $oci --root $oci_root" "create+start+wait+delete"
add "lifecycle crun"         "$repo/$out/lifecycle $nsfile $bundle bench-lc-crun $(command -v crun || echo /usr/bin/crun) --root $crun_root --cgroup-manager=disabled" "create+start+wait+delete, in the cgroup2 namespace"
add "lifecycle runc"         "$repo/$out/lifecycle - $bundle bench-lc-runc $(command -v runc || echo /usr/sbin/runc) --root $runc_root" "create+start+wait+delete, v1 cgroups"
if [ "${PODMAN:-1}" != 0 ]; then
  pm=$(command -v podman || echo podman)
  add "podman sandbox-oci"   "$pm --runtime $oci $podman_run --cgroups=disabled localhost/busybox:bench /bin/true" "podman run --rm, no cgroups"
  add "podman crun"          "$repo/$out/inns $nsfile $pm --runtime $(command -v crun || echo /usr/bin/crun) $podman_run --cgroups=disabled localhost/busybox:bench /bin/true" "podman run --rm, no cgroups, via inns"
  add "podman runc"          "$pm --runtime $(command -v runc || echo /usr/sbin/runc) $podman_run localhost/busybox:bench /bin/true" "podman run --rm, v1 cgroups"
fi
add "inns + true"            "$repo/$out/inns $nsfile $true_bin" "crun's wrapper: enter ns + exec"
add "true"                   "$true_bin" "exec baseline, no isolation"

# Verify each once; drop those that fail, saying why.
hf_args=() skipped=() ok=" "
for i in "${!names[@]}"; do
  n=${names[$i]} c=${cmds[$i]} why=""
  case "$n" in
    crun) command -v crun >/dev/null || why="not installed (crun)" ;;
    runc) command -v runc >/dev/null || why="not installed (runc)" ;;
    bubblewrap) command -v bwrap >/dev/null || why="not installed (bwrap)" ;;
  esac
  case "$n" in
    "lifecycle crun"|"podman crun") command -v crun >/dev/null || why="not installed (crun)" ;;
    "lifecycle runc"|"podman runc") command -v runc >/dev/null || why="not installed (runc)" ;;
  esac
  case "$n" in podman*) [ -z "$why" ] && [ -n "$podman_err" ] && why=$podman_err ;; esac
  case "$n" in crun|"inns + true"|"lifecycle crun"|"podman crun") [ -z "$why" ] && [ -n "$crun_ns_err" ] && why=$crun_ns_err ;; esac
  prog=${c%% *}
  if [ -z "$why" ] && ! command -v "$prog" >/dev/null 2>&1; then why="not installed ($prog)"; fi
  if [ -z "$why" ]; then
    set +e; timeout 300 $c >/dev/null 2>"$out/verify.err" </dev/null; rc=$?; set -e
    if [ $rc -ne 0 ]; then
      msg=$(grep -v '^\s*$' "$out/verify.err" | head -n1 | cut -c1-160 || true)
      why="exit $rc${msg:+: $msg}"
    fi
  fi
  if [ -n "$why" ]; then
    say "dropping '$n': $why"
    skipped+=("$n"$'\t'"$why")
  else
    hf_args+=(-n "$n" "$c"); ok+="$n "
  fi
done
[ ${#hf_args[@]} -gt 0 ] || die "no command works"

# Wait (at most 20 s) until the CPUs are at least 90% idle over 0.2 s: the kernel tears the
# network namespaces of earlier runs down in the background (cleanup_net), and that work would
# land on whatever runs next.
quiet() {
  local _i u1 n1 s1 i1 w1 q1 sq1 st1 u2 n2 s2 i2 w2 q2 sq2 st2 rest busy idle
  for _i in $(seq 100); do
    read -r _ u1 n1 s1 i1 w1 q1 sq1 st1 rest </proc/stat
    sleep 0.2
    read -r _ u2 n2 s2 i2 w2 q2 sq2 st2 rest </proc/stat
    busy=$(( u2 - u1 + n2 - n1 + s2 - s1 + q2 - q1 + sq2 - sq1 + st2 - st1 ))
    idle=$(( i2 - i1 + w2 - w1 ))
    [ $(( busy * 10 )) -le $(( busy + idle )) ] && return 0
  done
  say "warning: the machine did not become idle within 20 s"
}

# --- one hyperfine run, all side by side -------------------------------------------------------
quiet
say "hyperfine: $((${#hf_args[@]} / 3)) commands, $warmup warm-up + $runs runs each"
hyperfine -N --warmup "$warmup" --runs "$runs" --time-unit millisecond --style basic \
  --export-json "$out/bench.json" --export-markdown "$out/hyperfine.md" "${hf_args[@]}" >&2

# --- interleaved pairs: the ratios to the floor, free of the machine's drift ------------------
# hyperfine runs each command's runs together, so a slow minute of a shared machine lands on one
# command. `pairs` runs one start of each command in turn, PAIRS rounds, and prints each median.
# SETTLE_MS puts a pause before each start (default none). The network namespace of the run
# before is torn down in the background, on the next command's time; a 5 ms pause changed no
# ratio here (1.036 and 1.26 without, 1.035 and 1.22 with) but made every start 0.4 ms slower
# (idle CPUs wake slowly), so by default the starts follow each other as they would in use.
cat >"$out/pairs.c" <<'EOF2'
/* pairs N CMD... ::: CMD... : N rounds of one run of each command in turn; the median wall time
   of each, in ms, one per line. Commands run with stdout on /dev/null; a failure stops it.
   Each start is preceded by a pause of $SETTLE_MS ms (default 0). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static int cmp(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return (x > y) - (x < y); }
int main(int argc, char **argv) {
  int n = atoi(argv[1]), nc = 1; char **cmd[16]; cmd[0] = argv + 2;
  for (int i = 2; i < argc && nc < 16; i++) if (!strcmp(argv[i], ":::")) { argv[i] = NULL; cmd[nc++] = argv + i + 1; }
  double *t = calloc((size_t)nc * n, sizeof *t); int null = open("/dev/null", O_WRONLY);
  const char *s = getenv("SETTLE_MS"); int settle_us = (s ? atoi(s) : 0) * 1000;
  for (int r = -5; r < n; r++) for (int c = 0; c < nc; c++) {
    if (settle_us > 0) usleep(settle_us);
    struct timespec a, b; int st; clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t p = fork(); if (!p) { dup2(null, 1); execv(cmd[c][0], cmd[c]); _exit(127); }
    waitpid(p, &st, 0); clock_gettime(CLOCK_MONOTONIC, &b);
    if (st) { fprintf(stderr, "pairs: %s failed (%#x)\n", cmd[c][0], st); return 1; }
    if (r >= 0) t[c * n + r] = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
  }
  for (int c = 0; c < nc; c++) { qsort(t + c * n, n, sizeof *t, cmp); printf("%.4f\n", t[c * n + n / 2]); }
  return 0;
}
EOF2
gcc -O2 -o "$out/pairs" "$out/pairs.c"
pairs=${PAIRS:-400}
pairs_line=""
if [[ $ok == *"floor (net ns) "* && $ok == *" sandbox "* && $ok == *"floor (no net ns) "* && $ok == *"sandbox --net host "* ]]; then
  quiet
  say "pairs: $pairs rounds of floor, sandbox, floor without a network namespace, sandbox --net host"
  if m=$("$out/pairs" "$pairs" "$repo/$out/floor" "$image_abs" net ::: $sandbox --lower $image --name bench -- /bin/true \
        ::: "$repo/$out/floor" "$image_abs" ::: $sandbox --lower $image --name bench --net host -- /bin/true); then
    read -r -d '' f1 s1 f2 s2 <<<"$m" || true
    pairs_line=$(python3 -c "import sys; f1,s1,f2,s2=map(float,sys.argv[1:5]); print(f'Interleaved ({sys.argv[5]} rounds of one start of each in turn{sys.argv[6]}): floor {f1:.2f} ms, sandbox {s1:.2f} ms, {s1/f1:.2f}× (network namespace); floor {f2:.2f} ms, sandbox --net host {s2:.2f} ms, {s2/f2:.2f}× (none).')" "$f1" "$s1" "$f2" "$s2" "$pairs" "${SETTLE_MS:+, $SETTLE_MS ms apart}")
  fi
fi

# --- peak RSS (outer process; /usr/bin/time -v) ------------------------------------------------
rss() {  # median over 5 runs of "Maximum resident set size" in kB
  local i v=()
  for i in 1 2 3 4 5; do
    v+=("$(/usr/bin/time -v "$@" 2>&1 >/dev/null </dev/null | awk -F': ' '/Maximum resident set size/ {print $2}')")
  done
  printf '%s\n' "${v[@]}" | sort -n | sed -n 3p
}
rss_sandbox="" rss_bwrap=""
if [ -x /usr/bin/time ]; then
  [[ $ok == *" sandbox "* ]] && rss_sandbox=$(rss $sandbox --lower $image --name bench -- /bin/true)
  [[ $ok == *" bubblewrap "* ]] && rss_bwrap=$(rss bwrap --ro-bind $image / --proc /proc --dev /dev --tmpfs /tmp \
    --unshare-pid --unshare-ipc --unshare-uts --unshare-net /bin/true)
fi

# --- stripped binary sizes ---------------------------------------------------------------------
sizes=""
for b in "sandbox:$sandbox" "bwrap:$(command -v bwrap || true)" "crun:$(command -v crun || true)" "runc:$(command -v runc || true)"; do
  n=${b%%:*} p=${b#*:}
  [ -n "$p" ] && [ -x "$p" ] || continue
  strip -o "$out/$n.stripped" "$p" 2>/dev/null || cp "$p" "$out/$n.stripped"
  link=$(file -L "$p" | grep -Eq 'statically linked|static-pie' && echo static || echo dynamic)
  sizes+="$n"$'\t'"$(stat -c %s "$out/$n.stripped")"$'\t'"$link"$'\n'
  rm -f "$out/$n.stripped"
done

# --- results.md --------------------------------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
machine="Linux $(uname -r), $(nproc) CPUs ($cpu), $(date -u '+%Y-%m-%d %H:%M UTC')"
versions="hyperfine $(hyperfine --version | awk '{print $2}')"
command -v bwrap >/dev/null && versions+=", bubblewrap $(bwrap --version | awk '{print $2}')"
command -v crun >/dev/null && versions+=", crun $(crun --root "$crun_root" --version | awk 'NR==1 {print $3}')"
command -v runc >/dev/null && versions+=", runc $(runc --version | awk 'NR==1 {print $3}')"
versions+=", $(unshare --version | sed 's/^unshare from //')"

fstype() { local d=$1; while [ ! -e "$d" ]; do d=$(dirname "$d"); done; findmnt -n -o FSTYPE -T "$d" 2>/dev/null || stat -f -c %T "$d"; }
layers="writable layers: sandbox's under /run/sandbox ($(fstype /run/sandbox)), the floor's under /tmp ($(fstype /tmp))"

notes_tsv=""
for i in "${!names[@]}"; do notes_tsv+="${names[$i]}"$'\t'"${notes[$i]}"$'\n'; done
skipped_tsv=$(printf '%s\n' "${skipped[@]+"${skipped[@]}"}")

LAYERS="$layers" NOTES="$notes_tsv" SKIPPED="$skipped_tsv" MACHINE="$machine" VERSIONS="$versions" RUNS="$runs" \
RSS_SANDBOX="$rss_sandbox" RSS_BWRAP="$rss_bwrap" SIZES="$sizes" PAIRS_LINE="$pairs_line" \
python3 - "$out/bench.json" >"$out/results.md" <<'EOF'
import json, os, sys
res = json.load(open(sys.argv[1]))["results"]
notes = dict(l.split("\t", 1) for l in os.environ["NOTES"].splitlines() if "\t" in l)
skipped = [l.split("\t", 1) for l in os.environ["SKIPPED"].splitlines() if "\t" in l]
def g(x):  # 3 significant digits, plain notation, trailing zeros kept (12.0, 5.40, 0.0698, 123)
    x = float(f"{x:.3g}")
    return f"{x:.0f}" if x >= 100 else f"{x:#.3g}"
ms = lambda s: s * 1000
base = next((r["median"] for r in res if r["command"] == "sandbox"), None)
print("## Start-up latency: `/bin/true` from the busybox image\n")
print(f"Machine: {os.environ['MACHINE']}.  ")
print(f"{os.environ['VERSIONS']}. One hyperfine run (`-N`), {os.environ['RUNS']} runs each, all with new mount, PID, UTS, IPC")
print(f"and network namespaces unless noted; {os.environ['LAYERS']}.\n")
print("| Command | Median (ms) | Mean ± σ (ms) | Median / sandbox's | Note |")
print("|:--|--:|--:|--:|:--|")
for r in res:
    n = r["command"]
    ratio = f"{r['median'] / base:.2f}" if base else "–"
    print(f"| {n} | {g(ms(r['median']))} | {g(ms(r['mean']))} ± {g(ms(r['stddev']))} | {ratio} | {notes.get(n, '')} |")
for n, why in skipped:
    print(f"| {n} | did not run: {why} | | | |")
by = {r["command"]: r["median"] for r in res}
if "crun" in by and "inns + true" in by and "true" in by:
    w = by["inns + true"] - by["true"]
    print(f"\ncrun runs inside a prepared mount namespace with a cgroup2-only /sys/fs/cgroup (crun 1.8 refuses hybrid")
    print(f"cgroups), entered by `inns` (open + setns + execv, static). Its overhead, median(inns + true) −")
    print(f"median(true), is {ms(w) * 1000:.0f} µs: crun without it ≈ {g(ms(by['crun'] - w))} ms"
          + (f", {(by['crun'] - w) / base:.2f}× sandbox." if base else "."))
if "floor (net ns)" in by and base:
    print(f"\nsandbox / floor (both with a network namespace): {base / by['floor (net ns)']:.2f}×.", end="")
    if "sandbox --net host" in by and "floor (no net ns)" in by:
        print(f" sandbox --net host / floor without one: {by['sandbox --net host'] / by['floor (no net ns)']:.2f}×.", end="")
    if "sandbox --net host" in by:
        print(f" A network namespace costs sandbox {ms(base - by['sandbox --net host']):.2f} ms.", end="")
    print()
lc = by.get("lifecycle sandbox-oci")
if lc:
    parts = []
    for rt, target in (("crun", 2), ("runc", 5)):
        o = by.get(f"lifecycle {rt}")
        if o:
            parts.append(f"{o / lc:.2f}× faster than {rt}'s (target ≥ {target}×: {'met' if o / lc >= target else 'NOT met'})")
    if parts:
        print(f"\nOCI lifecycle (create + start + wait + delete of `/bin/true`): sandbox-oci {g(ms(lc))} ms, " + ", ".join(parts) + ".")
pm = by.get("podman sandbox-oci")
if pm:
    others = [f"{rt} {g(ms(by[f'podman {rt}']))} ms ({by[f'podman {rt}'] / pm:.2f}×)" for rt in ("crun", "runc") if f"podman {rt}" in by]
    print(f"\n`podman run --rm`: with sandbox-oci {g(ms(pm))} ms" + (", with " + ", ".join(others) if others else "") + ".")
if os.environ["PAIRS_LINE"]:
    print("\n" + os.environ["PAIRS_LINE"])
rs, rb = os.environ["RSS_SANDBOX"], os.environ["RSS_BWRAP"]
if rs or rb:
    print("\nPeak RSS (`/usr/bin/time -v`, \"Maximum resident set size\", median of 5; the largest process of the tree"
          " it waits for, including the inner `/bin/true`): "
          + ", ".join(x for x in [f"sandbox {rs} kB" if rs else "", f"bubblewrap {rb} kB" if rb else ""] if x) + ".")
sz = [l.split("\t") for l in os.environ["SIZES"].splitlines() if l]
if sz:
    print("\nStripped binary size: " + ", ".join(f"{n} {int(b):,} bytes ({int(b) / 1024:.1f} KiB, {k})" for n, b, k in sz) + ".")
EOF

# --- leftovers check ---------------------------------------------------------------------------
[ -e /run/sandbox/bench ] && say "warning: sandbox left /run/sandbox/bench"
ls -d /tmp/floorstate.* >/dev/null 2>&1 && say "warning: the floor left /tmp/floorstate.*"
echo
cat "$out/results.md"
