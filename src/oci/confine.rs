//! The process's seccomp profile (linux.seccomp): read into rules for the compiler in
//! seccomp.rs, which makes classic BPF of them (no libseccomp). What the profile asks that
//! cannot be expressed is refused, never ignored.

use super::why;
use crate::out::word_at;
use super::config::{f, refuse, Refused};
use super::json::{Kind, Val};
use crate::seccomp::{self, Action, ArgCheck, Cmp, Insn, OciRule, Profile, MAX_CHECKS};
use crate::sys::Errno;

pub const MAX_RULES: usize = seccomp::MAX_RULES;


pub struct Filter {
    pub default: Action,
    pub rules: [OciRule; MAX_RULES],
    pub nrules: usize,
    pub flags: u32,
}

// All zero (KillThread and Ne are the first variants): a Filter lives in .bss.
const NO_CHECK: ArgCheck = ArgCheck { index: 0, value: 0, cmp: Cmp::Ne };
const NO_RULE: OciRule = OciRule { nr: 0, action: Action::KillThread, checks: [NO_CHECK; MAX_CHECKS], nchecks: 0 };

impl Filter {
    pub const fn new() -> Filter {
        Filter { default: Action::KillThread, rules: [NO_RULE; MAX_RULES], nrules: 0, flags: 0 }
    }
    fn push(&mut self, r: OciRule) -> Result<(), Refused> {
        if self.nrules == MAX_RULES {
            return refuse(f::LINUX_SECCOMP_SYSCALLS, why::n::TOO_MANY_RULES);
        }
        self.rules[self.nrules] = r;
        self.nrules += 1;
        Ok(())
    }
}

fn action(v: Option<Val>, errno: Option<Val>, default_errno: u16, field: u8) -> Result<Action, Refused> {
    let ret = match errno {
        Some(e) => e.u64().filter(|&n| n <= 4095).ok_or(Refused { field, why: why::n::ERRNORET_OUT_OF_RANGE })? as u16,
        None => default_errno,
    };
    const NAMES: &[u8] = b"KILL KILL_THREAD KILL_PROCESS TRAP ERRNO TRACE LOG ALLOW NOTIFY";
    let name = v.and_then(|v| v.bytes()).and_then(|n| n.strip_prefix(b"SCMP_ACT_")).unwrap_or(b"");
    Ok(match word_at(NAMES, name) {
        Some(0 | 1) => Action::KillThread,
        Some(2) => Action::KillProcess,
        Some(3) => Action::Trap,
        Some(4) => Action::Errno(ret),
        Some(5) => Action::Trace(ret),
        Some(6) => Action::Log,
        Some(7) => Action::Allow,
        Some(_) => return refuse(field, why::n::NO_SECCOMP_NOTIFY),
        None => return refuse(field, why::n::UNKNOWN_ACTION),
    })
}

fn cmp(op: &[u8], value: u64, two: u64) -> Option<(Cmp, u64)> {
    const NAMES: &[u8] = b"NE LT LE EQ GE GT MASKED_EQ";
    const CMPS: [Cmp; 6] = [Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Eq, Cmp::Ge, Cmp::Gt];
    let i = word_at(NAMES, op.strip_prefix(b"SCMP_CMP_")?)?;
    // MASKED_EQ: value is the mask, valueTwo the datum (libseccomp's order).
    Some(CMPS.get(i).map_or((Cmp::MaskedEq(value), two), |&c| (c, value)))
}

/// linux.seccomp into `f`.
#[inline(never)] // smaller than inlined in create's `load`
pub fn profile(v: Val, f: &mut Filter) -> Result<(), Refused> {
    if v.kind() != Kind::Obj {
        return refuse(f::LINUX_SECCOMP, why::n::BAD_TYPE);
    }
    if v.bytes_at(b"listenerPath").is_some_and(|p| !p.is_empty()) {
        return refuse(f::LINUX_SECCOMP_LISTENER_PATH, why::n::NO_SECCOMP_NOTIFY);
    }
    let default_errno = match v.get(b"defaultErrnoRet") {
        Some(e) => e.u64().filter(|&n| n <= 4095).ok_or(Refused { field: f::LINUX_SECCOMP_DEFAULT_ERRNO_RET, why: why::n::OUT_OF_RANGE })? as u16,
        None => libc::EPERM as u16,
    };
    // defaultErrnoRet checked above: what the default action returns, if it is ERRNO or TRACE.
    f.default = action(v.get(b"defaultAction"), None, default_errno, f::LINUX_SECCOMP_DEFAULT_ACTION)?;
    let arches = v.get(b"architectures");
    if arches.is_some_and(|a| a.len() > 0 && !a.items().any(|x| x.bytes() == Some(b"SCMP_ARCH_X86_64"))) {
        return refuse(f::LINUX_SECCOMP_ARCHITECTURES, why::n::ARCH_X86_64_NEEDED);
    }
    // The profile's flags only: SPEC_ALLOW too only when asked, as runc.
    f.flags = 0;
    for fl in v.items_at(b"flags") {
        f.flags |= fl.bytes().and_then(seccomp::flag).ok_or(Refused { field: f::LINUX_SECCOMP_FLAGS, why: why::n::UNKNOWN_FLAG })?;
    }
    for s in v.items_at(b"syscalls") {
        let act = action(s.get(b"action"), s.get(b"errnoRet"), libc::EPERM as u16, f::LINUX_SECCOMP_SYSCALLS_ACTION)?;
        let mut checks = [NO_CHECK; MAX_CHECKS];
        let mut n = 0;
        let mut repeated = false;
        for a in s.items_at(b"args") {
            let index = a.u64_at(b"index").filter(|&i| i < 6);
            let value = a.u64_at(b"value").unwrap_or(0);
            let two = a.u64_at(b"valueTwo").unwrap_or(0);
            let op = a.bytes_at(b"op").unwrap_or(b"");
            let (Some(index), Some((c, value))) = (index, cmp(op, value, two)) else {
                return refuse(f::LINUX_SECCOMP_SYSCALLS_ARGS, why::n::BAD_INDEX_OR_OP);
            };
            if n == MAX_CHECKS {
                return refuse(f::LINUX_SECCOMP_SYSCALLS_ARGS, why::n::TOO_MANY);
            }
            repeated |= checks[..n].iter().any(|x| x.index == index as u8);
            checks[n] = ArgCheck { index: index as u8, value, cmp: c };
            n += 1;
        }
        for name in s.items_at(b"names") {
            let name = name.bytes().ok_or(Refused { field: f::LINUX_SECCOMP_SYSCALLS_NAMES, why: why::n::BAD_TYPE })?;
            // A name x86_64 does not have is skipped, as runc does.
            let Some(nr) = seccomp::number(name) else { continue };
            if repeated {
                // Checks of one argument named twice: any of them (libseccomp's reading, which
                // profiles rely on), one rule each.
                for c in &checks[..n] {
                    let mut one = [NO_CHECK; MAX_CHECKS];
                    one[0] = *c;
                    f.push(OciRule { nr, action: act, checks: one, nchecks: 1 })?;
                }
            } else {
                f.push(OciRule { nr, action: act, checks, nchecks: n as u8 })?;
            }
        }
    }
    Ok(())
}

/// Compile the filter (create does, to check it: a profile the compiler refuses fails create)
/// and, with `install`, install it on this thread (no_new_privs set, or CAP_SYS_ADMIN held).
#[inline(never)]
fn compile(f: &Filter, install: bool) -> Result<(), Errno> {
    let mut prog = [Insn::ZERO; seccomp::MAX_INSNS];
    let n = seccomp::compile(&Profile { default: f.default, rules: &f.rules[..f.nrules] }, &mut prog)?;
    if install {
        return seccomp::install(&prog[..n], f.flags);
    }
    Ok(())
}

#[inline(never)]
pub fn check(f: &Filter) -> Result<(), Errno> {
    compile(f, false)
}

/// Compile and install the filter on this thread (no_new_privs set, or CAP_SYS_ADMIN held).
pub fn install(f: &Filter) -> Result<(), Errno> {
    compile(f, true)
}

#[cfg(test)]
mod tests {
    use super::super::json::{parse, Tok};
    use super::*;

    #[test]
    fn profiles_become_rules() {
        let text = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
          "syscalls":[{"names":["read","write","no_such_call"],"action":"SCMP_ACT_ALLOW"},
            {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":0,"op":"SCMP_CMP_EQ"},{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]},
            {"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"args":[{"index":0,"value":40,"op":"SCMP_CMP_EQ"},{"index":1,"value":255,"valueTwo":1,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#;
        let mut b = text.as_bytes().to_vec();
        let mut t = vec![Tok::EMPTY; 256];
        let d = parse(&mut b, &mut t).unwrap();
        let mut f = Box::new(Filter::new());
        profile(d.root(), &mut f).unwrap();
        assert_eq!(f.default, Action::Errno(38));
        let r = &f.rules[..f.nrules];
        assert_eq!(r.len(), 5);
        assert_eq!((r[0].nr, r[1].nr), (0, 1));
        assert_eq!((r[2].nr, r[2].nchecks, r[3].checks[0].value), (135, 1, 8));
        assert_eq!((r[4].nr, r[4].nchecks, r[4].action), (41, 2, Action::Errno(1)));
        assert_eq!(r[4].checks[1], ArgCheck { index: 1, value: 1, cmp: Cmp::MaskedEq(255) });
    }

    #[test]
    fn notify_and_foreign_arches_are_refused() {
        for text in [
            r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/x"}"#,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_AARCH64"]}"#,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":7,"value":0,"op":"SCMP_CMP_EQ"}]}]}"#,
        ] {
            let mut b = text.as_bytes().to_vec();
            let mut t = vec![Tok::EMPTY; 256];
            let d = parse(&mut b, &mut t).unwrap();
            let mut f = Box::new(Filter::new());
            assert!(profile(d.root(), &mut f).is_err(), "{text}");
        }
    }
}
