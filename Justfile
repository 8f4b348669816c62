# sandbox: build, image, demo, tests, benchmarks. Each recipe installs what it needs.

target := "x86_64-unknown-linux-musl"
bin := "target/" + target + "/release/sandbox"

# Where `just install` puts things: $DESTDIR$PREFIX/bin, share/man/man1, share/bash-completion.
# Set them in the environment or on the command line (`just PREFIX=$HOME/.local install`).
export PREFIX := env("PREFIX", "/usr/local")
export DESTDIR := env("DESTDIR", "")

default: build

# The musl target, once.
toolchain:
    @rustup target list --installed 2>/dev/null | grep -qx {{target}} || rustup target add {{target}}

# (sandbox-oci: the name under which the binary is an OCI runtime.)
# The static release binary (prints its stripped size), and the link sandbox-oci beside it.
build: toolchain
    cargo build --release --target {{target}}
    ln -sfn sandbox {{bin}}-oci
    @echo "sandbox: $(stat -c %s {{bin}}) bytes (stripped, static)"

# As root, or as a user who can write PREFIX. To build as yourself and install as root:
# `just build && sudo "$(command -v just)" --no-deps install`.
# Install the binary, sandbox-oci, the man page and the bash completion in $DESTDIR$PREFIX.
install: build
    #!/usr/bin/env bash
    set -euo pipefail
    root="$DESTDIR$PREFIX"
    [ -x {{bin}} ] || { echo "install: no {{bin}}: run just build first" >&2; exit 1; }
    # Make what is missing, 0755 whatever the umask; leave the modes of existing directories alone.
    for d in "$root" "$root/bin" "$root/share" "$root/share/man" "$root/share/man/man1" \
        "$root/share/bash-completion" "$root/share/bash-completion/completions"; do
        [ -d "$d" ] || install -d -m 755 "$d"
    done
    install -m 755 {{bin}} "$root/bin/sandbox"
    if [ -L {{bin}}-oci ]; then ln -sfn sandbox "$root/bin/sandbox-oci"; fi
    install -m 644 src/sandbox.1 "$root/share/man/man1/sandbox.1"
    install -m 644 src/sandbox.bash "$root/share/bash-completion/completions/sandbox"
    echo "installed in $root: bin/sandbox$([ -L {{bin}}-oci ] && echo ' bin/sandbox-oci'), share/man/man1/sandbox.1, share/bash-completion/completions/sandbox"

# The busybox image at rootfs/busybox (BUSYBOX=/path/to/static/busybox to choose the binary).
rootfs:
    bash rootfs/build.sh

# The main job: a shell in a sandbox on the busybox image.
demo: build rootfs
    {{bin}} --lower rootfs/busybox --name hello1 -- sh

# Unit tests and the integration tests (real binary, real namespaces; root-only tests need root).
# Every test binary runs even when an earlier one fails; cargo lists each failed one at the end
# and exits non-zero.
test: build rootfs
    cargo test --release --target {{target}} --no-fail-fast -- --test-threads=4

# Size of what the binary is made of, largest last.
size: build
    cargo build --release --target {{target}} --config 'profile.release.strip=false'
    nm --size-sort -S {{bin}} | tail -n 25
    cargo build --release --target {{target}}

# Start-up latency against bubblewrap, unshare+chroot, crun, runc and the floor (target/bench/results.md).
bench: build rootfs
    bash tests/bench.sh

# Boot the busybox image in qemu (TCG) with sandbox as /init; ARGS: init's arguments (default: a sandboxed command).
vm *ARGS: build rootfs
    bash rootfs/vm.sh boot {{ARGS}}
