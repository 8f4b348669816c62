//! Real engines drive sandbox as their OCI runtime: podman (through conmon, as root and rootless)
//! and containerd (through its runc v2 shim, with `ctr`) run the busybox image with
//! `sandbox-oci` (the link to the binary that selects the OCI command line). Through each: a run
//! with output and exit status, a run with a terminal, a detached run with exec (plain, with a
//! terminal, with stdin), ps/top, kill, stop, removal, and afterwards nothing of the containers
//! left: no container, no mount, no process, nothing in the runtime's state directory.
//!
//! Every engine runs in a private mount namespace held by a sleeping process, with a tmpfs on
//! /run (so the runtimes' default state directories, /run/sandbox-oci, /run/runc, /run/crun, are
//! the test's own and can be checked empty), and where the runtime needs it a cgroup2-only
//! /sys/fs/cgroup (this host's cgroups are hybrid: v1 controllers, an empty v2 hierarchy). The
//! engines' storage and configuration are in the test's temporary directory: nothing of the
//! host's podman or containerd is used or changed.
//!
//! ENGINES_RUNTIMES (comma-separated: sandbox-oci, crun, runc; default sandbox-oci) runs the same
//! tests with other runtimes, to tell an engine's or the host's limits from the runtime's.
//! Root only; rootless podman runs as the user `sandbox-ci` (made by .ci/run, with /etc/subuid
//! and /etc/subgid entries).
mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The unprivileged user of the rootless tests.
const ROOTLESS_USER: &str = "sandbox-ci";
/// The image's name in the engines.
const IMAGE_REF: &str = "localhost/busybox:test";
/// Limits podman asks for by default that this host cannot grant (no CAP_SYS_RESOURCE).
const ULIMITS: [&str; 4] = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

/// An OCI runtime under test and what this host needs for it.
#[derive(Clone, Debug)]
struct Runtime {
    /// The name engines know it by (podman takes it from the path's last component).
    name: &'static str,
    path: PathBuf,
    /// Under podman, run with --cgroups=disabled (the runtime is among containers.conf's
    /// runtime_supports_nocgroup); runc cannot, and uses the host's v1 cgroups.
    no_cgroups: bool,
    /// Give podman a cgroup2-only /sys/fs/cgroup (crun 1.8 refuses hybrid cgroups even with
    /// none asked for).
    podman_cgroup2: bool,
    /// Give containerd a cgroup2-only /sys/fs/cgroup (all do: a cgroup v2 host as Kubernetes
    /// nodes are today).
    containerd_cgroup2: bool,
}

fn runtimes() -> Vec<Runtime> {
    let list = std::env::var("ENGINES_RUNTIMES").unwrap_or_else(|_| "sandbox-oci".into());
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(|name| match name {
            "sandbox-oci" => Runtime {
                name: "sandbox-oci",
                path: sandbox_oci(),
                no_cgroups: true,
                podman_cgroup2: false,
                containerd_cgroup2: true,
            },
            "crun" => Runtime {
                name: "crun",
                path: "/usr/bin/crun".into(),
                no_cgroups: true,
                podman_cgroup2: true,
                containerd_cgroup2: true,
            },
            "runc" => Runtime {
                name: "runc",
                path: "/usr/sbin/runc".into(),
                no_cgroups: false,
                podman_cgroup2: false,
                containerd_cgroup2: true,
            },
            other => panic!("ENGINES_RUNTIMES: unknown runtime {other:?} (sandbox-oci, crun, runc)"),
        })
        .collect()
}

/// The tools a test needs: all there, or a skip (a failure under CI=true).
fn require_tools(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !Command::new("sh").args(["-c", &format!("command -v {t}")]).output().is_ok_and(|o| o.status.success()))
        .collect();
    if missing.is_empty() {
        return true;
    }
    skip(&format!("missing {missing:?} (.ci/run installs them)"))
}

fn uid_of(user: &str) -> Option<u32> {
    let o = Command::new("id").args(["-u", user]).output().ok()?;
    String::from_utf8_lossy(&o.stdout).trim().parse().ok()
}

/// A command line as one shell word each, for script(1)'s -c.
fn shell_line(cmd: &Command) -> String {
    let q = |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', "'\\''"));
    let mut v = vec![q(cmd.get_program())];
    v.extend(cmd.get_args().map(q));
    v.join(" ")
}

/// Run `cmd` with a terminal as its stdin, stdout and stderr: script(1) makes one and records
/// what the command wrote to it (with the terminal's \r\n line ends).
fn with_tty(cmd: &Command) -> Out {
    let mut s = Command::new("script");
    s.args(["-qec", &shell_line(cmd), "/dev/null"]);
    run_cmd(s, b"")
}

/// Pids of the host's processes whose command line mentions `text`.
fn procs_mentioning(text: &str) -> Vec<u32> {
    let mut v = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(cmdline) = fs::read(e.path().join("cmdline")) else { continue };
        if String::from_utf8_lossy(&cmdline).contains(text) {
            v.push(pid);
        }
    }
    v
}

/// Lines of a mountinfo file that mention `text`.
fn mounts_mentioning(mountinfo: &Path, text: &str) -> Vec<String> {
    fs::read_to_string(mountinfo)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(text))
        .map(String::from)
        .collect()
}

/// Files (not directories) under `dir`, at any depth: a runtime's state directory may keep empty
/// directories, never a container's state.
fn files_under(dir: &Path) -> Vec<String> {
    listing(dir).into_iter().filter(|p| !p.ends_with('/')).collect()
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// The test's temporary directory (mode 755, for the rootless user to reach its part) and a
/// process holding a private mount namespace with a tmpfs on /run and, if asked, a cgroup2-only
/// /sys/fs/cgroup. Dropped: every process that mentions the directory is killed, what is still
/// mounted under it unmounted, the directory removed.
struct Scratch {
    dir: PathBuf,
    holder: Option<Running>,
    /// The holder's pid, 0 without one (the host's namespace).
    holder_pid: u32,
}

impl Scratch {
    /// `namespace`: make the namespace (else commands run in the host's).
    fn new(tag: &str, namespace: bool, cgroup2: bool) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "sandbox-engines-{}-{}-{}",
            tag,
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        if !namespace {
            return Scratch { dir, holder: None, holder_pid: 0 };
        }
        let ready = dir.join("ns-ready");
        let cg = if cgroup2 {
            "{ umount -R /sys/fs/cgroup 2>/dev/null || umount -l /sys/fs/cgroup; } && mount -t cgroup2 none /sys/fs/cgroup && "
        } else {
            ""
        };
        let script = format!(
            "{cg}mount -t tmpfs -o mode=755 tmpfs /run && mkdir -p /run/lock && echo > {} && exec sleep 100000",
            ready.display()
        );
        let mut c = Command::new("unshare");
        c.args(["--mount", "--propagation", "private", "sh", "-c", &script]);
        let mut holder = spawn(c, b"");
        let ok = wait_until(TIMEOUT, || ready.exists() || !holder.running());
        assert!(ok && ready.exists(), "the mount namespace was not made: {:?}", holder.wait().tuple());
        let holder_pid = holder.pid();
        Scratch { dir, holder: Some(holder), holder_pid }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// `cmd` run inside the namespace.
    fn enter(&self, program: &str) -> Command {
        if self.holder_pid == 0 {
            return Command::new(program);
        }
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.holder_pid.to_string(), "-m", "--", program]);
        c
    }

    /// The namespace's /run, seen from the host.
    fn run_dir(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root/run", self.holder_pid))
    }

    /// Mounts that mention the directory, in the namespace and on the host.
    fn mounts(&self) -> Vec<String> {
        let d = self.dir.to_string_lossy().into_owned();
        let mut v = Vec::new();
        if self.holder_pid != 0 {
            v = mounts_mentioning(Path::new(&format!("/proc/{}/mountinfo", self.holder_pid)), &d);
        }
        v.extend(mounts_mentioning(Path::new("/proc/self/mountinfo"), &d));
        v
    }

    /// The image as a tar of rootfs/busybox, for `podman import`.
    fn image_tar(&self) -> PathBuf {
        let tar = self.path("busybox.tar");
        let mut c = Command::new("tar");
        c.args(["--numeric-owner", "-C", IMAGE, "-cf"]).arg(&tar).arg(".");
        run_cmd(c, b"").expect(0);
        tar
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let d = self.dir.to_string_lossy().into_owned();
        for _ in 0..3 {
            for p in procs_mentioning(&d) {
                if p != std::process::id() {
                    let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
                }
            }
        }
        drop(self.holder.take());
        for m in mounts_mentioning(Path::new("/proc/self/mountinfo"), &d) {
            if let Some(mp) = m.split(' ').nth(4) {
                let _ = Command::new("umount").args(["-l", mp]).status();
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------------
// podman

/// podman with its own storage and configuration in a Scratch, the runtime under test, as root
/// or as the rootless user.
struct Podman {
    rt: Runtime,
    s: Scratch,
    /// The rootless user's name and uid, or None for root.
    user: Option<(String, u32)>,
}

impl Podman {
    fn new(rt: &Runtime, rootless: bool) -> Podman {
        // Rootless podman runs in the host's namespace unless the runtime needs cgroup2 (in a
        // namespace of the test's, each run of it waited 20 s for conmon's cleanup); its
        // runtime's state is under XDG_RUNTIME_DIR, in the scratch directory.
        let s = Scratch::new(
            if rootless { "podman-rootless" } else { "podman" },
            !rootless || rt.podman_cgroup2,
            rt.podman_cgroup2,
        );
        let user = rootless.then(|| {
            let uid = uid_of(ROOTLESS_USER).expect("the rootless user");
            (ROOTLESS_USER.to_string(), uid)
        });
        let home = s.path("home");
        fs::create_dir_all(home.join("xdg")).unwrap();
        fs::set_permissions(home.join("xdg"), fs::Permissions::from_mode(0o700)).unwrap();
        // The runtime where the rootless user can run it whatever the checkout's directories
        // allow: a copy of the binary (and its link) in the scratch directory.
        let mut rt = rt.clone();
        if rootless && rt.name == "sandbox-oci" {
            let bin = s.path("bin");
            fs::create_dir_all(&bin).unwrap();
            fs::copy(BIN, bin.join("sandbox")).unwrap();
            symlink("sandbox", bin.join("sandbox-oci")).unwrap();
            rt.path = bin.join("sandbox-oci");
        }
        let d = home.display();
        fs::write(
            home.join("storage.conf"),
            format!("[storage]\ndriver = \"overlay\"\ngraphroot = \"{d}/storage\"\nrunroot = \"{d}/runroot\"\n"),
        )
        .unwrap();
        // Its database, temporary and events files stay where podman puts them by default (under
        // the storage and the namespace's /run): the cleanup that conmon runs when a container
        // ends is another podman, which must find the same ones.
        fs::write(
            home.join("containers.conf"),
            format!(
                "[containers]\n{defaults}\n[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                 runtime = \"{n}\"\n\
                 runtime_supports_json = [\"crun\", \"runc\", \"sandbox-oci\"]\n\
                 runtime_supports_nocgroup = [\"crun\", \"sandbox-oci\"]\n\n\
                 [engine.runtimes]\n{n} = [\"{p}\"]\n",
                n = rt.name,
                p = rt.path.display(),
                // What a run gets by its options (run_opts), for the containers podman makes
                // itself (a pod's infra container).
                defaults = match (&user, rt.no_cgroups) {
                    (None, true) => "default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\ncgroups = \"disabled\"\n",
                    (None, false) => "default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n",
                    (Some(_), true) => "cgroups = \"disabled\"\n",
                    (Some(_), false) => "",
                }
            ),
        )
        .unwrap();
        if let Some((_, uid)) = &user {
            let mut c = Command::new("chown");
            c.args(["-R", &format!("{uid}:{uid}")]).arg(&home);
            run_cmd(c, b"").expect(0);
        }
        let p = Podman { rt, s, user };
        let tar = p.s.image_tar();
        let mut c = Command::new("chmod");
        c.arg("644").arg(&tar);
        run_cmd(c, b"").expect(0);
        let out = p.run(&["import", "-q", &tar.to_string_lossy(), IMAGE_REF], b"");
        assert_eq!(out.code, 0, "podman import failed: {out:#?}");
        p
    }

    /// `podman --runtime PATH ARGS...` in the namespace, as root or the user, with the test's
    /// configuration and nothing of the caller's environment.
    fn cmd(&self, args: &[&str]) -> Command {
        let home = self.s.path("home");
        let mut c = match &self.user {
            None => self.s.enter("env"),
            Some((name, _)) => {
                let mut c = self.s.enter("setpriv");
                c.args([
                    &format!("--reuid={name}"),
                    &format!("--regid={name}"),
                    "--init-groups",
                    "env",
                ]);
                c
            }
        };
        c.arg("-i");
        c.arg(format!("HOME={}", home.display()));
        c.arg("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        c.arg(format!("CONTAINERS_CONF={}/containers.conf", home.display()));
        c.arg(format!("CONTAINERS_STORAGE_CONF={}/storage.conf", home.display()));
        c.arg(format!("XDG_RUNTIME_DIR={}/xdg", home.display()));
        c.arg(format!("XDG_CONFIG_HOME={}/config", home.display()));
        c.args(["podman", "--runtime"]).arg(&self.rt.path);
        c.args(args);
        c
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Out {
        run_cmd(self.cmd(args), stdin)
    }

    /// podman's options of a `run` on this host for this runtime.
    fn run_opts(&self) -> Vec<&'static str> {
        let mut v = vec!["--network", "none"];
        if self.rt.no_cgroups {
            v.push("--cgroups=disabled");
        }
        if self.user.is_none() {
            v.extend(ULIMITS);
        }
        v
    }

    /// `podman run OPTS IMAGE COMMAND...`.
    fn container(&self, opts: &[&str], command: &[&str]) -> Command {
        let mut args = vec!["run"];
        args.extend(self.run_opts());
        args.extend(opts);
        args.push(IMAGE_REF);
        args.extend(command);
        self.cmd(&args)
    }

    fn what(&self) -> String {
        format!("podman{} with {}", if self.user.is_some() { " (rootless)" } else { "" }, self.rt.name)
    }

    /// Nothing of any container left: none known to podman, no mount of its storage, no conmon,
    /// nothing in the runtime's state directory.
    fn assert_clean(&self) {
        let w = self.what();
        let out = self.run(&["ps", "-a", "-q"], b"");
        assert_eq!(out.tuple(), (0, "", ""), "{w}: containers left");
        let storage = self.s.path("home/storage").to_string_lossy().into_owned();
        let left = wait_until(TIMEOUT, || self.s.mounts().iter().all(|m| !m.contains(&storage)));
        assert!(left, "{w}: mounts of the storage left: {:#?}", self.s.mounts());
        let gone = wait_until(TIMEOUT, || procs_mentioning(&format!("{storage}/overlay-containers")).is_empty());
        assert!(gone, "{w}: conmon left: {:?}", procs_mentioning(&storage));
        let state = match &self.user {
            None => self.s.run_dir().join(self.rt.name),
            Some(_) => self.s.path("home/xdg").join(self.rt.name),
        };
        let files = files_under(&state);
        assert!(files.is_empty(), "{w}: the runtime's state left in {}: {files:#?}", state.display());
    }
}

impl Drop for Podman {
    /// Rootless podman leaves a pause process (it holds the user's namespaces for the next
    /// podman until killed); its pid is in the runtime directory, which is the scratch one.
    fn drop(&mut self) {
        if self.user.is_none() {
            return;
        }
        let file = self.s.path("home/xdg/libpod/tmp/pause.pid");
        if let Some(pid) = fs::read_to_string(file).ok().and_then(|p| p.trim().parse::<u32>().ok()) {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

/// One podman per runtime: run with output and status, with a terminal, with an init.
fn podman_runs(rootless: bool) {
    if !require_root() || !require_tools(&["podman", "conmon", "script", "nsenter", "setpriv"]) {
        return;
    }
    if rootless && !rootless_ready() {
        return;
    }
    for rt in runtimes() {
        let p = Podman::new(&rt, rootless);
        let w = p.what();

        let out = run_cmd(p.container(&["--rm"], &["sh", "-c", "echo hi; echo err >&2; exit 3"]), b"");
        assert_eq!((out.code, out.stdout.as_str()), (3, "hi\n"), "{w}: output and status: {out:#?}");
        assert!(out.stderr.contains("err"), "{w}: stderr: {out:#?}");

        let out = with_tty(&p.container(&["--rm", "-t"], &["sh", "-c", "tty; exit 5"]));
        assert_eq!(out.code, 5, "{w}: run -t: {out:#?}");
        assert!(out.stdout.starts_with("/dev/pts/0\r\n"), "{w}: run -t: {out:#?}");

        // Input through podman's stdin.
        let out = run_cmd(p.container(&["--rm", "-i"], &["sh", "-c", "read l; echo got $l"]), b"line\n");
        assert_eq!(out.tuple().0, 0, "{w}: run -i: {out:#?}");
        assert_eq!(out.stdout, "got line\n", "{w}: run -i: {out:#?}");

        // --privileged: every device node of the host listed in config.json, all capabilities.
        let out = run_cmd(p.container(&["--rm", "--privileged"], &["sh", "-c", "test -c /dev/kmsg && echo kmsg; grep CapBnd /proc/self/status"]), b"");
        assert_eq!(out.code, 0, "{w}: --privileged: {out:#?}");
        assert!(out.stdout.starts_with("kmsg\nCapBnd:\t"), "{w}: --privileged: {out:#?}");

        // sandbox's own init as the engine's init: PID 1 is it, the command its child, the
        // command's status passed on.
        let init = if rootless { p.s.path("bin/sandbox") } else { PathBuf::from(BIN) };
        let init = if init.exists() { init } else { PathBuf::from(BIN) };
        let init_s = init.to_string_lossy().into_owned();
        let out = run_cmd(
            p.container(
                &["--rm", "--init", "--init-path", &init_s],
                &["sh", "-c", "tr '\\0' ' ' </proc/1/cmdline; echo; echo pid $$; exit 6"],
            ),
            b"",
        );
        assert_eq!(out.code, 6, "{w}: --init: {out:#?}");
        assert!(out.stdout.starts_with("/run/podman-init "), "{w}: --init: PID 1 is not the init: {out:#?}");
        assert!(!out.stdout.contains("pid 1\n"), "{w}: --init: the command is PID 1: {out:#?}");

        p.assert_clean();
    }
}

/// A detached container, exec into it (plain, with a terminal, with stdin), top, kill, stop, rm.
fn podman_detached(rootless: bool) {
    if !require_root() || !require_tools(&["podman", "conmon", "script", "nsenter", "setpriv"]) {
        return;
    }
    if rootless && !rootless_ready() {
        return;
    }
    for rt in runtimes() {
        let p = Podman::new(&rt, rootless);
        let w = p.what();

        let out = run_cmd(p.container(&["-d", "--name", "c1"], &["sleep", "100000"]), b"");
        assert_eq!(out.code, 0, "{w}: run -d: {out:#?}");
        let id = out.stdout.trim().to_string();
        assert_eq!(id.len(), 64, "{w}: run -d printed no id: {out:#?}");
        let out = p.run(&["inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "c1"], b"");
        assert!(out.stdout.starts_with("running "), "{w}: c1 is not running: {out:#?}");
        let pid: u32 = out.stdout.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(pid > 0, "{w}: no pid: {out:#?}");
        // Seen from the host: the container's PID 1 is the command, in a PID namespace of its own.
        let host_pid = |p: u32| fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default();
        if p.user.is_none() {
            assert_eq!(host_pid(pid), "sleep\x00100000\x00", "{w}: the container's process");
            assert_ne!(
                fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap(),
                fs::read_link("/proc/self/ns/pid").unwrap(),
                "{w}: the container shares the host's PID namespace"
            );
        }

        let out = p.run(&["exec", "c1", "sh", "-c", "echo in $$; ls /proc | grep -c '^[0-9]'; exit 4"], b"");
        assert_eq!(out.code, 4, "{w}: exec: {out:#?}");
        assert!(out.stdout.starts_with("in "), "{w}: exec: {out:#?}");
        let out = with_tty(&p.cmd(&["exec", "-t", "c1", "sh", "-c", "tty; exit 2"]));
        assert_eq!(out.code, 2, "{w}: exec -t: {out:#?}");
        assert!(out.stdout.starts_with("/dev/pts/"), "{w}: exec -t: {out:#?}");
        let out = p.run(&["exec", "-i", "c1", "sh", "-c", "cat; echo end"], b"from stdin\n");
        assert_eq!(out.tuple(), (0, "from stdin\nend\n", ""), "{w}: exec -i");

        // The container's processes: podman ps, and top where the container has a cgroup
        // (podman finds the processes through it; with --cgroups=disabled it refuses).
        let out = p.run(&["ps", "--format", "{{.Names}} {{.Status}}"], b"");
        assert!(out.stdout.starts_with("c1 Up"), "{w}: ps: {out:#?}");
        let out = p.run(&["top", "c1", "pid", "args"], b"");
        if p.rt.no_cgroups {
            assert_eq!(out.code, 125, "{w}: top without a cgroup: {out:#?}");
            assert!(out.stderr.contains("does not have a cgroup"), "{w}: top: {out:#?}");
        } else {
            assert_eq!(out.code, 0, "{w}: top: {out:#?}");
            assert!(
                out.stdout.lines().any(|l| l.trim_start().starts_with("1 ") && l.contains("sleep 100000")),
                "{w}: top: {out:#?}"
            );
        }
        let out = p.run(&["exec", "c1", "ps", "-o", "pid,args"], b"");
        assert!(
            out.stdout.lines().any(|l| l.trim_start().starts_with("1 ") && l.contains("sleep 100000")),
            "{w}: ps in the container: {out:#?}"
        );

        // kill: SIGKILL by default, the status 137.
        let out = p.run(&["kill", "c1"], b"");
        assert_eq!(out.code, 0, "{w}: kill: {out:#?}");
        let out = p.run(&["wait", "c1"], b"");
        assert_eq!(out.tuple(), (0, "137\n", ""), "{w}: wait after kill");
        if p.user.is_none() {
            assert!(host_pid(pid) != "sleep\x00100000\x00", "{w}: the killed process is still there");
        }

        // stop: SIGTERM, which the command traps and ends on with its own status.
        let out = run_cmd(
            p.container(&["-d", "--name", "c2"], &["sh", "-c", "trap 'exit 7' TERM; echo up > /tmp/up; sleep 100000 & wait"]),
            b"",
        );
        assert_eq!(out.code, 0, "{w}: run -d c2: {out:#?}");
        wait_for_event("c2's trap to be set", || p.run(&["exec", "c2", "cat", "/tmp/up"], b"").stdout == "up\n");
        let out = p.run(&["stop", "-t", "300", "c2"], b"");
        assert_eq!(out.code, 0, "{w}: stop: {out:#?}");
        let out = p.run(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "c2"], b"");
        assert_eq!(out.stdout, "exited 7\n", "{w}: stop: {out:#?}");

        let out = p.run(&["ps", "-a", "--format", "{{.Names}}"], b"");
        let mut names: Vec<&str> = out.stdout.lines().collect();
        names.sort();
        assert_eq!(names, ["c1", "c2"], "{w}: ps -a: {out:#?}");
        let out = p.run(&["rm", "c1", "c2"], b"");
        assert_eq!(out.code, 0, "{w}: rm: {out:#?}");

        // rm -f of a running one.
        let out = run_cmd(p.container(&["-d", "--name", "c3"], &["sleep", "100000"]), b"");
        assert_eq!(out.code, 0, "{w}: run -d c3: {out:#?}");
        let out = p.run(&["rm", "-f", "-t", "0", "c3"], b"");
        assert_eq!(out.code, 0, "{w}: rm -f: {out:#?}");

        p.assert_clean();
    }
}

/// Whether the rootless user exists with subordinate ids (.ci/run makes it); else a skip (a
/// failure under CI=true).
fn rootless_ready() -> bool {
    let has = |f: &str| {
        fs::read_to_string(f).unwrap_or_default().lines().any(|l| l.starts_with(&format!("{ROOTLESS_USER}:")))
    };
    if uid_of(ROOTLESS_USER).is_some() && has("/etc/subuid") && has("/etc/subgid") {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("no user {ROOTLESS_USER} with /etc/subuid and /etc/subgid entries (.ci/run makes it) and CI=true does not allow a skip");
    }
    eprintln!("skipped: no user {ROOTLESS_USER} with /etc/subuid and /etc/subgid entries (.ci/run makes it)");
    false
}

#[test]
fn podman_run_output_status_tty_init() {
    podman_runs(false);
}

#[test]
fn podman_detached_exec_top_kill_stop_rm() {
    podman_detached(false);
}

/// A pod, as Kubernetes makes one: an infra container holding the network, IPC and UTS
/// namespaces, and a container of the pod joining them by /proc/PID/ns/* (config.json's
/// namespaces with a path).
#[test]
fn podman_pod_containers_join_the_infra_namespaces() {
    if !require_root() || !require_tools(&["podman", "conmon", "nsenter"]) {
        return;
    }
    for rt in runtimes() {
        let p = Podman::new(&rt, false);
        let w = p.what();
        let out = p.run(&["pod", "create", "--name", "p1", "--network", "none", "--hostname", "podhost"], b"");
        assert_eq!(out.code, 0, "{w}: pod create: {out:#?}");
        let out = p.run(&["pod", "start", "p1"], b"");
        assert_eq!(out.code, 0, "{w}: pod start: {out:#?}");
        let infra = p.run(&["pod", "inspect", "p1", "--format", "{{.InfraContainerID}}"], b"");
        let pid = p.run(&["inspect", "--format", "{{.State.Pid}}", infra.stdout.trim()], b"");
        let pid: u32 = pid.stdout.trim().parse().unwrap_or_else(|_| panic!("{w}: infra pid: {pid:#?} {infra:#?}"));
        let ns = |k: &str| {
            let mut c = p.s.enter("readlink");
            c.arg(format!("/proc/{pid}/ns/{k}"));
            run_cmd(c, b"").stdout.trim().to_string()
        };
        let mut args = vec!["run", "--rm", "--pod", "p1"];
        if rt.no_cgroups {
            args.push("--cgroups=disabled");
        }
        args.extend(ULIMITS);
        args.extend([IMAGE_REF, "sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts; hostname"]);
        let out = p.run(&args, b"");
        assert_eq!(out.code, 0, "{w}: run --pod: {out:#?}");
        let want = format!("{}\n{}\n{}\npodhost\n", ns("net"), ns("ipc"), ns("uts"));
        assert_eq!(out.stdout, want, "{w}: the container is not in the infra's namespaces: {out:#?}");
        let out = p.run(&["pod", "rm", "-f", "p1"], b"");
        assert_eq!(out.code, 0, "{w}: pod rm: {out:#?}");
        p.assert_clean();
    }
}

#[test]
fn rootless_podman_run_output_status_tty_init() {
    podman_runs(true);
}

#[test]
fn rootless_podman_detached_exec_top_kill_stop_rm() {
    podman_detached(true);
}

// ---------------------------------------------------------------------------------------------
// containerd

/// A private containerd (root, state, sockets in a Scratch; no CRI) in the namespace, and `ctr`
/// commands for it that run the runtime under test through the runc v2 shim.
struct Containerd {
    rt: Runtime,
    s: Scratch,
    daemon: Option<Running>,
}

const CTR_NS: &str = "engines";
const CTR_IMAGE: &str = "docker.io/library/busybox:test";

impl Containerd {
    fn new(rt: &Runtime) -> Containerd {
        let s = Scratch::new("containerd", true, rt.containerd_cgroup2);
        let d = s.dir.display().to_string();
        fs::write(
            s.path("config.toml"),
            format!(
                "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{d}/containerd.sock\"\n[ttrpc]\n  address = \"{d}/containerd.sock.ttrpc\"\n\
                 [debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n"
            ),
        )
        .unwrap();
        let mut c = s.enter("containerd");
        c.arg("--config").arg(s.path("config.toml"));
        let mut daemon = spawn(c, b"");
        let sock = s.path("containerd.sock");
        let up = wait_until(TIMEOUT, || sock.exists() || !daemon.running());
        assert!(up && sock.exists(), "containerd did not start: {:#?}", daemon.wait());
        let me = Containerd { rt: rt.clone(), s, daemon: Some(daemon) };
        // Wait until it answers.
        wait_for_event("containerd to answer", || me.ctr(&["version"]).code == 0);

        let tar = me.s.path("busybox-oci.tar");
        let mut c = Command::new("bash");
        c.arg(Path::new(MANIFEST_DIR).join("tests/helpers/oci-image.sh")).arg(IMAGE).arg(CTR_IMAGE).arg(&tar);
        run_cmd(c, b"").expect(0);
        let out = me.ctr(&["image", "import", &tar.to_string_lossy()]);
        assert_eq!(out.code, 0, "ctr image import: {out:#?}");
        let out = me.ctr(&["image", "ls", "-q"]);
        assert_eq!(out.stdout, format!("{CTR_IMAGE}\n"), "ctr image ls: {out:#?}");
        me
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.s.enter("ctr");
        c.arg("--address").arg(self.s.path("containerd.sock")).args(["-n", CTR_NS]).args(args);
        c
    }

    fn ctr(&self, args: &[&str]) -> Out {
        run_cmd(self.cmd(args), b"")
    }

    /// `ctr run` with the runtime under test (state under the scratch directory's rt/).
    fn run_cmd(&self, opts: &[&str], id: &str, command: &[&str]) -> Command {
        // ctr asks for cpu shares 1024 (the default weight) by default; this host's cgroup2
        // hierarchy has no cpu controller (it is v1's). sandbox-oci has nothing to do for the
        // default weight there; runc and crun fail on it: they are asked for none.
        let mut args = vec!["run"];
        if self.rt.name != "sandbox-oci" {
            args.extend(["--cpu-shares", "0"]);
        }
        args.push("--runc-binary");
        let path = self.rt.path.to_string_lossy().into_owned();
        let root = self.s.path("rt").to_string_lossy().into_owned();
        args.push(&path);
        args.extend(["--runc-root", &root]);
        args.extend(opts);
        args.extend([CTR_IMAGE, id]);
        args.extend(command);
        self.cmd(&args)
    }

    fn task_status(&self, id: &str) -> String {
        let out = self.ctr(&["task", "ls"]);
        out.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .and_then(|l| l.split_whitespace().nth(2))
            .unwrap_or("")
            .to_string()
    }

    fn assert_clean(&self) {
        let w = format!("containerd with {}", self.rt.name);
        assert_eq!(self.ctr(&["task", "ls", "-q"]).tuple(), (0, "", ""), "{w}: tasks left");
        assert_eq!(self.ctr(&["container", "ls", "-q"]).tuple(), (0, "", ""), "{w}: containers left");
        let sock = self.s.path("containerd.sock").to_string_lossy().into_owned();
        let gone = wait_until(TIMEOUT, || procs_mentioning(&format!("-address {sock}")).is_empty()
            && procs_mentioning(&format!("{sock}\0")).iter().all(|&p| {
                !fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default().starts_with("containerd-shim")
            }));
        assert!(gone, "{w}: shims left: {:?}", procs_mentioning(&sock));
        let rootfs = format!("{}/state", self.s.dir.display());
        let clean = wait_until(TIMEOUT, || self.s.mounts().iter().all(|m| !m.contains(&rootfs)));
        assert!(clean, "{w}: mounts left: {:#?}", self.s.mounts());
        let files = files_under(&self.s.path("rt"));
        assert!(files.is_empty(), "{w}: the runtime's state left: {files:#?}");
        let tasks = self.s.path(&format!("state/io.containerd.runtime.v2.task/{CTR_NS}"));
        let left = listing(&tasks);
        assert!(left.is_empty(), "{w}: the shim's task state left: {left:#?}");
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        drop(self.daemon.take());
    }
}

#[test]
fn containerd_run_exec_ps_kill_delete() {
    if !require_root() || !require_tools(&["containerd", "ctr", "containerd-shim-runc-v2", "script", "nsenter", "sha256sum"]) {
        return;
    }
    for rt in runtimes() {
        if rt.name == "crun" {
            // containerd's default spec asks for RLIMIT_NOFILE 1024, which crun 1.8 cannot set
            // here without CAP_SYS_RESOURCE (it sets RLIMIT_MEMLOCK too); not the engine's doing.
            eprintln!("containerd with crun: not run (crun's rlimits need CAP_SYS_RESOURCE on this host)");
            continue;
        }
        let c = Containerd::new(&rt);
        let w = format!("containerd with {}", rt.name);

        let out = run_cmd(c.run_cmd(&["--rm"], "r1", &["sh", "-c", "echo hi; echo err >&2; exit 3"]), b"");
        assert_eq!((out.code, out.stdout.as_str()), (3, "hi\n"), "{w}: run: {out:#?}");
        assert!(out.stderr.contains("err"), "{w}: run: {out:#?}");

        let out = with_tty(&c.run_cmd(&["--rm", "-t"], "r2", &["sh", "-c", "tty; exit 5"]));
        assert_eq!(out.code, 5, "{w}: run -t: {out:#?}");
        assert!(out.stdout.contains("/dev/pts/0\r"), "{w}: run -t: {out:#?}");

        // --privileged: every device node of the host, every capability; in this cgroup2
        // namespace the container's cgroup gets a device program that allows them all.
        let out = run_cmd(c.run_cmd(&["--rm", "--privileged"], "r3", &["sh", "-c", "test -c /dev/kmsg && echo kmsg >/dev/kmsg && echo kmsg; grep CapBnd /proc/self/status"]), b"");
        assert_eq!(out.code, 0, "{w}: run --privileged: {out:#?}");
        assert!(out.stdout.starts_with("kmsg\nCapBnd:\t"), "{w}: run --privileged: {out:#?}");

        let out = run_cmd(c.run_cmd(&["-d"], "d1", &["sh", "-c", "echo up > /tmp/up; exec sleep 100000"]), b"");
        assert_eq!(out.code, 0, "{w}: run -d: {out:#?}");
        wait_for_event("d1 to run", || c.task_status("d1") == "RUNNING");
        let out = c.ctr(&["task", "exec", "--exec-id", "e1", "d1", "sh", "-c", "cat /tmp/up; exit 4"]);
        assert_eq!((out.code, out.stdout.as_str()), (4, "up\n"), "{w}: task exec: {out:#?}");
        let out = with_tty(&c.cmd(&["task", "exec", "-t", "--exec-id", "e2", "d1", "sh", "-c", "tty; exit 2"]));
        assert_eq!(out.code, 2, "{w}: task exec -t: {out:#?}");
        assert!(out.stdout.contains("/dev/pts/"), "{w}: task exec -t: {out:#?}");
        let out = run_cmd(c.cmd(&["task", "exec", "--exec-id", "e3", "d1", "cat"]), b"through\n");
        assert_eq!((out.code, out.stdout.as_str()), (0, "through\n"), "{w}: task exec with stdin: {out:#?}");

        let out = c.ctr(&["task", "ls"]);
        let pid: u32 = out
            .stdout
            .lines()
            .find(|l| l.starts_with("d1 "))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{w}: task ls: {out:#?}"));
        assert_eq!(
            fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default(),
            "sleep\x00100000\x00",
            "{w}: the task's process"
        );
        let out = c.ctr(&["task", "ps", "d1"]);
        assert_eq!(out.code, 0, "{w}: task ps: {out:#?}");
        assert!(out.stdout.lines().any(|l| l.split_whitespace().next() == Some(&pid.to_string())), "{w}: task ps: {out:#?}");

        let out = c.ctr(&["task", "kill", "-s", "KILL", "d1"]);
        assert_eq!(out.code, 0, "{w}: task kill: {out:#?}");
        wait_for_event("d1 to stop", || c.task_status("d1") == "STOPPED");
        let out = c.ctr(&["task", "delete", "d1"]);
        assert_eq!(out.code, 0, "{w}: task delete: {out:#?}");
        let out = c.ctr(&["container", "delete", "d1"]);
        assert_eq!(out.code, 0, "{w}: container delete: {out:#?}");

        // task delete --force of a running one.
        let out = run_cmd(c.run_cmd(&["-d"], "d2", &["sleep", "100000"]), b"");
        assert_eq!(out.code, 0, "{w}: run -d d2: {out:#?}");
        wait_for_event("d2 to run", || c.task_status("d2") == "RUNNING");
        let out = c.ctr(&["task", "delete", "--force", "d2"]);
        assert_eq!(out.code, 0, "{w}: task delete --force: {out:#?}");
        let out = c.ctr(&["container", "delete", "d2"]);
        assert_eq!(out.code, 0, "{w}: container delete d2: {out:#?}");

        c.assert_clean();
    }
}
