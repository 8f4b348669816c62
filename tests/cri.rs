//! Kubernetes drives sandbox-oci: a pod's lifecycle as a kubelet asks for it, through
//! containerd's CRI plugin (CRI v1 over gRPC, tests/helpers/cri.py), with no kubelet. A private
//! containerd with the CRI enabled runs in a mount and network namespace of the test's (a "node":
//! its own /run, /var/lib, loopback and bridge network), its root, state, socket, CNI
//! configuration and pod logs in a temporary directory. Its runtime handlers: `sandbox` (the runc
//! v2 shim running sandbox-oci) and `runc` (the same shim running runc, for comparison); the
//! same lifecycle passes with both.
//!
//! The lifecycle: RunPodSandbox (the pause container runs under the handler's runtime, in the
//! pod's network with a bridge address), CreateContainer/StartContainer of a container joining
//! the pause's network, IPC and UTS namespaces with a restricted security context (non-root,
//! no_new_privs, every capability dropped, RuntimeDefault seccomp, read-only root), ExecSync
//! (output, exit status, what the container is), StopContainer (SIGTERM to a command that traps
//! it; a command that ignores it is killed at the end of its grace period), RemoveContainer,
//! StopPodSandbox, RemovePodSandbox; then nothing left: no runtime state, no shim, no process,
//! no mount in the node's namespace, and after containerd stops the temporary directory is gone.
//!
//! This host has no cgroup v2 controllers and no CAP_SYS_RESOURCE: containerd runs with
//! `disable_cgroup` and `restrict_oom_score_adj`. Root only; needs containerd (with ctr and the
//! runc v2 shim), runc, the CNI plugins in /usr/lib/cni (containernetworking-plugins) and
//! Debian's python3-grpcio for /usr/bin/python3 (.ci/run installs them).
mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The pods' image and the pause image (busybox with `sleep 100000` as its command).
const IMAGE_REF: &str = "docker.io/library/busybox:test";
const PAUSE_REF: &str = "docker.io/library/busybox:pause";
/// Debian's python, which has python3-grpcio (not a pyenv one before it in PATH).
const PYTHON: &str = "/usr/bin/python3";
const CNI_BIN: &str = "/usr/lib/cni";
/// The CRI's containerd namespace (the runtime's root is `<Root>/k8s.io`).
const K8S_NS: &str = "k8s.io";
/// The pod network's subnet, on the bridge cni0 of the node's namespace.
const SUBNET: &str = "10.99.0.0/24";

/// A runtime handler of the node's CRI: its name and the OCI runtime its shim runs.
struct Handler {
    name: &'static str,
    binary: PathBuf,
}

fn handlers() -> [Handler; 2] {
    [
        Handler { name: "sandbox", binary: sandbox_oci() },
        Handler { name: "runc", binary: "/usr/sbin/runc".into() },
    ]
}

/// Everything the test needs: there, or a skip saying what is missing (a failure under CI=true).
fn ready() -> bool {
    if !require_root() {
        return false;
    }
    let mut missing: Vec<String> = ["containerd", "ctr", "containerd-shim-runc-v2", "runc", "nsenter", "unshare", "ip", "tar", "sha256sum"]
        .iter()
        .filter(|t| !Command::new("sh").args(["-c", &format!("command -v {t}")]).output().is_ok_and(|o| o.status.success()))
        .map(|t| t.to_string())
        .collect();
    for p in ["bridge", "host-local", "loopback"] {
        if !Path::new(CNI_BIN).join(p).exists() {
            missing.push(format!("{CNI_BIN}/{p} (containernetworking-plugins)"));
        }
    }
    if !Command::new(PYTHON).args(["-c", "import grpc"]).output().is_ok_and(|o| o.status.success()) {
        missing.push(format!("{PYTHON} with grpc (python3-grpcio)"));
    }
    if missing.is_empty() {
        return true;
    }
    skip(&format!("missing {missing:?} (.ci/run installs them)"))
}

/// A string as a JSON string.
fn q(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Strings as a JSON array.
fn qa(v: &[&str]) -> String {
    format!("[{}]", v.iter().map(|s| q(s)).collect::<Vec<_>>().join(","))
}

/// A CRI response as cri.py prints it: `path=value` a line, values unescaped.
#[derive(Debug)]
struct Reply {
    fields: BTreeMap<String, String>,
}

impl Reply {
    fn parse(text: &str) -> Reply {
        let mut fields = BTreeMap::new();
        for line in text.lines() {
            let (k, v) = line.split_once('=').unwrap_or((line, ""));
            let mut s = String::new();
            let mut it = v.chars();
            while let Some(c) = it.next() {
                match (c, it.clone().next()) {
                    ('\\', Some('n')) => {
                        s.push('\n');
                        it.next();
                    }
                    ('\\', Some('\\')) => {
                        s.push('\\');
                        it.next();
                    }
                    (c, _) => s.push(c),
                }
            }
            fields.insert(k.to_string(), s);
        }
        Reply { fields }
    }

    fn get(&self, key: &str) -> &str {
        self.fields.get(key).unwrap_or_else(|| panic!("no {key} in the response: {self:#?}"))
    }

    /// The number of a field in one of the JSON documents of a verbose status's `info` (e.g. the
    /// `"pid"` of the task).
    fn info_number(&self, name: &str) -> u32 {
        let info = self.get("info.info");
        let pat = format!("\"{name}\":");
        let at = info.find(&pat).unwrap_or_else(|| panic!("no {name} in {info}")) + pat.len();
        info[at..].chars().take_while(|c| c.is_ascii_digit()).collect::<String>().parse().unwrap()
    }
}

/// Pids of the processes whose command line mentions `text`, with all their descendants.
fn procs_and_descendants(text: &str, also: &[u32]) -> Vec<u32> {
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let mut roots: Vec<u32> = also.to_vec();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if let Some((_, _, _, ppid)) = fs::read_to_string(e.path().join("stat")).ok().as_deref().and_then(parse_stat) {
            children.entry(ppid).or_default().push(pid);
        }
        if fs::read(e.path().join("cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains(text)) {
            roots.push(pid);
        }
    }
    let mut all = BTreeSet::new();
    while let Some(p) = roots.pop() {
        if p != std::process::id() && all.insert(p) {
            roots.extend(children.get(&p).into_iter().flatten());
        }
    }
    all.into_iter().collect()
}

/// Whether process `pid` runs with the command line `cmdline` (a zombie's is empty).
fn runs(pid: u32, cmdline: &str) -> bool {
    fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == cmdline.as_bytes())
}

/// A process, told from a later one with its pid by its start time.
#[derive(Debug, Clone, Copy)]
struct Proc {
    pid: u32,
    start: u64,
}

fn start_time(pid: u32) -> Option<(char, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut rest = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    Some((state, rest.nth(18)?.parse().ok()?))
}

impl Proc {
    fn of(pid: u32) -> Proc {
        let (_, start) = start_time(pid).unwrap_or_else(|| panic!("no process {pid}"));
        Proc { pid, start }
    }

    /// Still there, and not a zombie.
    fn alive(&self) -> bool {
        start_time(self.pid).is_some_and(|(state, start)| start == self.start && state != 'Z')
    }
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A node: a process holding a mount and network namespace (a tmpfs on /run and /var/lib, the
/// loopback up) and containerd with the CRI in it, its files in a temporary directory. Dropped
/// (a failed test): every process of it killed, the directory removed.
struct Node {
    dir: PathBuf,
    holder: Option<Running>,
    holder_pid: u32,
    daemon: Option<Running>,
}

impl Node {
    fn new(tag: &str) -> Node {
        let dir = std::env::temp_dir().join(format!("sandbox-cri-{tag}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst)));
        let _ = fs::remove_dir_all(&dir);
        for d in ["cni", "logs", "rt"] {
            fs::create_dir_all(dir.join(d)).unwrap();
        }
        let ready = dir.join("ns-ready");
        // /var/lib: where the CNI library keeps its cache (/var/lib/cni), the node's own.
        let script = format!(
            "mount -t tmpfs -o mode=755 tmpfs /run && mkdir -p /run/lock && mount -t tmpfs -o mode=755 tmpfs /var/lib \
             && ip link set lo up && echo > {} && exec sleep 100000",
            ready.display()
        );
        let mut c = Command::new("unshare");
        c.args(["--mount", "--net", "--propagation", "private", "sh", "-c", &script]);
        let mut holder = spawn(c, b"");
        let ok = wait_until(TIMEOUT, || ready.exists() || !holder.running());
        assert!(ok && ready.exists(), "the node's namespaces were not made: {:?}", holder.wait().tuple());
        let holder_pid = holder.pid();
        let mut node = Node { dir, holder: Some(holder), holder_pid, daemon: None };

        let d = node.dir.display().to_string();
        fs::write(
            node.path("cni/10-pods.conflist"),
            format!(
                r#"{{"cniVersion":"1.0.0","name":"pods","plugins":[{{"type":"bridge","bridge":"cni0","isGateway":true,"ipMasq":false,"ipam":{{"type":"host-local","ranges":[[{{"subnet":"{SUBNET}"}}]],"routes":[{{"dst":"0.0.0.0/0"}}],"dataDir":"{d}/ipam"}}}}]}}"#
            ),
        )
        .unwrap();
        let mut runtimes = String::new();
        for h in handlers() {
            runtimes += &format!(
                "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.{n}]\n  runtime_type = \"io.containerd.runc.v2\"\n\
                 [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.{n}.options]\n  BinaryName = \"{b}\"\n  Root = \"{d}/rt/{n}\"\n",
                n = h.name,
                b = h.binary.display()
            );
        }
        fs::write(
            node.path("config.toml"),
            format!(
                "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
                 disabled_plugins = [\"io.containerd.internal.v1.opt\"]\n\
                 [grpc]\n  address = \"{d}/containerd.sock\"\n[ttrpc]\n  address = \"{d}/containerd.sock.ttrpc\"\n\
                 [debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n\
                 [plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"{PAUSE_REF}\"\n\
                 restrict_oom_score_adj = true\n  disable_cgroup = true\n  disable_apparmor = true\n\
                 netns_mounts_under_state_dir = true\n\
                 [plugins.\"io.containerd.grpc.v1.cri\".cni]\n  bin_dir = \"{CNI_BIN}\"\n  conf_dir = \"{d}/cni\"\n\
                 [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  default_runtime_name = \"runc\"\n{runtimes}"
            ),
        )
        .unwrap();
        let mut c = node.enter("containerd");
        c.arg("--config").arg(node.path("config.toml"));
        let mut daemon = spawn(c, b"");
        let sock = node.sock();
        let up = wait_until(TIMEOUT, || Path::new(&sock).exists() || !daemon.running());
        assert!(up && Path::new(&sock).exists(), "containerd did not start: {:#?}", daemon.wait());
        node.daemon = Some(daemon);

        // The CRI answers, and says the runtime and the pod network are ready.
        wait_for_event("the CRI to answer", || node.try_cri("Version", r#"{"version":"v1"}"#).code == 0);
        let v = node.cri("Version", r#"{"version":"v1"}"#);
        assert_eq!((v.get("runtime_name"), v.get("runtime_api_version")), ("containerd", "v1"), "{v:#?}");
        wait_for_event("the CRI's RuntimeReady and NetworkReady", || {
            let s = Reply::parse(&node.try_cri("Status", "{}").stdout);
            ["RuntimeReady", "NetworkReady"].iter().all(|c| {
                (0..4).any(|i| {
                    s.fields.get(&format!("status.conditions.{i}.type")).is_some_and(|t| t == c)
                        && s.fields.get(&format!("status.conditions.{i}.status")).is_some_and(|v| v == "true")
                })
            })
        });

        // The images, offline: busybox, and the pause image made from it.
        let busybox = node.path("busybox-oci.tar");
        let pause = node.path("pause-oci.tar");
        let mut c = Command::new("bash");
        c.arg(Path::new(MANIFEST_DIR).join("tests/helpers/oci-image.sh")).arg(IMAGE).arg(IMAGE_REF).arg(&busybox);
        run_cmd(c, b"").expect(0);
        let mut c = node.python();
        c.arg("image-cmd").arg(&busybox).arg(&pause).args([PAUSE_REF, "sleep", "100000"]);
        run_cmd(c, b"").expect(0);
        for tar in [&busybox, &pause] {
            let mut c = node.enter("ctr");
            c.arg("--address").arg(node.sock()).args(["-n", K8S_NS, "image", "import"]).arg(tar);
            let out = run_cmd(c, b"");
            assert_eq!(out.code, 0, "ctr image import: {out:#?}");
        }
        for image in [IMAGE_REF, PAUSE_REF] {
            wait_for_event(&format!("the CRI to know {image}"), || {
                let r = node.try_cri("ImageStatus", &format!(r#"{{"image":{{"image":{}}}}}"#, q(image)));
                r.code == 0 && Reply::parse(&r.stdout).fields.get("image.repo_tags.0").is_some_and(|t| t == image)
            });
        }
        node
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    fn sock(&self) -> String {
        self.path("containerd.sock").to_string_lossy().into_owned()
    }

    /// `program` in the node's namespaces.
    fn enter(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.holder_pid.to_string(), "-m", "-n", "--", program]);
        c
    }

    /// cri.py, with Debian's python and nothing of a pyenv's environment.
    fn python(&self) -> Command {
        let mut c = Command::new(PYTHON);
        c.env_remove("PYTHONPATH").env_remove("PYTHONHOME");
        c.arg(Path::new(MANIFEST_DIR).join("tests/helpers/cri.py"));
        c
    }

    /// The call of CRI method `method` with the request `json`, not started.
    fn cri_cmd(&self, method: &str, json: &str) -> Command {
        let mut c = self.python();
        c.args([&self.sock(), method, json]);
        c
    }

    fn try_cri(&self, method: &str, json: &str) -> Out {
        run_cmd(self.cri_cmd(method, json), b"")
    }

    /// A CRI call that must succeed; its response.
    fn cri(&self, method: &str, json: &str) -> Reply {
        let out = self.try_cri(method, json);
        assert_eq!(out.code, 0, "CRI {method} {json} failed: {out:#?}");
        Reply::parse(&out.stdout)
    }

    /// ExecSync of `cmd` in container `id`: (exit code, stdout, stderr).
    fn exec(&self, id: &str, cmd: &[&str]) -> (i32, String, String) {
        let r = self.cri("ExecSync", &format!(r#"{{"container_id":{},"cmd":{}}}"#, q(id), qa(cmd)));
        (r.get("exit_code").parse().unwrap(), r.get("stdout").to_string(), r.get("stderr").to_string())
    }

    /// ExecSync of a shell command line, which must succeed; its stdout.
    fn sh(&self, id: &str, line: &str) -> String {
        let (code, out, err) = self.exec(id, &["sh", "-c", line]);
        assert_eq!(code, 0, "exec {line:?}: stdout {out:?} stderr {err:?}");
        out
    }

    /// What the handler's runtime lists (`RUNTIME --root <Root>/k8s.io list`): id -> (pid, status).
    fn runtime_list(&self, h: &Handler) -> BTreeMap<String, (u32, String)> {
        let mut c = self.enter(&h.binary.to_string_lossy());
        c.arg("--root").arg(self.runtime_root(h)).arg("list");
        let out = run_cmd(c, b"");
        assert_eq!(out.code, 0, "{} list: {out:#?}", h.name);
        out.stdout
            .lines()
            .skip(1)
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                Some((w.first()?.to_string(), (w.get(1)?.parse().ok()?, w.get(2)?.to_string())))
            })
            .collect()
    }

    fn runtime_root(&self, h: &Handler) -> PathBuf {
        self.path(&format!("rt/{}/{K8S_NS}", h.name))
    }

    /// Mounts of the node's namespace that mention the directory.
    fn mounts(&self) -> Vec<String> {
        let d = self.dir.to_string_lossy().into_owned();
        fs::read_to_string(format!("/proc/{}/mountinfo", self.holder_pid))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&d))
            .map(String::from)
            .collect()
    }

    /// The container log `rel` (under the pod's log directory).
    fn log(&self, rel: &str) -> String {
        fs::read_to_string(self.path("logs").join(rel)).unwrap_or_default()
    }

    /// Stop containerd (SIGTERM, as its service manager does) and the namespace; nothing of the
    /// node may be left: no process, no mount, no file.
    fn finish(mut self) {
        let daemon = self.daemon.take().unwrap();
        daemon.signal(SIGTERM);
        let out = daemon.wait();
        assert!(out.code == 0 || out.code == 128 + SIGTERM, "containerd's end: {out:#?}");
        let d = self.dir.to_string_lossy().into_owned();
        let left = procs_and_descendants(&d, &[]);
        assert!(left.is_empty(), "processes of the node left after containerd: {left:?}");
        drop(self.holder.take());
        self.holder_pid = 0;
        let host: Vec<String> = fs::read_to_string("/proc/self/mountinfo").unwrap().lines().filter(|l| l.contains(&d)).map(String::from).collect();
        assert!(host.is_empty(), "the node's mounts reached the host: {host:#?}");
        wait_for_event("the node's directory to be removed", || {
            let _ = fs::remove_dir_all(&self.dir);
            !self.dir.exists()
        });
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // A failed test: containerd, the shims, the containers (their descendants) and the
        // namespace holder, all killed.
        let d = self.dir.to_string_lossy().into_owned();
        let holder: Vec<u32> = [self.holder_pid].into_iter().filter(|&p| p != 0).collect();
        for _ in 0..3 {
            for p in procs_and_descendants(&d, &holder) {
                let _ = Command::new("kill").args(["-9", &p.to_string()]).stderr(std::process::Stdio::null()).status();
            }
        }
        drop(self.daemon.take());
        drop(self.holder.take());
        let _ = wait_until(TIMEOUT, || {
            let _ = fs::remove_dir_all(&self.dir);
            !self.dir.exists()
        });
    }
}

/// The pod's configuration (as RunPodSandbox and CreateContainer take it): a pod of its own
/// network, IPC and UTS namespaces, each container with its own PID namespace (the kubelet's
/// default), RuntimeDefault seccomp, logs in the node's directory.
fn pod_config(node: &Node, uid: &str) -> String {
    format!(
        r#"{{"metadata":{{"name":"web","uid":{uid},"namespace":"default","attempt":0}},"hostname":"web-pod","log_directory":{logs},"labels":{{"app":"web"}},"linux":{{"security_context":{{"namespace_options":{{"network":"POD","pid":"CONTAINER","ipc":"POD"}},"seccomp":{{"profile_type":"RuntimeDefault"}}}}}}}}"#,
        uid = q(uid),
        logs = q(&node.path("logs").to_string_lossy()),
    )
}

/// A container of the pod: its name, command and Linux security context (JSON).
fn container_config(name: &str, command: &[&str], security: &str) -> String {
    format!(
        r#"{{"metadata":{{"name":{n},"attempt":0}},"image":{{"image":{img}}},"command":{cmd},"envs":[{{"key":"GREETING","value":"hello"}}],"log_path":{log},"linux":{{"security_context":{security}}}}}"#,
        n = q(name),
        img = q(IMAGE_REF),
        cmd = qa(command),
        log = q(&format!("{name}/0.log")),
    )
}

/// The fields of /proc/PID/status that say how a process is confined.
fn confinement(status: &str) -> Vec<String> {
    status
        .lines()
        .filter(|l| ["Uid:", "Gid:", "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:"].iter().any(|k| l.starts_with(k)))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn pod_lifecycle(h: &Handler) {
    let node = Node::new(h.name);
    let w = format!("CRI with handler {}", h.name);
    let pod = pod_config(&node, &format!("uid-{}", h.name));

    // RunPodSandbox: the pause container, run by the handler's runtime.
    let r = node.cri("RunPodSandbox", &format!(r#"{{"config":{pod},"runtime_handler":{}}}"#, q(h.name)));
    let pod_id = r.get("pod_sandbox_id").to_string();
    let pid = |method: &str, key: &str, id: &str| -> u32 {
        node.cri(method, &format!(r#"{{"{key}":{},"verbose":true}}"#, q(id))).info_number("pid")
    };
    let st = node.cri("PodSandboxStatus", &format!(r#"{{"pod_sandbox_id":{}}}"#, q(&pod_id)));
    assert_eq!(st.get("status.state"), "SANDBOX_READY", "{w}: {st:#?}");
    assert_eq!(st.get("status.runtime_handler"), h.name, "{w}: {st:#?}");
    assert_eq!(st.get("status.metadata.name"), "web", "{w}: {st:#?}");
    let ip = st.get("status.network.ip").to_string();
    assert!(ip.starts_with("10.99.0."), "{w}: the pod's address: {st:#?}");
    let pause = pid("PodSandboxStatus", "pod_sandbox_id", &pod_id);
    assert!(runs(pause, "sleep\x00100000\x00"), "{w}: the pause process {pause} is not the image's sleep");
    let pause_proc = Proc::of(pause);
    let list = node.runtime_list(h);
    assert_eq!(list.get(&pod_id), Some(&(pause, "running".to_string())), "{w}: the runtime's list: {list:#?}");
    for other in handlers().iter().filter(|o| o.name != h.name) {
        assert!(listing(&node.runtime_root(other)).is_empty(), "{w}: {} ran something", other.name);
    }
    // The pod network: the node reaches the pod's address over the bridge.
    let mut c = node.enter(&format!("{IMAGE}/bin/busybox"));
    c.args(["ping", "-c", "1", "-W", "60", &ip]);
    let out = run_cmd(c, b"");
    assert_eq!(out.code, 0, "{w}: ping of the pod from the node: {out:#?}");

    // A container with a restricted security context, joining the pod.
    let restricted = r#"{"run_as_user":{"value":1000},"run_as_group":{"value":1000},"no_new_privs":true,"readonly_rootfs":true,"capabilities":{"drop_capabilities":["ALL"]},"seccomp":{"profile_type":"RuntimeDefault"},"namespace_options":{"network":"POD","pid":"CONTAINER","ipc":"POD"}}"#;
    let app_cfg = container_config("app", &["sh", "-c", "trap 'echo bye; exit 7' TERM; echo ready; sleep 100000 & wait"], restricted);
    let r = node.cri("CreateContainer", &format!(r#"{{"pod_sandbox_id":{},"config":{app_cfg},"sandbox_config":{pod}}}"#, q(&pod_id)));
    let app = r.get("container_id").to_string();
    let cs = node.cri("ContainerStatus", &format!(r#"{{"container_id":{}}}"#, q(&app)));
    assert_eq!(cs.get("status.state"), "CONTAINER_CREATED", "{w}: {cs:#?}");
    node.cri("StartContainer", &format!(r#"{{"container_id":{}}}"#, q(&app)));
    let cs = node.cri("ContainerStatus", &format!(r#"{{"container_id":{}}}"#, q(&app)));
    assert_eq!(cs.get("status.state"), "CONTAINER_RUNNING", "{w}: {cs:#?}");
    wait_for_event("app's trap to be set (its log)", || node.log("app/0.log").contains(" stdout F ready\n"));
    let app_pid = pid("ContainerStatus", "container_id", &app);
    let app_proc = Proc::of(app_pid);
    let list = node.runtime_list(h);
    assert_eq!(list.get(&app), Some(&(app_pid, "running".to_string())), "{w}: the runtime's list: {list:#?}");

    // ExecSync: output and status.
    let (code, out, err) = node.exec(&app, &["sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!((code, out.as_str(), err.as_str()), (3, "out\n", "err\n"), "{w}: ExecSync");
    assert_eq!(node.sh(&app, "echo $GREETING; hostname; id -u; id -g"), "hello\nweb-pod\n1000\n1000\n", "{w}: env, hostname, ids");
    // The pod's namespaces: network, IPC and UTS the pause's; PID its own.
    let ns = node.sh(&app, "for n in net ipc uts pid; do readlink /proc/self/ns/$n; done");
    let pause_ns = |n: &str| fs::read_link(format!("/proc/{pause}/ns/{n}")).unwrap().to_string_lossy().into_owned();
    let want: Vec<String> = ["net", "ipc", "uts"].iter().map(|n| pause_ns(n)).collect();
    let got: Vec<&str> = ns.lines().collect();
    assert_eq!(got[..3], want[..], "{w}: the container's namespaces");
    assert_ne!(got[3], pause_ns("pid"), "{w}: the container shares the pause's PID namespace");
    for n in ["net", "ipc", "uts"] {
        assert_eq!(fs::read_link(format!("/proc/{app_pid}/ns/{n}")).unwrap().to_string_lossy(), pause_ns(n), "{w}: app's {n}");
    }
    assert!(node.sh(&app, "ip -o -4 addr show eth0").contains(&format!("inet {ip}/")), "{w}: the pod's address in the container");
    // The restricted context, of the exec'd process and of the container's command (PID 1).
    let want = [
        "Uid: 1000 1000 1000 1000",
        "Gid: 1000 1000 1000 1000",
        "CapInh: 0000000000000000",
        "CapPrm: 0000000000000000",
        "CapEff: 0000000000000000",
        "CapBnd: 0000000000000000",
        "CapAmb: 0000000000000000",
        "NoNewPrivs: 1",
        "Seccomp: 2",
    ];
    assert_eq!(confinement(&node.sh(&app, "cat /proc/self/status")), want, "{w}: the exec'd process");
    assert_eq!(confinement(&node.sh(&app, "cat /proc/1/status")), want, "{w}: the container's command");
    assert_eq!(confinement(&fs::read_to_string(format!("/proc/{app_pid}/status")).unwrap()), want, "{w}: app, seen from the host");
    let (code, _, err) = node.exec(&app, &["touch", "/probe"]);
    assert_eq!(code, 1, "{w}: a write to the read-only root");
    assert!(err.contains("Read-only file system"), "{w}: a write to the read-only root: {err}");

    // A container that traps SIGTERM and goes on: StopContainer sends SIGTERM and waits; a
    // second StopContainer with a grace period of one second ends it with SIGKILL.
    let stubborn_cfg = container_config(
        "stubborn",
        &["sh", "-c", "trap 'echo got TERM' TERM; echo ready; while :; do sleep 100000 & wait; done"],
        r#"{"namespace_options":{"network":"POD","pid":"CONTAINER","ipc":"POD"}}"#,
    );
    let r = node.cri("CreateContainer", &format!(r#"{{"pod_sandbox_id":{},"config":{stubborn_cfg},"sandbox_config":{pod}}}"#, q(&pod_id)));
    let stubborn = r.get("container_id").to_string();
    node.cri("StartContainer", &format!(r#"{{"container_id":{}}}"#, q(&stubborn)));
    wait_for_event("stubborn's trap to be set (its log)", || node.log("stubborn/0.log").contains(" stdout F ready\n"));
    let stubborn_proc = Proc::of(pid("ContainerStatus", "container_id", &stubborn));
    let first = spawn(node.cri_cmd("StopContainer", &format!(r#"{{"container_id":{},"timeout":300}}"#, q(&stubborn))), b"");
    wait_for_event("stubborn's SIGTERM (its log)", || node.log("stubborn/0.log").contains(" stdout F got TERM\n"));
    let cs = node.cri("ContainerStatus", &format!(r#"{{"container_id":{}}}"#, q(&stubborn)));
    assert_eq!(cs.get("status.state"), "CONTAINER_RUNNING", "{w}: stubborn after SIGTERM: {cs:#?}");
    node.cri("StopContainer", &format!(r#"{{"container_id":{},"timeout":1}}"#, q(&stubborn)));
    let out = first.wait();
    assert_eq!(out.code, 0, "{w}: the first StopContainer of stubborn: {out:#?}");
    let cs = node.cri("ContainerStatus", &format!(r#"{{"container_id":{}}}"#, q(&stubborn)));
    assert_eq!((cs.get("status.state"), cs.get("status.exit_code")), ("CONTAINER_EXITED", "137"), "{w}: stubborn: {cs:#?}");
    assert!(!stubborn_proc.alive(), "{w}: stubborn's process is still there");

    // StopContainer of the app: its trap's status.
    node.cri("StopContainer", &format!(r#"{{"container_id":{},"timeout":300}}"#, q(&app)));
    let cs = node.cri("ContainerStatus", &format!(r#"{{"container_id":{}}}"#, q(&app)));
    assert_eq!((cs.get("status.state"), cs.get("status.exit_code")), ("CONTAINER_EXITED", "7"), "{w}: app: {cs:#?}");
    assert!(node.log("app/0.log").contains(" stdout F bye\n"), "{w}: app's log: {}", node.log("app/0.log"));
    let r = node.cri("ListContainers", &format!(r#"{{"filter":{{"pod_sandbox_id":{}}}}}"#, q(&pod_id)));
    let states: BTreeSet<(&str, &str)> = (0..2).map(|i| (r.get(&format!("containers.{i}.metadata.name")), r.get(&format!("containers.{i}.state")))).collect();
    assert_eq!(states, BTreeSet::from([("app", "CONTAINER_EXITED"), ("stubborn", "CONTAINER_EXITED")]), "{w}: {r:#?}");

    // RemoveContainer: gone from the CRI and from the runtime.
    for id in [&app, &stubborn] {
        node.cri("RemoveContainer", &format!(r#"{{"container_id":{}}}"#, q(id)));
        let out = node.try_cri("ContainerStatus", &format!(r#"{{"container_id":{}}}"#, q(id)));
        assert!(out.code != 0 && out.stderr.contains("NOT_FOUND"), "{w}: a removed container's status: {out:#?}");
    }
    let r = node.cri("ListContainers", "{}");
    assert!(!r.fields.contains_key("containers.0"), "{w}: containers left: {r:#?}");
    let list = node.runtime_list(h);
    assert_eq!(list.keys().collect::<Vec<_>>(), [&pod_id], "{w}: the runtime's list after RemoveContainer");

    // StopPodSandbox (twice, as a kubelet may), RemovePodSandbox.
    for _ in 0..2 {
        node.cri("StopPodSandbox", &format!(r#"{{"pod_sandbox_id":{}}}"#, q(&pod_id)));
    }
    let st = node.cri("PodSandboxStatus", &format!(r#"{{"pod_sandbox_id":{}}}"#, q(&pod_id)));
    assert_eq!(st.get("status.state"), "SANDBOX_NOTREADY", "{w}: {st:#?}");
    wait_for_event("the pause process to end", || !pause_proc.alive());
    wait_for_event("the runtime to list nothing", || node.runtime_list(h).is_empty());
    node.cri("RemovePodSandbox", &format!(r#"{{"pod_sandbox_id":{}}}"#, q(&pod_id)));
    let out = node.try_cri("PodSandboxStatus", &format!(r#"{{"pod_sandbox_id":{}}}"#, q(&pod_id)));
    assert!(out.code != 0 && out.stderr.contains("NOT_FOUND"), "{w}: a removed pod's status: {out:#?}");
    let r = node.cri("ListPodSandbox", "{}");
    assert!(!r.fields.contains_key("items.0"), "{w}: pods left: {r:#?}");

    // Nothing left while containerd still runs: no runtime state, no shim state, no shim, no
    // container process, no mount (the pod's rootfs, /dev/shm, network namespace).
    let sock = node.sock();
    wait_for_event("the shims to end", || procs_and_descendants(&format!("-address\x00{sock}\x00"), &[]).is_empty());
    for p in [pause_proc, app_proc, stubborn_proc] {
        assert!(!p.alive(), "{w}: a process of the pod left: {p:?}");
    }
    wait_for_event("the node's mounts to go", || node.mounts().is_empty());
    for h in handlers() {
        let left = listing(&node.runtime_root(&h));
        assert!(left.is_empty(), "{w}: {} state left: {left:#?}", h.name);
    }
    let tasks = node.path(&format!("state/io.containerd.runtime.v2.task/{K8S_NS}"));
    assert!(listing(&tasks).is_empty(), "{w}: the shims' task state left: {:#?}", listing(&tasks));
    let cri_state = node.path("state/io.containerd.grpc.v1.cri");
    let left: Vec<String> = listing(&cri_state).into_iter().filter(|p| !p.ends_with('/')).collect();
    assert!(left.is_empty(), "{w}: the CRI's state left: {left:#?}");

    let dir = node.dir.clone();
    node.finish();
    assert!(!dir.exists(), "{w}: {} left", dir.display());
}

#[test]
fn cri_pod_lifecycle_with_sandbox_oci() {
    if !ready() {
        return;
    }
    pod_lifecycle(&handlers()[0]);
}

#[test]
fn cri_pod_lifecycle_with_runc() {
    if !ready() {
        return;
    }
    pod_lifecycle(&handlers()[1]);
}
