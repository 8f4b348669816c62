//! linux.resources.devices on cgroup v2: the allow and deny rules compiled to an eBPF program
//! of type BPF_PROG_TYPE_CGROUP_DEVICE and attached to the container's cgroup, which the kernel
//! runs at every open and mknod of a device node. The rules apply in their order (the last that
//! matches decides); sandbox's own /dev nodes and terminals are allowed after them, as runc does.

use super::config::{f, Refused};
use super::json::Val;
use super::why;
use crate::sys::{self, Errno, Fd};

/// One rule: (allow, type (0 any, 1 block, 2 char), access bits (mknod 1, read 2, write 4),
/// major, minor (-1 any)).
type Rule = (bool, u32, u32, i64, i64);

/// What runc allows besides the engine's rules, all allowing: (type, access, major, minor,
/// 255 any): the default nodes, /dev/console, the terminals, /dev/ptmx, and mknod of any node
/// (opening one is what the rules decide).
const ALWAYS: [[u8; 4]; 11] = [
    [2, 7, 1, 3],
    [2, 7, 1, 5],
    [2, 7, 1, 7],
    [2, 7, 1, 8],
    [2, 7, 1, 9],
    [2, 7, 5, 0],
    [2, 7, 5, 1],
    [2, 7, 5, 2],
    [2, 7, 136, 255],
    [2, 1, 255, 255],
    [1, 1, 255, 255],
];

const MAX_RULES: usize = 512;
/// Six instructions a rule at most (with the two of the end, and the six that read the context).
pub const MAX_INSNS: usize = 6 * (MAX_RULES + ALWAYS.len()) + 8;

fn rule(d: Val) -> Result<Rule, Refused> {
    let bad = |field| Err(Refused { field, why: why::n::BAD_TYPE });
    let allow = match d.get(b"allow").map(|a| a.bool()) {
        Some(Some(a)) => a,
        _ => return bad(f::LINUX_RESOURCES_DEVICES_ALLOW),
    };
    // The type's number is its place in "a b c", an access's bit its place in "mrw".
    let Some(kind) = d.bytes_at(b"type").map_or(Some(0), |t| crate::out::word_at(b"a b c", t)) else {
        return bad(f::LINUX_RESOURCES_DEVICES_TYPE);
    };
    let mut access = 0;
    for c in d.bytes_at(b"access").unwrap_or(b"rwm") {
        let Some(i) = b"mrw".iter().position(|x| x == c) else {
            return bad(f::LINUX_RESOURCES_DEVICES_ACCESS);
        };
        access |= 1 << i;
    }
    let number = |key, field| match d.get(key) {
        None => Ok(-1),
        Some(v) if v.is_null() => Ok(-1),
        Some(v) => v.i64().filter(|&n| (-1..=u32::MAX as i64).contains(&n)).ok_or(Refused { field, why: why::n::BAD_TYPE }),
    };
    Ok((allow, kind as u32, if access == 0 { 7 } else { access }, number(&b"major"[..], f::LINUX_RESOURCES_DEVICES_MAJOR)?, number(b"minor", f::LINUX_RESOURCES_DEVICES_MINOR)?))
}

/// Check the rules (config time): one error naming the field.
pub fn check(v: Val) -> Result<(), Refused> {
    let mut n = 0;
    for d in v.items() {
        rule(d)?;
        n += 1;
    }
    if n > MAX_RULES {
        return Err(Refused { field: f::LINUX_RESOURCES_DEVICES, why: why::n::TOO_MANY_ENTRIES });
    }
    Ok(())
}

/// An eBPF instruction: code, dst and src registers, offset, immediate.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    code as u64 | ((dst | src << 4) as u64) << 8 | (off as u16 as u64) << 16 | (imm as u32 as u64) << 32
}

const LDX_W: u8 = 0x61;
const AND_K: u8 = 0x54;
const RSH_K: u8 = 0x74;
const JNE_K: u8 = 0x55;
const JNE_X: u8 = 0x5d;
const MOV64_X: u8 = 0xbf;
const MOV64_K: u8 = 0xb7;
const EXIT: u8 = 0x95;

/// The program for `rules` (checked), into `out`; its length.
pub fn compile(rules: Option<Val>, out: &mut [u64; MAX_INSNS]) -> usize {
    // r2: the node's type, r3: the access asked for, r4: major, r5: minor (bpf_cgroup_dev_ctx).
    let head = [
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    out[..6].copy_from_slice(&head);
    let mut n = 6;
    let mut all: [Rule; MAX_RULES + ALWAYS.len()] = [(false, 0, 0, 0, 0); MAX_RULES + ALWAYS.len()];
    let mut count = 0;
    for d in rules.iter().flat_map(|v| v.items()) {
        if let Ok(r) = rule(d) {
            all[count] = r;
            count += 1;
        }
    }
    let any = |n: u8| if n == 255 { -1 } else { n as i64 };
    for [kind, access, major, minor] in ALWAYS {
        all[count] = (true, kind as u32, access as u32, any(major), any(minor));
        count += 1;
    }
    // The last rule that matches decides: the rules from the last, each a test that jumps past
    // the rule's end when the node is not one of it.
    for &(allow, kind, access, major, minor) in all[..count].iter().rev() {
        let mut tests = [0u64; 4];
        let mut k = 0;
        let mut push = |i| {
            tests[k] = i;
            k += 1;
        };
        if kind != 0 {
            push(insn(JNE_K, 2, 0, 0, kind as i32));
        }
        if major >= 0 {
            push(insn(JNE_K, 4, 0, 0, major as i32));
        }
        if minor >= 0 {
            push(insn(JNE_K, 5, 0, 0, minor as i32));
        }
        if access != 7 {
            // Every access asked for is among the rule's: r1 = r3 & access; r1 != r3: not this rule.
            out[n] = insn(MOV64_X, 1, 3, 0, 0);
            out[n + 1] = insn(AND_K, 1, 0, 0, access as i32);
            n += 2;
            push(insn(JNE_X, 1, 3, 0, 0));
        }
        // The tests jump over the rest of them and the two instructions of the answer.
        for (j, t) in tests[..k].iter().enumerate() {
            out[n] = t | (((k - j - 1 + 2) as u16 as u64) << 16);
            n += 1;
        }
        out[n] = insn(MOV64_K, 0, 0, 0, allow as i32);
        out[n + 1] = insn(EXIT, 0, 0, 0, 0);
        n += 2;
        // A rule for every node ends the program: the verifier refuses code it cannot reach.
        if k == 0 {
            return n;
        }
    }
    // No rule matched: denied.
    out[n] = insn(MOV64_K, 0, 0, 0, 0);
    out[n + 1] = insn(EXIT, 0, 0, 0, 0);
    n + 2
}

/// Load the program for `rules` and attach it to the cgroup `dir` (an open directory).
pub fn attach(rules: Option<Val>, dir: Fd) -> Result<(), Errno> {
    let mut prog = [0u64; MAX_INSNS];
    let n = compile(rules, &mut prog);
    let fd = sys::bpf_device_program(&prog[..n])?;
    let r = sys::bpf_attach_device(fd, dir);
    sys::close(fd);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::json;

    /// The programs load (the kernel's verifier takes them): with no rules, with a rule for
    /// every node (the end of the program unreachable after it), with each kind of test.
    #[test]
    fn programs_pass_the_verifier() {
        if sys::geteuid() != 0 {
            eprintln!("loading a device program needs root: skipped");
            return;
        }
        let cases: [&[u8]; 3] = [
            b"[]",
            br#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":11,"access":"w"}]"#,
            br#"[{"allow":true,"type":"b","major":8,"access":"r"},{"allow":false,"type":"a","access":"m"},{"allow":true}]"#,
        ];
        for text in cases {
            let mut b = text.to_vec();
            let mut toks = [json::Tok::EMPTY; 64];
            let doc = json::parse(&mut b, &mut toks).unwrap();
            assert!(check(doc.root()).is_ok());
            let mut prog = [0u64; MAX_INSNS];
            let n = compile(Some(doc.root()), &mut prog);
            match sys::bpf_device_program(&prog[..n]) {
                Ok(fd) => sys::close(fd),
                Err(e) => panic!("{e:?} for {}", String::from_utf8_lossy(text)),
            }
        }
    }
}
