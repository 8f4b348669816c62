#!/usr/bin/env bash
# oci-image.sh ROOTFS NAME OUT.tar: an OCI image archive (oci-layout, index.json, blobs) of the
# directory ROOTFS as one uncompressed layer, for linux/amd64, named NAME (the index's
# org.opencontainers.image.ref.name and io.containerd.image.name), for `ctr image import`.
# Works in a temporary directory beside OUT.tar; writes nothing else.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: oci-image.sh ROOTFS NAME OUT.tar" >&2; exit 2; }
rootfs=$1 name=$2 out=$3
work=$(mktemp -d "$(dirname "$out")/oci-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
blobs=$work/blobs/sha256
mkdir -p "$blobs"
blob() {  # FILE: moves it into blobs/sha256 under its digest, prints "DIGEST SIZE"
  local d s
  d=$(sha256sum "$1" | cut -d' ' -f1) s=$(stat -c %s "$1")
  mv "$1" "$blobs/$d"
  echo "$d $s"
}
tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -cf "$work/layer" .
read -r diffid _ < <(sha256sum "$work/layer")
read -r layer lsize < <(blob "$work/layer")
printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$diffid" >"$work/config"
read -r config csize < <(blob "$work/config")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
  "$config" "$csize" "$layer" "$lsize" >"$work/manifest"
read -r manifest msize < <(blob "$work/manifest")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"org.opencontainers.image.ref.name":"%s","io.containerd.image.name":"%s"}}]}' \
  "$manifest" "$msize" "$name" "$name" >"$work/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"
tar -C "$work" -cf "$out" oci-layout index.json blobs
