//! config.json to a typed spec in fixed arrays. Strings stay in the document's buffer (`&CStr`
//! into it). What sandbox cannot honour is refused with the field's name; keys that change
//! nothing it does are ignored, as runc does.

use super::why;
use super::json::{Kind, Val};
use crate::caps;
use crate::out::{word_at, words};
use core::ffi::CStr;

pub const MAX_ARGS: usize = 256;
pub const MAX_ENV: usize = 512;
pub const MAX_MOUNTS: usize = 128;
pub const MAX_PATHS: usize = 64;
pub const MAX_MAPS: usize = 8;
pub const MAX_GROUPS: usize = 32;
pub const MAX_RLIMITS: usize = 16;
pub const MAX_SYSCTL: usize = 32;
pub const MAX_DEVICES: usize = 1024;

/// A refusal: the field (its number among f::FIELDS) and why (its number among the reasons,
/// why::n): two bytes, in a register wherever it is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    pub field: u8,
    pub why: u8,
}

impl Refused {
    /// The field's name, a JSON path.
    pub fn field(self) -> &'static [u8] {
        f::name(self.field)
    }
    /// The line's failure: the field and why (compressed, as the reasons are).
    #[inline(never)]
    pub fn fail(self) -> super::Fail<'static> {
        super::Fail { step: super::Step::Refused, path: self.field(), errno: 0, why: why::text(self.why) }
    }
}

pub fn refuse<T>(field: u8, why: u8) -> Result<T, Refused> {
    Err(Refused { field, why })
}

/// The fields refusals name: a word list, each with a number (its place in it).
macro_rules! fields {
    (@ $n:expr;) => {};
    (@ $n:expr; $name:ident $text:literal $($rest:tt)*) => {
        pub const $name: u8 = $n;
        fields!(@ $n + 1; $($rest)*);
    };
    ($($name:ident $text:literal)*) => {
        pub const FIELDS: &[u8] = concat!($($text, " "),*).as_bytes();
        fields!(@ 0; $($name $text)*);
    };
}

// Those of the groups refuse_present reads are named by their first only.
#[allow(dead_code)]
pub mod f {
    fields! {
    CONFIG_JSON "config.json"
    ROOT "root"
    ROOT_PATH "root.path"
    ROOT_READONLY "root.readonly"
    HOSTNAME "hostname"
    DOMAINNAME "domainname"
    PROCESS "process"
    PROCESS_ARGS "process.args"
    PROCESS_COMMAND_LINE "process.commandLine"
    PROCESS_ENV "process.env"
    PROCESS_CWD "process.cwd"
    PROCESS_TERMINAL "process.terminal"
    PROCESS_NO_NEW_PRIVILEGES "process.noNewPrivileges"
    PROCESS_USER_UID "process.user.uid"
    PROCESS_USER_GID "process.user.gid"
    PROCESS_USER_UMASK "process.user.umask"
    PROCESS_USER_USERNAME "process.user.username"
    PROCESS_USER_ADDITIONAL_GIDS "process.user.additionalGids"
    PROCESS_CAPABILITIES "process.capabilities"
    PROCESS_RLIMITS "process.rlimits"
    PROCESS_RLIMITS_TYPE "process.rlimits.type"
    PROCESS_RLIMITS_SOFT "process.rlimits.soft"
    PROCESS_RLIMITS_HARD "process.rlimits.hard"
    PROCESS_OOM_SCORE_ADJ "process.oomScoreAdj"
    PROCESS_APPARMOR_PROFILE "process.apparmorProfile"
    PROCESS_CONSOLE_SIZE_HEIGHT "process.consoleSize.height"
    PROCESS_CONSOLE_SIZE_WIDTH "process.consoleSize.width"
    PROCESS_SELINUX_LABEL "process.selinuxLabel"
    PROCESS_SCHEDULER "process.scheduler"
    PROCESS_IO_PRIORITY "process.ioPriority"
    PROCESS_EXEC_CPUAFFINITY "process.execCPUAffinity"
    MOUNTS "mounts"
    MOUNTS_DESTINATION "mounts.destination"
    MOUNTS_UID_MAPPINGS "mounts.uidMappings"
    MOUNTS_TYPE "mounts.type"
    MOUNTS_SOURCE "mounts.source"
    MOUNTS_OPTIONS "mounts.options"
    LINUX "linux"
    LINUX_NAMESPACES "linux.namespaces"
    LINUX_NAMESPACES_TYPE "linux.namespaces.type"
    LINUX_NAMESPACES_PATH "linux.namespaces.path"
    LINUX_UID_MAPPINGS "linux.uidMappings"
    LINUX_GID_MAPPINGS "linux.gidMappings"
    LINUX_MASKED_PATHS "linux.maskedPaths"
    LINUX_READONLY_PATHS "linux.readonlyPaths"
    LINUX_SYSCTL "linux.sysctl"
    LINUX_DEVICES "linux.devices"
    LINUX_DEVICES_PATH "linux.devices.path"
    LINUX_DEVICES_TYPE "linux.devices.type"
    LINUX_ROOTFS_PROPAGATION "linux.rootfsPropagation"
    LINUX_CGROUPS_PATH "linux.cgroupsPath"
    LINUX_INTEL_RDT "linux.intelRdt"
    LINUX_PERSONALITY "linux.personality"
    LINUX_TIME_OFFSETS "linux.timeOffsets"
    LINUX_MOUNT_LABEL "linux.mountLabel"
    LINUX_MEMORY_POLICY "linux.memoryPolicy"
    LINUX_NET_DEVICES "linux.netDevices"
    LINUX_RESOURCES_MEMORY_SWAP "linux.resources.memory.swap"
    LINUX_RESOURCES_MEMORY_KERNEL "linux.resources.memory.kernel"
    LINUX_RESOURCES_CPU_CPUS "linux.resources.cpu.cpus"
    LINUX_RESOURCES_CPU_MEMS "linux.resources.cpu.mems"
    LINUX_RESOURCES_HUGEPAGE_LIMITS "linux.resources.hugepageLimits"
    LINUX_RESOURCES_RDMA "linux.resources.rdma"
    LINUX_RESOURCES_UNIFIED "linux.resources.unified"
    HOOKS "hooks"
    SOLARIS "solaris"
    WINDOWS "windows"
    VM "vm"
    ZOS "zos"
    LINUX_RESOURCES_DEVICES "linux.resources.devices"
    LINUX_RESOURCES_DEVICES_ALLOW "linux.resources.devices.allow"
    LINUX_RESOURCES_DEVICES_TYPE "linux.resources.devices.type"
    LINUX_RESOURCES_DEVICES_ACCESS "linux.resources.devices.access"
    LINUX_RESOURCES_DEVICES_MAJOR "linux.resources.devices.major"
    LINUX_RESOURCES_DEVICES_MINOR "linux.resources.devices.minor"
    LINUX_SECCOMP "linux.seccomp"
    LINUX_SECCOMP_LISTENER_PATH "linux.seccomp.listenerPath"
    LINUX_SECCOMP_DEFAULT_ERRNO_RET "linux.seccomp.defaultErrnoRet"
    LINUX_SECCOMP_DEFAULT_ACTION "linux.seccomp.defaultAction"
    LINUX_SECCOMP_ARCHITECTURES "linux.seccomp.architectures"
    LINUX_SECCOMP_FLAGS "linux.seccomp.flags"
    LINUX_SECCOMP_SYSCALLS "linux.seccomp.syscalls"
    LINUX_SECCOMP_SYSCALLS_ACTION "linux.seccomp.syscalls.action"
    LINUX_SECCOMP_SYSCALLS_ARGS "linux.seccomp.syscalls.args"
    LINUX_SECCOMP_SYSCALLS_NAMES "linux.seccomp.syscalls.names"
    }

    /// The name of field number `i`.
    #[inline(never)]
    pub fn name(i: u8) -> &'static [u8] {
        crate::out::words(FIELDS).nth(i as usize).unwrap_or(b"")
    }
}

use why::n::{BAD_TYPE, NOT_SUPPORTED, TOO_MANY_ENTRIES as TOO_MANY};

/// Capability sets, in the order of `Process::caps`.
pub const BOUNDING: usize = 0;
pub const EFFECTIVE: usize = 1;
pub const INHERITABLE: usize = 2;
pub const PERMITTED: usize = 3;
pub const AMBIENT: usize = 4;
const CAP_SETS: &[u8] = b"bounding effective inheritable permitted ambient";

pub const RLIMITS: [&[u8]; 16] = [
    b"CPU", b"FSIZE", b"DATA", b"STACK", b"CORE", b"RSS", b"NPROC", b"NOFILE", b"MEMLOCK", b"AS", b"LOCKS", b"SIGPENDING",
    b"MSGQUEUE", b"NICE", b"RTPRIO", b"RTTIME",
];

#[derive(Clone, Copy)]
pub struct Rlimit {
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Clone, Copy)]
pub struct Process<'a> {
    pub args: [&'a CStr; MAX_ARGS],
    pub nargs: usize,
    pub env: [&'a CStr; MAX_ENV],
    pub nenv: usize,
    pub cwd: &'a CStr,
    pub terminal: bool,
    pub uid: u32,
    pub gid: u32,
    pub umask: Option<u32>,
    pub groups: [u32; MAX_GROUPS],
    pub ngroups: usize,
    /// bounding, effective, inheritable, permitted, ambient (bits of caps::NAMES).
    pub caps: [u64; 5],
    pub nnp: bool,
    pub rlimits: [Rlimit; MAX_RLIMITS],
    pub nrlimits: usize,
    pub oom_score_adj: Option<i64>,
    pub apparmor: Option<&'a CStr>,
    /// rows, columns
    pub console: Option<(u16, u16)>,
}

impl<'a> Process<'a> {
    pub fn new() -> Process<'a> {
        Process {
            args: [c""; MAX_ARGS],
            nargs: 0,
            env: [c""; MAX_ENV],
            nenv: 0,
            cwd: c"/",
            terminal: false,
            uid: 0,
            gid: 0,
            umask: None,
            groups: [0; MAX_GROUPS],
            ngroups: 0,
            caps: [0; 5],
            nnp: false,
            rlimits: [Rlimit { resource: 0, soft: 0, hard: 0 }; MAX_RLIMITS],
            nrlimits: 0,
            oom_score_adj: None,
            apparmor: None,
            console: None,
        }
    }
    pub fn args(&self) -> &[&'a CStr] {
        &self.args[..self.nargs]
    }
    pub fn env(&self) -> &[&'a CStr] {
        &self.env[..self.nenv]
    }
    pub fn push_env(&mut self, e: &'a CStr) -> bool {
        // A variable's name: up to its first '='.
        fn name(s: &CStr) -> &[u8] {
            s.to_bytes().split(|&c| c == b'=').next().unwrap_or(b"")
        }
        let k = name(e);
        let at = match self.env().iter().position(|o| name(o) == k) {
            Some(i) => i,
            None if self.nenv == MAX_ENV => return false,
            None => {
                self.nenv += 1;
                self.nenv - 1
            }
        };
        if let Some(o) = self.env.get_mut(at) {
            *o = e;
        }
        true
    }
}

#[derive(Clone, Copy)]
pub struct Mount<'a> {
    pub dest: &'a CStr,
    pub kind: Option<&'a CStr>,
    pub source: Option<&'a CStr>,
    /// MS_* flags to set; MS_BIND (and MS_REC) for binds.
    pub flags: u64,
    /// MS_* flags the options clear (for binds, which take the source's otherwise).
    pub clear: u64,
    /// MS_PRIVATE/MS_SLAVE/MS_SHARED/MS_UNBINDABLE, with MS_REC for the r- forms.
    pub propagation: u64,
    /// The options array, for the data string (options that are not flags).
    pub options: Option<Val<'a>>,
}

impl Mount<'_> {
    pub fn is_bind(&self) -> bool {
        self.flags & libc::MS_BIND != 0
    }
}

#[derive(Clone, Copy)]
pub struct Namespace<'a> {
    /// CLONE_NEW* flag.
    pub flag: i32,
    pub path: Option<&'a CStr>,
}

#[derive(Clone, Copy, Default)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

#[derive(Clone, Copy)]
pub struct Device<'a> {
    pub path: &'a CStr,
    /// S_IFCHR, S_IFBLK or S_IFIFO.
    pub kind: u32,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Clone, Copy, Default)]
pub struct Resources {
    pub memory: Option<u64>,
    /// memory.swap.max: swap beyond the memory limit (OCI's swap counts both); u64::MAX: max.
    pub swap: Option<u64>,
    /// memory.low
    pub reservation: Option<u64>,
    pub pids: Option<u64>,
    /// cpu.weight, from shares.
    pub cpu_weight: Option<u64>,
    /// The shares were 1024, the default: not worth an error without a cpu controller.
    pub default_shares: bool,
    /// cpu.max quota and period in microseconds.
    pub cpu_quota: Option<u64>,
    pub cpu_period: Option<u64>,
}

impl Resources {
    pub fn any(&self) -> bool {
        self.memory.is_some() || self.swap.is_some() || self.reservation.is_some() || self.pids.is_some() || self.cpu_quota.is_some() || self.cpu_period.is_some() || (self.cpu_weight.is_some() && !self.default_shares)
    }
}

pub struct Spec<'a> {
    pub root: &'a CStr,
    pub readonly: bool,
    pub hostname: Option<&'a CStr>,
    pub domainname: Option<&'a CStr>,
    pub process: Process<'a>,
    pub mounts: [Mount<'a>; MAX_MOUNTS],
    pub nmounts: usize,
    pub namespaces: [Namespace<'a>; 8],
    pub nnamespaces: usize,
    pub uid_maps: [IdMap; MAX_MAPS],
    pub nuid_maps: usize,
    pub gid_maps: [IdMap; MAX_MAPS],
    pub ngid_maps: usize,
    pub masked: [&'a CStr; MAX_PATHS],
    pub nmasked: usize,
    pub readonly_paths: [&'a CStr; MAX_PATHS],
    pub nreadonly: usize,
    pub sysctl: [(&'a CStr, &'a CStr); MAX_SYSCTL],
    pub nsysctl: usize,
    pub devices: [Device<'a>; MAX_DEVICES],
    pub ndevices: usize,
    /// MS_* propagation of the root ("" when not given).
    pub propagation: u64,
    pub cgroups_path: Option<&'a CStr>,
    pub resources: Resources,
    pub seccomp: Option<Val<'a>>,
    /// linux.resources.devices (checked): the device program of the cgroup (devices.rs).
    pub device_rules: Option<Val<'a>>,
    pub annotations: Option<Val<'a>>,
}

impl<'a> Spec<'a> {
    pub fn mounts(&self) -> &[Mount<'a>] {
        &self.mounts[..self.nmounts]
    }
    pub fn namespaces(&self) -> &[Namespace<'a>] {
        &self.namespaces[..self.nnamespaces]
    }
    /// The namespace of kind `flag` asked for, if any.
    pub fn namespace(&self, flag: i32) -> Option<Namespace<'a>> {
        self.namespaces().iter().copied().find(|n| n.flag == flag)
    }
    pub fn masked(&self) -> &[&'a CStr] {
        &self.masked[..self.nmasked]
    }
    pub fn readonly_paths(&self) -> &[&'a CStr] {
        &self.readonly_paths[..self.nreadonly]
    }
    pub fn sysctl(&self) -> &[(&'a CStr, &'a CStr)] {
        &self.sysctl[..self.nsysctl]
    }
    pub fn devices(&self) -> &[Device<'a>] {
        &self.devices[..self.ndevices]
    }
}

/// The key a field names: its last part (`process.user.uid`: `uid`).
fn key(field: u8) -> &'static [u8] {
    let name = f::name(field);
    name.rsplit(|&c| c == b'.').next().unwrap_or(name)
}

/// Fields whose presence asks for something sandbox does not do (`n` of them from `first`).
fn refuse_present(v: Val, first: u8, n: u8) -> Result<(), Refused> {
    for field in first..first + n {
        if let Some(x) = v.get(key(field)) {
            let empty = x.is_null() || (matches!(x.kind(), Kind::Obj | Kind::Arr) && x.len() == 0) || x.bytes() == Some(b"");
            if !empty {
                return refuse(field, NOT_SUPPORTED);
            }
        }
    }
    Ok(())
}

/// What `read` takes a field as. It hands back the value, or an empty one (no string, number
/// or items) where the field is absent, or null for strings and arrays, or "" for Text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum To {
    Str,
    /// A string, "" as none.
    Text,
    Bool,
    U32,
    Arr,
}

/// The value at the key of `field` in `v`, refused as BAD_TYPE unless it is what `to` asks.
#[inline(always)]
fn read<'a>(v: Val<'a>, field: u8, to: To) -> Result<Val<'a>, Refused> {
    // (An Option comes back in registers, a Result would not: the refusal is made here.)
    take(v, field, to).ok_or(Refused { field, why: BAD_TYPE })
}

/// `x`, refused as BAD_TYPE (named `field`) unless it is what `to` asks.
#[inline(always)]
fn is<'a>(x: Val<'a>, field: u8, to: To) -> Result<Val<'a>, Refused> {
    fits(x, to).ok_or(Refused { field, why: BAD_TYPE })
}

#[inline(never)]
fn take<'a>(v: Val<'a>, field: u8, to: To) -> Option<Val<'a>> {
    v.get(key(field)).map_or(Some(Val::NONE), |x| fits(x, to))
}

#[inline(never)]
fn fits<'a>(x: Val<'a>, to: To) -> Option<Val<'a>> {
    // The kinds each To takes, a bit each (of Kind's numbers); a number must also be a u32.
    const NULL: u8 = 1 << Kind::Null as u8;
    const STR: u8 = 1 << Kind::Str as u8;
    const TAKES: [u8; 5] = [
        NULL | STR,
        NULL | STR,
        1 << Kind::True as u8 | 1 << Kind::False as u8,
        1 << Kind::Num as u8,
        NULL | 1 << Kind::Arr as u8,
    ];
    let k = x.kind();
    let ok = TAKES.get(to as usize).is_some_and(|t| t >> k as u8 & 1 != 0)
        && (k != Kind::Num || x.u64().is_some_and(|n| n <= u32::MAX as u64));
    if !ok {
        return None;
    }
    if to == To::Text && x.bytes().is_some_and(<[u8]>::is_empty) {
        return Some(Val::NONE);
    }
    Some(x)
}

/// Fill `out` with the strings of the array at the key of `field` in `v`; returns how many.
#[inline(never)]
fn strings<'a>(v: Val<'a>, out: &mut [&'a CStr], field: u8) -> Result<usize, Refused> {
    let mut n = 0;
    for x in read(v, field, To::Arr)?.items() {
        let Some(o) = out.get_mut(n) else { return refuse(field, TOO_MANY) };
        *o = x.str().ok_or(Refused { field, why: BAD_TYPE })?;
        n += 1;
    }
    Ok(n)
}

fn cap_set(v: Option<Val>) -> Result<u64, Refused> {
    let mut m = 0;
    for x in v.map_or(Ok(Val::NONE), |v| is(v, f::PROCESS_CAPABILITIES, To::Arr))?.items() {
        let name = x.bytes().ok_or(Refused { field: f::PROCESS_CAPABILITIES, why: BAD_TYPE })?;
        // A capability this build does not know (a newer kernel's) is skipped, as runc does.
        if let Some(b) = caps::parse(name).filter(|_| name.len() > 3) {
            m |= b;
        }
    }
    Ok(m)
}

/// `process`, of config.json or of `exec --process`.
pub fn process<'a>(v: Val<'a>, p: &mut Process<'a>) -> Result<(), Refused> {
    if v.kind() != Kind::Obj {
        return refuse(f::PROCESS, BAD_TYPE);
    }
    refuse_present(v, f::PROCESS_SELINUX_LABEL, 4)?;
    p.nargs = strings(v, &mut p.args, f::PROCESS_ARGS)?;
    if let Some(cl) = v.get(b"commandLine") {
        if !cl.is_null() {
            return refuse(f::PROCESS_COMMAND_LINE, NOT_SUPPORTED);
        }
    }
    // Read in place (`p` is new), then each pushed where it belongs: a later one of a name
    // replaces the earlier, which is never after it.
    let n = strings(v, &mut p.env, f::PROCESS_ENV)?;
    p.nenv = 0;
    for i in 0..n {
        p.push_env(p.env[i]);
    }
    if let Some(cwd) = read(v, f::PROCESS_CWD, To::Str)?.str() {
        if cwd.to_bytes().first() != Some(&b'/') {
            return refuse(f::PROCESS_CWD, why::n::MUST_BE_AN_ABSOLUTE_PATH);
        }
        p.cwd = cwd;
    }
    p.terminal = read(v, f::PROCESS_TERMINAL, To::Bool)?.kind() == Kind::True;
    p.nnp = read(v, f::PROCESS_NO_NEW_PRIVILEGES, To::Bool)?.kind() == Kind::True;
    if let Some(u) = v.get(b"user") {
        p.uid = read(u, f::PROCESS_USER_UID, To::U32)?.u64().unwrap_or(0) as u32;
        p.gid = read(u, f::PROCESS_USER_GID, To::U32)?.u64().unwrap_or(0) as u32;
        p.umask = read(u, f::PROCESS_USER_UMASK, To::U32)?.u64().map(|n| n as u32);
        if read(u, f::PROCESS_USER_USERNAME, To::Text)?.str().is_some() {
            return refuse(f::PROCESS_USER_USERNAME, why::n::A_WINDOWS_FIELD);
        }
        p.ngroups = 0;
        if let Some(g) = u.get(b"additionalGids") {
            for x in g.items() {
                if p.ngroups == MAX_GROUPS {
                    return refuse(f::PROCESS_USER_ADDITIONAL_GIDS, TOO_MANY);
                }
                let g = is(x, f::PROCESS_USER_ADDITIONAL_GIDS, To::U32)?.u64().unwrap_or(0) as u32;
                if let Some(o) = p.groups.get_mut(p.ngroups) {
                    *o = g;
                }
                p.ngroups += 1;
            }
        }
    }
    if let Some(c) = v.get(b"capabilities") {
        for (i, set) in words(CAP_SETS).enumerate() {
            p.caps[i] = cap_set(c.get(set))?;
        }
    }
    if let Some(r) = v.get(b"rlimits") {
        p.nrlimits = 0;
        for x in r.items() {
            let t = x.bytes_at(b"type").ok_or(Refused { field: f::PROCESS_RLIMITS_TYPE, why: BAD_TYPE })?;
            let name = t.strip_prefix(b"RLIMIT_").unwrap_or(b"");
            let Some(res) = RLIMITS.iter().position(|n| *n == name) else {
                return refuse(f::PROCESS_RLIMITS_TYPE, why::n::UNKNOWN_RESOURCE);
            };
            let soft = x.u64_at(b"soft").ok_or(Refused { field: f::PROCESS_RLIMITS_SOFT, why: BAD_TYPE })?;
            let hard = x.u64_at(b"hard").ok_or(Refused { field: f::PROCESS_RLIMITS_HARD, why: BAD_TYPE })?;
            if p.nrlimits == MAX_RLIMITS {
                return refuse(f::PROCESS_RLIMITS, TOO_MANY);
            }
            if let Some(o) = p.rlimits.get_mut(p.nrlimits) {
                *o = Rlimit { resource: res as u32, soft, hard };
            }
            p.nrlimits += 1;
        }
    }
    if let Some(o) = v.get(b"oomScoreAdj") {
        p.oom_score_adj = Some(o.i64().filter(|n| (-1000..=1000).contains(n)).ok_or(Refused { field: f::PROCESS_OOM_SCORE_ADJ, why: why::n::NOT_IN_OOM_RANGE })?);
    }
    p.apparmor = read(v, f::PROCESS_APPARMOR_PROFILE, To::Text)?.str();
    if let Some(c) = v.get(b"consoleSize") {
        let h = read(c, f::PROCESS_CONSOLE_SIZE_HEIGHT, To::U32)?.u64().unwrap_or(0) as u32;
        let w = read(c, f::PROCESS_CONSOLE_SIZE_WIDTH, To::U32)?.u64().unwrap_or(0) as u32;
        p.console = Some((h.min(u16::MAX as u32) as u16, w.min(u16::MAX as u32) as u16));
    }
    Ok(())
}

/// How a mount option changes the mount: flags set, flags cleared, a propagation, or a word
/// for the data string.
pub enum Opt {
    Set(u64),
    Clear(u64),
    Propagation(u64),
    Ignore,
    Data,
    Refused,
}

/// tmpcopyup: a flag of ours among the MS_* ones, never passed to mount(2). A tmpfs starts with
/// the files the image has at its destination (container.rs).
pub const COPY_UP: u64 = 1 << 32;

pub fn mount_option(o: &[u8]) -> Opt {
    use libc::*;
    // The options that set flags, then those that clear them, then the propagations, then those
    // that change nothing here, then idmapped mounts; BITS has the flags of the first three.
    const NAMES: &[u8] = b"ro nosuid nodev noexec sync dirsync mand noatime nodiratime relatime strictatime remount bind rbind \
        rw suid dev exec async nomand atime diratime norelatime nostrictatime \
        private rprivate shared rshared slave rslave unbindable runbindable \
        tmpcopyup notmpcopyup defaults idmap ridmap";
    const BITS: [u32; 32] = [
        MS_RDONLY as u32,
        MS_NOSUID as u32,
        MS_NODEV as u32,
        MS_NOEXEC as u32,
        MS_SYNCHRONOUS as u32,
        MS_DIRSYNC as u32,
        MS_MANDLOCK as u32,
        MS_NOATIME as u32,
        MS_NODIRATIME as u32,
        MS_RELATIME as u32,
        MS_STRICTATIME as u32,
        MS_REMOUNT as u32,
        MS_BIND as u32,
        (MS_BIND | MS_REC) as u32,
        MS_RDONLY as u32,
        MS_NOSUID as u32,
        MS_NODEV as u32,
        MS_NOEXEC as u32,
        MS_SYNCHRONOUS as u32,
        MS_MANDLOCK as u32,
        MS_NOATIME as u32,
        MS_NODIRATIME as u32,
        MS_RELATIME as u32,
        MS_STRICTATIME as u32,
        MS_PRIVATE as u32,
        (MS_PRIVATE | MS_REC) as u32,
        MS_SHARED as u32,
        (MS_SHARED | MS_REC) as u32,
        MS_SLAVE as u32,
        (MS_SLAVE | MS_REC) as u32,
        MS_UNBINDABLE as u32,
        (MS_UNBINDABLE | MS_REC) as u32,
    ];
    let i = word_at(NAMES, o);
    let bits = i.and_then(|i| BITS.get(i)).map_or(0, |&b| b as u64);
    match i {
        Some(0..=13) => Opt::Set(bits),
        Some(14..=23) => Opt::Clear(bits),
        Some(24..=31) => Opt::Propagation(bits),
        Some(32) => Opt::Set(COPY_UP),
        Some(33) => Opt::Clear(COPY_UP),
        Some(34) => Opt::Ignore,
        Some(_) => Opt::Refused,
        None if o.is_empty() => Opt::Ignore,
        None if o.starts_with(b"idmap=") || o.starts_with(b"x-") => Opt::Refused,
        None => Opt::Data,
    }
}

#[inline(never)]
/// The mount `v` into `m` (left half-written by a refusal).
fn mount<'a>(v: Val<'a>, m: &mut Mount<'a>) -> Result<(), Refused> {
    let dest = v.str_at(b"destination").ok_or(Refused { field: f::MOUNTS_DESTINATION, why: BAD_TYPE })?;
    if dest.to_bytes().first() != Some(&b'/') {
        return refuse(f::MOUNTS_DESTINATION, why::n::MUST_BE_AN_ABSOLUTE_PATH);
    }
    if v.get(b"uidMappings").is_some_and(|x| x.len() > 0) || v.get(b"gidMappings").is_some_and(|x| x.len() > 0) {
        return refuse(f::MOUNTS_UID_MAPPINGS, why::n::NO_IDMAPPED_MOUNTS);
    }
    *m = Mount {
        dest,
        kind: read(v, f::MOUNTS_TYPE, To::Text)?.str(),
        source: read(v, f::MOUNTS_SOURCE, To::Str)?.str(),
        flags: 0,
        clear: 0,
        propagation: 0,
        options: v.get(b"options"),
    };
    if m.kind.is_some_and(|k| k.to_bytes() == b"bind") {
        m.flags |= libc::MS_BIND;
    }
    if let Some(opts) = m.options {
        for o in opts.items() {
            let o = o.bytes().ok_or(Refused { field: f::MOUNTS_OPTIONS, why: BAD_TYPE })?;
            match mount_option(o) {
                Opt::Set(f) => m.flags |= f,
                Opt::Clear(f) => {
                    m.flags &= !f;
                    m.clear |= f;
                }
                Opt::Propagation(f) => m.propagation = f,
                Opt::Refused => return refuse(f::MOUNTS_OPTIONS, why::n::NO_IDMAPPED_MOUNTS),
                Opt::Ignore | Opt::Data => {}
            }
        }
    }
    if m.is_bind() && m.source.is_none() {
        return refuse(f::MOUNTS_SOURCE, why::n::A_BIND_MOUNT_NEEDS_A_SOURCE);
    }
    if !m.is_bind() && m.kind.is_none() {
        return refuse(f::MOUNTS_TYPE, why::n::NOT_BIND_NEEDS_TYPE);
    }
    Ok(())
}

/// The namespaces' names, and their CLONE_NEW* flags in the same order.
const NAMESPACES: &[u8] = b"pid network mount ipc uts user cgroup time";
const NAMESPACE_FLAGS: [i32; 8] = [
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWNS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWCGROUP,
    0x80,
];

fn id_maps(v: Val, key: &[u8], out: &mut [IdMap; MAX_MAPS], field: u8) -> Result<usize, Refused> {
    let mut n = 0;
    for x in v.items_at(key) {
        if n == MAX_MAPS {
            return refuse(field, TOO_MANY);
        }
        let f = |k: &[u8]| x.u64_at(k).and_then(|y| u32::try_from(y).ok());
        match (f(b"containerID"), f(b"hostID"), f(b"size")) {
            (Some(inside), Some(outside), Some(count)) => {
                if let Some(o) = out.get_mut(n) {
                    *o = IdMap { inside, outside, count };
                }
            }
            _ => return refuse(field, BAD_TYPE),
        }
        n += 1;
    }
    Ok(n)
}

#[inline(never)]
fn devices<'a>(l: Val<'a>, s: &mut Spec<'a>) -> Result<(), Refused> {
    for d in l.items_at(b"devices") {
        let path = d.str_at(b"path").ok_or(Refused { field: f::LINUX_DEVICES_PATH, why: BAD_TYPE })?;
        if path.to_bytes().first() != Some(&b'/') {
            return refuse(f::LINUX_DEVICES_PATH, why::n::MUST_BE_AN_ABSOLUTE_PATH);
        }
        let kind = match d.bytes_at(b"type") {
            Some(b"c") | Some(b"u") => libc::S_IFCHR,
            Some(b"b") => libc::S_IFBLK,
            Some(b"p") => libc::S_IFIFO,
            _ => return refuse(f::LINUX_DEVICES_TYPE, why::n::DEVICE_TYPES),
        };
        let num = |k: &[u8]| d.u64_at(k);
        let Some(o) = s.devices.get_mut(s.ndevices) else { return refuse(f::LINUX_DEVICES, TOO_MANY) };
        *o = Device {
            path,
            kind,
            major: num(b"major").unwrap_or(0),
            minor: num(b"minor").unwrap_or(0),
            mode: num(b"fileMode").unwrap_or(0o666) as u32 & 0o7777,
            uid: num(b"uid").unwrap_or(0) as u32,
            gid: num(b"gid").unwrap_or(0) as u32,
        };
        s.ndevices += 1;
    }
    Ok(())
}

/// The positive limit at `key` of `v`: -1 and 0 (and anything not a number) mean none.
#[inline(never)]
fn limit(v: Val, key: &[u8]) -> Option<u64> {
    v.i64_at(key).filter(|&n| n > 0).map(|n| n as u64)
}

#[inline(never)]
pub fn resources(v: Val, r: &mut Resources) -> Result<(), Refused> {
    if let Some(m) = v.get(b"memory") {
        r.memory = limit(m, b"limit");
        r.reservation = limit(m, b"reservation");
        r.swap = match (m.i64_at(b"swap"), r.memory) {
            (Some(-1), _) => Some(u64::MAX),
            (Some(s), Some(l)) if s > 0 && s as u64 >= l => Some(s as u64 - l),
            (Some(s), _) if s > 0 => return refuse(f::LINUX_RESOURCES_MEMORY_SWAP, why::n::NEEDS_A_MEMORY_LIMIT_NO_LARGER),
            _ => None,
        };
        if limit(m, b"kernel").is_some() || limit(m, b"kernelTCP").is_some() {
            return refuse(f::LINUX_RESOURCES_MEMORY_KERNEL, NOT_SUPPORTED);
        }
    }
    if let Some(p) = v.get(b"pids") {
        r.pids = limit(p, b"limit");
    }
    if let Some(c) = v.get(b"cpu") {
        // shares (2..262144, default 1024) to cpu.weight (1..10000, default 100), as runc does.
        // 1024, the default engines put everywhere, is dropped where no cpu controller is.
        let shares = limit(c, b"shares");
        r.default_shares = shares == Some(1024);
        if let Some(s) = shares {
            let s = s.clamp(2, 262144);
            r.cpu_weight = Some(1 + ((s - 2) * 9999) / 262142);
        }
        r.cpu_quota = limit(c, b"quota");
        r.cpu_period = limit(c, b"period");
        if read(c, f::LINUX_RESOURCES_CPU_CPUS, To::Text)?.str().is_some()
            || read(c, f::LINUX_RESOURCES_CPU_MEMS, To::Text)?.str().is_some()
        {
            return refuse(f::LINUX_RESOURCES_CPU_CPUS, NOT_SUPPORTED);
        }
    }
    // devices: the allow/deny list of the device cgroup is not enforced; what the container
    // may open is what its /dev holds (the default nodes and linux.devices), as on cgroup v2
    // without a BPF program. blockIO, hugepageLimits, network, rdma, unified: not enforced
    // either, but refused when they ask for something.
    refuse_present(v, f::LINUX_RESOURCES_HUGEPAGE_LIMITS, 3)?;
    Ok(())
}

/// Read the whole of config.json (parsed) into `s`.
pub fn spec<'a>(root: Val<'a>, s: &mut Spec<'a>) -> Result<(), Refused> {
    if root.kind() != Kind::Obj {
        return refuse(f::CONFIG_JSON, why::n::NOT_A_JSON_OBJECT);
    }
    refuse_present(root, f::HOOKS, 5)?;
    let r = root.get(b"root").ok_or(Refused { field: f::ROOT, why: why::n::MISSING })?;
    s.root = r.str_at(b"path").filter(|p| !p.is_empty()).ok_or(Refused { field: f::ROOT_PATH, why: why::n::MISSING })?;
    s.readonly = read(r, f::ROOT_READONLY, To::Bool)?.kind() == Kind::True;
    s.hostname = read(root, f::HOSTNAME, To::Text)?.str();
    s.domainname = read(root, f::DOMAINNAME, To::Text)?.str();
    match root.get(b"process") {
        Some(p) => process(p, &mut s.process)?,
        None => return refuse(f::PROCESS, why::n::MISSING),
    }
    if s.process.nargs == 0 {
        return refuse(f::PROCESS_ARGS, why::n::MISSING);
    }
    for m in root.items_at(b"mounts") {
        let Some(o) = s.mounts.get_mut(s.nmounts) else { return refuse(f::MOUNTS, TOO_MANY) };
        mount(m, o)?;
        s.nmounts += 1;
    }
    s.annotations = root.get(b"annotations").filter(|a| a.kind() == Kind::Obj);
    let Some(l) = root.get(b"linux") else { return refuse(f::LINUX, why::n::MISSING) };
    refuse_present(l, f::LINUX_INTEL_RDT, 6)?;
    for n in l.items_at(b"namespaces") {
        let t = n.bytes_at(b"type").unwrap_or(b"");
        let Some(&flag) = word_at(NAMESPACES, t).and_then(|i| NAMESPACE_FLAGS.get(i)) else {
            return refuse(f::LINUX_NAMESPACES_TYPE, why::n::UNKNOWN_NAMESPACE);
        };
        if s.namespace(flag).is_some() {
            return refuse(f::LINUX_NAMESPACES_TYPE, why::n::NAMED_TWICE);
        }
        let path = read(n, f::LINUX_NAMESPACES_PATH, To::Text)?.str();
        if let Some(o) = s.namespaces.get_mut(s.nnamespaces) {
            *o = Namespace { flag, path };
        }
        s.nnamespaces += 1;
    }
    if s.namespace(libc::CLONE_NEWNS).is_none_or(|n| n.path.is_some()) {
        return refuse(f::LINUX_NAMESPACES, why::n::NEEDS_A_MOUNT_NAMESPACE);
    }
    s.nuid_maps = id_maps(l, b"uidMappings", &mut s.uid_maps, f::LINUX_UID_MAPPINGS)?;
    s.ngid_maps = id_maps(l, b"gidMappings", &mut s.gid_maps, f::LINUX_GID_MAPPINGS)?;
    if s.namespace(libc::CLONE_NEWUSER).is_some_and(|n| n.path.is_none()) && (s.nuid_maps == 0 || s.ngid_maps == 0) {
        return refuse(f::LINUX_UID_MAPPINGS, why::n::USER_NAMESPACE_NEEDS_MAPPINGS);
    }
    s.nmasked = strings(l, &mut s.masked, f::LINUX_MASKED_PATHS)?;
    s.nreadonly = strings(l, &mut s.readonly_paths, f::LINUX_READONLY_PATHS)?;
    for (k, v) in l.entries_at(b"sysctl") {
        if s.nsysctl == MAX_SYSCTL {
            return refuse(f::LINUX_SYSCTL, TOO_MANY);
        }
        let kb = k.to_bytes();
        if kb.is_empty() || kb.contains(&b'/') || kb.windows(2).any(|w| w == b"..") || kb.starts_with(b".") {
            return refuse(f::LINUX_SYSCTL, why::n::NOT_A_SYSCTL_NAME);
        }
        // Only a sysctl of a namespace the container has, as runc: the others are the host's
        // (kernel.core_pattern would run a file of the container's as the host's root).
        const IPC: &[u8] = b"kernel.msgmax kernel.msgmnb kernel.msgmni kernel.sem kernel.shmall kernel.shmmax kernel.shmmni kernel.shm_rmid_forced";
        let ns = if word_at(IPC, kb).is_some() || kb.starts_with(b"fs.mqueue.") {
            libc::CLONE_NEWIPC
        } else if kb.starts_with(b"net.") {
            libc::CLONE_NEWNET
        } else if kb == b"kernel.hostname" || kb == b"kernel.domainname" {
            libc::CLONE_NEWUTS
        } else {
            0
        };
        if ns == 0 || s.namespace(ns).is_none() {
            return refuse(f::LINUX_SYSCTL, why::n::SYSCTL_NOT_OF_A_NAMESPACE);
        }
        let v = v.str().ok_or(Refused { field: f::LINUX_SYSCTL, why: BAD_TYPE })?;
        if let Some(o) = s.sysctl.get_mut(s.nsysctl) {
            *o = (k, v);
        }
        s.nsysctl += 1;
    }
    devices(l, s)?;
    s.propagation = match read(l, f::LINUX_ROOTFS_PROPAGATION, To::Text)?.str() {
        None => 0,
        Some(p) => match mount_option(p.to_bytes()) {
            Opt::Propagation(f) => f,
            _ => return refuse(f::LINUX_ROOTFS_PROPAGATION, why::n::UNKNOWN_PROPAGATION),
        },
    };
    s.cgroups_path = read(l, f::LINUX_CGROUPS_PATH, To::Text)?.str();
    if s.cgroups_path.is_some_and(|p| p.to_bytes().split(|&c| c == b'/' || c == b':').any(|c| c == b"." || c == b"..")) {
        return refuse(f::LINUX_CGROUPS_PATH, why::n::MAY_NOT_NAME_OR);
    }
    if let Some(r) = l.get(b"resources") {
        resources(r, &mut s.resources)?;
        s.device_rules = r.get(b"devices").filter(|d| !d.is_null());
        s.device_rules.map_or(Ok(()), super::devices::check)?;
    }
    s.seccomp = l.get(b"seccomp").filter(|x| !x.is_null());
    Ok(())
}

impl<'a> Spec<'a> {
    pub fn new() -> Spec<'a> {
        let m = Mount { dest: c"", kind: None, source: None, flags: 0, clear: 0, propagation: 0, options: None };
        let d = Device { path: c"", kind: 0, major: 0, minor: 0, mode: 0, uid: 0, gid: 0 };
        Spec {
            root: c"",
            readonly: false,
            hostname: None,
            domainname: None,
            mounts: [m; MAX_MOUNTS],
            nmounts: 0,
            namespaces: [Namespace { flag: 0, path: None }; 8],
            nnamespaces: 0,
            uid_maps: [IdMap::default(); MAX_MAPS],
            nuid_maps: 0,
            gid_maps: [IdMap::default(); MAX_MAPS],
            ngid_maps: 0,
            masked: [c""; MAX_PATHS],
            nmasked: 0,
            readonly_paths: [c""; MAX_PATHS],
            nreadonly: 0,
            sysctl: [(c"", c""); MAX_SYSCTL],
            nsysctl: 0,
            devices: [d; MAX_DEVICES],
            ndevices: 0,
            propagation: 0,
            cgroups_path: None,
            resources: Resources::default(),
            seccomp: None,
            device_rules: None,
            annotations: None,
            process: Process::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::json::{parse, Tok};
    use super::*;

    fn with(text: &str, f: impl FnOnce(Result<&Spec, Refused>)) {
        let mut b = text.as_bytes().to_vec();
        let mut t = vec![Tok::EMPTY; 4096];
        let d = parse(&mut b, &mut t).expect("json");
        let mut s = Box::new(Spec::new());
        match spec(d.root(), &mut s) {
            Ok(()) => f(Ok(&s)),
            Err(e) => f(Err(e)),
        }
    }

    const BASE: &str = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs","readonly":true},"hostname":"h",
      "process":{"args":["sh","-c","x"],"env":["A=1","B=2","A=3"],"cwd":"/tmp","terminal":true,
        "user":{"uid":1000,"gid":100,"umask":18,"additionalGids":[5,6]},
        "capabilities":{"bounding":["CAP_CHOWN","CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL","CAP_FUTURE"],"ambient":[]},
        "noNewPrivileges":true,"rlimits":[{"type":"RLIMIT_NOFILE","soft":1024,"hard":4096}],"oomScoreAdj":-5,
        "consoleSize":{"height":24,"width":80}},
      "mounts":[{"destination":"/proc","type":"proc","source":"proc"},
        {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
        {"destination":"/data","type":"bind","source":"/srv","options":["rbind","ro","rslave"]}],
      "linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"network","path":"/run/netns/x"}],
        "maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"],"sysctl":{"net.ipv4.ip_forward":"1"},
        "resources":{"memory":{"limit":1048576},"pids":{"limit":10},"cpu":{"shares":1024,"quota":50000,"period":100000}},
        "cgroupsPath":"/a/b","rootfsPropagation":"rprivate"},
      "annotations":{"k":"v"}}"#;

    #[test]
    fn reads_a_whole_config() {
        with(BASE, |s| {
            let s = s.unwrap();
            assert_eq!(s.root.to_bytes(), b"rootfs");
            assert!(s.readonly);
            let p = &s.process;
            assert_eq!(p.args().len(), 3);
            assert_eq!(p.env().iter().map(|e| e.to_bytes()).collect::<Vec<_>>(), [&b"A=3"[..], b"B=2"]);
            assert_eq!((p.uid, p.gid, p.umask, &p.groups[..p.ngroups]), (1000, 100, Some(18), &[5u32, 6][..]));
            assert_eq!(p.caps[BOUNDING], caps::bit(b"CHOWN") | caps::bit(b"KILL"));
            assert_eq!(p.caps[PERMITTED], caps::bit(b"KILL"));
            assert_eq!(p.caps[AMBIENT], 0);
            assert!(p.nnp && p.terminal);
            assert_eq!((p.rlimits[0].resource, p.rlimits[0].soft, p.rlimits[0].hard), (7, 1024, 4096));
            assert_eq!(p.oom_score_adj, Some(-5));
            assert_eq!(p.console, Some((24, 80)));
            assert_eq!(s.mounts().len(), 3);
            let b = s.mounts()[2];
            assert!(b.is_bind());
            assert_eq!(b.flags, libc::MS_BIND | libc::MS_REC | libc::MS_RDONLY);
            assert_eq!(b.propagation, libc::MS_SLAVE | libc::MS_REC);
            assert_eq!(s.mounts()[1].flags, libc::MS_NOSUID | libc::MS_STRICTATIME);
            assert_eq!(s.namespace(libc::CLONE_NEWNET).unwrap().path.unwrap().to_bytes(), b"/run/netns/x");
            assert!(s.namespace(libc::CLONE_NEWUSER).is_none());
            assert_eq!(s.resources.memory, Some(1048576));
            assert_eq!(s.resources.pids, Some(10));
            assert_eq!(s.resources.cpu_weight, Some(39));
            assert_eq!(s.propagation, libc::MS_PRIVATE | libc::MS_REC);
            assert_eq!(s.sysctl()[0].0.to_bytes(), b"net.ipv4.ip_forward");
            assert!(s.annotations.is_some());
        });
    }

    #[test]
    fn mount_options_and_their_flags() {
        use libc::*;
        let f = |o: &[u8]| match mount_option(o) {
            Opt::Set(b) => (1, b),
            Opt::Clear(b) => (2, b),
            Opt::Propagation(b) => (3, b),
            Opt::Ignore => (4, 0),
            Opt::Data => (5, 0),
            Opt::Refused => (6, 0),
        };
        assert_eq!(f(b"ro"), (1, MS_RDONLY));
        assert_eq!(f(b"remount"), (1, MS_REMOUNT));
        assert_eq!(f(b"bind"), (1, MS_BIND));
        assert_eq!(f(b"rbind"), (1, MS_BIND | MS_REC));
        assert_eq!(f(b"rw"), (2, MS_RDONLY));
        assert_eq!(f(b"nostrictatime"), (2, MS_STRICTATIME));
        assert_eq!(f(b"private"), (3, MS_PRIVATE));
        assert_eq!(f(b"runbindable"), (3, MS_UNBINDABLE | MS_REC));
        assert_eq!(f(b"tmpcopyup"), (1, COPY_UP));
        assert_eq!(f(b"notmpcopyup"), (2, COPY_UP));
        for o in [&b"defaults"[..], b""] {
            assert_eq!(f(o), (4, 0));
        }
        for o in [&b"idmap"[..], b"ridmap", b"idmap=x", b"x-foo"] {
            assert_eq!(f(o), (6, 0));
        }
        for o in [&b"mode=755"[..], b"size=1k", b"r", b"ro ", b" "] {
            assert_eq!(f(o), (5, 0));
        }
    }

    #[test]
    fn unsupported_fields_are_named() {
        let cases = [
            (r#""hooks":{"prestart":[{"path":"/x"}]},"#, &b"hooks"[..]),
        ];
        for (extra, field) in cases {
            let text = BASE.replacen('{', &format!("{{{extra}"), 1);
            with(&text, |s| assert_eq!(s.err().unwrap().field(), field));
        }
        let t = BASE.replace(r#""terminal":true"#, r#""terminal":true,"selinuxLabel":"x""#);
        with(&t, |s| assert_eq!(s.err().unwrap().field(), b"process.selinuxLabel"));
        let t = BASE.replace(r#""cgroupsPath""#, r#""intelRdt":{"closID":"x"},"cgroupsPath""#);
        with(&t, |s| assert_eq!(s.err().unwrap().field(), b"linux.intelRdt"));
        let t = BASE.replace(r#""rslave""#, r#""idmap""#);
        with(&t, |s| assert_eq!(s.err().unwrap().field(), b"mounts.options"));
        let t = BASE.replace(r#"{"type":"mount"},"#, "");
        with(&t, |s| assert_eq!(s.err().unwrap().field(), b"linux.namespaces"));
        let t = BASE.replace(r#""args":["sh","-c","x"]"#, r#""args":[]"#);
        with(&t, |s| assert_eq!(s.err().unwrap().field(), b"process.args"));
        let t = BASE.replace(r#""uid":1000"#, r#""uid":"x""#);
        with(&t, |s| assert_eq!(s.err().unwrap().field(), b"process.user.uid"));
    }

    #[test]
    fn empty_strings_are_none_and_other_types_refused() {
        let t = BASE
            .replace(r#""hostname":"h""#, r#""hostname":"","domainname":"""#)
            .replace(r#""cwd":"/tmp""#, r#""cwd":"/tmp","apparmorProfile":"""#)
            .replace(r#""uid":1000"#, r#""uid":1000,"username":"""#)
            .replace(r#""/a/b""#, r#""""#)
            .replace(r#""rprivate""#, r#""""#)
            .replace(r#""path":"/run/netns/x""#, r#""path":"""#)
            .replace(r#""quota""#, r#""cpus":"","mems":"","quota""#);
        with(&t, |s| {
            let s = s.unwrap();
            assert!(s.hostname.is_none() && s.domainname.is_none() && s.process.apparmor.is_none() && s.cgroups_path.is_none());
            assert_eq!(s.propagation, 0);
            assert!(s.namespace(libc::CLONE_NEWNET).unwrap().path.is_none());
        });
        let t = BASE.replace(r#""cwd":"/tmp""#, r#""cwd":"/tmp","apparmorProfile":"p""#).replace(r#""hostname":"h""#, r#""hostname":null"#);
        with(&t, |s| {
            let s = s.unwrap();
            assert_eq!(s.process.apparmor.unwrap().to_bytes(), b"p");
            assert!(s.hostname.is_none());
            assert_eq!(s.cgroups_path.unwrap().to_bytes(), b"/a/b");
        });
        let refused = |from: &str, to: &str, field: &[u8], why: u8| {
            with(&BASE.replace(from, to), |s| {
                let e = s.err().unwrap();
                assert_eq!((e.field(), e.why), (field, why));
            });
        };
        refused(r#""hostname":"h""#, r#""hostname":5"#, b"hostname", BAD_TYPE);
        refused(r#""hostname":"h""#, r#""hostname":"h","domainname":true"#, b"domainname", BAD_TYPE);
        refused(r#""cwd":"/tmp""#, r#""cwd":"/tmp","apparmorProfile":1"#, b"process.apparmorProfile", BAD_TYPE);
        refused(r#""uid":1000"#, r#""uid":1000,"username":"u""#, b"process.user.username", why::n::A_WINDOWS_FIELD);
        refused(r#""uid":1000"#, r#""uid":1000,"username":3"#, b"process.user.username", BAD_TYPE);
        refused(r#""/a/b""#, "5", b"linux.cgroupsPath", BAD_TYPE);
        refused(r#""rprivate""#, r#""bogus""#, b"linux.rootfsPropagation", why::n::UNKNOWN_PROPAGATION);
        refused(r#""rprivate""#, "5", b"linux.rootfsPropagation", BAD_TYPE);
        refused(r#""path":"/run/netns/x""#, r#""path":5"#, b"linux.namespaces.path", BAD_TYPE);
        refused(r#""quota""#, r#""mems":"0","quota""#, b"linux.resources.cpu.cpus", NOT_SUPPORTED);
        refused(r#""quota""#, r#""mems":0,"quota""#, b"linux.resources.cpu.mems", BAD_TYPE);
        refused(r#""type":"proc","source""#, r#""type":"","source""#, b"mounts.type", why::n::NOT_BIND_NEEDS_TYPE);
        refused(r#""type":"proc","source""#, r#""type":7,"source""#, b"mounts.type", BAD_TYPE);
    }
}
