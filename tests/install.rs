//! `just install`: what it puts where, with which modes, into a DESTDIR (as packagers do) and
//! into a PREFIX of a user's own (uid 65534 when run as root); the man page renders with no
//! warning and has every option that `--help` prints; the bash completion offers every option of
//! `--help`, and after each option the values it takes (directories, files, sandbox names,
//! signals, capabilities).
//!
//! Needs `just`, `man` (man-db), `bash` and bash-completion; a missing one is a skip, and under
//! CI=true a failure.
mod common;

use common::*;
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const NOBODY: u32 = 65534;

/// Whether `tool` is on PATH. Missing: say so and return false (the test returns early); under
/// CI=true a skip is a failure.
fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", "command -v \"$0\" >/dev/null", tool])
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return true;
    }
    skip(&format!("this test needs {tool}, which is not installed"))
}

/// Whether `path` exists, else the same as `have` for the package that has it.
fn have_file(path: &str, package: &str) -> bool {
    if Path::new(path).exists() {
        return true;
    }
    skip(&format!("this check needs {path} (package {package}), which is not installed"))
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).mode() & 0o7777
}

/// Every option that `sandbox --help` names: the `--xxx` words anywhere in it, and `-h`, `-V`.
fn help_options() -> BTreeSet<String> {
    let out = run(&["--help"], b"").expect(0).stdout.clone();
    let mut opts = BTreeSet::new();
    for word in out.split(|c: char| c.is_whitespace() || ",|[]()".contains(c)) {
        if let Some(rest) = word.strip_prefix("--") {
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
            if name.starts_with(|c: char| c.is_ascii_alphabetic()) {
                opts.insert(format!("--{name}"));
            }
        } else if word == "-h" || word == "-V" {
            opts.insert(word.to_string());
        }
    }
    for o in ["--lower", "--name", "--help", "--version", "-h", "-V"] {
        assert!(opts.contains(o), "--help does not name {o}; parsed: {opts:?}");
    }
    opts
}

/// The capability names sandbox knows (src/caps.rs, NAMES: a word list, `\` ending its lines).
fn cap_names() -> BTreeSet<String> {
    let src = fs::read_to_string(format!("{MANIFEST_DIR}/src/caps.rs")).unwrap();
    let start = src.find("pub const NAMES").expect("NAMES in caps.rs");
    let start = start + src[start..].find("b\"").unwrap() + 2;
    let list = &src[start..start + src[start..].find('"').unwrap()];
    let names: BTreeSet<String> = list.split(|c: char| c.is_whitespace() || c == '\\').filter(|w| !w.is_empty()).map(str::to_string).collect();
    assert!(names.len() > 30 && names.contains("SYS_ADMIN"), "NAMES of caps.rs not read: {names:?}");
    names
}

/// The path of the `just` that runs (PATH may hold a wrapper that another user cannot run).
fn just_executable(f: &Fixture) -> PathBuf {
    let jf = f.path("exe.just");
    fs::write(&jf, "exe := just_executable()\n").unwrap();
    let out = Command::new("just").arg("--justfile").arg(&jf).args(["--evaluate", "exe"]).output().unwrap();
    assert!(out.status.success(), "just --evaluate: {}", String::from_utf8_lossy(&out.stderr));
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A copy of the built binary in `<dir>/sandbox`, with the `sandbox-oci` link beside it if `oci`:
/// what `just build` leaves in target/.
fn built(dir: &Path, oci: bool) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let bin = dir.join("sandbox");
    fs::copy(BIN, &bin).unwrap();
    if oci {
        symlink("sandbox", dir.join("sandbox-oci")).unwrap();
    }
    bin
}

/// `just install` of the project's Justfile (its dependency, build, not run: the binary is the
/// one `bin` names), with `args` before the recipe's name.
fn just_install(just: &Path, justfile: &Path, bin: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(just);
    c.arg("--justfile").arg(justfile).args(["--no-deps", "--set", "bin"]).arg(bin).args(args).arg("install");
    c.env_remove("DESTDIR").env_remove("PREFIX");
    c.stdin(Stdio::null());
    c
}

fn ok(mut c: Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What must be under `root` (DESTDIR+PREFIX) after an install, each file a copy of its source.
fn assert_installed(root: &Path, oci: bool, owner: u32) {
    let bin = root.join("bin/sandbox");
    assert!(fs::symlink_metadata(&bin).unwrap().is_file(), "{}: not a regular file", bin.display());
    assert_eq!(mode(&bin), 0o755, "{}", bin.display());
    assert_eq!(fs::read(&bin).unwrap(), fs::read(BIN).unwrap(), "{} differs from the binary", bin.display());
    let oci_link = root.join("bin/sandbox-oci");
    if oci {
        let meta = fs::symlink_metadata(&oci_link).unwrap();
        assert!(meta.file_type().is_symlink(), "{}: not a symlink", oci_link.display());
        assert_eq!(fs::read_link(&oci_link).unwrap(), Path::new("sandbox"), "the link is relative, to sandbox");
    } else {
        assert!(fs::symlink_metadata(&oci_link).is_err(), "{} installed though the build made none", oci_link.display());
    }
    for (path, src) in [
        ("share/man/man1/sandbox.1", "src/sandbox.1"),
        ("share/bash-completion/completions/sandbox", "src/sandbox.bash"),
    ] {
        let p = root.join(path);
        assert!(fs::symlink_metadata(&p).unwrap().is_file(), "{}: not a regular file", p.display());
        assert_eq!(mode(&p), 0o644, "{}", p.display());
        assert_eq!(fs::read(&p).unwrap(), fs::read(format!("{MANIFEST_DIR}/{src}")).unwrap(), "{path} differs from {src}");
    }
    for p in [&bin, &root.join("share/man/man1/sandbox.1"), &root.join("share/bash-completion/completions/sandbox")] {
        assert_eq!(fs::metadata(p).unwrap().uid(), owner, "{}: owner", p.display());
    }
}

#[test]
fn install_into_destdir() {
    if !have("just") {
        return;
    }
    let f = Fixture::new("install-destdir");
    let just = just_executable(&f);
    let justfile = PathBuf::from(format!("{MANIFEST_DIR}/Justfile"));
    let bin = built(&f.path("build"), true);
    let dest = f.path("dest");
    let owner = fs::metadata(&f.dir).unwrap().uid();

    // DESTDIR and PREFIX from the environment, with a umask that would make directories private:
    // the directories made are 0755 all the same.
    let mut c = Command::new("sh");
    c.args(["-c", "umask 077; exec \"$@\"", "sh"]);
    let inner = just_install(&just, &justfile, &bin, &[]);
    c.arg(inner.get_program()).args(inner.get_args());
    c.env("DESTDIR", &dest).env("PREFIX", "/usr");
    ok(c);
    let root = dest.join("usr");
    assert_installed(&root, true, owner);
    for d in ["", "bin", "share", "share/man", "share/man/man1", "share/bash-completion", "share/bash-completion/completions"] {
        assert_eq!(mode(&root.join(d)), 0o755, "{}/{d}: mode", root.display());
    }

    // Again over the installed files (an upgrade): the same result.
    let mut c = just_install(&just, &justfile, &bin, &[]);
    c.env("DESTDIR", &dest).env("PREFIX", "/usr");
    ok(c);
    assert_installed(&root, true, owner);

    // Variables on just's command line; no sandbox-oci link in the build, so none installed; an
    // existing PREFIX keeps its mode.
    let bin2 = built(&f.path("build2"), false);
    let dest2 = f.path("dest2");
    fs::create_dir_all(dest2.join("opt/s")).unwrap();
    fs::set_permissions(dest2.join("opt/s"), fs::Permissions::from_mode(0o700)).unwrap();
    let d2 = format!("DESTDIR={}", dest2.display());
    ok(just_install(&just, &justfile, &bin2, &[&d2, "PREFIX=/opt/s"]));
    assert_installed(&dest2.join("opt/s"), false, owner);
    assert_eq!(mode(&dest2.join("opt/s")), 0o700, "an existing PREFIX keeps its mode");

    // bash-completion finds the installed file by itself, through XDG_DATA_DIRS.
    if have("bash") && have_file("/usr/share/bash-completion/bash_completion", "bash-completion") {
        let script = "source /usr/share/bash-completion/bash_completion; __load_completion sandbox; \
                      complete -p sandbox; shopt -s extdebug; declare -F _sandbox";
        let mut c = Command::new("bash");
        c.args(["--norc", "--noprofile", "-c", script]).env("XDG_DATA_DIRS", root.join("share"));
        c.env("HOME", &f.dir).env_remove("BASH_COMPLETION_USER_DIR").env_remove("XDG_DATA_HOME");
        let out = ok(c);
        let want = root.join("share/bash-completion/completions/sandbox");
        assert!(out.starts_with("complete -F _sandbox sandbox\n"), "bash-completion did not load it: {out}");
        assert!(out.trim_end().ends_with(&*want.to_string_lossy()), "loaded from elsewhere than {}: {out}", want.display());
    }
    f.finish();
}

/// A user other than root installs into a PREFIX of their own (as root the test is uid 65534;
/// otherwise the caller itself), and is refused one they cannot write, where nothing is made.
#[test]
fn install_as_user_into_own_prefix() {
    if !have("just") {
        return;
    }
    let f = Fixture::new("install-user");
    let just = just_executable(&f);
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { geteuid() } == 0;
    // The user's copy of what it needs: just, the Justfile, the files it installs, the build.
    let tree = f.path("tree");
    fs::create_dir_all(tree.join("src")).unwrap();
    for p in ["Justfile", "src/sandbox.1", "src/sandbox.bash"] {
        fs::copy(format!("{MANIFEST_DIR}/{p}"), tree.join(p)).unwrap();
    }
    fs::copy(&just, tree.join("just")).unwrap();
    let bin = built(&tree.join("build"), true);
    let prefix = f.path("home/.local");
    fs::create_dir_all(&prefix).unwrap();
    fs::set_permissions(&prefix, fs::Permissions::from_mode(0o700)).unwrap();
    let theirs = f.path("theirs");
    fs::create_dir(&theirs).unwrap();
    fs::set_permissions(&theirs, fs::Permissions::from_mode(0o755)).unwrap();
    let user = if root {
        for p in [f.dir.clone(), tree.clone(), tree.join("src"), tree.join("build"), f.path("home"), prefix.clone()] {
            std::os::unix::fs::chown(&p, Some(NOBODY), Some(NOBODY)).unwrap();
        }
        NOBODY
    } else {
        // `theirs` must not be the caller's: a directory of root's that the caller cannot write.
        fs::remove_dir(&theirs).unwrap();
        fs::metadata(&f.dir).unwrap().uid()
    };
    let as_user = |prefix: &Path| {
        let mut c = if root {
            let mut c = Command::new("setpriv");
            c.args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "--"]);
            c.arg(tree.join("just"));
            c
        } else {
            Command::new(tree.join("just"))
        };
        let inner = just_install(&just, &tree.join("Justfile"), &bin, &[]);
        c.args(inner.get_args());
        c.env_remove("DESTDIR").env("PREFIX", prefix).env("HOME", f.path("home")).current_dir("/");
        c.stdin(Stdio::null());
        c
    };
    ok(as_user(&prefix));
    assert_installed(&prefix, true, user);
    assert_eq!(mode(&prefix), 0o700, "the user's PREFIX keeps its mode");

    let theirs = if root { theirs } else { PathBuf::from("/usr/lib/sandbox-test-install-not-writable") };
    if root || !theirs.exists() {
        let out = as_user(&theirs).output().unwrap();
        assert!(!out.status.success(), "install into a PREFIX the user cannot write succeeded");
        if root {
            assert!(listing(&theirs).is_empty(), "made in a PREFIX the user cannot write: {:?}", listing(&theirs));
        }
    }
    f.finish();
}

extern "C" {
    fn geteuid() -> u32;
}

/// The sections of a rendered man page: each heading (a line at column 0) with its lines.
fn sections(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if !line.is_empty() && !line.starts_with(' ') {
            out.push((line.trim().to_string(), Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push(line.to_string());
        }
    }
    out
}

#[test]
fn man_page_renders_every_option_of_help() {
    if !have("man") {
        return;
    }
    let page = format!("{MANIFEST_DIR}/src/sandbox.1");
    let mut c = Command::new("man");
    c.args(["--warnings", "-l", &page]);
    c.env("MANWIDTH", "80").env("LC_ALL", "C.UTF-8").env("MANPAGER", "cat").env("PAGER", "cat");
    c.env_remove("MANOPT").env_remove("MAN_KEEP_FORMATTING");
    let out = c.output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "man -l failed: {err}");
    assert!(err.trim().is_empty(), "man -l warns: {err}");
    assert!(!text.contains('\u{8}'), "man's output has overstrikes: a pager or terminal crept in");

    let secs = sections(&text);
    let names: Vec<&str> = secs.iter().map(|s| s.0.as_str()).collect();
    for want in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"] {
        assert!(names.contains(&want), "no section {want}; sections: {names:?}");
    }
    let body = |name: &str| secs.iter().find(|s| s.0 == name).unwrap().1.join("\n");

    // Every option of --help is an entry of OPTIONS: a tag line after a blank one (not a wrapped
    // line of text), "       --opt ARG" or "       -h, --help".
    let mut tags = BTreeSet::new();
    let options = &secs.iter().find(|s| s.0 == "OPTIONS").unwrap().1;
    for (i, line) in options.iter().enumerate() {
        let Some(tag) = line.strip_prefix("       ") else { continue };
        if !tag.starts_with('-') || (i > 0 && !options[i - 1].trim().is_empty()) {
            continue;
        }
        for piece in tag.split(", ") {
            tags.insert(piece.split_whitespace().next().unwrap_or("").to_string());
        }
    }
    let help = help_options();
    for o in &help {
        assert!(tags.contains(o), "the man page's OPTIONS has no entry {o}; entries: {tags:?}");
    }
    let synopsis = body("SYNOPSIS");
    for form in ["sandbox --lower", "sandbox [--timings] [--] COMMAND", "sandbox-oci"] {
        assert!(synopsis.contains(form), "SYNOPSIS lacks {form:?}:\n{synopsis}");
    }
    for o in ["--join", "--list", "--remove", "--stop"] {
        assert!(synopsis.contains(&format!("sandbox {o}")), "SYNOPSIS lacks the {o} form:\n{synopsis}");
    }
    let env = body("ENVIRONMENT");
    for v in ["SANDBOX_STATE_DIR", "XDG_RUNTIME_DIR"] {
        assert!(env.contains(v), "ENVIRONMENT lacks {v}");
    }
    assert!(body("FILES").contains("/run/sandbox"), "FILES lacks the state directory");
    for s in ["125", "126", "127", "128+N"] {
        assert!(body("EXIT STATUS").contains(s), "EXIT STATUS lacks {s}");
    }

    // groff's own check, all warnings on, where groff is.
    if Command::new("sh").args(["-c", "command -v groff >/dev/null"]).status().is_ok_and(|s| s.success()) {
        let out = Command::new("groff").args(["-man", "-Tutf8", "-ww", "-z", &page]).output().unwrap();
        assert!(out.status.success());
        let all = [out.stdout, out.stderr].concat();
        assert!(all.is_empty(), "groff -ww warns: {}", String::from_utf8_lossy(&all));
    }
}

/// What the completion offers for each command line (the last word is the one completed), one
/// sorted set per line, from a bash that sourced src/sandbox.bash alone.
fn complete(env: &[(&str, &Path)], lines: &[Vec<String>]) -> Vec<BTreeSet<String>> {
    let mut script = String::from(
        "source \"$COMPLETION\"\n\
         c() { COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); COMP_LINE=\"$*\"; COMP_POINT=${#COMP_LINE}; \
         COMPREPLY=(); _sandbox; printf '%s\\t' \"${COMPREPLY[@]}\"; echo; }\n\
         complete -p sandbox\n",
    );
    for words in lines {
        script.push('c');
        for w in words {
            script.push_str(" '");
            script.push_str(&w.replace('\'', "'\\''"));
            script.push('\'');
        }
        script.push('\n');
    }
    let mut c = Command::new("bash");
    c.args(["--norc", "--noprofile", "-c", &script]);
    c.env("COMPLETION", format!("{MANIFEST_DIR}/src/sandbox.bash")).env_remove("SANDBOX_STATE_DIR");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = ok(c);
    let mut rows = out.lines();
    assert_eq!(rows.next(), Some("complete -F _sandbox sandbox"), "the completion is not registered: {out}");
    let sets: Vec<BTreeSet<String>> =
        rows.map(|r| r.split('\t').filter(|s| !s.is_empty()).map(String::from).collect()).collect();
    assert_eq!(sets.len(), lines.len(), "one answer per line: {out}");
    sets
}

fn words(w: &[&str]) -> Vec<String> {
    std::iter::once("sandbox").chain(w.iter().copied()).map(String::from).collect()
}

fn set<S: AsRef<str>>(w: &[S]) -> BTreeSet<String> {
    w.iter().map(|s| s.as_ref().to_string()).collect()
}

#[test]
fn completion_offers_every_option_and_its_values() {
    if !have("bash") {
        return;
    }
    let f = Fixture::new("install-completion");
    let st = f.path("st");
    for d in ["alpha", "beta.2", "bad name"] {
        fs::create_dir_all(st.join(d)).unwrap();
    }
    fs::write(st.join("afile"), "").unwrap();
    let pick = f.path("pick");
    fs::create_dir_all(pick.join("dir1")).unwrap();
    fs::write(pick.join("file1"), "").unwrap();
    let st_s = st.to_string_lossy().into_owned();
    let p = format!("{}/", pick.display());
    let (d1, f1) = (format!("{p}dir1"), format!("{p}file1"));

    let cases: Vec<(Vec<String>, BTreeSet<String>)> = vec![
        (words(&["--net", ""]), set(&["none", "host"])),
        (words(&["--net", "=", "h"]), set(&["host"])),
        (words(&["--cap-drop", "sys_ad"]), set(&["SYS_ADMIN"])),
        (words(&["--cap-add", "CAP_SYS_AD"]), set(&["CAP_SYS_ADMIN"])),
        (words(&["--signal", "TE"]), set(&["TERM"])),
        (words(&["--signal", "SIGKI"]), set(&["SIGKILL"])),
        (words(&["--state-dir", &st_s, "--join", ""]), set(&["alpha", "beta.2"])),
        (words(&["--state-dir", &st_s, "--name", ""]), set(&["alpha", "beta.2"])),
        (words(&["--state-dir", "=", &st_s, "--remove", "a"]), set(&["alpha"])),
        (words(&["--state-dir", &st_s, "--stop", "b"]), set(&["beta.2"])),
        (words(&["--lower", &p]), set(&[&d1])),
        (words(&["--state-dir", &p]), set(&[&d1])),
        (words(&["--cwd", &p]), set(&[&d1])),
        (words(&["--bind", &p]), set(&[&d1, &f1])),
        (words(&["--ro-bind", &p]), set(&[&d1, &f1])),
        (words(&["--dev-bind", &p]), set(&[&d1, &f1])),
        (words(&["--device", &p]), set(&[&d1, &f1])),
        // After the `:` of SRC:DST and the `=` of KEY=VALUE: nothing.
        (words(&["--bind", &f1, ":", ""]), set::<&str>(&[])),
        (words(&["--env", "A", "=", ""]), set::<&str>(&[])),
        // The options go on after a value split at `:`.
        (words(&["--bind", &f1, ":", "/x", "--ke"]), set(&["--keep"])),
        // The command: after `--`, or the first word that is not an option; then its arguments.
        (words(&["--lower", "x", "--name", "y", "--", "bas"]), set(&["bash", "basename"])),
        (words(&["--keep", "echo", &p]), set(&[&d1, &f1])),
    ];
    let mut lines: Vec<Vec<String>> = cases.iter().map(|c| c.0.clone()).collect();
    lines.push(words(&["-"]));
    lines.push(words(&["--cap-add", ""]));
    lines.push(words(&["--stop", ""]));
    let got = complete(&[("SANDBOX_STATE_DIR", &st)], &lines);

    for ((line, want), got) in cases.iter().zip(&got) {
        if line.last().unwrap() == "bas" {
            // Whatever else PATH holds, these are there (coreutils, bash).
            assert!(want.is_subset(got), "{line:?}: offered {got:?}, want at least {want:?}");
        } else {
            assert_eq!(got, want, "{line:?}");
        }
    }
    let n = cases.len();
    let options = &got[n];
    for o in help_options().iter().filter(|o| o.starts_with("--")) {
        assert!(options.contains(o), "the completion does not offer {o}; it offers {options:?}");
    }
    for o in ["--join", "--list", "--json", "--remove", "--stop", "--signal", "--user", "--dev-bind", "--device", "--tmpfs", "--read-only"] {
        assert!(options.contains(o), "the completion does not offer {o}");
    }
    let mut caps = cap_names();
    caps.insert("all".into());
    assert_eq!(got[n + 1], caps, "capabilities offered against src/caps.rs's names and all");
    assert_eq!(got[n + 2], set(&["alpha", "beta.2"]), "names from SANDBOX_STATE_DIR");
    f.finish();
}
