//! Boot tests: sandbox as the /init of a bare VM. `bash rootfs/vm.sh` builds an initramfs with the
//! binary under test as /init, the busybox image (at /images/busybox and at the root), overlay.ko
//! and no /dev/console node, and boots it in `qemu-system-x86_64 -accel tcg` (never KVM) with the
//! init's arguments after `--` on the kernel command line. qemu must exit by itself (the init
//! powers the machine off) within BOOT_TIMEOUT; the serial console is the test's output, written
//! to target/vm-logs/<test>.log with the wall-clock time of each line.
//!
//! The boots run one at a time (each keeps both cores busy under TCG). A test skips, saying why,
//! only when qemu or the kernel cannot be had (vm.sh exits 77); under CI=true that is a failure.

mod common;

use common::*;
use std::fs;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

const VM_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rootfs/vm.sh");
/// A boot takes about 5 s under TCG on an idle machine here, a minute or more on a busy one;
/// only a hung machine is still running after this (then qemu is killed and the test fails).
const BOOT_TIMEOUT: Duration = Duration::from_secs(900);

enum Ready {
    Yes,
    Unavailable(String),
    Failed(String),
}

static READY: OnceLock<Ready> = OnceLock::new();
static BOOTS: Mutex<()> = Mutex::new(());

/// Fetch the kernel (cached), install qemu and cpio if missing, build the initramfs with the
/// binary under test; check the initramfs has /init and no /dev/console.
fn prepare() -> Ready {
    let mut c = Command::new("bash");
    c.arg(VM_SH).arg("build").env("SANDBOX_BIN", BIN);
    let out = spawn(c, b"").wait_for(Duration::from_secs(900));
    match out.code {
        0 => {}
        77 => return Ready::Unavailable(out.stderr.trim().to_string()),
        _ => return Ready::Failed(format!("bash rootfs/vm.sh build failed: {out:#?}")),
    }
    let Some(initrd) = out.stdout.lines().find_map(|l| l.strip_prefix("initramfs: ")) else {
        return Ready::Failed(format!("vm.sh build did not name the initramfs: {out:#?}"));
    };
    let list = Command::new("sh")
        .arg("-c")
        .arg(format!("gzip -dc '{initrd}' | cpio -it --quiet"))
        .output()
        .expect("list the initramfs");
    let names = String::from_utf8_lossy(&list.stdout);
    let names: Vec<&str> = names.lines().collect();
    if !list.status.success() || !names.contains(&"init") {
        return Ready::Failed(format!("the initramfs {initrd} has no /init: {names:?}"));
    }
    for must in ["images/busybox/bin/busybox", "bin/sh", "proc", "sys", "dev", "run", "tmp"] {
        if !names.contains(&must) {
            return Ready::Failed(format!("the initramfs {initrd} has no /{must}"));
        }
    }
    if !names.iter().any(|n| n.starts_with("lib/modules/") && n.contains("/kernel/fs/overlayfs/overlay.ko")) {
        return Ready::Failed(format!("the initramfs {initrd} has no overlay module"));
    }
    if names.iter().any(|n| n.starts_with("dev/")) {
        return Ready::Failed(format!("the initramfs {initrd} has something in /dev (it must have no console node)"));
    }
    Ready::Yes
}

/// Whether the boot tests can run (see the module doc for when they skip).
fn vm_ready() -> bool {
    match READY.get_or_init(prepare) {
        Ready::Yes => true,
        Ready::Unavailable(why) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("the VM cannot be booted here and CI=true does not allow a skip: {why}");
            }
            eprintln!("skipped: the VM cannot be booted here: {why}");
            false
        }
        Ready::Failed(why) => panic!("{why}"),
    }
}

/// One boot: the console's lines with the time since vm.sh started, how qemu ended.
struct Boot {
    name: String,
    lines: Vec<(Duration, String)>,
    /// qemu's exit code if it exited by itself; None if it had to be killed.
    status: Option<i32>,
    elapsed: Duration,
    stderr: String,
    log: PathBuf,
}

/// Terminal control sequences (SeaBIOS clears the screen) and carriage returns out of a line.
fn clean(line: &str) -> String {
    let mut out = String::new();
    let mut it = line.chars();
    while let Some(c) = it.next() {
        match c {
            '\x1b' => {
                if it.next() == Some('[') {
                    for d in it.by_ref() {
                        if d.is_ascii_alphabetic() {
                            break;
                        }
                    }
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Boot the VM with `args` as init's arguments, to its end or BOOT_TIMEOUT (then qemu is killed).
fn boot(name: &str, args: &[&str]) -> Boot {
    boot_with(name, args, "")
}

/// `boot`, with more files in the initramfs (VM_EXTRA of vm.sh: "SRC:DST ...").
///
/// A machine whose guest printed nothing at all after qemu used SILENT_CPU of processor time (or
/// within SILENT_WALL) is started once more: under TCG, qemu now and then sits after the
/// firmware's "Booting from ROM.." with the guest never reaching its first line (seen once in
/// about a hundred boots). Nothing of sandbox has run by then; a boot that printed anything is
/// judged as it is. Processor time, not wall-clock time, tells a stuck guest from a slow one on
/// a busy host: the guest's first line takes about a second of it.
fn boot_with(name: &str, args: &[&str], extra: &str) -> Boot {
    let _one_at_a_time = BOOTS.lock().unwrap_or_else(|e| e.into_inner());
    let first = boot_once(name, args, extra);
    let firmware_only = first.lines.iter().all(|(_, l)| l.starts_with("SeaBIOS") || l.trim().trim_start_matches("Booting from ROM..").is_empty());
    if first.status.is_some() || !firmware_only {
        return first;
    }
    let first_log = fs::read_to_string(&first.log).unwrap_or_default();
    let mut again = boot_once(name, args, extra);
    let _ = fs::write(&again.log, format!("# first boot, silent, killed:\n{first_log}# second boot:\n{}", fs::read_to_string(&again.log).unwrap_or_default()));
    again.stderr = format!("(second boot; the first printed nothing) {}", again.stderr);
    again
}

/// A guest that printed no line after qemu used this much processor time is taken as stuck
/// before its kernel ran.
const SILENT_CPU: Duration = Duration::from_secs(60);
/// ... or after this much time at all (a qemu that sleeps rather than spins).
const SILENT_WALL: Duration = Duration::from_secs(600);

/// The processor time process `pid` used so far (user and system, all its threads).
fn cpu_time(pid: u32) -> Duration {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let ticks: u64 = stat
        .rfind(')')
        .map(|i| stat[i + 1..].split_whitespace().skip(11).take(2).filter_map(|v| v.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// qemu (or vm.sh before it execs qemu), with its process group: killed and reaped when dropped
/// before it ended, so that a failing test leaves no machine running.
struct Machine(Child, bool);

impl Drop for Machine {
    fn drop(&mut self) {
        if !self.1 {
            kill_group(&mut self.0);
        }
    }
}

fn boot_once(name: &str, args: &[&str], extra: &str) -> Boot {
    let mut cmd = Command::new("bash");
    cmd.arg(VM_SH).arg("boot").args(args).env("SANDBOX_BIN", BIN).env("VM_EXTRA", extra);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    contain(&mut cmd);
    let what = format!("{cmd:?}");
    let start = Instant::now();
    // vm.sh execs qemu: the child is qemu once the initramfs is built.
    let mut machine = Machine(cmd.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}")), false);
    let child = &mut machine.0;
    let mut stdout = child.stdout.take().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let seen_by_reader = Arc::clone(&seen);
    let reader = thread::spawn(move || {
        let mut lines = Vec::new();
        let mut cur: Vec<u8> = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    for &b in &buf[..n] {
                        if b == b'\n' {
                            lines.push((start.elapsed(), clean(&String::from_utf8_lossy(&cur))));
                            seen_by_reader.store(lines.len(), Ordering::Relaxed);
                            cur.clear();
                        } else {
                            cur.push(b);
                        }
                    }
                }
            }
        }
        if !cur.is_empty() {
            lines.push((start.elapsed(), clean(&String::from_utf8_lossy(&cur))));
        }
        lines
    });
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = start + BOOT_TIMEOUT;
    let pid = child.id();
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            machine.1 = true;
            break s.code();
        }
        let silent = seen.load(Ordering::Relaxed) <= 1
            && (start.elapsed() >= SILENT_WALL || cpu_time(pid) >= SILENT_CPU);
        if Instant::now() >= deadline || silent {
            kill_group(child);
            machine.1 = true;
            break None;
        }
        thread::sleep(Duration::from_millis(20));
    };
    let elapsed = start.elapsed();
    let lines = reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();

    let dir = PathBuf::from(MANIFEST_DIR).join("target/vm-logs");
    let _ = fs::create_dir_all(&dir);
    let log = dir.join(format!("{name}.log"));
    let mut text = format!("# {what}\n");
    for (t, l) in &lines {
        text.push_str(&format!("[+{:7.3}s] {l}\n", t.as_secs_f64()));
    }
    match status {
        Some(c) => text.push_str(&format!("# qemu exited by itself with status {c} after {:.3}s\n", elapsed.as_secs_f64())),
        None => text.push_str(&format!(
            "# qemu killed after {:.3}s (timeout {BOOT_TIMEOUT:?}, or no line after {SILENT_CPU:?} of processor time or {SILENT_WALL:?})\n",
            elapsed.as_secs_f64()
        )),
    }
    if !stderr.is_empty() {
        text.push_str(&format!("# stderr:\n{stderr}"));
    }
    let _ = fs::write(&log, &text);
    Boot { name: name.to_string(), lines, status, elapsed, stderr, log }
}

impl Boot {
    fn text(&self) -> String {
        self.lines.iter().map(|(_, l)| format!("{l}\n")).collect()
    }

    /// Everything about the boot, for an assertion's message.
    fn show(&self) -> String {
        format!(
            "{} (log {}):\n{}qemu: {}\nstderr: {}",
            self.name,
            self.log.display(),
            self.text(),
            match self.status {
                Some(c) => format!("exited with {c} after {:.1}s", self.elapsed.as_secs_f64()),
                None => format!("killed after {:.1}s", self.elapsed.as_secs_f64()),
            },
            self.stderr
        )
    }

    /// The time and index of the first line ending with `marker` (a guest's output line; the
    /// kernel's echo of its command line, if shown, has more after it).
    fn line_ending(&self, marker: &str) -> Option<(usize, Duration)> {
        self.lines.iter().position(|(_, l)| l.trim_end().ends_with(marker)).map(|i| (i, self.lines[i].0))
    }

    /// The rest of the last line after `key=`, trimmed (the guest prints `key=value` lines).
    fn value(&self, key: &str) -> Option<String> {
        let pat = format!("{key}=");
        self.lines.iter().rev().find_map(|(_, l)| l.find(&pat).map(|i| l[i + pat.len()..].trim().to_string()))
    }

    fn number(&self, key: &str) -> i64 {
        let v = self.value(key).unwrap_or_else(|| panic!("no {key}= in the output: {}", self.show()));
        v.parse().unwrap_or_else(|_| panic!("{key}={v:?} is not a number: {}", self.show()))
    }

    /// The status N of the last line containing `exit status N`, and that line's index.
    fn exit_status(&self) -> Option<(usize, i32)> {
        self.lines.iter().enumerate().rev().find_map(|(i, (_, l))| {
            let rest = &l[l.find("exit status ")? + "exit status ".len()..];
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse().ok().map(|n| (i, n))
        })
    }

    /// qemu exited by itself (the machine powered off, no panic) and the last line the init
    /// printed says `exit status <code>`.
    fn assert_clean_exit(&self, code: i32) {
        assert!(
            self.status.is_some(),
            "qemu did not exit by itself within {BOOT_TIMEOUT:?} (or printed no line) and was killed: {}",
            self.show()
        );
        let text = self.text();
        for bad in ["Kernel panic", "Attempted to kill init", "BUG:", "Oops", "kernel BUG"] {
            assert!(!text.contains(bad), "{bad:?} on the console: {}", self.show());
        }
        assert_eq!(self.status, Some(0), "qemu's status: {}", self.show());
        assert!(text.contains("reboot: Power down"), "the machine was not powered off: {}", self.show());
        let (i, n) = self.exit_status().unwrap_or_else(|| panic!("no `exit status N` line: {}", self.show()));
        assert_eq!(n, code, "wrong exit status: {}", self.show());
        // The status line is the init's last word: only the kernel speaks after it.
        for (_, l) in &self.lines[i + 1..] {
            let l = l.trim();
            assert!(l.is_empty() || l.starts_with('['), "output after the exit status line: {l:?}: {}", self.show());
        }
    }
}

#[test]
fn vm_sandboxed_command() {
    if !vm_ready() {
        return;
    }
    let b = boot(
        "vm_sandboxed_command",
        &[
            "--lower",
            "/images/busybox",
            "--name",
            "vm1",
            "/bin/sh",
            "-c",
            "echo hi-from-vm; hostname; echo cmdline1=$(cat /proc/1/cmdline | tr '\\0' ' '); \
             echo uptime=$(cut -d' ' -f1 /proc/uptime); echo root=$(grep -c ' / / ' /proc/self/mountinfo) \
             $(grep ' / / ' /proc/self/mountinfo | sed 's/.* - //' | cut -d' ' -f1); \
             echo initramfs-visible=$(ls /init /images 2>/dev/null | wc -l)",
        ],
    );
    b.assert_clean_exit(0);
    let (i, t) = b.line_ending("hi-from-vm").unwrap_or_else(|| panic!("no hi-from-vm: {}", b.show()));
    assert_eq!(b.lines.get(i + 1).map(|(_, l)| l.trim()), Some("vm1"), "hostname: {}", b.show());
    assert!(b.value("cmdline1").is_some_and(|c| !c.is_empty()), "/proc/1/cmdline: {}", b.show());
    // The sandbox's root is its overlay, and nothing of the initramfs shows inside.
    assert_eq!(b.value("root").as_deref(), Some("1 overlay"), "root mount: {}", b.show());
    assert_eq!(b.number("initramfs-visible"), 0, "{}", b.show());
    eprintln!(
        "vm_sandboxed_command: first output {:.2}s after vm.sh started, kernel uptime at the command {}s, \
         qemu exited after {:.2}s",
        t.as_secs_f64(),
        b.value("uptime").unwrap_or_default(),
        b.elapsed.as_secs_f64()
    );

    let b = boot("vm_sandboxed_exit_status", &["--lower", "/images/busybox", "--name", "vm3", "/bin/sh", "-c", "exit 3"]);
    b.assert_clean_exit(3);
}

#[test]
fn vm_init_only_reaps_orphans() {
    if !vm_ready() {
        return;
    }
    // 20 subshells that exit at once leave their sleep to PID 1, the machine's init; once all
    // are PID 1's, the shell kills them and waits until they are gone from /proc.
    let script = format!(
        "{ORPHANS}; orphans 20 1; echo adopted=$(sleeps 1 | wc -l); gone 1; \
         echo zombies=$(ps -o stat | grep -c Z); echo sleeping=$(ps -o comm | grep -cx sleep); \
         echo pid1=$(cat /proc/1/comm); echo cgroup2=$(grep -c ' /sys/fs/cgroup cgroup2 ' /proc/mounts); \
         echo init-only-done; exit 5"
    );
    let b = boot("vm_init_only_reaps_orphans", &["/bin/sh", "-c", &script]);
    b.assert_clean_exit(5);
    assert!(b.line_ending("init-only-done").is_some(), "{}", b.show());
    assert_eq!(b.number("adopted"), 20, "{}", b.show());
    assert_eq!(b.number("zombies"), 0, "orphans not reaped: {}", b.show());
    assert_eq!(b.number("sleeping"), 0, "{}", b.show());
    assert_eq!(b.number("cgroup2"), 1, "cgroup2 not at /sys/fs/cgroup: {}", b.show());
}

#[test]
fn vm_limits() {
    if !vm_ready() {
        return;
    }
    // Builtins only while the pids are at the limit: a shell that cannot fork gives up. The
    // sleeps outlast any boot (they are killed), and the busy loop at half a CPU runs until it
    // is throttled (or gives up after 300000 turns, for the assertion to show).
    let script = "echo pids_max=$(cat /sys/fs/cgroup/pids.max); echo memory_max=$(cat /sys/fs/cgroup/memory.max); \
        echo cpu_max=$(cat /sys/fs/cgroup/cpu.max); \
        sh -c 'for i in $(seq 50); do sleep 600 & done; wait'; echo bomb=$?; \
        set -- /proc/[0-9]*; echo procs=$#; \
        for p in /proc/[0-9]*; do read -r c < $p/comm && [ $c = sleep ] && kill ${p#/proc/}; done 2>/dev/null; \
        n=0; while set -- /proc/[0-9]*; [ $# -gt 3 ] && [ $n -lt 200000 ]; do n=$((n+1)); done; \
        while read -r k v; do echo pids_events_$k=$v; done < /sys/fs/cgroup/pids.events; \
        dd if=/dev/zero of=/dev/null bs=100M count=1; echo hog=$?; echo after-oom; \
        t=0; n=0; while [ $t = 0 ] && [ $n -lt 300000 ]; do n=$((n+1)); \
          while read -r k v; do [ $k = nr_throttled ] && t=$v; done < /sys/fs/cgroup/cpu.stat; done; \
        while read -r k v; do echo cpu_stat_$k=$v; done < /sys/fs/cgroup/cpu.stat";
    let b = boot(
        "vm_limits",
        &["--lower", "/images/busybox", "--name", "vm2", "--pids", "20", "--memory", "64M", "--cpus", "0.5", "/bin/sh", "-c", script],
    );
    b.assert_clean_exit(0);
    assert_eq!(b.value("pids_max").as_deref(), Some("20"), "{}", b.show());
    assert_eq!(b.value("memory_max").as_deref(), Some("67108864"), "{}", b.show());
    assert_eq!(b.value("cpu_max").as_deref(), Some("50000 100000"), "{}", b.show());
    // The fork bomb stopped at the limit.
    let text = b.text();
    assert!(text.contains("can't fork"), "no fork failed: {}", b.show());
    let procs = b.number("procs");
    assert!((10..=22).contains(&procs), "{procs} processes with pids.max 20: {}", b.show());
    assert!(b.number("pids_events_max") >= 1, "{}", b.show());
    // The memory hog was OOM-killed, the shell went on.
    assert_eq!(b.number("hog"), 137, "{}", b.show());
    let (hog, _) = b.line_ending("after-oom").unwrap_or_else(|| panic!("no after-oom: {}", b.show()));
    assert!(b.lines[..hog].iter().any(|(_, l)| l.contains("out of memory")), "no OOM kill: {}", b.show());
    // The busy loop at half a CPU was throttled.
    assert!(b.number("cpu_stat_nr_throttled") >= 1, "not throttled: {}", b.show());
}

#[test]
fn vm_sandbox_is_pivoted_not_chrooted() {
    if !vm_ready() {
        return;
    }
    // The initramfs root cannot be pivot_root'ed away from; the sandbox must still be, and a
    // chroot escape from inside (chroot, climb "..", chroot) must not reach /images of the VM.
    let extra = format!("{}:/probe", probe().display());
    let b = boot_with(
        "vm_sandbox_is_pivoted_not_chrooted",
        &["--lower", "/images/busybox", "--name", "vm3", "--ro-bind", "/probe:/probe", "/probe", "escape", "/images"],
        &extra,
    );
    b.assert_clean_exit(0);
    assert!(b.line_ending("escape contained").is_some(), "{}", b.show());
    assert!(b.line_ending("escape ESCAPED").is_none(), "{}", b.show());
}

#[test]
fn vm_masks_refuse_writes() {
    if !vm_ready() {
        return;
    }
    // Debian's kernel has what this host's lacks: /proc/kcore and /proc/sysrq-trigger. A write to
    // the sysrq trigger reaching the kernel would print its help (h) on the console.
    let script = "for p in /proc/kcore /proc/sysrq-trigger /sys/firmware /proc/config.gz; do \
                  [ -e $p ] && echo exists=$p; done; \
                  echo h > /proc/sysrq-trigger && echo sysrq=written || echo sysrq=refused; \
                  echo kcore=$(wc -c < /proc/kcore); echo keys=$(wc -c < /proc/keys); \
                  echo x > /proc/kcore && echo kcore_write=written || echo kcore_write=refused; \
                  echo firmware=$(ls -A /sys/firmware | wc -l); \
                  touch /sys/firmware/x && echo firmware_write=written || echo firmware_write=refused; \
                  [ -e /proc/config.gz ] && echo config=$(wc -c < /proc/config.gz); echo masks-done";
    let b = boot("vm_masks_refuse_writes", &["--lower", "/images/busybox", "--name", "vm5", "/bin/sh", "-c", script]);
    b.assert_clean_exit(0);
    assert!(b.line_ending("masks-done").is_some(), "{}", b.show());
    let text = b.text();
    for p in ["/proc/kcore", "/proc/sysrq-trigger", "/sys/firmware"] {
        assert!(text.contains(&format!("exists={p}")), "the VM's kernel has no {p}: {}", b.show());
    }
    assert_eq!(b.value("sysrq").as_deref(), Some("refused"), "{}", b.show());
    assert!(!text.contains("sysrq: HELP"), "the write reached the kernel: {}", b.show());
    assert_eq!(b.number("kcore"), 0, "{}", b.show());
    assert_eq!(b.number("keys"), 0, "{}", b.show());
    assert_eq!(b.value("kcore_write").as_deref(), Some("refused"), "{}", b.show());
    assert_eq!(b.number("firmware"), 0, "{}", b.show());
    assert_eq!(b.value("firmware_write").as_deref(), Some("refused"), "{}", b.show());
    if text.contains("exists=/proc/config.gz") {
        assert_eq!(b.number("config"), 0, "{}", b.show());
    }
}

/// sandbox-oci on a cgroup v2 machine: the container in the cgroup its config names, with the
/// memory, pids and cpu limits of linux.resources, seen from inside (its cgroup namespace shows
/// its own cgroup at /sys/fs/cgroup) and enforced (a memory hog OOM-killed); the cgroup removed
/// after `run`.
#[test]
fn vm_oci_limits() {
    if !vm_ready() {
        return;
    }
    let inside = "echo pids_max=$(cat /sys/fs/cgroup/pids.max); echo memory_max=$(cat /sys/fs/cgroup/memory.max); \
        echo cpu_max=$(cat /sys/fs/cgroup/cpu.max); echo cpu_weight=$(cat /sys/fs/cgroup/cpu.weight); \
        echo own_cgroup=$(cat /proc/self/cgroup); \
        dd if=/dev/zero of=/dev/null bs=100M count=1; echo hog=$?; exit 3";
    let config = format!(
        r#"{{"ociVersion":"1.0.2","root":{{"path":"/images/busybox","readonly":true}},
  "process":{{"args":["sh","-c",{inside:?}],"env":["PATH=/bin:/sbin"],"cwd":"/","user":{{"uid":0,"gid":0}}}},
  "mounts":[{{"destination":"/proc","type":"proc","source":"proc"}},
    {{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","mode=755"]}},
    {{"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]}},
    {{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["nosuid","noexec","nodev","ro"]}}],
  "linux":{{"cgroupsPath":"/ocitest/c1",
    "resources":{{"memory":{{"limit":67108864}},"pids":{{"limit":20}},"cpu":{{"shares":512,"quota":50000,"period":100000}}}},
    "namespaces":[{{"type":"pid"}},{{"type":"mount"}},{{"type":"cgroup"}},{{"type":"ipc"}},{{"type":"uts"}}]}}}}"#
    );
    // A second container, detached, for update, pause and resume.
    let sleeper = config
        .replace(&format!("{inside:?}"), r#""sleep 1000""#)
        .replace("/ocitest/c1", "/ocitest/c2");
    let dir = std::env::temp_dir().join(format!("sandbox-vm-oci-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.json");
    fs::write(&file, config).unwrap();
    let file2 = dir.join("config2.json");
    fs::write(&file2, sleeper).unwrap();
    // The kernel's command line has no quotes to give: the script is a file.
    let script = r#"ln -s /init /run/sandbox-oci && /run/sandbox-oci --root /run/oci run --bundle /oci c1; echo oci_status=$?
echo cgroup_left=$(ls -d /sys/fs/cgroup/ocitest/c1 2>/dev/null | wc -l); echo state_left=$(ls /run/oci | wc -l)
o() { /run/sandbox-oci --root /run/oci "$@"; }; c=/sys/fs/cgroup/ocitest/c2
o run -d --bundle /oci2 c2; echo run_d=$?
echo '{"memory":{"limit":33554432},"pids":{"limit":30}}' | o update --resources - c2; echo update_file=$?
o update --cpu-quota 20000 --cpu-period 50000 c2; echo update_options=$?
echo upd_memory=$(cat $c/memory.max); echo upd_pids=$(cat $c/pids.max); echo upd_cpu=$(cat $c/cpu.max)
o pause c2; echo paused=$(o state c2 | grep -o '"status":"[a-z]*' | cut -d'"' -f4) frozen=$(grep frozen $c/cgroup.events)
o resume c2; echo resumed=$(o state c2 | grep -o '"status":"[a-z]*' | cut -d'"' -f4)
echo ps_lines=$(o ps c2 | wc -l); o delete -f c2; echo delete_f=$?
echo c2_left=$(ls -d $c 2>/dev/null | wc -l); echo state_left2=$(ls /run/oci | wc -l); echo oci-done
"#;
    let file3 = dir.join("test.sh");
    fs::write(&file3, script).unwrap();
    let extra = format!("{}:/oci/config.json {}:/oci2/config.json {}:/oci/test.sh", file.display(), file2.display(), file3.display());
    let b = boot_with("vm_oci_limits", &["/bin/sh", "/oci/test.sh"], &extra);
    let _ = fs::remove_dir_all(&dir);
    b.assert_clean_exit(0);
    assert!(b.line_ending("oci-done").is_some(), "{}", b.show());
    assert_eq!(b.value("pids_max").as_deref(), Some("20"), "{}", b.show());
    assert_eq!(b.value("memory_max").as_deref(), Some("67108864"), "{}", b.show());
    assert_eq!(b.value("cpu_max").as_deref(), Some("50000 100000"), "{}", b.show());
    // runc's conversion of shares to a weight: 1 + (512 - 2) * 9999 / 262142.
    assert_eq!(b.value("cpu_weight").as_deref(), Some("20"), "{}", b.show());
    assert_eq!(b.value("own_cgroup").as_deref(), Some("0::/"), "{}", b.show());
    assert_eq!(b.number("hog"), 137, "the memory hog was not killed: {}", b.show());
    assert_eq!(b.number("oci_status"), 3, "{}", b.show());
    assert_eq!(b.number("cgroup_left"), 0, "{}", b.show());
    assert_eq!(b.number("state_left"), 0, "{}", b.show());
    // update (a JSON object of linux.resources on stdin, as engines give it; runc's options),
    // pause and resume through the cgroup's freezer, ps, delete --force.
    assert_eq!(b.number("run_d"), 0, "{}", b.show());
    assert_eq!(b.number("update_file"), 0, "{}", b.show());
    assert_eq!(b.number("update_options"), 0, "{}", b.show());
    assert_eq!(b.value("upd_memory").as_deref(), Some("33554432"), "{}", b.show());
    assert_eq!(b.value("upd_pids").as_deref(), Some("30"), "{}", b.show());
    assert_eq!(b.value("upd_cpu").as_deref(), Some("20000 50000"), "{}", b.show());
    assert_eq!(b.value("paused").as_deref(), Some("paused frozen=frozen 1"), "{}", b.show());
    assert_eq!(b.value("resumed").as_deref(), Some("running"), "{}", b.show());
    assert_eq!(b.number("ps_lines"), 2, "{}", b.show());
    assert_eq!(b.number("delete_f"), 0, "{}", b.show());
    assert_eq!(b.number("c2_left"), 0, "{}", b.show());
    assert_eq!(b.number("state_left2"), 0, "{}", b.show());
}
