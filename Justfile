# sandbox: build, image, demo, tests, benchmarks. Each recipe installs what it needs.

target := "x86_64-unknown-linux-musl"
bin := "target/" + target + "/release/sandbox"

default: build

# The musl target, once.
toolchain:
    @rustup target list --installed 2>/dev/null | grep -qx {{target}} || rustup target add {{target}}

# The static release binary (prints its stripped size).
build: toolchain
    cargo build --release --target {{target}}
    @echo "sandbox: $(stat -c %s {{bin}}) bytes (stripped, static)"

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
