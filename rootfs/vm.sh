#!/usr/bin/env bash
# A bare VM with sandbox as its /init, booted in qemu (TCG: no KVM).
#
#   bash rootfs/vm.sh [build]        fetch the kernel (once), build the initramfs, install qemu if
#                                    missing; print the paths of the kernel and the initramfs
#   bash rootfs/vm.sh boot [ARGS...] build, then boot qemu with ARGS as init's arguments (default:
#                                    --lower /images/busybox --name vm1 /bin/sh -c "echo ...; hostname")
#
# The kernel is Debian's (the linux-image-*-amd64 that linux-image-amd64 depends on), fetched with
# apt-get download and unpacked with dpkg -x into rootfs/.cache/kernel: nothing is installed on the
# system. The initramfs (rootfs/.cache/vm/initramfs.cpio.gz, cpio newc, all owned by root) holds:
#   /init                 the sandbox binary ($SANDBOX_BIN, default the release build)
#   /images/busybox       the busybox image (rootfs/busybox, made by rootfs/build.sh if missing)
#   /bin, /etc, ...       the busybox image again at the root, for the init-only form
#   /lib/modules/<ver>/kernel/fs/overlayfs/overlay.ko* and the modules it depends on
#   /proc /sys /dev /run /tmp, empty, and deliberately no /dev/console node.
# qemu-system-x86 and cpio are installed with apt-get when missing. qemu boots the uncompressed
# vmlinux taken out of the bzImage once (through its PVH entry: decompressing the bzImage costs
# some 8 s under TCG), or the bzImage if that cannot be done.
# The kernel is told to bear with a busy host (no_timer_check, nowatchdog, no RCU stall reports):
# under TCG the guest's clock is the host's, and a virtual CPU may not run for seconds.
#
# Environment: SANDBOX_BIN (the /init), VM_MEMORY (MiB, 512), VM_CPUS (2), VM_KERNEL_ARGS (more
# kernel parameters, before `--`), VM_EXTRA ("SRC:DST ..." files added to the initramfs).
#
# Init's arguments go on the kernel command line after `--`. The kernel groups words in double
# quotes and has no escapes, so an argument can hold spaces but not a double quote, and it drops
# all after a second `--` (so the command cannot be separated from the options by `--`).
#
# Exit status: 0 done (boot: qemu's status), 77 qemu, cpio or the kernel cannot be had here,
# other: an error.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cache="$here/.cache"
kdir="$cache/kernel"
out="$cache/vm"
initrd="$out/initramfs.cpio.gz"
bin="${SANDBOX_BIN:-$repo/target/x86_64-unknown-linux-musl/release/sandbox}"

die() { echo "vm: $*" >&2; exit 1; }
unavailable() { echo "vm: $*" >&2; exit 77; }

apt_updated=
apt_update() {
  [ -n "$apt_updated" ] && return 0
  apt_updated=1
  apt-get update -q >/dev/null 2>&1 || true
}

# Install Debian packages for the commands that are missing: need CMD PACKAGE...
need() {
  local cmd=$1; shift
  command -v "$cmd" >/dev/null && return 0
  command -v apt-get >/dev/null || unavailable "$cmd is missing and there is no apt-get to install $*"
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 ||
    unavailable "$cmd is missing and 'apt-get install $*' failed"
  command -v "$cmd" >/dev/null || unavailable "$cmd is missing after 'apt-get install $*'"
}

# The cached kernel's version (the newest if there are several), or nothing.
kernel_version() {
  local v
  v=$(ls "$kdir"/boot/ 2>/dev/null | sed -n 's/^vmlinuz-//p' | sort -V | tail -n1)
  [ -n "$v" ] && [ -d "$kdir/lib/modules/$v" ] && echo "$v"
  return 0
}

# What a module file depends on (comma separated), from its .modinfo strings.
module_depends() {
  local f=$1
  case "$f" in
    *.xz) xz -dc "$f" ;;
    *.zst) zstd -qdc "$f" ;;
    *.gz) gzip -dc "$f" ;;
    *) cat "$f" ;;
  esac | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n1
}

# The file of a module NAME under the modules tree $1, relative to it.
module_file() {
  (cd "$1" && find kernel -name "$2.ko" -o -name "$2.ko.xz" -o -name "$2.ko.zst" -o -name "$2.ko.gz" |
    sort | head -n1)
}

# The module files (relative to the modules tree $1) of overlay and what it depends on.
overlay_closure() {
  local mods=$1 todo=(overlay) seen=" " m f d
  while [ ${#todo[@]} -gt 0 ]; do
    m=${todo[0]}; todo=("${todo[@]:1}")
    case "$seen" in *" $m "*) continue ;; esac
    seen="$seen$m "
    f=$(module_file "$mods" "$m")
    if [ -z "$f" ]; then
      # Built in (listed in modules.builtin) is fine; absent is not.
      grep -q "/${m//-/[-_]}\.ko$" "$mods/modules.builtin" 2>/dev/null && continue
      die "module $m not found under $mods"
    fi
    echo "$f"
    for d in $(module_depends "$mods/$f" | tr ',' ' '); do todo+=("$d"); done
  done
}

# Fetch and unpack the kernel package once; keep vmlinuz, config, the modules' index files and the
# overlay module with its dependencies (the rest of the modules tree is dropped).
fetch_kernel() {
  [ -n "$(kernel_version)" ] && return 0
  command -v apt-get >/dev/null && command -v dpkg >/dev/null ||
    unavailable "no kernel cached in $kdir and no apt-get/dpkg to fetch one"
  local pkg
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *|\{0,1\}Depends: \(linux-image-[^ ]*-amd64\)$/\1/p' | head -n1)
  if [ -z "$pkg" ]; then
    apt_update
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *|\{0,1\}Depends: \(linux-image-[^ ]*-amd64\)$/\1/p' | head -n1)
  fi
  [ -n "$pkg" ] || unavailable "cannot resolve linux-image-amd64 with apt-cache depends"
  local tmp="$cache/kernel.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp/dl"
  trap 'rm -rf "$tmp"' EXIT
  if ! (cd "$tmp/dl" && apt-get download "$pkg" >/dev/null 2>&1); then
    apt_update
    (cd "$tmp/dl" && apt-get download "$pkg" >/dev/null 2>&1) || unavailable "apt-get download $pkg failed"
  fi
  dpkg -x "$tmp"/dl/*.deb "$tmp/x" || die "dpkg -x of $pkg failed"
  local v
  v=$(ls "$tmp/x/boot" | sed -n 's/^vmlinuz-//p' | head -n1)
  [ -n "$v" ] || die "$pkg has no /boot/vmlinuz-*"
  local mods="$tmp/x/lib/modules/$v" k="$tmp/k"
  mkdir -p "$k/boot" "$k/lib/modules/$v"
  cp -a "$tmp/x/boot/." "$k/boot/"
  find "$mods" -maxdepth 1 -type f -exec cp -a {} "$k/lib/modules/$v/" \;
  local f
  for f in $(overlay_closure "$mods"); do
    mkdir -p "$k/lib/modules/$v/$(dirname "$f")"
    cp -a "$mods/$f" "$k/lib/modules/$v/$f"
  done
  rm -rf "$kdir" && mv "$k" "$kdir"
  rm -rf "$tmp"
  trap - EXIT
}

# The kernel to boot: an uncompressed vmlinux taken out of the bzImage once (qemu boots it through
# its PVH entry, which saves the seconds TCG spends decompressing the bzImage), else the bzImage.
kernel_image() {
  local v z
  v=$(kernel_version)
  z="$kdir/boot/vmlinuz-$v"
  if [ ! -s "$kdir/boot/vmlinux-$v" ] && [ ! -e "$kdir/boot/vmlinux-$v.none" ]; then
    command -v xz >/dev/null || (need xz xz-utils) || true
    extract_vmlinux "$z" >"$kdir/boot/vmlinux-$v.tmp" 2>/dev/null || true
    if [ "$(head -c 4 "$kdir/boot/vmlinux-$v.tmp" | od -An -c | tr -d ' ')" = '177ELF' ] &&
      grep -q 'Xen' "$kdir/boot/vmlinux-$v.tmp" && grep -q '^CONFIG_PVH=y' "$kdir/boot/config-$v" 2>/dev/null; then
      mv "$kdir/boot/vmlinux-$v.tmp" "$kdir/boot/vmlinux-$v"
    else
      rm -f "$kdir/boot/vmlinux-$v.tmp"
      : >"$kdir/boot/vmlinux-$v.none"
    fi
  fi
  if [ -s "$kdir/boot/vmlinux-$v" ]; then echo "$kdir/boot/vmlinux-$v"; else echo "$z"; fi
}

# The ELF kernel inside a bzImage (xz or zstd payload; Debian's is xz).
extract_vmlinux() {
  local off
  off=$(LC_ALL=C grep -abo $'\xfd7zXZ' "$1" | head -n1 | cut -d: -f1)
  if [ -n "$off" ]; then
    tail -c +$((off + 1)) "$1" | xz -dc --single-stream
    return
  fi
  off=$(LC_ALL=C grep -abo $'\x28\xb5\x2f\xfd' "$1" | head -n1 | cut -d: -f1)
  [ -n "$off" ] && tail -c +$((off + 1)) "$1" | zstd -qdc
}

build_initramfs() {
  need cpio cpio
  [ -x "$bin" ] || die "no sandbox binary at $bin: run 'cargo build --release' (or set SANDBOX_BIN)"
  [ -x "$here/busybox/bin/busybox" ] || bash "$here/build.sh" >/dev/null
  fetch_kernel
  local v mods
  v=$(kernel_version)
  mods="$kdir/lib/modules/$v"
  mkdir -p "$out"
  local st="$out/root.tmp.$$"
  rm -rf "$st"
  trap 'rm -rf "$st" "$initrd.tmp.$$"' EXIT
  mkdir -p "$st/images"
  cp -a "$here/busybox" "$st/images/busybox"
  # The same image at the root, hard-linked: newc stores linked files' data once.
  cp -al "$st/images/busybox/." "$st/"
  mkdir -p "$st/proc" "$st/sys" "$st/dev" "$st/run" "$st/tmp"
  chmod 1777 "$st/tmp"
  rm -rf "${st:?}/dev/"*
  cp "$bin" "$st/init"
  chmod 0755 "$st/init"
  # VM_EXTRA="SRC:DST ...": more files for the initramfs (the tests add a probe).
  local x
  for x in ${VM_EXTRA:-}; do
    mkdir -p "$st$(dirname "${x#*:}")"
    cp "${x%%:*}" "$st${x#*:}"
  done
  local f
  for f in $(overlay_closure "$mods"); do
    mkdir -p "$st/lib/modules/$v/$(dirname "$f")"
    cp "$mods/$f" "$st/lib/modules/$v/$f"
  done
  (cd "$st" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$initrd.tmp.$$"
  mv "$initrd.tmp.$$" "$initrd"
  rm -rf "$st"
  trap - EXIT
}

# Quote init's arguments for the kernel command line.
cmdline_args() {
  local a s=
  for a in "$@"; do
    case "$a" in
      *'"'*) die "an argument for the VM's init cannot hold a double quote (the kernel has no escapes): $a" ;;
      --) die "the kernel drops all after a second '--': give the command without '--'" ;;
    esac
    case "$a" in
      "" | *[[:space:]]*) s="$s \"$a\"" ;;
      *) s="$s $a" ;;
    esac
  done
  printf '%s' "${s# }"
}

mode=${1:-build}
[ $# -gt 0 ] && shift
case "$mode" in
  build)
    build_initramfs
    need qemu-system-x86_64 qemu-system-x86
    echo "kernel: $(kernel_image)"
    echo "initramfs: $initrd"
    ;;
  boot)
    if [ $# -eq 0 ]; then
      set -- --lower /images/busybox --name vm1 /bin/sh -c "echo hello from the sandbox; hostname"
    fi
    # On a busy host the emulated machine gets the processor in bursts, and its timers fall behind:
    # no_timer_check skips the boot check of the IO-APIC timer (which otherwise panics with
    # "IO-APIC + timer doesn't work!"), nowatchdog stops the soft lockup reports ("BUG: soft
    # lockup") of a virtual CPU the host did not run for seconds, and RCU stall reports are off.
    append="console=ttyS0 rdinit=/init panic=-1 quiet no_timer_check nowatchdog rcupdate.rcu_cpu_stall_suppress=1"
    append="$append ${VM_KERNEL_ARGS:+$VM_KERNEL_ARGS }-- $(cmdline_args "$@")"
    # x86's COMMAND_LINE_SIZE: the kernel would cut a longer line silently.
    [ ${#append} -lt 2048 ] || die "the kernel command line would be ${#append} bytes (2047 at most)"
    build_initramfs
    kernel=$(kernel_image)
    need qemu-system-x86_64 qemu-system-x86
    # Never KVM: nested KVM hangs on these machines.
    exec qemu-system-x86_64 -accel tcg -m "${VM_MEMORY:-512}" -smp "${VM_CPUS:-2}" -nographic -no-reboot -nic none \
      -kernel "$kernel" -initrd "$initrd" -append "$append"
    ;;
  *)
    echo "usage: bash rootfs/vm.sh [build] | boot [INIT-ARGS...]" >&2
    exit 2
    ;;
esac
