#!/usr/bin/env bash
# Make the busybox image at rootfs/busybox from a static busybox: $BUSYBOX if set, else the one
# in Debian's busybox-static package (fetched with apt-get download and unpacked with dpkg -x;
# nothing is installed on the system), else a static busybox already on PATH.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/busybox"
cache="$here/.cache"

if [ -x "$out/bin/busybox" ] && [ -z "${FORCE:-}" ]; then
  exit 0
fi

bb="${BUSYBOX:-}"
if [ -z "$bb" ]; then
  mkdir -p "$cache"
  if [ ! -x "$cache/bin/busybox" ]; then
    deb=$(ls "$cache"/busybox-static_*.deb 2>/dev/null | head -n1 || true)
    if [ -z "$deb" ] && command -v apt-get >/dev/null; then
      (cd "$cache" && apt-get download busybox-static >/dev/null 2>&1) || true
      deb=$(ls "$cache"/busybox-static_*.deb 2>/dev/null | head -n1 || true)
      # A fresh machine may have no package lists yet.
      if [ -z "$deb" ] && [ "$(id -u)" = 0 ]; then
        apt-get update -q >/dev/null 2>&1 || true
        (cd "$cache" && apt-get download busybox-static >/dev/null 2>&1) || true
        deb=$(ls "$cache"/busybox-static_*.deb 2>/dev/null | head -n1 || true)
      fi
    fi
    if [ -n "$deb" ]; then
      rm -rf "$cache/x" && dpkg -x "$deb" "$cache/x"
      mkdir -p "$cache/bin" && cp "$cache/x/bin/busybox" "$cache/bin/busybox" && rm -rf "$cache/x"
    fi
  fi
  if [ -x "$cache/bin/busybox" ]; then
    bb="$cache/bin/busybox"
  elif command -v busybox >/dev/null && file -L "$(command -v busybox)" | grep -q static; then
    bb=$(command -v busybox)
  else
    echo "rootfs: no static busybox: set BUSYBOX=/path/to/busybox, or run 'apt-get update' so that apt-get download busybox-static works" >&2
    exit 1
  fi
fi
if ! file -L "$bb" | grep -Eq 'statically linked|static-pie'; then
  echo "rootfs: $bb is not statically linked" >&2
  exit 1
fi

tmp="$out.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,run,var/tmp}
chmod 1777 "$tmp/tmp" "$tmp/var/tmp"
chmod 0700 "$tmp/root"
cp "$bb" "$tmp/bin/busybox"
chmod 0755 "$tmp/bin/busybox"
"$bb" --list-full | while read -r applet; do
  case "$applet" in bin/busybox|"") continue ;; esac
  [ -e "$tmp/$applet" ] || ln -s /bin/busybox "$tmp/$applet"
done
cat > "$tmp/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat > "$tmp/etc/group" <<'G'
root:x:0:
tty:x:5:
nogroup:x:65534:
G
echo 'PS1="\u@\h:\w\$ "' > "$tmp/etc/profile"
rm -rf "$out"
mv "$tmp" "$out"
echo "rootfs: $out ($("$bb" | head -n1 | cut -d' ' -f1-2))"
