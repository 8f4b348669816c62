// The texts sandbox prints: its help, what each step of an error line is, and the hints.
// Stored compressed (build.rs): pairs of bytes that recur are one byte each, expanded when
// printed (error::push_text). Read by build.rs, and by the unit tests, which compare.
// ASCII only, no NUL.

/// `sandbox --help`.
pub const HELP: &str = "\
Usage: sandbox [OPTIONS] [--] COMMAND [ARG...]

Run COMMAND in a sandbox whose root is an overlay of the --lower image directories, with a
writable layer kept under --name, as the child of a small init (PID 1). Without --lower, run
COMMAND as the child of that init only: no new root, no namespaces (a container entrypoint).
Options end at -- or at the first argument that is not an option.

Options:
  --lower DIR         image layer, read-only; repeatable, the first is the top layer
  --name NAME         the sandbox's name (required with --lower): [A-Za-z0-9][A-Za-z0-9_.-]*,
                      at most 64 bytes; also its hostname unless --hostname is given
  --state-dir DIR     where writable layers live (default /run/sandbox for root, else
                      $XDG_RUNTIME_DIR/sandbox or /tmp/sandbox-UID; env SANDBOX_STATE_DIR)
  --keep              keep the writable layer at exit; the next run of NAME resumes it
  --hostname NAME     hostname inside (default: the name)
  --env KEY=VALUE     set a variable (repeatable); the host environment is not passed on,
                      only PATH (standard), HOME=/root and TERM
  --cwd DIR           working directory inside (default /)
  --bind SRC:DST      bind SRC from the host at DST inside, read-write (repeatable)
  --ro-bind SRC:DST   the same, read-only (repeatable)
  --net none|host     none (default): a network namespace with only lo, up; host: the host's
  --memory SIZE       memory limit (cgroup v2 memory.max): bytes, or with K, M, G, T
  --pids N            limit on the number of processes (pids.max)
  --cpus X            CPU limit, X CPUs' worth of time (cpu.max: X*100000 per 100000 us)
  --tmp-size SIZE     size of the tmpfs /tmp: bytes, or with K, M, G, T (default 10% of RAM)
  --tmpfs DST[:SIZE]  a tmpfs at DST, like /tmp (repeatable)
  --read-only         no writable layer: the root is the lowers, read-only; /tmp and --tmpfs
                      are the writable places
  --user U[:G]        run the command as uid U (gid G), numbers or names of the image's
                      /etc/passwd and /etc/group, without capabilities unless U is 0
                      (not root: only 0, the caller)
  --device PATH       the host's device node PATH at PATH inside, usable (repeatable)
  --dev-bind SRC:DST  the host's device node SRC at DST inside (repeatable)
  --cap-add CAP|all   give the command a capability beyond the default set (repeatable);
                      all: every one sandbox itself has
  --cap-drop CAP|all  take one from it (repeatable); names as in capabilities(7), CAP_ optional
  --timings           at exit, print microseconds from start to each phase on stderr

Named sandboxes (each with --state-dir DIR as above):
  --list [--json]     one line per sandbox: name, running, kept or stale, PID of its init,
                      when it started, its lowers; --json: the same as a JSON array
  --remove NAME       discard the kept layer of NAME (refused while it runs)
  --stop NAME         send SIGTERM to the running sandbox NAME, as if sent to its sandbox
  --signal SIG        with --stop: this signal instead (a number, TERM or SIGTERM)
  --join NAME [--env KEY=VALUE] [--cwd DIR] [--user UID[:GID]] [--] COMMAND [ARG...]
                      run COMMAND inside the running sandbox NAME, confined as its command
  -h, --help          this help
  -V, --version       the version

Exit status: the command's; 128+N if it was killed by signal N; 125 if sandbox itself failed;
126 if the command cannot be executed; 127 if it is not found.
";

/// What failed, for each step in the order of `error::Step` (discriminant 1 first).
pub const WHAT: [&str; 61] = [
    "unknown option",
    "option needs a value",
    "no command given",
    "--lower needs --name",
    "option needs --lower",
    "invalid name",
    "invalid hostname",
    "invalid --net",
    "invalid --env",
    "invalid bind",
    "unknown capability",
    "invalid limit",
    "invalid --tmp-size",
    "too many uses of option",
    "lower directory",
    "bind source",
    "state directory",
    "writable layer",
    "name is in use",
    "not yours alone",
    "state directory not yours alone",
    "cannot give capability",
    "cgroup v2 controller not available",
    "cgroup",
    "create namespaces",
    "make mounts private",
    "writable layer replaced while starting",
    "mount overlay",
    "pivot_root into",
    "mount /proc",
    "set up /dev",
    "mount /sys",
    "mount /tmp",
    "bind mount",
    "set hostname",
    "bring up lo",
    "working directory",
    "start the command",
    "drop privileges",
    "make the sandbox's terminal",
    "cannot execute",
    "cannot execute",
    "remove writable layer",
    "run from a sealed copy of sandbox",
    "option not valid here",
    "invalid --signal",
    "invalid --user",
    "no such sandbox",
    "sandbox is not running",
    "sandbox is running",
    "record of the sandbox",
    "join the sandbox",
    "machine set-up",
    "--user",
    "invalid --tmpfs",
    "--read-only has no writable layer to keep",
    "device",
    "mount --tmpfs",
    "--read-only",
    "name service file",
    "standard input, output or error",
];

/// The hints of error lines; error.rs says which step and errno each goes with.
pub const HINTS: [&str; 53] = [
    "see sandbox --help",
    "a number, or a name such as TERM or SIGTERM",
    "sandbox --list shows the sandboxes of this state directory",
    "sandbox --list shows which run",
    "stop it first: sandbox --stop NAME",
    "not a file of yours alone: left alone",
    "a sandbox of another user, or one you may not enter",
    "it has just ended",
    "every sandbox with its own root has a name",
    "a name is [A-Za-z0-9][A-Za-z0-9_.-]*, at most 64 bytes",
    "a hostname is 1 to 64 bytes",
    "use none or host",
    "use KEY=VALUE",
    "use SRC:DST with an absolute DST other than /, without ..",
    "names as in capabilities(7), or all",
    "--memory 512M, --pids 100, --cpus 1.5",
    "bytes, or with K, M, G, T: --tmp-size 512M",
    "limits need cgroup v2 at /sys/fs/cgroup with this controller enabled; this host has none",
    "SANDBOX_CGROUP must name a cgroup2 directory of yours (delegated to you when not root)",
    "--lower takes a directory",
    "another sandbox of this name is running",
    "made by another user, or open to others: left alone; remove it or choose another --state-dir",
    "it must be yours and writable by no one else: chmod go-w it, or choose another --state-dir",
    "its directory or one above it was swapped by someone: refusing to run",
    "its upper and work must be directories, not symlinks: remove the layer",
    "sandbox itself lacks it: not in its bounding set, so no process it starts can have it",
    "at most 128 --lower, 64 --bind and --ro-bind, 4096 --env",
    "--cwd takes an absolute path inside the sandbox",
    "choose another place with --state-dir",
    "choose one you can write with --state-dir",
    "namespaces need root (or CAP_SYS_ADMIN)",
    "a namespace limit in /proc/sys/user is reached",
    "the kernel has no overlayfs: modprobe overlay",
    "overlay directories may not overlap",
    "a mount point in the sandbox may not be a symlink",
    "the old root is still reachable; refusing to run",
    "overlayfs refused the layers: a layer on overlayfs, or a filesystem without d_type?",
    "--cwd names a directory inside the sandbox",
    "--cwd is resolved inside the sandbox, and may not lead through /proc/*/cwd or other magic links",
    "use UID[:GID], or USER[:GROUP] of the image's /etc/passwd and /etc/group",
    "no such user or group in the image's /etc/passwd or /etc/group",
    "not root, the sandbox's user namespace maps only the caller, as 0: only --user 0 works",
    "switching needs SETUID and SETGID: do not --cap-drop them",
    "use DST[:SIZE] with an absolute DST other than /, without .. or :",
    "drop --keep or --read-only",
    "--device and --dev-bind take a character or block device",
    "a kept layer of this name exists, which a run would discard: use another --name",
    "with --read-only a mount point must exist in the image",
    "command not found in the sandbox",
    "command not found",
    "not an executable file",
    "not a binary the kernel can run",
    "a directory or O_PATH descriptor would give the command the host's files: give a file, pipe, socket or terminal",
];

/// `sandbox-oci --help`, then `spec`'s config.json and `features`' document (caps::NAMES go
/// between its two parts), then what each `oci::Step` is (discriminant 1 first), then the
/// hints of its error lines (oci::Fail::hint).
pub const OCI: [&str; 4] = [
    "\
usage: sandbox-oci [GLOBAL OPTIONS] COMMAND [OPTIONS] ID [ARGS]
An OCI runtime (as runc and crun): engines such as podman and containerd drive it.

Commands:
  create --bundle DIR [--pid-file F] [--console-socket SOCK] [--preserve-fds N] [--no-pivot] ID
  start ID
  state ID
  kill [--all] ID [SIGNAL]
  delete [--force] ID
  exec [--process F | ARGS...] [--detach] [--pid-file F] [--console-socket SOCK] [--tty]
       [--cwd D] [--env K=V] [--user U[:G]] [--cap C] [--no-new-privs] [--preserve-fds N] ID
  ps [--format table|json] ID
  pause ID, resume ID
  list [--format table|json] [--quiet]
  run [--bundle DIR] [--detach] [--keep] [--pid-file F] [--console-socket SOCK] ID
  spec [--bundle DIR] [--rootless]
  update [--resources FILE|-] [--memory N] [--memory-swap N] [--memory-reservation N]
         [--pids-limit N] [--cpu-quota N] [--cpu-period N] [--cpu-share N] ID
  features

Global options:
  --root DIR            state of the containers (default /run/sandbox-oci)
  --log FILE            errors also go there
  --log-format text|json
  --systemd-cgroup      cgroupsPath in the slice:prefix:name form
  --cgroup-manager cgroupfs|systemd|disabled
  --debug
  -v, --version
  -h, --help
",
    r#"{"ociVersion":"1.0.2","process":{"terminal":true,"user":{"uid":0,"gid":0},"args":["sh"],"env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","TERM=xterm"],"cwd":"/","capabilities":{"bounding":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"effective":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"permitted":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],"ambient":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"]},"rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],"noNewPrivileges":true},"root":{"path":"rootfs","readonly":true},"hostname":"sandbox","mounts":[{"destination":"/proc","type":"proc","source":"proc"},{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},{"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},{"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=65536k"]},{"destination":"/dev/mqueue","type":"mqueue","source":"mqueue","options":["nosuid","noexec","nodev"]},{"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]},{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","noexec","nodev","relatime","ro"]}],"linux":{"resources":{"devices":[{"allow":false,"access":"rwm"}]},"namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"cgroup"}],"maskedPaths":["/proc/acpi","/proc/asound","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/sys/firmware","/proc/scsi"],"readonlyPaths":["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]}}
"#,
    r#"{"ociVersionMin":"1.0.0","ociVersionMax":"1.0.2","hooks":[],"mountOptions":["async","atime","bind","defaults","dev","diratime","dirsync","exec","mand","noatime","nodev","nodiratime","noexec","nomand","norelatime","nostrictatime","nosuid","private","rbind","relatime","remount","ro","rprivate","rshared","rslave","runbindable","rw","shared","slave","strictatime","suid","sync","unbindable","tmpcopyup"],"linux":{"namespaces":["cgroup","ipc","mount","network","pid","user","uts","time"],"capabilities":["#,
    r#"],"cgroup":{"v1":false,"v2":true,"systemd":false,"systemdUser":false},"seccomp":{"enabled":true,"actions":["SCMP_ACT_ALLOW","SCMP_ACT_ERRNO","SCMP_ACT_KILL","SCMP_ACT_KILL_PROCESS","SCMP_ACT_KILL_THREAD","SCMP_ACT_LOG","SCMP_ACT_TRACE","SCMP_ACT_TRAP"],"operators":["SCMP_CMP_EQ","SCMP_CMP_GE","SCMP_CMP_GT","SCMP_CMP_LE","SCMP_CMP_LT","SCMP_CMP_MASKED_EQ","SCMP_CMP_NE"],"archs":["SCMP_ARCH_X86_64"]},"apparmor":{"enabled":true},"selinux":{"enabled":false}},"annotations":{"org.opencontainers.runc.checkpoint.enabled":"false","io.github.sandbox.runtime":"sandbox-oci"}}
"#,
];

/// What failed, for each `oci::Step`.
pub const OCI_WHAT: [&str; 40] = [
    "usage",
    "config.json",
    "config.json",
    "state directory",
    "container exists",
    "container does not exist",
    "container status",
    "bundle",
    "root filesystem",
    "join namespace",
    "create namespaces",
    "write id mappings",
    "cgroup",
    "cgroup v2 controller not available",
    "mount",
    "mount propagation",
    "pivot_root into",
    "make device",
    "mask path",
    "make path read-only",
    "set sysctl",
    "set hostname",
    "set rlimit",
    "set oom_score_adj",
    "set AppArmor profile",
    "set user and groups",
    "set capabilities",
    "set no_new_privs",
    "install seccomp filter",
    "working directory",
    "cannot execute",
    "console socket",
    "start gate",
    "send signal",
    "delete",
    "run from a sealed copy of sandbox",
    "pid file",
    "freeze",
    "process",
    "standard input, output or error",
];

/// The hints of `sandbox-oci` error lines, in the order of `oci::Fail::hint`.
pub const OCI_HINTS: [&str; 9] = [
    "not found in the container",
    "not an executable file",
    "resolved inside the root: a symlink may not lead out of it",
    "resources need cgroup v2 with this controller; or run with --cgroup-manager=disabled and no resources",
    "delete it first, or choose another id",
    "the profile is too large for one filter",
    "AppArmor is not enabled on this host",
    "give --root a directory of yours, or set XDG_RUNTIME_DIR",
    "remove it first, or give --bundle another directory",
];

/// The reasons of `sandbox-oci` error lines that name no OS error (oci::Fail::why), each with
/// the name of its constant (oci::why, made by build.rs: the text compressed as the others).
pub const OCI_WHY: [(&str, &str); 72] = [
    ("ARCH_X86_64_NEEDED", "sandbox filters x86_64 calls: the list must hold SCMP_ARCH_X86_64"),
    ("A_BIND_MOUNT_NEEDS_A_SOURCE", "a bind mount needs a source"),
    ("A_CONTAINER_ID_IS_NEEDED", "a container id is needed"),
    ("A_NUMBER_IS_NEEDED", "a number is needed"),
    ("A_NUMBER_TERM_OR_SIGTERM", "a number, TERM or SIGTERM"),
    ("A_TERMINAL_NEEDS_CONSOLE_SOCKET", "a terminal needs --console-socket"),
    ("A_WINDOWS_FIELD", "a Windows field"),
    ("BAD_ESCAPE_IN_STRING", "bad escape in string"),
    ("BAD_INDEX_OR_OP", "bad index or op"),
    ("BAD_NUMBER", "bad number"),
    ("BAD_TYPE", "wrong type"),
    ("BAD_U_ESCAPE", "bad \\u escape"),
    ("BEING_CREATED", "being created"),
    ("CGROUP_IN_USE", "the cgroup has processes already: give each container a cgroup of its own"),
    ("CONTAINER_NOT_RUNNING", "container not running"),
    ("CONTROL_CHARACTER_IN_STRING", "control character in string"),
    ("DEVICE_TYPES", "c, u, b or p"),
    ("ERRNORET_OUT_OF_RANGE", "errnoRet out of range"),
    ("EXEC_NEEDS_A_COMMAND", "exec needs a command, or --process"),
    ("EXEC_NEEDS_A_RUNNING_CONTAINER", "exec needs a running container"),
    ("EXPECTED_A_KEY", "expected a key"),
    ("EXPECTED_COLON", "expected :"),
    ("EXPECTED_COMMA_OR_CLOSE", "expected , or a closing bracket"),
    ("HOST_DIRECTORY_AS_STDIO", "a directory or O_PATH descriptor would give the container the host's files"),
    ("INVALID_CONTAINER_ID", "invalid container id: up to 255 letters, digits and _.+-, the first a letter or digit"),
    ("MAY_NOT_NAME_OR", "may not name . or .."),
    ("MISMATCHED_BRACKET", "mismatched bracket"),
    ("MISSING", "missing"),
    ("MUST_BE_AN_ABSOLUTE_PATH", "must be an absolute path"),
    ("NAMED_TWICE", "named twice"),
    ("NEEDS_A_MEMORY_LIMIT_NO_LARGER", "needs a memory limit no larger"),
    ("NEEDS_A_MOUNT_NAMESPACE", "sandbox needs a new mount namespace"),
    ("NEEDS_A_NEW_UTS_NAMESPACE", "needs a new uts namespace"),
    ("NESTED_TOO_DEEP", "nested too deep"),
    ("NOT_A_JSON_OBJECT", "not a JSON object"),
    ("NOT_A_SYSCTL_NAME", "not a sysctl name"),
    ("NOT_BIND_NEEDS_TYPE", "a mount that is not a bind needs a type"),
    ("NOT_IN_OOM_RANGE", "not in -1000..1000"),
    ("NOT_SUPPORTED", "not supported by sandbox"),
    ("NOT_THE_ENGINES", "owned by another user or writable by others: it must be the engine's"),
    ("NOT_YOURS", "owned by another user or writable by others: --root must be yours alone"),
    ("NO_CGROUP_V2", "the container has no cgroup v2 (cgroups disabled, or none on this host)"),
    ("NO_CGROUP_V2_THERE", "no cgroup v2 there; run with --cgroup-manager=disabled and no resources"),
    ("NO_IDMAPPED_MOUNTS", "idmapped mounts are not supported by sandbox"),
    ("NO_SECCOMP_NOTIFY", "seccomp notify is not supported by sandbox"),
    ("NUL_OR_LONE_SURROGATE", "\\u0000 or a lone surrogate in string"),
    ("ONLY_CREATED_CAN_START", "only a created container can be started"),
    ("ONLY_RUNNING_CAN_PAUSE", "only a running container can be paused or resumed"),
    ("OPTION_NEEDS_A_VALUE", "option needs a value"),
    ("OUT_OF_RANGE", "out of range"),
    ("PROCESS_ENDED_BEFORE_READY", "the container's process ended before it was ready"),
    ("RUNNING_STOP_IT_FIRST", "the container is running: stop it first, or use --force"),
    ("STATE_JSON_IS_DAMAGED", "state.json is damaged"),
    ("SYSCTL_NOT_OF_A_NAMESPACE", "not a sysctl of a namespace the container has its own of"),
    ("TEXT_AFTER_THE_DOCUMENT", "text after the document"),
    ("TOO_MANY", "too many"),
    ("TOO_MANY_ENTRIES", "too many entries"),
    ("TOO_MANY_RULES", "too many rules"),
    ("TOO_MANY_VALUES", "too many values"),
    ("UNBALANCED", "unbalanced"),
    ("UNEXPECTED_CHARACTER", "unexpected character"),
    ("UNEXPECTED_END", "unexpected end"),
    ("UNKNOWN_ACTION", "unknown action"),
    ("UNKNOWN_COMMAND", "unknown command (see sandbox-oci --help)"),
    ("UNKNOWN_FLAG", "unknown flag"),
    ("UNKNOWN_NAMESPACE", "unknown namespace"),
    ("UNKNOWN_OPTION", "unknown option (see sandbox-oci --help)"),
    ("UNKNOWN_PROPAGATION", "unknown propagation"),
    ("UNKNOWN_RESOURCE", "unknown resource"),
    ("UNKNOWN_WORD", "unknown word"),
    ("UNTERMINATED_STRING", "unterminated string"),
    ("USER_NAMESPACE_NEEDS_MAPPINGS", "a new user namespace needs uidMappings and gidMappings"),
];
