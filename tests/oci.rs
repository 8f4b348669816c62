//! sandbox-oci, the OCI runtime front end, driven as engines drive it: the real binary through
//! a `sandbox-oci` link beside it, bundles made here on the busybox image, a --root of each
//! test's own. The test process is a child subreaper, as conmon and containerd's shim are: the
//! container's process is re-parented to it when create exits, and it waits for its status.

mod common;

use common::*;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn subreaper() {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

/// Wait for a process re-parented to this one; its status as a shell shows it.
fn wait_pid(pid: i32) -> i32 {
    let mut status = 0;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        // SAFETY: status is a live int.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 128 + libc::WTERMSIG(status) };
        }
        assert!(r == 0, "waitpid({pid}): {}", std::io::Error::last_os_error());
        assert!(Instant::now() < deadline, "waited {TIMEOUT:?} in vain for process {pid}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

struct Oci {
    f: Fixture,
    root: PathBuf,
    bundle: PathBuf,
    /// The runtime run in a mount namespace of its own whose /sys/fs/cgroup is cgroup2 (on a
    /// host of hybrid cgroups, the unified tree): its containers get cgroups.
    cgroup2: bool,
}

/// A config.json for `args` on the busybox image, with `process_extra` added to process,
/// `linux_extra` to linux and `top_extra` at the top.
fn config(root: &str, args: &[&str], process_extra: &str, linux_extra: &str, top_extra: &str) -> String {
    let args: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
    format!(
        r#"{{"ociVersion":"1.0.2",{top_extra}
  "root":{{"path":"{root}","readonly":true}},
  "hostname":"oci-test",
  "process":{{"args":[{}],"env":["PATH=/bin:/sbin:/usr/bin","HOME=/root"],"cwd":"/",{process_extra}
    "user":{{"uid":0,"gid":0}},
    "capabilities":{{"bounding":["CAP_KILL","CAP_CHOWN","CAP_NET_BIND_SERVICE"],"effective":["CAP_KILL","CAP_CHOWN"],"permitted":["CAP_KILL","CAP_CHOWN"]}}}},
  "mounts":[{{"destination":"/proc","type":"proc","source":"proc"}},
    {{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]}},
    {{"destination":"/dev/pts","type":"devpts","source":"devpts","options":["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"]}},
    {{"destination":"/dev/shm","type":"tmpfs","source":"shm","options":["nosuid","noexec","nodev","mode=1777","size=65536k"]}},
    {{"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]}},
    {{"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev"]}}],
  "linux":{{{linux_extra}
    "namespaces":[{{"type":"pid"}},{{"type":"network"}},{{"type":"ipc"}},{{"type":"uts"}},{{"type":"mount"}}],
    "maskedPaths":["/proc/kcore","/proc/interrupts","/proc/scsi","/sys/firmware"],"readonlyPaths":["/proc/sys"]}}}}"#,
        args.join(",")
    )
}

impl Oci {
    fn new(tag: &str) -> Oci {
        subreaper();
        let f = Fixture::new(tag);
        let root = f.state.clone();
        let bundle = f.path("bundle");
        fs::create_dir(&bundle).unwrap();
        Oci { f, root, bundle, cgroup2: false }
    }

    fn write_config(&self, text: &str) {
        fs::write(self.bundle.join("config.json"), text).unwrap();
    }

    /// A bundle whose process runs `args`.
    fn with(tag: &str, args: &[&str]) -> Oci {
        let o = Oci::new(tag);
        o.write_config(&config(IMAGE, args, "", "", ""));
        o
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = if self.cgroup2 {
            let mut c = Command::new("unshare");
            c.args(["-m", "--propagation", "private", "sh", "-c", r#"mount -t cgroup2 none /sys/fs/cgroup && exec "$0" "$@""#]).arg(sandbox_oci());
            c
        } else {
            Command::new(sandbox_oci())
        };
        c.arg("--root").arg(&self.root).args(args);
        c
    }

    /// Run the runtime with `args`; its stdout and stderr (and the container's, which inherits
    /// them) go to files, read once it has exited.
    fn run_to(&self, args: &[&str], out: &Path) -> Out {
        let err = out.with_extension("err");
        let mut c = self.cmd(args);
        c.stdin(Stdio::null()).stdout(fs::File::create(out).unwrap()).stderr(fs::File::create(&err).unwrap());
        let r = start_cmd(c, None).wait_for(TIMEOUT);
        Out { code: r.code, stdout: fs::read_to_string(out).unwrap(), stderr: fs::read_to_string(err).unwrap() }
    }

    fn run(&self, args: &[&str]) -> Out {
        let n = SEQ_OUT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.run_to(args, &self.f.path(&format!("out{n}")))
    }

    /// A copy of the busybox image at `name` in the fixture, to change for a test.
    fn image_copy(&self, name: &str) -> PathBuf {
        let dir = self.f.path(name);
        assert!(Command::new("cp").arg("-a").arg(IMAGE).arg(&dir).status().unwrap().success());
        dir
    }

    fn bundle(&self) -> &str {
        self.bundle.to_str().unwrap()
    }

    /// create ID with a pid file; the pid.
    fn create(&self, id: &str, out: &Path) -> i32 {
        let pid_file = self.f.path(&format!("{id}.pid"));
        let r = self.run_to(&["create", "--bundle", self.bundle(), "--pid-file", pid_file.to_str().unwrap(), id], out);
        assert_eq!(r.code, 0, "create: {r:#?}");
        fs::read_to_string(pid_file).unwrap().trim().parse().unwrap()
    }

    fn status(&self, id: &str) -> String {
        let s = self.run(&["state", id]);
        assert_eq!(s.code, 0, "state: {s:#?}");
        let at = s.stdout.find("\"status\":\"").unwrap() + 10;
        s.stdout[at..].split('"').next().unwrap().to_string()
    }

    fn finish(self) {
        self.f.finish();
    }
}

static SEQ_OUT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[test]
fn create_start_state_delete_and_the_exit_status() {
    if !require_root() {
        return;
    }
    let o = Oci::with("oci-life", &["sh", "-c", "echo out-$((6*7)); exit 3"]);
    let out = o.f.path("container.out");
    let pid = o.create("c1", &out);
    assert_eq!(o.status("c1"), "created");
    let st = o.run(&["state", "c1"]);
    assert!(st.stdout.contains(&format!("\"pid\":{pid}")), "{st:#?}");
    assert!(st.stdout.contains(&format!("\"bundle\":\"{}\"", o.bundle())), "{st:#?}");
    assert!(st.stdout.contains("\"ociVersion\":\"1.0.2\""), "{st:#?}");
    // Before start, the process waits: nothing written yet.
    assert!(!fs::read_to_string(&out).unwrap().contains("out-42"));
    assert_eq!(o.run(&["start", "c1"]).code, 0);
    assert_eq!(wait_pid(pid), 3);
    assert_eq!(fs::read_to_string(&out).unwrap(), "out-42\n");
    assert_eq!(o.status("c1"), "stopped");
    // A second start of the same container is refused.
    assert_ne!(o.run(&["start", "c1"]).code, 0);
    assert_eq!(o.run(&["delete", "c1"]).code, 0);
    let gone = o.run(&["state", "c1"]);
    assert_ne!(gone.code, 0);
    assert_eq!(gone.stderr, "sandbox-oci: c1: container does not exist\n", "as runc says it: engines look for these words");
    o.finish();
}

/// Between create and start the container's process waits as what it will run: its user and
/// groups, its capability sets, and none of the runtime's descriptors (as runc, which drops
/// them before it waits on exec.fifo). Whatever meets it there (an engine's exec, a signal)
/// meets no more than the container.
#[test]
fn a_created_container_waits_as_its_user_with_its_capabilities_only() {
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-waits");
    let text = config(IMAGE, &["sh", "-c", "id -u; id -G"], "", "", "");
    o.write_config(&text.replace(r#""user":{"uid":0,"gid":0}"#, r#""user":{"uid":1000,"gid":1001,"additionalGids":[5]}"#));
    let out = o.f.path("c.out");
    let pid = o.create("w1", &out);
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = |k: &str| status.lines().find(|l| l.starts_with(k)).unwrap_or("").split_whitespace().skip(1).collect::<Vec<_>>().join(" ");
    assert_eq!(line("Uid:"), "1000 1000 1000 1000", "{status}");
    assert_eq!(line("Gid:"), "1001 1001 1001 1001", "{status}");
    assert_eq!(line("Groups:"), "5", "{status}");
    // CAP_CHOWN (0) and CAP_KILL (5); the bounding set adds CAP_NET_BIND_SERVICE (10).
    assert_eq!(line("CapEff:"), "0000000000000021", "{status}");
    assert_eq!(line("CapPrm:"), "0000000000000021", "{status}");
    assert_eq!(line("CapBnd:"), "0000000000000421", "{status}");
    let mut fds: Vec<String> = fs::read_dir(format!("/proc/{pid}/fd")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    fds.sort();
    let links: Vec<String> = fds.iter().skip(3).map(|n| fs::read_link(format!("/proc/{pid}/fd/{n}")).unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(&fds[..3], ["0", "1", "2"], "{fds:?}");
    assert_eq!(links.len(), 1, "stdio and the gate only: {fds:?} {links:?}");
    assert!(links[0].starts_with(o.root.join("w1").to_str().unwrap()), "the one more is the gate: {links:?}");
    assert_eq!(o.run(&["start", "w1"]).code, 0);
    assert_eq!(wait_pid(pid), 0);
    assert_eq!(fs::read_to_string(&out).unwrap(), "1000\n1001 5\n");
    assert_eq!(o.run(&["delete", "w1"]).code, 0);
    o.finish();
}

#[test]
fn kill_by_name_and_number_and_delete_refusing_a_running_one() {
    if !require_root() {
        return;
    }
    let o = Oci::with("oci-kill", &["sleep", "1000"]);
    let out = o.f.path("c.out");
    let pid = o.create("k1", &out);
    assert_eq!(o.run(&["start", "k1"]).code, 0);
    assert_eq!(o.status("k1"), "running");
    let refused = o.run(&["delete", "k1"]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("running"), "{refused:#?}");
    assert_eq!(o.status("k1"), "running");
    let bad = o.run(&["kill", "k1", "NOSUCHSIG"]);
    assert_ne!(bad.code, 0, "{bad:#?}");
    assert_eq!(o.run(&["kill", "k1", "SIGKILL"]).code, 0);
    assert_eq!(wait_pid(pid), 128 + 9);
    assert_eq!(o.status("k1"), "stopped");
    let stopped = o.run(&["kill", "k1", "9"]);
    assert_ne!(stopped.code, 0, "a stopped container cannot be signalled");
    assert!(stopped.stderr.contains("container not running"), "as runc says it: {stopped:#?}");
    assert_eq!(o.run(&["delete", "k1"]).code, 0);

    // delete --force: a running container is killed first, and waited for.
    let pid = o.create("k2", &out);
    assert_eq!(o.run(&["start", "k2"]).code, 0);
    assert_eq!(o.run(&["delete", "--force", "k2"]).code, 0);
    assert_eq!(wait_pid(pid), 128 + 9);
    // A created container is deleted (its process killed) without --force.
    let pid = o.create("k3", &out);
    assert_eq!(o.run(&["kill", "k3", "15"]).code, 0);
    assert_eq!(o.run(&["delete", "--force", "k3"]).code, 0);
    wait_pid(pid);
    // --force on a container that does not exist succeeds, as runc's does.
    assert_eq!(o.run(&["delete", "--force", "nosuch"]).code, 0);
    o.finish();
}

/// Whether `pid` is a live process (not gone, not a zombie).
fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
}

/// Without its own PID namespace and without a cgroup (--cgroup-manager=disabled), what the
/// container's process starts in the background is still the container's: ps lists it (and no
/// process of the host), kill --all signals it, delete --force kills it, and delete of a
/// stopped container kills what it left behind. Each decoy is a `sleep` the container starts
/// and prints the pid of; this test, the subreaper, gets it when its parent dies.
#[test]
fn processes_left_behind_without_a_pid_namespace_or_cgroup_are_killed() {
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-left");
    let shared_pids = |script: &str| config(IMAGE, &["sh", "-c", script], "", "", "").replace(r#"{"type":"pid"},"#, "");
    let create = |id: &str, out: &Path| -> i32 {
        let pid_file = o.f.path(&format!("{id}.pid"));
        let r = o.run_to(&["--cgroup-manager=disabled", "create", "--bundle", o.bundle(), "--pid-file", pid_file.to_str().unwrap(), id], out);
        assert_eq!(r.code, 0, "create: {r:#?}");
        fs::read_to_string(pid_file).unwrap().trim().parse().unwrap()
    };
    let decoy = |out: &Path| -> i32 {
        let mut pid = 0;
        wait_for_event("the decoy's pid", || {
            pid = fs::read_to_string(out).unwrap().lines().next().and_then(|l| l.trim().parse().ok()).unwrap_or(0);
            pid > 0
        });
        assert!(alive(pid), "decoy {pid}");
        pid
    };

    // delete --force of a running container.
    o.write_config(&shared_pids("sleep 4241 & echo $!; exec sleep 4240"));
    let out = o.f.path("c1.out");
    let pid = create("l1", &out);
    assert_eq!(o.run(&["start", "l1"]).code, 0);
    let d = decoy(&out);
    let ps = o.run(&["ps", "--format", "json", "l1"]);
    assert_eq!(ps.code, 0, "{ps:#?}");
    let mut listed: Vec<i32> = json_ints(&ps.stdout);
    listed.sort();
    assert_eq!(listed, want_sorted(&[pid, d]), "ps lists the container's processes and nothing of the host: {ps:#?}");
    assert_eq!(o.run(&["delete", "--force", "l1"]).code, 0);
    assert_eq!(wait_pid(pid), 128 + 9);
    assert_eq!(wait_pid(d), 128 + 9, "the decoy survived delete --force");

    // kill --all, with the record a kernel without mount namespace IDs (before 6.9) leaves:
    // the namespace is then the live process's.
    let out = o.f.path("c2.out");
    let pid = create("l2", &out);
    assert_eq!(o.run(&["start", "l2"]).code, 0);
    let d = decoy(&out);
    let state = o.root.join("l2/state.json");
    let text = fs::read_to_string(&state).unwrap();
    let at = text.find("\"mntns\":").expect("the namespace's ID is recorded") + 8;
    let end = at + text[at..].find(|c: char| !c.is_ascii_digit()).unwrap();
    assert!(text[at..end].parse::<u64>().unwrap() > 0, "{text}");
    fs::write(&state, format!("{}0{}", &text[..at], &text[end..])).unwrap();
    let ps = o.run(&["ps", "--format", "json", "l2"]);
    let mut listed = json_ints(&ps.stdout);
    listed.sort();
    assert_eq!(listed, want_sorted(&[pid, d]), "{ps:#?}");
    assert_eq!(o.run(&["kill", "--all", "l2", "KILL"]).code, 0);
    assert_eq!(wait_pid(pid), 128 + 9);
    assert_eq!(wait_pid(d), 128 + 9, "the decoy survived kill --all");
    assert_eq!(o.run(&["delete", "l2"]).code, 0);

    // A stopped container's leftovers, at delete.
    o.write_config(&shared_pids("sleep 4243 & echo $!"));
    let out = o.f.path("c3.out");
    let pid = create("l3", &out);
    assert_eq!(o.run(&["start", "l3"]).code, 0);
    let d = decoy(&out);
    assert_eq!(wait_pid(pid), 0);
    assert_eq!(o.status("l3"), "stopped");
    assert!(alive(d), "the decoy outlives the container's process");
    let ps = o.run(&["ps", "--format", "json", "l3"]);
    assert_eq!(json_ints(&ps.stdout), vec![d], "{ps:#?}");
    assert_eq!(o.run(&["delete", "l3"]).code, 0);
    assert_eq!(wait_pid(d), 128 + 9, "the decoy survived delete");
    o.finish();
}

fn want_sorted(v: &[i32]) -> Vec<i32> {
    let mut v = v.to_vec();
    v.sort();
    v
}

/// The numbers of a JSON array of numbers.
fn json_ints(text: &str) -> Vec<i32> {
    text.trim().trim_start_matches('[').trim_end_matches(']').split(',').filter(|s| !s.trim().is_empty()).map(|s| s.trim().parse().unwrap()).collect()
}

#[test]
fn a_second_container_of_the_same_id_is_refused() {
    if !require_root() {
        return;
    }
    let o = Oci::with("oci-dup", &["true"]);
    let out = o.f.path("c.out");
    let pid = o.create("d1", &out);
    let again = o.run(&["create", "--bundle", o.bundle(), "d1"]);
    assert_ne!(again.code, 0);
    assert!(again.stderr.starts_with("sandbox-oci: d1: container exists"), "{again:#?}");
    assert_eq!(again.stderr.lines().count(), 1, "{again:#?}");
    assert_eq!(o.status("d1"), "created", "the first one is untouched");
    assert_eq!(o.run(&["start", "d1"]).code, 0);
    assert_eq!(wait_pid(pid), 0);
    assert_eq!(o.run(&["delete", "d1"]).code, 0);
    o.finish();
}

/// /proc/self/status's value of `key` in `text`.
fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines().find_map(|l| l.strip_prefix(key).map(|v| v.trim())).unwrap_or_else(|| panic!("no {key} in {text}"))
}

#[test]
fn what_config_json_asks_is_seen_inside() {
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-inside");
    let script = "cat /proc/self/status; echo umask=$(umask); echo host=$(hostname); echo cwd=$(pwd); echo env=$FOO; \
        echo nofile=$(ulimit -n); echo oom=$(cat /proc/self/oom_score_adj); echo id=$(id -u):$(id -g):$(id -G); \
        echo masked=$(wc -c < /proc/interrupts) $(ls /sys/firmware | wc -l); touch /x 2>/dev/null && echo root-writable || echo root-ro; \
        echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo sys-writable || echo sys-ro; \
        echo shm=$(cat /proc/sys/kernel/shm_rmid_forced); ls -l /dev/null /dev/fuse | sed 's/  */ /g'; \
        touch /tmp/t && echo tmp-ok; echo ns=$(readlink /proc/self/ns/net) $(readlink /proc/self/ns/pid) $(readlink /proc/self/ns/mnt)";
    let text = config(
        IMAGE,
        &["sh", "-c", script],
        r#""noNewPrivileges":true,"oomScoreAdj":123,"rlimits":[{"type":"RLIMIT_NOFILE","soft":77,"hard":88}],"#,
        r#""sysctl":{"kernel.shm_rmid_forced":"1"},"devices":[{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":438}],"#,
        "",
    )
    .replace(r#""cwd":"/""#, r#""cwd":"/tmp""#)
    .replace(r#""HOME=/root""#, r#""HOME=/root","FOO=bar""#)
    .replace(r#""user":{"uid":0,"gid":0}"#, r#""user":{"uid":0,"gid":1001,"umask":63,"additionalGids":[5,6]}"#)
    .replace(r#""bounding":["CAP_KILL","CAP_CHOWN","CAP_NET_BIND_SERVICE"]"#, r#""bounding":["CAP_KILL","CAP_CHOWN"]"#);
    o.write_config(&text);
    let out = o.f.path("c.out");
    let pid = o.create("i1", &out);
    assert_eq!(o.run(&["start", "i1"]).code, 0);
    assert_eq!(wait_pid(pid), 0, "{}", fs::read_to_string(&out).unwrap());
    let s = fs::read_to_string(&out).unwrap();
    // CAP_CHOWN 0, CAP_KILL 5. (The kernel gives root every capability of the bounding set at
    // execve: runc's containers too have their bounding set in effect.)
    assert_eq!(field(&s, "CapEff:"), "0000000000000021", "{s}");
    assert_eq!(field(&s, "CapPrm:"), "0000000000000021");
    assert_eq!(field(&s, "CapBnd:"), "0000000000000021");
    assert_eq!(field(&s, "CapInh:"), "0000000000000000");
    assert_eq!(field(&s, "NoNewPrivs:"), "1");
    assert_eq!(field(&s, "umask="), "0077");
    assert_eq!(field(&s, "host="), "oci-test");
    assert_eq!(field(&s, "cwd="), "/tmp");
    assert_eq!(field(&s, "env="), "bar");
    assert_eq!(field(&s, "nofile="), "77");
    assert_eq!(field(&s, "oom="), "123");
    assert_eq!(field(&s, "id="), "0:1001:1001 5 6");
    assert_eq!(field(&s, "masked="), "0 0", "masked");
    assert_eq!(field(&s, "shm="), "1");
    assert!(s.contains("root-ro") && s.contains("sys-ro") && s.contains("tmp-ok"), "{s}");
    assert!(s.contains("crw-rw-rw- 1 0 0 1, 3") || s.contains("crw-rw-rw- 1 root root 1, 3"), "/dev/null: {s}");
    assert!(s.lines().any(|l| l.ends_with("/dev/fuse") && l.contains("crw-rw-rw- 1 root root 10, 229 ")), "/dev/fuse: {s}");
    let ns = field(&s, "ns=");
    for (kind, inside) in ["net", "pid", "mnt"].iter().zip(ns.split(' ')) {
        let host = fs::read_link(format!("/proc/self/ns/{kind}")).unwrap();
        assert_ne!(host.to_str().unwrap(), inside, "a new {kind} namespace");
    }
    assert_eq!(o.run(&["delete", "i1"]).code, 0);
    o.finish();
}

#[test]
fn a_user_namespace_with_its_mappings() {
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-userns");
    let text = config(IMAGE, &["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; ls -ln /bin/busybox; cat /proc/self/oom_score_adj"], r#""oomScoreAdj":321,"#,
        r#""uidMappings":[{"containerID":0,"hostID":200000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":200000,"size":65536}],"#, "")
        .replace(r#"{"type":"mount"}"#, r#"{"type":"mount"},{"type":"user"}"#);
    o.write_config(&text);
    let out = o.f.path("c.out");
    let pid = o.create("u1", &out);
    assert_eq!(o.run(&["start", "u1"]).code, 0);
    assert_eq!(wait_pid(pid), 0, "{}", fs::read_to_string(&out).unwrap());
    let s = fs::read_to_string(&out).unwrap();
    let maps: Vec<Vec<&str>> = s.lines().take(2).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(maps, [["0", "200000", "65536"], ["0", "200000", "65536"]], "{s}");
    assert_eq!(s.lines().nth(2), Some("0"));
    let squeezed = s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(squeezed.contains(" 1 65534 65534 "), "the host's root is unmapped inside: {s}");
    assert_eq!(s.lines().last(), Some("321"), "oomScoreAdj in a user namespace: {s}");
    assert_eq!(o.run(&["delete", "u1"]).code, 0);
    o.finish();
}

/// Receive one fd over a unix stream socket.
fn recv_fd(sock: &std::os::unix::net::UnixStream) -> OwnedFd {
    let mut data = [0u8; 1];
    let mut iov = libc::iovec { iov_base: data.as_mut_ptr() as *mut _, iov_len: 1 };
    let mut cmsg = [0u64; 8];
    // SAFETY: zeroed msghdr is its empty value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.as_mut_ptr() as *mut _;
    msg.msg_controllen = 64;
    // SAFETY: msg points to live buffers of the sizes given.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, 0) };
    assert!(n >= 0, "recvmsg: {}", std::io::Error::last_os_error());
    // SAFETY: the control buffer holds one cmsghdr when controllen says so.
    let c = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    assert!(!c.is_null(), "no fd passed");
    // SAFETY: c is a valid cmsghdr carrying SCM_RIGHTS with one int.
    unsafe {
        assert_eq!(((*c).cmsg_level, (*c).cmsg_type), (libc::SOL_SOCKET, libc::SCM_RIGHTS));
        OwnedFd::from_raw_fd(*(libc::CMSG_DATA(c) as *const i32))
    }
}

/// Read from the terminal until `want` appears; what was read.
fn read_until(master: &mut fs::File, want: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + TIMEOUT;
    while !String::from_utf8_lossy(&got).contains(want) {
        assert!(Instant::now() < deadline, "waited in vain for {want:?}; got {:?}", String::from_utf8_lossy(&got));
        match master.read(&mut buf) {
            Ok(0) | Err(_) => panic!("terminal closed before {want:?}; got {:?}", String::from_utf8_lossy(&got)),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn console_socket_gets_the_terminal_of_a_shell() {
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-tty");
    let text = config(IMAGE, &["sh"], r#""terminal":true,"consoleSize":{"height":33,"width":111},"#, "", "");
    o.write_config(&text);
    let sock_path = o.f.path("console.sock");
    let listener = UnixListener::bind(&sock_path).unwrap();
    let accept = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        recv_fd(&s)
    });
    let pid_file = o.f.path("t.pid");
    let out = o.f.path("c.out");
    let r = o.run_to(&["create", "--bundle", o.bundle(), "--console-socket", sock_path.to_str().unwrap(), "--pid-file", pid_file.to_str().unwrap(), "t1"], &out);
    assert_eq!(r.code, 0, "{r:#?}");
    let pid: i32 = fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    let mut master = fs::File::from(accept.join().unwrap());
    assert_eq!(o.run(&["start", "t1"]).code, 0);
    master.write_all(b"stty size; tty; echo hi-$((1+2))\n").unwrap();
    let seen = read_until(&mut master, "hi-3");
    assert!(seen.contains("33 111"), "console size: {seen}");
    assert!(seen.contains("/dev/pts/0"), "the container's own devpts: {seen}");
    master.write_all(b"exit 7\n").unwrap();
    assert_eq!(wait_pid(pid), 7);
    assert_eq!(o.run(&["delete", "t1"]).code, 0);
    o.finish();
}

#[test]
fn exec_waits_or_detaches_in_the_containers_namespaces() {
    if !require_root() {
        return;
    }
    let o = Oci::with("oci-exec", &["sleep", "1000"]);
    let out = o.f.path("c.out");
    let pid = o.create("e1", &out);
    assert_eq!(o.run(&["start", "e1"]).code, 0);
    let r = o.run(&["exec", "--env", "X=y", "--cwd", "/tmp", "e1", "sh", "-c", "echo $X $(pwd) $(hostname) $(cat /proc/self/status | grep NoNewPrivs); exit 4"]);
    assert_eq!(r.code, 4, "{r:#?}");
    assert!(r.stdout.starts_with("y /tmp oci-test"), "{r:#?}");
    let u = o.run(&["exec", "--user", "1000:1001", "e1", "sh", "-c", "echo $(id -u):$(id -g); grep CapEff /proc/self/status"]);
    assert_eq!(u.code, 0, "{u:#?}");
    assert!(u.stdout.starts_with("1000:1001\nCapEff:\t0000000000000000"), "{u:#?}");
    let pid_file = o.f.path("x.pid");
    let d = o.run(&["exec", "--detach", "--pid-file", pid_file.to_str().unwrap(), "e1", "sleep", "999"]);
    assert_eq!(d.code, 0, "{d:#?}");
    let xpid: i32 = fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    let ns = |p: i32, k: &str| fs::read_link(format!("/proc/{p}/ns/{k}")).unwrap_or_else(|e| panic!("{p} {k}: {e} {d:?}"));
    for k in ["pid", "mnt", "net", "uts", "ipc"] {
        assert_eq!(ns(xpid, k), ns(pid, k), "{k} namespace");
    }
    let ps = o.run(&["ps", "--format", "json", "e1"]);
    assert!(ps.stdout.contains(&xpid.to_string()) && ps.stdout.contains(&pid.to_string()), "{ps:#?}");
    // A waiting exec passes the signals it gets on to its process, any of them, which starts
    // with none blocked.
    for (sig, name) in [(SIGTERM, "TERM"), (libc::SIGALRM, "ALRM"), (libc::SIGPWR, "PWR")] {
        let wout = o.f.path(&format!("w-{name}.out"));
        let script = format!("trap 'echo got-{name}; exit 9' {name}; grep SigBlk /proc/self/status; echo ready; while :; do sleep 0.1; done");
        let mut c = o.cmd(&["exec", "e1", "sh", "-c", &script]);
        c.stdin(Stdio::null()).stdout(fs::File::create(&wout).unwrap()).stderr(Stdio::null());
        let w = start_cmd(c, None);
        wait_for_event("the exec'd shell to be ready", || fs::read_to_string(&wout).unwrap_or_default().contains("ready"));
        w.signal(sig);
        let r = w.wait_for(TIMEOUT);
        assert_eq!(r.code, 9, "{name}: {r:#?}");
        assert_eq!(fs::read_to_string(&wout).unwrap(), format!("SigBlk:\t0000000000000000\nready\ngot-{name}\n"));
    }
    let missing = o.run(&["exec", "e1", "no-such-command"]);
    assert_eq!(missing.stderr.lines().count(), 1, "{missing:#?}");
    assert!(missing.stderr.contains("no-such-command") && missing.code != 0, "{missing:#?}");
    // The detached process was re-parented here: reaped as it ends, as an engine does (the
    // container's PID 1 ends only once every process of its namespace is reaped).
    let reaper = std::thread::spawn(move || wait_pid(xpid));
    assert_eq!(o.run(&["delete", "--force", "e1"]).code, 0);
    assert_eq!(wait_pid(pid), 128 + 9);
    assert_eq!(reaper.join().unwrap(), 128 + 9);
    o.finish();
}

/// Each bad bundle: one error line naming what is wrong, nothing left under --root, nothing
/// mounted.
#[test]
fn bad_bundles_fail_with_one_line_and_leave_nothing() {
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-bad");
    let core_pattern = fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let good = config(IMAGE, &["true"], "", "", "");
    let file_root = o.f.path("a-file");
    fs::write(&file_root, "x").unwrap();
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "config.json"),
        (Some("{\"ociVersion\": ".into()), "unexpected end"),
        (Some(good.replace(IMAGE, file_root.to_str().unwrap())), "root filesystem"),
        (Some(good.replace(IMAGE, "/no/such/dir")), "root filesystem"),
        (Some(config(IMAGE, &["true"], "", "", r#""hooks":{"prestart":[{"path":"/bin/true"}]},"#)), "hooks"),
        (Some(good.replace(r#""uid":0"#, r#""uid":"root""#)), "process.user.uid"),
        (Some(good.replace(r#""args":["true"]"#, r#""args":["no-such-command"]"#)), "no-such-command"),
        // A working directory that is not there fails create (not start), as with runc.
        (Some(good.replace(r#""cwd":"/""#, r#""cwd":"/no/such/dir""#)), "/no/such/dir"),
        (Some(config(IMAGE, &["true"], "", r#""devices":[{"path":"dev/x","type":"c","major":1,"minor":3}],"#, "")), "linux.devices.path: must be an absolute path"),
        (Some(good.replace(r#""destination":"/tmp","type":"tmpfs""#, r#""destination":"/tmp","type":"nosuchfs""#)), "/tmp"),
        // The host's sysctls: the value written would be the current one, but it is refused.
        (Some(config(IMAGE, &["true"], "", &format!(r#""sysctl":{{"kernel.core_pattern":{:?}}},"#, core_pattern.trim_end()), "")), "linux.sysctl"),
        (Some(config(IMAGE, &["true"], "", r#""sysctl":{"net.ipv4.ip_forward":"1"},"#, "").replace(r#"{"type":"network"},"#, "")), "linux.sysctl"),
        (Some(config(IMAGE, &["true"], "", r#""cgroupsPath":"/../../tmp/x","#, "")), "linux.cgroupsPath"),
        // procfs hidden by a later mount: its masks would land on the tmpfs.
        (Some(good.replace(r#"{"destination":"/tmp","#, r#"{"destination":"/proc","type":"tmpfs","source":"tmpfs"},{"destination":"/tmp","#)), "mount: /proc"),
    ];
    for (text, expect) in cases {
        match &text {
            Some(t) => o.write_config(t),
            None => {
                let _ = fs::remove_file(o.bundle.join("config.json"));
            }
        }
        let log = o.f.path("log.json");
        let _ = fs::remove_file(&log);
        let r = o.run(&["--log", log.to_str().unwrap(), "--log-format", "json", "create", "--bundle", o.bundle(), "bad1"]);
        assert_ne!(r.code, 0, "{expect}: {r:#?}");
        assert_eq!(r.stderr.lines().count(), 1, "{expect}: {r:#?}");
        assert!(r.stderr.starts_with("sandbox-oci: bad1: "), "{r:#?}");
        assert!(r.stderr.contains(expect), "{expect}: {r:#?}");
        let logged = fs::read_to_string(&log).unwrap();
        assert!(logged.starts_with("{\"level\":\"error\",\"msg\":\"bad1: ") && logged.ends_with("}\n"), "{logged}");
        assert_dir_empty(&o.root);
    }
    assert_eq!(fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(), core_pattern);
    o.finish();
}

#[test]
fn mount_points_are_resolved_inside_the_root() {
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-escape");
    // A copy of the image whose /mnt is a symlink to a host directory (a decoy), and whose
    // /etc/hostile leads out through ../..: mounts there must land inside the root.
    let rootfs = o.f.path("rootfs");
    let cp = Command::new("cp").arg("-a").arg(IMAGE).arg(&rootfs).status().unwrap();
    assert!(cp.success());
    let decoy = o.f.path("decoy");
    fs::create_dir(&decoy).unwrap();
    fs::write(decoy.join("keep"), "host").unwrap();
    let _ = fs::remove_dir_all(rootfs.join("mnt"));
    std::os::unix::fs::symlink(&decoy, rootfs.join("mnt")).unwrap();
    // The same path inside the root: where the symlink leads when resolved there.
    fs::create_dir_all(rootfs.join(decoy.strip_prefix("/").unwrap())).unwrap();
    std::os::unix::fs::symlink("../../../../../../..", rootfs.join("etc/up")).unwrap();
    // /proc through a symlink (where the /dev tmpfs would hide it, and its masks): refused.
    let fake = o.image_copy("fake-rootfs");
    fs::remove_dir_all(fake.join("proc")).unwrap();
    std::os::unix::fs::symlink("/dev/fakeproc", fake.join("proc")).unwrap();
    o.write_config(&config(fake.to_str().unwrap(), &["true"], "", "", ""));
    let r = o.run(&["create", "--bundle", o.bundle(), "p1"]);
    assert!(r.code != 0 && r.stderr.contains("mount: /proc: Too many symbolic links"), "{r:#?}");
    assert_dir_empty(&o.root);
    let src = o.f.path("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("f"), "bound").unwrap();
    let text = config(rootfs.to_str().unwrap(), &["sh", "-c", "touch /mnt/new; cat /etc/up/x/f"], "", "", "").replace(
        r#"{"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev"]}"#,
        &format!(r#"{{"destination":"/mnt","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev"]}},{{"destination":"/etc/up/x","type":"bind","source":"{}","options":["rbind","ro"]}}"#, src.display()),
    );
    o.write_config(&text);
    let out = o.f.path("c.out");
    let pid = o.create("s1", &out);
    assert_eq!(o.run(&["start", "s1"]).code, 0);
    assert_eq!(wait_pid(pid), 0, "{}", fs::read_to_string(&out).unwrap());
    assert_eq!(fs::read_to_string(&out).unwrap(), "bound");
    assert_eq!(o.run(&["delete", "s1"]).code, 0);
    // The host is untouched: the decoy keeps its file, nothing was made at the host's root.
    assert_eq!(fs::read_to_string(decoy.join("keep")).unwrap(), "host");
    assert!(!decoy.join("new").exists(), "the tmpfs was mounted on the decoy");
    assert!(!Path::new("/x").exists());
    assert!(rootfs.join("x").is_dir(), "the mount point was made inside the root");
    o.finish();
}

#[test]
fn a_seccomp_profile_refuses_what_it_names() {
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-seccomp");
    let text = config(IMAGE, &["sh", "-c", "mkdir /tmp/d 2>&1; grep Seccomp: /proc/self/status"], r#""noNewPrivileges":true,"#,
        r#""seccomp":{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],"syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]},"#, "");
    o.write_config(&text);
    let out = o.f.path("c.out");
    let pid = o.create("sc1", &out);
    assert_eq!(o.run(&["start", "sc1"]).code, 0);
    wait_pid(pid);
    let s = fs::read_to_string(&out).unwrap();
    assert!(s.contains("Operation not permitted") && s.contains("Seccomp:\t2"), "{s}");
    assert_eq!(o.run(&["delete", "sc1"]).code, 0);
    o.finish();
}

#[test]
fn features_spec_list_and_version() {
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-info");
    let f = o.run(&["features"]);
    assert_eq!(f.code, 0);
    assert!(f.stdout.contains("\"ociVersionMax\"") && f.stdout.contains("SCMP_ARCH_X86_64"), "{f:#?}");
    let s = o.run(&["spec", "--bundle", o.bundle()]);
    assert_eq!(s.code, 0, "{s:#?}");
    assert!(fs::read_to_string(o.bundle.join("config.json")).unwrap().contains("\"ociVersion\""));
    let v = o.run(&["--version"]);
    assert!(v.stdout.starts_with("sandbox-oci version"), "{v:#?}");
    let l = o.run(&["list"]);
    assert_eq!(l.code, 0, "{l:#?}");
    let u = o.run(&["frobnicate"]);
    assert_ne!(u.code, 0);
    assert!(u.stderr.contains("unknown command"), "{u:#?}");
    o.finish();
}

/// containerd's shape: root.path relative to the bundle, and a mount point of the engine's (the
/// snapshot mounted on BUNDLE/rootfs in the engine's mount namespace: here a private one that
/// create is run in, so the host's table stays as it is for the other tests).
#[test]
fn a_relative_root_that_is_a_mount_point() {
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-relroot");
    fs::create_dir(o.bundle.join("rootfs")).unwrap();
    o.write_config(&config("rootfs", &["sh", "-c", "echo rel-ok; exit 5"], "", "", ""));
    let out = o.f.path("c.out");
    let err = o.f.path("c.err");
    let pid_file = o.f.path("r.pid");
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount --bind "$1" bundle/rootfs && exec "$2" --root "$3" create --bundle bundle --pid-file "$4" r1"#)
        .arg("sh")
        .arg(IMAGE)
        .arg(sandbox_oci())
        .arg(&o.root)
        .arg(&pid_file);
    // The bundle relative to the working directory, as the shim gives it.
    c.current_dir(&o.f.dir).stdin(Stdio::null()).stdout(fs::File::create(&out).unwrap()).stderr(fs::File::create(&err).unwrap());
    let r = start_cmd(c, None).wait_for(TIMEOUT);
    assert_eq!(r.code, 0, "create: {}", fs::read_to_string(&err).unwrap());
    let pid: i32 = fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    let st = o.run(&["state", "r1"]);
    assert!(st.stdout.contains(&format!("\"bundle\":\"{}\"", o.bundle.display())), "{st:#?}");
    assert_eq!(o.run(&["start", "r1"]).code, 0);
    assert_eq!(wait_pid(pid), 5);
    assert_eq!(fs::read_to_string(&out).unwrap(), "rel-ok\n");
    assert_eq!(o.run(&["delete", "r1"]).code, 0);
    o.finish();
}

/// Device nodes: those of the image, and those made inside with CAP_MKNOD, open nothing (every
/// mount is nodev); the container's own (/dev/null, linux.devices) still work. The decoy device
/// is the null device, standing for the host's disk.
#[test]
fn device_nodes_of_the_image_or_made_inside_do_not_open() {
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-nodev");
    let rootfs = o.image_copy("rootfs");
    assert!(Command::new("mknod").arg("-m").arg("666").arg(rootfs.join("tmp/disk")).args(["c", "1", "3"]).status().unwrap().success());
    let script = "echo x > /tmp/disk && echo IMAGE-NODE-OPENED; mknod /dev/disk c 1 3 && (echo x > /dev/disk && echo MADE-NODE-OPENED); \
        mknod /run/disk c 1 3 && (echo x > /run/disk && echo RUN-NODE-OPENED); echo y > /dev/null && echo null-ok; echo y > /dev/fuse 2>/dev/null; echo fuse=$?";
    let text = config(rootfs.to_str().unwrap(), &["sh", "-c", script], "",
        r#""devices":[{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":438}],"#, "")
        .replace(r#""bounding":["CAP_KILL","CAP_CHOWN","CAP_NET_BIND_SERVICE"]"#, r#""bounding":["CAP_KILL","CAP_CHOWN","CAP_MKNOD","CAP_DAC_OVERRIDE"]"#)
        .replace(r#""effective":["CAP_KILL","CAP_CHOWN"]"#, r#""effective":["CAP_KILL","CAP_CHOWN","CAP_MKNOD","CAP_DAC_OVERRIDE"]"#)
        .replace(r#""permitted":["CAP_KILL","CAP_CHOWN"]"#, r#""permitted":["CAP_KILL","CAP_CHOWN","CAP_MKNOD","CAP_DAC_OVERRIDE"]"#)
        .replace(r#","readonly":true}"#, "}")
        .replace(r#"{"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev"]}"#,
                 r#"{"destination":"/run","type":"tmpfs","source":"tmpfs","options":["dev"]}"#);
    o.write_config(&text);
    let out = o.f.path("c.out");
    let pid = o.create("n1", &out);
    assert_eq!(o.run(&["start", "n1"]).code, 0);
    wait_pid(pid);
    let s = fs::read_to_string(&out).unwrap() + &fs::read_to_string(out.with_extension("err")).unwrap();
    assert!(!s.contains("OPENED"), "a device node opened: {s}");
    assert!(s.contains("Permission denied"), "{s}");
    assert!(s.contains("null-ok"), "{s}");
    // /dev/fuse opens (ENODEV or the like without the module, never EACCES from nodev).
    assert!(!s.contains("fuse: Permission denied"), "{s}");
    assert_eq!(o.run(&["delete", "n1"]).code, 0);
    o.finish();
}

/// A script whose interpreter is reached through a descriptor of the runtime's
/// (`#!/proc/self/fd/N/../..`, the kernel looks it up before close-on-exec), under a seccomp
/// profile that refuses close_range: no host file runs. The decoy "host binary" is a copy of
/// busybox outside the root, which says "applet not found" when run as `decoy-interp`.
#[test]
fn no_descriptor_of_the_runtime_reaches_the_containers_execve() {
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-fds");
    let rootfs = o.image_copy("rootfs");
    fs::copy(rootfs.join("bin/busybox"), o.f.path("decoy-interp")).unwrap();
    for n in 3..10 {
        // From the state directory (--root/ID) or the bundle, ../.. or .. is the test's directory.
        let script = format!("#!/proc/self/fd/{n}/../../decoy-interp\n");
        fs::write(rootfs.join(format!("bin/s{n}")), &script).unwrap();
        fs::write(rootfs.join(format!("bin/t{n}")), format!("#!/proc/self/fd/{n}/../decoy-interp\n")).unwrap();
        for s in [format!("bin/s{n}"), format!("bin/t{n}")] {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(rootfs.join(s), fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    let mut seen = String::new();
    for (i, n) in (3..10).flat_map(|n| [("s", n), ("t", n)]).enumerate() {
        let text = config(rootfs.to_str().unwrap(), &[&format!("/bin/{}{}", n.0, n.1)], r#""noNewPrivileges":true,"#,
            r#""seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["close_range"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]},"#, "");
        o.write_config(&text);
        let out = o.f.path(&format!("c{i}.out"));
        let id = format!("f{i}");
        let pid = o.create(&id, &out);
        assert_eq!(o.run(&["--log", o.f.path("log").to_str().unwrap(), "start", &id]).code, 0);
        wait_pid(pid);
        seen += &fs::read_to_string(&out).unwrap();
        seen += &fs::read_to_string(out.with_extension("err")).unwrap();
        assert_eq!(o.run(&["delete", &id]).code, 0);
    }
    assert!(!seen.contains("applet not found"), "a host file ran in the container: {seen}");
    assert!(seen.contains("cannot execute"), "{seen}");
    o.finish();
}

/// A privileged container's config (podman --privileged) lists every device node of the host,
/// and pods list many mounts: 400 devices and 100 mounts are made, not refused.
#[test]
fn as_many_devices_and_mounts_as_a_privileged_container_lists() {
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-many");
    let devices: Vec<String> = (0..400)
        .map(|i| format!(r#"{{"path":"/dev/many/null{i}","type":"c","major":1,"minor":3,"fileMode":438}}"#))
        .collect();
    let mounts: Vec<String> = (0..100)
        .map(|i| format!(r#"{{"destination":"/tmp/m{i}","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev"]}}"#))
        .collect();
    let script = "ls /dev/many | wc -l; echo x > /dev/many/null399 && echo null399-ok; grep -cE ' /tmp/m[0-9]+ ' /proc/self/mountinfo";
    let text = config(IMAGE, &["sh", "-c", script], "", &format!(r#""devices":[{}],"#, devices.join(",")), "")
        .replace(r#"{"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev"]}"#,
                 &format!(r#"{{"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev"]}},{}"#, mounts.join(",")));
    o.write_config(&text);
    let out = o.f.path("c.out");
    let pid = o.create("many", &out);
    assert_eq!(o.run(&["start", "many"]).code, 0);
    assert_eq!(wait_pid(pid), 0, "{}", fs::read_to_string(out.with_extension("err")).unwrap());
    assert_eq!(fs::read_to_string(&out).unwrap(), "400\nnull399-ok\n100\n");
    assert_eq!(o.run(&["delete", "many"]).code, 0);
    o.finish();
}

/// A copy of the image whose /etc/app holds what tmpcopyup copies: a file (0640, owner
/// base+123:base+456), a subdirectory with a file, a FIFO, a device node (left out), symlinks
/// out of the root to a decoy of the host's (absolute, to its file and to itself, and
/// relative) and one inside; /etc/plain has a file. The rootfs and the decoy.
fn copy_up_image(o: &Oci, base: u32) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::{chown, lchown, symlink, PermissionsExt};
    let mode = |p: &Path, m: u32| fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
    let rootfs = o.image_copy("rootfs");
    let decoy = o.f.path("decoy");
    fs::create_dir(&decoy).unwrap();
    fs::write(decoy.join("secret"), "host secret").unwrap();
    mode(&decoy.join("secret"), 0o600);
    let app = rootfs.join("etc/app");
    fs::create_dir_all(app.join("sub")).unwrap();
    fs::write(app.join("conf"), "image conf\n").unwrap();
    fs::write(app.join("sub/deep"), "deep\n").unwrap();
    symlink(decoy.join("secret"), app.join("out")).unwrap();
    symlink(&decoy, app.join("outdir")).unwrap();
    symlink(format!("../../../../../../..{}", decoy.display()), app.join("up")).unwrap();
    symlink("/bin/busybox", app.join("abs")).unwrap();
    assert!(Command::new("mkfifo").arg("-m").arg("620").arg(app.join("fifo")).status().unwrap().success());
    assert!(Command::new("mknod").arg(app.join("null")).args(["c", "1", "3"]).status().unwrap().success());
    mode(&app.join("conf"), 0o640);
    chown(app.join("conf"), Some(base + 123), Some(base + 456)).unwrap();
    chown(app.join("fifo"), Some(base + 9), Some(base + 10)).unwrap();
    lchown(app.join("out"), Some(base + 7), Some(base + 8)).unwrap();
    mode(&app.join("sub"), 0o710);
    chown(app.join("sub"), Some(base + 5), Some(base + 6)).unwrap();
    mode(&app, 0o751);
    chown(&app, Some(base + 12), Some(base + 34)).unwrap();
    fs::create_dir(rootfs.join("etc/plain")).unwrap();
    fs::write(rootfs.join("etc/plain/file"), "plain").unwrap();
    // The root's, for the mount point /newdir to be made there in a user namespace.
    chown(&rootfs, Some(base), Some(base)).unwrap();
    (rootfs, decoy)
}

/// The config for copy_up_image: /etc/app a tmpfs with tmpcopyup, /etc/plain one without,
/// /newdir (not in the image) one with; CAP_DAC_OVERRIDE and CAP_FOWNER to write there.
fn copy_up_config(rootfs: &Path, script: &str, linux_extra: &str) -> String {
    config(rootfs.to_str().unwrap(), &["sh", "-c", script], "", linux_extra, "")
        .replace(r#""CAP_KILL","CAP_CHOWN"]"#, r#""CAP_KILL","CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FOWNER"]"#)
        .replace(r#""CAP_NET_BIND_SERVICE"]"#, r#""CAP_NET_BIND_SERVICE","CAP_DAC_OVERRIDE","CAP_FOWNER"]"#)
        .replace(
            r#"{"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev"]}"#,
            r#"{"destination":"/etc/app","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev","tmpcopyup","size=1m"]},
            {"destination":"/etc/plain","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev"]},
            {"destination":"/newdir","type":"tmpfs","source":"tmpfs","options":["tmpcopyup","mode=700"]}"#,
        )
}

const COPY_UP_SCRIPT: &str = "cd /etc/app && stat -c '%n %a %u:%g %F' . conf sub sub/deep fifo out && cat conf sub/deep; \
    for l in out outdir up abs; do [ -L $l ] && echo \"$l -> $(readlink $l)\"; done; echo ls: $(ls -A); \
    echo plain=$(ls -A /etc/plain | wc -l) newdir=$(ls -A /newdir | wc -l) $(stat -c %a /newdir); grep ' /etc/app ' /proc/mounts; \
    echo changed > conf && rm sub/deep && echo new > sub/new && chmod 777 sub && chown 1:2 conf && rm out && echo writes-ok";

/// What the container saw of /etc/app and did to it, and the host's files after it: the image's
/// as they were, the decoy untouched.
fn check_copy_up(s: &str, rootfs: &Path, decoy: &Path, base: u32, ids: [&str; 5]) {
    use std::os::unix::fs::MetadataExt;
    let [app, conf, sub, fifo, out] = ids;
    for line in [
        format!(". 751 {app} directory"),
        format!("conf 640 {conf} regular file"),
        format!("sub 710 {sub} directory"),
        "sub/deep 644 0:0 regular file".into(),
        format!("fifo 620 {fifo} fifo"),
        format!("out 777 {out} symbolic link"),
        "image conf\ndeep\n".into(),
        format!("out -> {}", decoy.join("secret").display()),
        format!("outdir -> {}", decoy.display()),
        format!("up -> ../../../../../../..{}", decoy.display()),
        "abs -> /bin/busybox".into(),
        "ls: abs conf fifo out outdir sub up\n".into(),
        "plain=0 newdir=0 700".into(),
        "writes-ok".into(),
    ] {
        assert!(s.contains(&line), "{line:?} in {s}");
    }
    assert!(s.lines().any(|l| l.starts_with("tmpfs /etc/app tmpfs ")), "{s}");
    let app = rootfs.join("etc/app");
    assert_eq!(fs::read_to_string(app.join("conf")).unwrap(), "image conf\n");
    let m = fs::metadata(app.join("conf")).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o640, base + 123, base + 456));
    let m = fs::metadata(app.join("sub")).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o710, base + 5, base + 6));
    assert_eq!(fs::read_to_string(app.join("sub/deep")).unwrap(), "deep\n");
    assert!(!app.join("sub/new").exists() && fs::symlink_metadata(app.join("out")).unwrap().is_symlink());
    assert_eq!(fs::read_to_string(decoy.join("secret")).unwrap(), "host secret");
    let m = fs::metadata(decoy.join("secret")).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o600, 0, 0));
    assert_eq!(fs::read_dir(decoy).unwrap().count(), 1, "the decoy got a file");
}

/// tmpcopyup (podman's `--tmpfs`, `--read-only`): the tmpfs starts with the image's files
/// there, modes, owners, contents, symlinks as symlinks (none followed: those leading out of
/// the root reach nothing of the host's), subdirectories; the tmpfs's root takes the
/// directory's mode and owner; writes land in the tmpfs only. Without it a tmpfs starts empty;
/// where the image has nothing, nothing is copied.
#[test]
fn tmpcopyup_fills_the_tmpfs_with_the_images_files() {
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-copyup");
    let (rootfs, decoy) = copy_up_image(&o, 0);
    o.write_config(&copy_up_config(&rootfs, COPY_UP_SCRIPT, ""));
    let out = o.f.path("c.out");
    let pid = o.create("c1", &out);
    assert_eq!(o.run(&["start", "c1"]).code, 0);
    let status = wait_pid(pid);
    let s = fs::read_to_string(&out).unwrap() + &fs::read_to_string(out.with_extension("err")).unwrap();
    assert_eq!(status, 0, "{s}");
    check_copy_up(&s, &rootfs, &decoy, 0, ["12:34", "123:456", "5:6", "9:10", "7:8"]);
    assert_eq!(o.run(&["delete", "c1"]).code, 0);
    o.finish();
}

/// The same in a user namespace of the container's: the owners are those seen inside.
#[test]
fn tmpcopyup_in_a_user_namespace_keeps_the_owners_seen_inside() {
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-copyup-userns");
    let base = 200000;
    let (rootfs, decoy) = copy_up_image(&o, base);
    let maps = r#""uidMappings":[{"containerID":0,"hostID":200000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":200000,"size":65536}],"#;
    o.write_config(&copy_up_config(&rootfs, COPY_UP_SCRIPT, maps).replace(r#"{"type":"mount"}"#, r#"{"type":"mount"},{"type":"user"}"#));
    let out = o.f.path("c.out");
    let pid = o.create("u1", &out);
    assert_eq!(o.run(&["start", "u1"]).code, 0);
    let status = wait_pid(pid);
    let s = fs::read_to_string(&out).unwrap() + &fs::read_to_string(out.with_extension("err")).unwrap();
    assert_eq!(status, 0, "{s}");
    // sub/deep is the host root's, unmapped: 65534 inside, and its copy too.
    let s = s.replace("sub/deep 644 65534:65534 ", "sub/deep 644 0:0 ");
    check_copy_up(&s, &rootfs, &decoy, base, ["12:34", "123:456", "5:6", "9:10", "7:8"]);
    assert_eq!(o.run(&["delete", "u1"]).code, 0);
    o.finish();
}

/// A copy that does not fit the tmpfs's size, or deeper than the runtime goes: create fails
/// with one line naming the entry and the reason, and leaves nothing.
#[test]
fn tmpcopyup_too_large_or_too_deep_fails_create() {
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-copyup-fail");
    let rootfs = o.image_copy("rootfs");
    fs::create_dir(rootfs.join("etc/big")).unwrap();
    fs::write(rootfs.join("etc/big/file"), vec![7u8; 1 << 20]).unwrap();
    let deep = rootfs.join(format!("etc/deep{}", "/d".repeat(40)));
    fs::create_dir_all(&deep).unwrap();
    let tmp = r#"{"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev"]}"#;
    for (mount, expect) in [
        (r#"{"destination":"/etc/big","type":"tmpfs","source":"tmpfs","options":["tmpcopyup","size=64k"]}"#.to_string(), "mount: /etc/big/file: No space left on device".to_string()),
        (r#"{"destination":"/etc/deep","type":"tmpfs","source":"tmpfs","options":["tmpcopyup"]}"#.to_string(), format!("mount: /etc/deep{}: File name too long", "/d".repeat(33))),
    ] {
        o.write_config(&config(rootfs.to_str().unwrap(), &["true"], "", "", "").replace(tmp, &mount));
        let r = o.run(&["create", "--bundle", o.bundle(), "bad1"]);
        assert_ne!(r.code, 0, "{expect}: {r:#?}");
        assert_eq!(r.stderr, format!("sandbox-oci: bad1: {expect}\n"), "{r:#?}");
        assert_dir_empty(&o.root);
    }
    // Not one of them changed the image.
    assert_eq!(fs::read(rootfs.join("etc/big/file")).unwrap().len(), 1 << 20);
    assert!(deep.is_dir() && fs::read_dir(&deep).unwrap().count() == 0);
    o.finish();
}

/// `run`: create, start, wait with the caller's signals passed on, delete; the process's
/// status returned and nothing left under --root. `run -d` leaves it running; `run` of a
/// terminal container relays the caller's terminal.
#[test]
fn run_waits_passes_signals_and_deletes() {
    if !require_root() {
        return;
    }
    let o = Oci::with("oci-run", &["sh", "-c", "trap 'echo got-term; exit 7' TERM; echo ready; sleep 1000 & wait"]);
    let out = o.f.path("run.out");
    let mut c = o.cmd(&["run", "--bundle", o.bundle(), "r1"]);
    c.stdin(Stdio::null()).stdout(fs::File::create(&out).unwrap()).stderr(fs::File::create(out.with_extension("err")).unwrap());
    let running = start_cmd(c, None);
    wait_for_event("the container's first words", || fs::read_to_string(&out).unwrap_or_default().contains("ready"));
    assert_eq!(o.status("r1"), "running");
    signal(running.pid(), libc::SIGTERM);
    let r = running.wait_for(TIMEOUT);
    assert_eq!(r.code, 7, "{}", fs::read_to_string(out.with_extension("err")).unwrap());
    assert_eq!(fs::read_to_string(&out).unwrap(), "ready\ngot-term\n");
    assert_eq!(listing(&o.root), Vec::<String>::new(), "run left its state");

    // Detached: the container runs on, to be killed and deleted.
    let r = o.run(&["run", "-d", "--bundle", o.bundle(), "r2"]);
    assert_eq!(r.code, 0, "{r:#?}");
    assert_eq!(o.status("r2"), "running");
    assert_eq!(o.run(&["kill", "r2", "KILL"]).code, 0);
    wait_for_event("r2 to stop", || o.status("r2") == "stopped");
    assert_eq!(o.run(&["delete", "r2"]).code, 0);

    // A terminal: the caller's (script's) is relayed to the container's own.
    o.write_config(&config(IMAGE, &["sh", "-c", "read l; echo got-$l; tty; exit 5"], r#""terminal":true,"#, "", ""));
    let line = format!("{} --root {} run --bundle {} r3", sandbox_oci().display(), o.root.display(), o.bundle());
    let mut c = Command::new("script");
    c.args(["-qec", &line, "/dev/null"]);
    let r = run_cmd(c, b"word\n");
    assert_eq!(r.code, 5, "{r:#?}");
    assert!(r.stdout.contains("got-word") && r.stdout.contains("/dev/pts/0"), "{r:#?}");
    // The container's terminal with none here: relayed from stdin (its end as the terminal's
    // end of file) and to stdout as they are.
    o.write_config(&config(IMAGE, &["sh", "-c", "cat; echo no-terminal-here; tty; exit 4"], r#""terminal":true,"#, "", ""));
    let mut c = o.cmd(&["run", "--bundle", o.bundle(), "r4"]);
    c.stderr(Stdio::null());
    let r = run_cmd(c, b"piped-in\n");
    assert_eq!(r.code, 4, "{r:#?}");
    assert!(r.stdout.contains("piped-in") && r.stdout.contains("no-terminal-here") && r.stdout.contains("/dev/pts/0"), "{r:#?}");
    assert_eq!(listing(&o.root), Vec::<String>::new(), "run left its state");
    o.finish();
}

/// The pid `state` gives of a running container.
fn state_pid(o: &Oci, id: &str) -> i32 {
    let s = o.run(&["state", id]);
    let at = s.stdout.find("\"pid\":").unwrap_or_else(|| panic!("{s:#?}")) + 6;
    s.stdout[at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

/// `run` of a terminal container (as `spec` writes it: "terminal":true, a shell) with stdin
/// that is not a terminal: what comes in is typed into the container's terminal and its end is
/// the terminal's end of file, as script(1) has it. The shell, interactive, with a line editor
/// in raw mode, ends: with stdin at /dev/null, after piped commands (their output seen), after
/// a last line left unfinished, after a command that read to the end itself; nothing is left.
/// `run` killed: the container's terminal hangs up, which ends the shell; a container without
/// a terminal lives on (as runc's does), and `delete --force` removes either.
#[test]
fn run_of_a_terminal_container_with_input_that_ends() {
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-tty-end");
    o.write_config(&config(IMAGE, &["sh", "-s", "oci-tty-end"], r#""terminal":true,"#, "", ""));
    let r = o.run(&["run", "--bundle", o.bundle(), "t1"]);
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stdout.contains("/ # "), "the shell was interactive: {r:#?}");
    let piped = |id: &str, input: &[u8]| {
        let mut c = o.cmd(&["run", "--bundle", o.bundle(), id]);
        c.stderr(Stdio::null());
        run_cmd(c, input)
    };
    let r = piped("t2", b"echo hi-$((6*7)); exit 3\n");
    assert_eq!(r.code, 3, "{r:#?}");
    assert!(r.stdout.contains("hi-42"), "{r:#?}");
    let r = piped("t3", b"echo last-$((6*7))");
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stdout.contains("last-42"), "{r:#?}");
    let r = piped("t4", b"cat; echo after-cat-$((6*7))\n");
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stdout.contains("after-cat-42"), "{r:#?}");
    assert_eq!(listing(&o.root), Vec::<String>::new(), "run left its state");
    assert_eq!(procs_with_arg("oci-tty-end"), Vec::<u32>::new(), "run left a process");

    // run killed, its stdin held open.
    let killed = |id: &str, ready: &str| -> i32 {
        let out = o.f.path(&format!("{id}.out"));
        let mut c = o.cmd(&["run", "--bundle", o.bundle(), id]);
        c.stdin(Stdio::piped()).stdout(fs::File::create(&out).unwrap()).stderr(Stdio::null());
        let running = start_cmd(c, None);
        wait_for_event("the container's first words", || fs::read_to_string(&out).unwrap_or_default().contains(ready));
        let pid = state_pid(&o, id);
        running.signal(SIGKILL);
        assert_eq!(running.wait_for(TIMEOUT).code, 128 + SIGKILL);
        pid
    };
    let pid = killed("t5", "/ # ");
    // The shell ends, whether by SIGHUP or by its terminal's end (ash exits 0 at the EIO).
    wait_pid(pid);
    assert_eq!(o.status("t5"), "stopped");
    assert_eq!(o.run(&["delete", "--force", "t5"]).code, 0);
    o.write_config(&config(IMAGE, &["sh", "-c", "echo ready; exec sleep 4250"], "", "", ""));
    let pid = killed("t6", "ready");
    assert!(alive(pid), "a container without a terminal outlives run");
    assert_eq!(o.status("t6"), "running");
    assert_eq!(o.run(&["delete", "--force", "t6"]).code, 0);
    assert_eq!(wait_pid(pid), 128 + SIGKILL);
    assert_eq!(listing(&o.root), Vec::<String>::new(), "delete left state");
    assert_eq!(procs_with_arg("oci-tty-end"), Vec::<u32>::new());
    assert_eq!(procs_with_arg("4250"), Vec::<u32>::new());
    o.finish();
}

/// A user without privileges: `spec --rootless` and `run` give a container whose root is the
/// user (a user namespace of one id), with nothing left behind.
#[test]
fn run_by_a_user_without_privileges() {
    use std::os::unix::fs::PermissionsExt;
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-rootless");
    fs::set_permissions(&o.f.dir, fs::Permissions::from_mode(0o755)).unwrap();
    let state = o.f.path("nobody-state");
    fs::create_dir(&state).unwrap();
    for d in [&state, &o.bundle] {
        assert!(Command::new("chown").arg("65534:65534").arg(d).status().unwrap().success());
    }
    let as_nobody = |args: &[&str]| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "--"]).arg(sandbox_oci());
        c.arg("--root").arg(&state).args(args).current_dir(&o.bundle).env_remove("XDG_RUNTIME_DIR");
        run_cmd(c, b"")
    };
    let r = as_nobody(&["spec", "--rootless"]);
    assert_eq!(r.code, 0, "{r:#?}");
    let text = fs::read_to_string(o.bundle.join("config.json")).unwrap();
    assert!(text.contains(r#""uidMappings":[{"containerID":0,"hostID":65534,"size":1}]"#), "{text}");
    let text = text
        .replace(r#""terminal":true"#, r#""terminal":false"#)
        .replace(r#""path":"rootfs""#, &format!(r#""path":"{IMAGE}""#))
        .replace(r#""args":["sh"]"#, r#""args":["sh","-c","id -u; cat /proc/self/uid_map; exit 9"]"#);
    fs::write(o.bundle.join("config.json"), text).unwrap();
    let r = as_nobody(&["run", "n1"]);
    assert_eq!(r.code, 9, "{r:#?}");
    let map: Vec<&str> = r.stdout.split_whitespace().collect();
    assert_eq!(map, ["0", "0", "65534", "1"], "{r:#?}");
    assert_eq!(listing(&state), Vec::<String>::new(), "run left its state");
    o.finish();
}

/// update needs the container's cgroup: without one (cgroups disabled, or no cgroup v2 as on
/// this host) one error line and a non-zero status; an unknown container or option likewise.
/// (The limits themselves are updated in tests/vm.rs, on a cgroup v2 machine.)
#[test]
fn update_without_a_cgroup_is_refused_in_one_line() {
    if !require_root() {
        return;
    }
    let o = Oci::with("oci-update", &["sleep", "1000"]);
    let out = o.f.path("c.out");
    let pid = o.create("u1", &out);
    let cgroup2 = fs::read_to_string("/proc/self/mountinfo").unwrap().lines().any(|l| l.contains(" /sys/fs/cgroup ") && l.contains(" - cgroup2 "));
    let cases: [(&[&str], &str); 3] = [
        (&["update", "--memory", "100000000", "u1"], "cgroup"),
        (&["update", "--memory", "100000000", "nosuch"], "does not exist"),
        (&["update", "--blkio-weight", "10", "u1"], "blkio-weight"),
    ];
    for (args, said) in cases {
        if said == "cgroup" && cgroup2 {
            eprintln!("/sys/fs/cgroup is cgroup2 here: the container has a cgroup to update");
            continue;
        }
        let r = o.run(args);
        assert_ne!(r.code, 0, "{r:#?}");
        assert_eq!(r.stderr.lines().count(), 1, "{r:#?}");
        assert!(r.stderr.starts_with("sandbox-oci: ") && r.stderr.contains(said), "{r:#?}");
    }
    assert_eq!(o.run(&["delete", "--force", "u1"]).code, 0);
    assert_eq!(wait_pid(pid), 128 + 9);
    o.finish();
}

/// A directory of a test's on another filesystem than its fixture's (/dev/shm, a tmpfs): a
/// host's volume on a filesystem of its own. Removed at the end, even when the test fails.
struct Elsewhere(PathBuf);

impl Elsewhere {
    fn new(tag: &str) -> Elsewhere {
        let dir = PathBuf::from(format!("/dev/shm/sandbox-test-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(0), Some(0)).unwrap();
        fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        Elsewhere(dir)
    }
}

impl Drop for Elsewhere {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// tmpcopyup with an image changed while create runs (a bundle its owner may write to): its
/// directory at the tmpfs's destination swapped, over and over, with a symlink to another mount
/// of the container, a volume of the host's on a filesystem of its own. The copy lands in the
/// tmpfs mounted there or nowhere: the volume gets no file of the image, and keeps its owner
/// and mode.
#[test]
fn tmpcopyup_of_an_image_changed_meanwhile_lands_in_its_tmpfs_only() {
    use std::os::unix::fs::{chown, symlink, MetadataExt, PermissionsExt};
    use std::sync::atomic::{AtomicBool, Ordering};
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-copyup-race");
    let rootfs = o.image_copy("rootfs");
    let volume = Elsewhere::new("copyup-race");
    fs::write(volume.0.join("keep"), "host file").unwrap();
    let app = rootfs.join("app");
    fs::create_dir(&app).unwrap();
    fs::write(app.join("planted"), "image file").unwrap();
    chown(&app, Some(4242), Some(4242)).unwrap();
    chown(app.join("planted"), Some(4242), Some(4242)).unwrap();
    fs::set_permissions(&app, fs::Permissions::from_mode(0o777)).unwrap();
    symlink("/data", rootfs.join("app.link")).unwrap();
    fs::create_dir(rootfs.join("data")).unwrap();
    let tmp = r#"{"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev"]}"#;
    let mounts = format!(
        r#"{{"destination":"/data","type":"bind","source":"{}","options":["rbind","rw"]}},
        {{"destination":"/app","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev","tmpcopyup","size=1m"]}}"#,
        volume.0.display()
    );
    o.write_config(&config(rootfs.to_str().unwrap(), &["true"], "", "", "").replace(tmp, &mounts));
    let stop = AtomicBool::new(false);
    let (a, b) = (std::ffi::CString::new(app.to_str().unwrap()).unwrap(), std::ffi::CString::new(rootfs.join("app.link").to_str().unwrap()).unwrap());
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: renameat2 with two live C strings; RENAME_EXCHANGE swaps the two names.
                let r = unsafe { libc::syscall(libc::SYS_renameat2, libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), 2) };
                assert_eq!(r, 0, "renameat2: {}", std::io::Error::last_os_error());
            }
        });
        let mut bad = None;
        for i in 0..150 {
            let r = o.run(&["run", "--bundle", o.bundle(), &format!("race{i}")]);
            let m = fs::metadata(&volume.0).unwrap();
            let names: Vec<String> = fs::read_dir(&volume.0).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
            if names != ["keep"] || (m.uid(), m.gid(), m.mode() & 0o7777) != (0, 0, 0o755) {
                bad = Some(format!("run {i} ({r:?}): the volume holds {names:?}, owner {}:{} mode {:o}", m.uid(), m.gid(), m.mode() & 0o7777));
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        assert!(bad.is_none(), "{}", bad.unwrap());
    });
    assert_eq!(fs::read_to_string(volume.0.join("keep")).unwrap(), "host file");
    drop(volume);
    assert_eq!(listing(&o.root), Vec::<String>::new(), "run left its state");
    o.finish();
}

/// "/proc/PID/root" and `rest` in `buf`, NUL-terminated, without allocating (in a forked child).
fn proc_root_path(buf: &mut [u8; 512], pid: i32, rest: &[u8]) -> *const libc::c_char {
    let mut digits = [0u8; 12];
    let (mut n, mut k) = (pid.max(0) as u32, digits.len());
    loop {
        k -= 1;
        digits[k] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut at = 0;
    for part in [&b"/proc/"[..], &digits[k..], b"/root", rest, b"\0"] {
        buf[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    buf.as_ptr() as *const libc::c_char
}

/// A runtime run as root of a rootless engine's user namespace (podman's, where the engine's
/// own containers run too): the container's first process makes a user namespace of its own
/// and create writes its maps. Meanwhile its root is still the host's: it must not be open to
/// another container of the engine's, a process of the same uid in the engine's namespace (its
/// own mount namespace and root, no capability, the host's PIDs as with --pid=host), which
/// tries over and over, while containers are made, to read a file of the host's through
/// /proc/PID/root of each new process. It never can.
#[test]
fn a_rootless_engines_other_container_never_reaches_the_host_through_the_first_process() {
    use std::os::unix::fs::PermissionsExt;
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-rootless-peek");
    fs::set_permissions(&o.f.dir, fs::Permissions::from_mode(0o755)).unwrap();
    let state = o.f.path("engine-state");
    fs::create_dir(&state).unwrap();
    // The host's file, the engine's uid's, out of the other container's root.
    let secret = o.f.path("secret");
    fs::write(&secret, "host secret").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    for p in [&state, &o.bundle, &secret] {
        assert!(Command::new("chown").arg("65534:65534").arg(p).status().unwrap().success());
    }
    let other = o.image_copy("other");
    // The engine's user namespace: 65534 is root there.
    let mut c = Command::new("setpriv");
    c.args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "--", "unshare", "-U", "-r", "cat"]);
    let holder = spawn_held(c);
    let ns = holder.pid();
    wait_for_event("the engine's user namespace", || fs::read_to_string(format!("/proc/{ns}/uid_map")).is_ok_and(|m| m.contains("65534")));
    let engine = |args: &[&str]| {
        let mut c = Command::new("nsenter");
        c.args(["-U", "-t", &ns.to_string(), "--"]).arg(sandbox_oci()).arg("--root").arg(&state).args(args);
        c.current_dir(&o.bundle).env_remove("XDG_RUNTIME_DIR");
        run_cmd(c, b"")
    };
    let r = engine(&["spec", "--rootless"]);
    assert_eq!(r.code, 0, "{r:#?}");
    let text = fs::read_to_string(o.bundle.join("config.json")).unwrap();
    let text = text
        .replace(r#""terminal":true"#, r#""terminal":false"#)
        .replace(r#""path":"rootfs""#, &format!(r#""path":"{IMAGE}""#))
        .replace(r#""args":["sh"]"#, r#""args":["true"]"#);
    fs::write(o.bundle.join("config.json"), text).unwrap();

    // The other container: a forked process of the test (raw calls only until _exit).
    let cstr = |p: &Path| std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    let (userns, root, proc_dir) = (std::ffi::CString::new(format!("/proc/{ns}/ns/user")).unwrap(), cstr(&other), cstr(&other.join("proc")));
    let rest = secret.to_str().unwrap().as_bytes().to_vec();
    let mut fds = [0; 2];
    // SAFETY: fds is a live array of two ints.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: the child makes only raw system calls on memory made before fork, then _exit.
    let peeker = unsafe { libc::fork() };
    if peeker == 0 {
        // SAFETY: raw system calls on live C strings and buffers of this process.
        unsafe {
            let fd = libc::open(userns.as_ptr(), libc::O_RDONLY);
            if fd < 0 || libc::setns(fd, libc::CLONE_NEWUSER) != 0 || libc::unshare(libc::CLONE_NEWNS) != 0 {
                libc::_exit(2);
            }
            let none = std::ptr::null::<libc::c_char>();
            if libc::mount(none, c"/".as_ptr(), none, libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()) != 0
                || libc::mount(c"/proc".as_ptr(), proc_dir.as_ptr(), none, libc::MS_BIND | libc::MS_REC, std::ptr::null()) != 0
                || libc::chroot(root.as_ptr()) != 0
                || libc::chdir(c"/".as_ptr()) != 0
                || libc::setresgid(0, 0, 0) != 0
                || libc::setresuid(0, 0, 0) != 0
            {
                libc::_exit(3);
            }
            for cap in 0..64 {
                libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0);
            }
            let head: [u32; 2] = [0x20080522, 0];
            let data = [0u32; 6];
            if libc::syscall(libc::SYS_capset, head.as_ptr(), data.as_ptr()) != 0 {
                libc::_exit(4);
            }
            let mut path = [0u8; 512];
            let mut text = [0u8; 64];
            loop {
                let f = libc::open(c"/proc/sys/kernel/ns_last_pid".as_ptr(), libc::O_RDONLY);
                let n = libc::read(f, text.as_mut_ptr() as *mut libc::c_void, text.len());
                libc::close(f);
                let last = text[..n.max(0) as usize].iter().take_while(|c| c.is_ascii_digit()).fold(0i32, |a, c| a * 10 + (c - b'0') as i32);
                for pid in last - 1..last + 4 {
                    let f = libc::open(proc_root_path(&mut path, pid, &rest), libc::O_RDONLY);
                    if f >= 0 {
                        let n = libc::read(f, text.as_mut_ptr() as *mut libc::c_void, text.len());
                        libc::write(fds[1], text.as_ptr() as *const libc::c_void, n.max(0) as usize);
                        libc::_exit(0);
                    }
                }
            }
        }
    }
    // SAFETY: closing the write end of the pipe made above.
    unsafe { libc::close(fds[1]) };
    // SAFETY: fds[0] is the read end, owned here from now on.
    let mut seen = unsafe { fs::File::from_raw_fd(fds[0]) };
    // SAFETY: fds[0] is open.
    unsafe { libc::fcntl(fds[0], libc::F_SETFL, libc::O_NONBLOCK) };
    let mut got = String::new();
    for i in 0..150 {
        let r = engine(&["run", &format!("w{i}")]);
        assert_eq!(r.code, 0, "{r:#?}");
        let _ = seen.read_to_string(&mut got);
        if !got.is_empty() || !alive(peeker) {
            break;
        }
    }
    signal(peeker as u32, libc::SIGKILL);
    let status = wait_pid(peeker);
    let _ = seen.read_to_string(&mut got);
    assert_eq!(got, "", "the other container read the host's file through a process of the runtime (status {status})");
    assert_eq!(status, 128 + libc::SIGKILL, "the other container was not set up");
    assert_eq!(listing(&state), Vec::<String>::new(), "run left its state");
    drop(holder);
    o.finish();
}

/// tmpcopyup in a user namespace of the container's, of a set-user-ID file whose owner is not
/// mapped there (the host's root, in an image not shifted to the namespace's ids): as in the
/// image, where an owner not mapped gives nothing at execve, the copy (root's of the
/// namespace) gives no user of the container root's ids.
#[test]
fn tmpcopyup_gives_no_set_id_of_an_owner_not_mapped_to_root() {
    use std::os::unix::fs::{chown, PermissionsExt};
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-copyup-setid");
    let rootfs = o.image_copy("rootfs");
    chown(&rootfs, Some(300000), Some(300000)).unwrap();
    let app = rootfs.join("etc/app");
    fs::create_dir(&app).unwrap();
    fs::copy(rootfs.join("bin/busybox"), app.join("busybox")).unwrap();
    chown(app.join("busybox"), Some(0), Some(0)).unwrap();
    fs::set_permissions(app.join("busybox"), fs::Permissions::from_mode(0o6755)).unwrap();
    let script = "stat -c '%n %a %u:%g' /etc/app/busybox; /etc/app/busybox sh -c 'grep -E ^[UG]id: /proc/self/status'";
    let maps = r#""uidMappings":[{"containerID":0,"hostID":300000,"size":1000}],"gidMappings":[{"containerID":0,"hostID":300000,"size":1000}],"#;
    let text = config(rootfs.to_str().unwrap(), &["sh", "-c", script], "", maps, "")
        .replace(r#"{"type":"mount"}"#, r#"{"type":"mount"},{"type":"user"}"#)
        .replace(r#""user":{"uid":0,"gid":0}"#, r#""user":{"uid":500,"gid":500}"#)
        .replace(
            r#"{"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev"]}"#,
            r#"{"destination":"/etc/app","type":"tmpfs","source":"tmpfs","options":["tmpcopyup"]}"#,
        );
    o.write_config(&text);
    let r = o.run(&["run", "--bundle", o.bundle(), "s1"]);
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stdout.contains("/etc/app/busybox 755 0:0\n"), "{r:#?}");
    assert!(r.stdout.contains("Uid:\t500\t500\t500\t500\nGid:\t500\t500\t500\t500\n"), "{r:#?}");
    o.finish();
}

/// tmpcopyup of a sparse file: its holes stay holes, so a file of 1 GiB with 3 bytes of data
/// fits a tmpfs of 1 MiB (a copy written out in full would fail, or fill memory).
#[test]
fn tmpcopyup_keeps_a_sparse_files_holes() {
    if !require_root() {
        return;
    }
    let o = Oci::new("oci-copyup-sparse");
    let rootfs = o.image_copy("rootfs");
    fs::create_dir(rootfs.join("etc/sparse")).unwrap();
    {
        use std::io::{Seek, SeekFrom};
        let mut f = fs::File::create(rootfs.join("etc/sparse/file")).unwrap();
        f.seek(SeekFrom::Start((1 << 30) - 3)).unwrap();
        f.write_all(b"end").unwrap();
    }
    let tmp = r#"{"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["nosuid","nodev"]}"#;
    let mount = r#"{"destination":"/etc/sparse","type":"tmpfs","source":"tmpfs","options":["tmpcopyup","size=1m"]}"#;
    let script = "stat -c %s /etc/sparse/file; tail -c 3 /etc/sparse/file; echo; df -k /etc/sparse | tail -n 1 | awk '{print $3}'";
    o.write_config(&config(rootfs.to_str().unwrap(), &["sh", "-c", script], "", "", "").replace(tmp, mount));
    let out = o.f.path("c.out");
    let pid = o.create("sp1", &out);
    assert_eq!(o.run(&["start", "sp1"]).code, 0);
    assert_eq!(wait_pid(pid), 0, "{}", fs::read_to_string(out.with_extension("err")).unwrap());
    let text = fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(&lines[..2], ["1073741824", "end"], "{text}");
    let used: u64 = lines[2].parse().unwrap();
    assert!(used <= 64, "the copy took {used} KiB: {text}");
    assert_eq!(o.run(&["delete", "sp1"]).code, 0);
    o.finish();
}

/// Where this process sees the cgroup2 tree (on a host of hybrid cgroups, /sys/fs/cgroup/unified),
/// for a test that needs root; None (a skip) when it cannot run.
fn cgroup2_mount() -> Option<PathBuf> {
    if !require_root() {
        return None;
    }
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mnt = info.lines().find(|l| l.contains(" - cgroup2 ")).map(|l| PathBuf::from(l.split(' ').nth(4).unwrap()));
    if mnt.is_none() {
        skip("no cgroup2 tree mounted on this host");
    }
    mnt
}

/// A `sleep` of the host, its pid the first free one from `from` on (ns_last_pid) when `from`
/// is not 0, so that its number has as many digits as the test needs.
fn sleeper(from: i32) -> std::process::Child {
    if from > 0 {
        fs::write("/proc/sys/kernel/ns_last_pid", (from - 1).to_string()).unwrap();
    }
    Command::new(format!("{IMAGE}/bin/busybox")).args(["sleep", "100000"]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

fn ended(c: &mut std::process::Child) -> bool {
    c.try_wait().unwrap().is_some()
}

/// A container with thousands of processes (here, processes of the host moved into its cgroup,
/// as its own forks would be): its cgroup.procs is longer than any one read, and a number cut by
/// the end of a read must not be taken for a pid. The attack puts the 16,384th byte (where an
/// earlier runtime's buffer ended) in the middle of a member's number and a decoy of the host
/// at the number's first four digits: ps lists the members and not the decoy, kill --all
/// signals every member (one in a cgroup made inside too) and not the decoy, delete --force
/// removes the cgroups made inside as well.
#[test]
fn a_pid_cut_by_a_read_is_never_signalled() {
    let Some(mnt) = cgroup2_mount() else { return };
    let mut o = Oci::new("oci-many");
    o.cgroup2 = true;
    let cgroup = format!("/sandbox-test-many-{}", std::process::id());
    o.write_config(&config(IMAGE, &["sleep", "100000"], "", &format!(r#""cgroupsPath":"{cgroup}","#), ""));
    let init = o.create("m1", &o.f.path("m1.out"));
    assert_eq!(o.run(&["start", "m1"]).code, 0);
    let dir = mnt.join(&cgroup[1..]);
    let procs = dir.join("cgroup.procs");
    assert_eq!(fs::read_to_string(&procs).unwrap(), format!("{init}\n"), "the container's process alone in its cgroup");
    let join = |c: &std::process::Child, to: &Path| fs::write(to.join("cgroup.procs"), c.id().to_string()).unwrap();

    // The decoy at 3000 or just above; the member to be cut at ten times that, so that its
    // first four digits are the decoy's.
    let mut decoy = sleeper(3000);
    let d = decoy.id() as i32;
    assert!(d < 3276, "no free pid from 3000 to 3275 for the decoy: {d}");
    // Members: six bytes a line (five digits, from 10000 on) and five (four digits, from 4000
    // on), as many as bring the listing to 16,380 bytes; then the cut one, then more.
    let mut members = Vec::new();
    let mut len = format!("{init}\n").len();
    let target = 16380;
    while target - len > 40 {
        members.push(sleeper(10000));
        len += 6;
    }
    let r = target - len;
    let (six, five) = (0..=r / 6).map(|a| (a, r - 6 * a)).find(|&(_, rest)| rest % 5 == 0).map(|(a, rest)| (a, rest / 5)).unwrap();
    for _ in 0..six {
        members.push(sleeper(10000));
    }
    for _ in 0..five {
        members.push(sleeper(4000));
    }
    for m in &members {
        let digits = m.id().to_string().len();
        assert!(digits == 5 || digits == 4 && m.id() < 10000, "member {} has {digits} digits", m.id());
        join(m, &dir);
    }
    let cut = sleeper(10 * d);
    assert_eq!(cut.id() as i32 / 10, d, "the member to cut ({}) does not start with the decoy's digits ({d})", cut.id());
    join(&cut, &dir);
    members.push(cut);
    for _ in 0..10 {
        let m = sleeper(10000);
        join(&m, &dir);
        members.push(m);
    }
    // And two in a cgroup made inside the container's.
    let sub = dir.join("inner");
    fs::create_dir(&sub).unwrap();
    for _ in 0..2 {
        let m = sleeper(10000);
        join(&m, &sub);
        members.push(m);
    }
    let listing = fs::read(&procs).unwrap();
    assert!(listing.len() > 16384, "{} bytes", listing.len());
    assert_eq!(&listing[16380..16384], d.to_string().as_bytes(), "the byte 16,384 falls in the number that starts with the decoy's");

    let ps = o.run(&["ps", "--format", "json", "m1"]);
    assert_eq!(ps.code, 0, "{}", ps.stderr);
    let mut want: Vec<i32> = members.iter().map(|m| m.id() as i32).collect();
    want.push(init);
    want.sort();
    let mut listed = json_ints(&ps.stdout);
    listed.sort();
    assert!(!listed.contains(&d), "ps lists the decoy {d} of the host");
    assert_eq!(listed, want, "ps lists every member (those beneath too), each once");

    // (The container's process, its PID namespace's init with no handler, ignores TERM.)
    assert_eq!(o.run(&["kill", "--all", "m1", "TERM"]).code, 0);
    for m in &mut members {
        let pid = m.id();
        wait_for_event(&format!("member {pid} to end"), || ended(m));
    }
    assert!(!ended(&mut decoy), "the decoy {d} was signalled");
    assert_eq!(o.run(&["delete", "--force", "m1"]).code, 0);
    assert_eq!(wait_pid(init), 128 + 9);
    assert!(!dir.exists(), "the container's cgroup (and the one made inside) removed");
    assert!(!ended(&mut decoy), "the decoy {d} was signalled");
    decoy.kill().unwrap();
    decoy.wait().unwrap();
    let _ = fs::remove_dir(mnt.join(&cgroup[1..]));
    o.finish();
}

/// A container's cgroup is its own: a second container of the same id in another --root (whose
/// default cgroup is the same, /sandbox-oci/ID) is refused while the first has processes, and
/// the first's `delete --force` then kills what it has, in the cgroups made inside too.
#[test]
fn a_cgroup_with_processes_is_not_given_to_another_container() {
    let Some(mnt) = cgroup2_mount() else { return };
    let mut a = Oci::with("oci-cg-a", &["sleep", "100000"]);
    a.cgroup2 = true;
    let mut b = Oci::with("oci-cg-b", &["sleep", "100000"]);
    b.cgroup2 = true;
    let id = format!("same{}", std::process::id());
    let pid = a.create(&id, &a.f.path("a.out"));
    assert_eq!(a.run(&["start", &id]).code, 0);
    let dir = mnt.join("sandbox-oci").join(&id);
    let inner = dir.join("inner");
    fs::create_dir(&inner).unwrap();
    let mut hidden = sleeper(0);
    fs::write(inner.join("cgroup.procs"), hidden.id().to_string()).unwrap();

    let before = mount_snapshot();
    let r = b.run(&["create", "--bundle", b.bundle(), &id]);
    assert_ne!(r.code, 0, "a second container in the first's cgroup");
    assert_eq!(r.stderr.lines().count(), 1, "{r:#?}");
    assert!(r.stderr.starts_with("sandbox-oci: ") && r.stderr.contains("cgroup"), "{r:#?}");
    assert_dir_empty(&b.root);
    assert_mounts_unchanged(&before);
    assert_eq!(fs::read_to_string(dir.join("cgroup.procs")).unwrap(), format!("{pid}\n"), "the first's cgroup as it was");
    assert!(alive(pid) && !ended(&mut hidden));

    assert_eq!(a.run(&["delete", "--force", &id]).code, 0);
    assert_eq!(wait_pid(pid), 128 + 9);
    wait_for_event("the process in the cgroup made inside to end", || ended(&mut hidden));
    assert!(!dir.exists(), "the cgroup and the one made inside removed");
    a.finish();
    b.finish();
}
