//! Interactive use in a real terminal (tmux): job control, Ctrl-C, Ctrl-Z, window size, exit
//! status, and the caller's terminal left as it was. Pipes pass data through untouched.

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

/// A tmux session running bash, driven by keys and read from the screen.
struct Term {
    session: String,
}

impl Term {
    fn new(tag: &str) -> Term {
        let session = format!("sbx-{tag}-{}", std::process::id());
        let st = Command::new("tmux")
            .args(["-L", &session, "-f", "/dev/null", "new-session", "-d", "-s", &session, "-x", "100", "-y", "30"])
            .args(["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "PS1=caller$ ", "bash", "--norc", "--noprofile"])
            .status()
            .expect("tmux is needed for the terminal tests");
        assert!(st.success(), "tmux new-session failed");
        let t = Term { session };
        t.tmux(&["set-option", "-t", &t.session, "remain-on-exit", "on"]);
        t.wait_for("caller$");
        // Stops of jobs are told at once, not at the next prompt (a read in the background
        // stops a job at any moment).
        t.line("set -b");
        t
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").args(["-L", &self.session]).args(args).output().expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut a = vec!["send-keys", "-t", &self.session];
        a.extend_from_slice(keys);
        self.tmux(&a);
    }

    /// Type a line and press Enter.
    fn line(&self, text: &str) {
        self.keys(&["-l", text]);
        self.keys(&["Enter"]);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", &self.session, "-S", "-200"])
    }

    /// Wait until the screen shows `text` `n` times or more.
    fn wait_count(&self, text: &str, n: usize) {
        let ok = wait_until(Duration::from_secs(120), || self.screen().matches(text).count() >= n);
        assert!(ok, "the screen never showed {text:?} {n} time(s):\n{}\n{}", self.screen(), self.processes());
    }

    fn wait_for(&self, text: &str) {
        self.wait_count(text, 1)
    }

    /// Wait until the job brought back with `fg` runs in the foreground: the terminal's
    /// foreground group is not the caller's shell's, and no process whose command line ends in
    /// `word` is stopped. What is typed earlier meets the caller's shell changing the
    /// terminal's modes.
    fn wait_running(&self, word: &str) {
        let shell: String = self.tmux(&["display-message", "-p", "-t", &self.session, "#{pane_pid}"]).trim().to_string();
        let ok = wait_until(Duration::from_secs(120), || {
            let out = Command::new("ps").args(["-eo", "pid,ppid,pgid,tpgid,stat,args"]).output().expect("ps");
            let all = String::from_utf8_lossy(&out.stdout).into_owned();
            let rows: Vec<Vec<&str>> = all.lines().map(|l| l.split_whitespace().collect()).filter(|r: &Vec<&str>| r.len() >= 6).collect();
            let fg_not_shell = rows.iter().any(|r| r[0] == shell && r[3] != r[2]);
            // The pane's shell's descendants only: other tests run beside this one.
            let mut mine = vec![shell.as_str()];
            let mut i = 0;
            while i < mine.len() {
                let p = mine[i];
                mine.extend(rows.iter().filter(|r| r[1] == p).map(|r| r[0]));
                i += 1;
            }
            let named: Vec<_> = rows.iter().filter(|r| mine.contains(&r[0]) && r.last() == Some(&word)).collect();
            fg_not_shell && !named.is_empty() && named.iter().all(|r| !r[4].starts_with('T'))
        });
        assert!(ok, "the job never ran in the foreground again:\n{}\n{}", self.screen(), self.processes());
    }

    /// The processes of the pane's session and of the sandboxes it started, for a failure.
    fn processes(&self) -> String {
        let pane = self.tmux(&["display-message", "-p", "-t", &self.session, "#{pane_pid}"]);
        let out = Command::new("ps").args(["-eo", "pid,ppid,pgid,sid,tpgid,stat,wchan:24,tty,args"]).output().expect("ps");
        let all = String::from_utf8_lossy(&out.stdout).into_owned();
        let sid = pane.trim();
        let mut lines: Vec<&str> = all.lines().take(1).collect();
        lines.extend(all.lines().filter(|l| l.split_whitespace().nth(3) == Some(sid) || l.contains("memfd:sandbox")));
        lines.join("\n")
    }

    /// Send `keys` that end what runs in the foreground, and wait until the caller's shell
    /// prompts again. What is typed before sandbox has ended goes to the sandbox's terminal, as
    /// with ssh: a test types on only after the prompt.
    fn ending(&self, keys: &[&str]) {
        let n = self.screen().matches("caller$").count();
        self.keys(keys);
        self.wait_count("caller$", n + 1);
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.session, "kill-server"]).status();
    }
}

/// Drive a busybox sh started by `launch` (a command line typed at the caller's bash prompt)
/// through every interactive point, end it with `exit 5`, and check the caller's terminal after.
fn interactive(t: &Term, launch: &str, prompt: &str) {
    t.line("stty -g > /tmp/sbx-tty-before-$$; echo ready");
    t.wait_for("ready");
    t.line(launch);
    t.wait_for(prompt);
    let s = t.screen();
    assert!(!s.contains("job control turned off") && !s.contains("can't access tty"), "{s}");

    // Background jobs.
    t.line("sleep 30 &");
    t.line("jobs");
    t.wait_for("Running");
    t.line("kill %1");
    // The shell learns of the end when it reaps the job: ask until it has.
    let ended = wait_until(Duration::from_secs(120), || {
        t.line("jobs");
        std::thread::sleep(Duration::from_millis(100));
        t.screen().contains("Terminated")
    });
    assert!(ended, "the background job never ended:\n{}", t.screen());

    // Ctrl-C ends the foreground job, not the sandbox. Each job says it is up first.
    t.line("sh -c 'echo int-up; exec sleep 20'");
    t.wait_count("int-up", 2);
    t.keys(&["C-c"]);
    t.line("echo status=$?");
    t.wait_for("status=130");

    // Ctrl-Z stops it, fg resumes it, Ctrl-C ends it.
    t.line("sh -c 'echo stop-up; exec sleep 20'");
    t.wait_count("stop-up", 2);
    t.keys(&["C-z"]);
    t.wait_for("Stopped");
    let n = t.screen().matches("exec sleep 20").count();
    t.line("fg");
    t.wait_count("exec sleep 20", n + 1);
    t.keys(&["C-c"]);
    t.line("echo again=$?");
    t.wait_for("again=130");

    // The window size, and its changes (asked again until the change has arrived).
    t.line("stty size");
    t.wait_for("30 100");
    t.tmux(&["resize-window", "-t", &t.session, "-x", "120", "-y", "40"]);
    let resized = wait_until(Duration::from_secs(60), || {
        t.line("stty size");
        std::thread::sleep(Duration::from_millis(100));
        t.screen().contains("40 120")
    });
    assert!(resized, "the window size never reached the command:\n{}", t.screen());

    // exit 5 ends the sandbox with 5; the caller's shell gets its terminal back as it was.
    t.ending(&["exit 5", "Enter"]);
    t.line("echo rc=$?");
    t.wait_for("rc=5");
    t.line("stty -g | cmp -s - /tmp/sbx-tty-before-$$ && echo modes-same; rm -f /tmp/sbx-tty-before-$$");
    t.wait_for("modes-same");
    t.line("test \"$(ps -o tpgid= -p $$)\" -eq \"$(ps -o pgid= -p $$)\" && echo caller-foreground");
    t.wait_for("caller-foreground");
    // The caller's shell still reads its terminal normally.
    t.line("read x; echo got-$x");
    t.line("abc");
    t.wait_for("got-abc");
}

#[test]
fn a_shell_in_a_sandbox_behaves_like_a_local_shell() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("tty");
    let t = Term::new("tty");
    let launch = format!(
        "{BIN} --lower {IMAGE} --name {} --state-dir {} -- sh",
        f.name("a"),
        f.state.display()
    );
    interactive(&t, &launch, "/ #");
    f.finish();
}

#[test]
fn a_shell_in_init_only_mode_behaves_like_a_local_shell() {
    let t = Term::new("tty-init");
    // The image's busybox run on the host, as the child of sandbox's init.
    let launch = format!("PS1='inner# ' {BIN} -- {IMAGE}/bin/busybox sh");
    interactive(&t, &launch, "inner#");
}

/// Ctrl-Z on a command that is not a shell stops the whole job: the caller's shell says
/// "Stopped" and gets its terminal back; `fg` resumes the command with the terminal.
fn stop_and_resume(t: &Term, launch: &str, tag: &str) {
    // The command says it is up, then becomes `sleep` (the sandbox's command is not a shell).
    t.line(&format!("{launch} sh -c 'echo {tag}-up; exec sleep 30'"));
    t.wait_count(&format!("{tag}-up"), 2);
    t.ending(&["C-z"]);
    t.line(&format!("jobs; echo {tag}-stopped"));
    t.wait_count(&format!("{tag}-stopped"), 2);
    let s = t.screen();
    assert!(s.contains("Stopped"), "{s}");
    // bash names the job it brings back once it has.
    let n = t.screen().matches("exec sleep 30").count();
    t.line("fg");
    t.wait_count("exec sleep 30", n + 1);
    t.ending(&["C-c"]);
    t.line(&format!("echo {tag}-rc=$?"));
    t.wait_for(&format!("{tag}-rc=130"));
}

#[test]
fn ctrl_z_on_a_command_stops_the_job_and_fg_resumes_it() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("tty-stop");
    let t = Term::new("tty-stop");
    let launch = format!("{BIN} --lower {IMAGE} --name {} --state-dir {} --", f.name("a"), f.state.display());
    stop_and_resume(&t, &launch, "sandboxed");
    stop_and_resume(&t, &format!("PATH={IMAGE}/bin:$PATH {BIN} --"), "init-only");
    f.finish();
}

/// Ctrl-Z/fg cycles of the reading test.
const CYCLES: usize = 12;

/// CPU-bound processes, killed when dropped.
struct Busy(Vec<std::process::Child>);

impl Busy {
    fn new(n: usize) -> Busy {
        Busy((0..n).map(|_| Command::new("sh").args(["-c", "while :; do :; done"]).spawn().expect("sh")).collect())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A command that reads the terminal (`cat`), stopped with Ctrl-Z and brought back with `fg`,
/// again and again: each time it must read what is typed next, not be stopped again by SIGTTIN
/// because it was continued before the terminal was its own. Then `bg` and `fg`: a command
/// stopped by SIGTTIN in the background reads once it is in the foreground.
fn read_after_fg(t: &Term, launch: &str, tag: &str, typeahead: bool) {
    t.line(launch);
    t.wait_running("cat");
    t.line(&format!("{tag}-first"));
    t.wait_count(&format!("{tag}-first"), 2);
    for i in 0..CYCLES {
        t.keys(&["C-z"]);
        t.wait_count("Stopped", i + 1);
        t.line("fg");
        if !typeahead {
            t.wait_running("cat");
        }
        t.line(&format!("{tag}-again-{i}"));
        // The typed line echoed by the terminal and written back by cat.
        t.wait_count(&format!("{tag}-again-{i}"), 2);
    }
    t.keys(&["C-z"]);
    t.wait_count("Stopped", CYCLES + 1);
    t.line("bg");
    // cat reads in the background: SIGTTIN stops it, and the job with it.
    t.line(&format!("echo {tag}-in-bg"));
    t.wait_count(&format!("{tag}-in-bg"), 2);
    t.wait_count("Stopped", CYCLES + 2);
    t.line("fg");
    if !typeahead {
        t.wait_running("cat");
    }
    t.line(&format!("{tag}-back"));
    t.wait_count(&format!("{tag}-back"), 2);
    t.ending(&["C-d"]);
    t.line(&format!("echo {tag}-rc=$?"));
    t.wait_for(&format!("{tag}-rc=0"));
    let s = t.screen();
    assert_eq!(s.matches("Stopped").count(), CYCLES + 2, "stopped again after fg:\n{s}");
}

#[test]
fn a_reading_command_reads_after_each_fg() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("tty-fg");
    // Busy CPUs beside it, where a lost wake-up shows.
    let _busy = Busy::new(4);
    let t = Term::new("tty-fg");
    // In a sandbox the line is typed at once after `fg`: the caller's terminal keeps it until
    // the outer process relays it, and the command reads it from its own terminal, which it
    // never loses. Without a sandbox the caller's shell itself changes the terminal's modes
    // after `fg`, and what is typed before that may be lost: typed once the job runs.
    read_after_fg(&t, &format!("{BIN} --lower {IMAGE} --name {} --state-dir {} -- cat", f.name("a"), f.state.display()), "sbx", true);
    let t = Term::new("tty-fg2");
    read_after_fg(&t, &format!("{BIN} -- {IMAGE}/bin/busybox cat"), "ini", false);
    f.finish();
}

#[test]
fn bg_after_ctrl_z_keeps_the_callers_shell_and_a_piped_command_reads_the_terminal() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("tty-bg");
    let t = Term::new("tty-bg");
    t.line(&format!("{BIN} --lower {IMAGE} --name {} --state-dir {} -- sh -c 'echo bg-up; exec sleep 2'", f.name("a"), f.state.display()));
    t.wait_count("bg-up", 2);
    t.keys(&["C-z"]);
    t.wait_for("Stopped");
    t.line("bg");
    t.line("wait; echo shell-still-here");
    t.wait_count("shell-still-here", 2);
    // Without the terminal (stdin is a pipe) the command can still open it and read.
    t.line(&format!(
        "echo x | {BIN} --lower {IMAGE} --name {} --state-dir {} -- sh -c 'read a </dev/tty; echo got-$a'",
        f.name("b"),
        f.state.display()
    ));
    t.ending(&["typed", "Enter"]);
    t.wait_for("got-typed");
    t.line("echo after-rc=$?");
    t.wait_for("after-rc=0");
    f.finish();
}

#[test]
fn the_exit_status_reaches_a_terminal_that_runs_sandbox_directly() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("tty-dead");
    let session = format!("sbx-dead-{}", std::process::id());
    let cmd = format!(
        "{BIN} --lower {IMAGE} --name {} --state-dir {} -- sh -c 'sleep 0.5; exit 7'",
        f.name("a"),
        f.state.display()
    );
    // The pane keeps its dead process's status: remain-on-exit is set while the pane's shell
    // waits, before it runs sandbox, and the shell ends with sandbox's status. A background
    // sleep holds the terminal a little longer: tmux 3.3 records no status for a pane whose
    // terminal closes before its process is reaped (it happens with plain sh too, 7 times in
    // 20). The sleep ignores SIGHUP, which the kernel sends to the terminal's foreground group
    // when the pane's session leader exits; without that it dies at once and closes the terminal.
    let tmux = |args: &[&str]| {
        let st = Command::new("tmux").args(["-L", &session, "-f", "/dev/null"]).args(args).status().unwrap();
        assert!(st.success(), "tmux {args:?}");
    };
    let pane = format!("(trap '' HUP; sleep 8 &); sleep 1; {cmd}");
    tmux(&["new-session", "-d", "-s", &session, "-x", "80", "-y", "24", "sh", "-c", &pane]);
    tmux(&["set-option", "-g", "remain-on-exit", "on"]);
    let status = || {
        let o = Command::new("tmux").args(["-L", &session, "display-message", "-p", "-t", &session, "#{pane_dead} #{pane_dead_status} #{pane_dead_signal}"]).output().unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert!(wait_until(Duration::from_secs(10), || status().starts_with("1 ")), "{}", status());
    assert_eq!(status(), "1 7", "dead, status, signal");
    let _ = Command::new("tmux").args(["-L", &session, "kill-server"]).status();
    f.finish();
}

fn lines(n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..n {
        v.extend_from_slice(format!("line {i} of the input, with some text to make it longer\n").as_bytes());
    }
    v
}

#[test]
fn pipes_pass_data_through_unchanged() {
    if !require_root() {
        return;
    }
    let f = Fixture::new("pipes");
    let input = lines(200_000);
    let mut c = f.cmd(&f.name("a"), &[], &["sh", "-c", "cat; echo to-stderr >&2"]);
    c.env("TERM", "dumb");
    let out = run_cmd(c, &input);
    out.expect(0);
    assert_eq!(out.stdout.len(), input.len());
    assert!(out.stdout.as_bytes() == &input[..], "stdout differs from the input");
    assert_eq!(out.stdout.lines().count(), 200_000);
    assert_eq!(out.stderr, "to-stderr\n");
    f.finish();
}

#[test]
fn pipes_pass_data_through_unchanged_in_init_only_mode() {
    let input = lines(200_000);
    let mut c = sandbox_cmd();
    c.args(["--", "sh", "-c", "cat; echo to-stderr >&2"]);
    let out = run_cmd(c, &input);
    out.expect(0);
    assert!(out.stdout.as_bytes() == &input[..], "stdout differs from the input");
    assert_eq!(out.stderr, "to-stderr\n");
}
