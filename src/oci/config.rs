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

/// A refusal: the field (a JSON path) and why.
#[derive(Clone, Copy, Debug)]
pub struct Refused {
    pub field: &'static [u8],
    pub why: &'static [u8],
}

pub fn refuse<T>(field: &'static [u8], why: &'static [u8]) -> Result<T, Refused> {
    Err(Refused { field, why })
}

use why::{BAD_TYPE, NOT_SUPPORTED, TOO_MANY_ENTRIES as TOO_MANY};

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
        let key = |s: &[u8]| s.iter().position(|&c| c == b'=').unwrap_or(s.len());
        let b = e.to_bytes();
        let k = &b[..key(b)];
        if let Some(i) = (0..self.nenv).find(|&i| {
            let o = self.env[i].to_bytes();
            &o[..key(o)] == k
        }) {
            self.env[i] = e;
            return true;
        }
        if self.nenv == MAX_ENV {
            return false;
        }
        self.env[self.nenv] = e;
        self.nenv += 1;
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
fn key(field: &'static [u8]) -> &'static [u8] {
    field.rsplit(|&c| c == b'.').next().unwrap_or(field)
}

/// Fields whose presence asks for something sandbox does not do (a word list).
fn refuse_present(v: Val, fields: &'static [u8]) -> Result<(), Refused> {
    for field in words(fields) {
        if let Some(x) = v.get(key(field)) {
            let empty = x.is_null() || (matches!(x.kind(), Kind::Obj | Kind::Arr) && x.len() == 0) || x.bytes() == Some(b"");
            if !empty {
                return refuse(field, NOT_SUPPORTED);
            }
        }
    }
    Ok(())
}

fn string<'a>(v: Val<'a>, field: &'static [u8]) -> Result<&'a CStr, Refused> {
    v.str().map_or(refuse(field, BAD_TYPE), Ok)
}

/// The string at the key of `field` in `v`, if given and not null.
fn opt_string<'a>(v: Val<'a>, field: &'static [u8]) -> Result<Option<&'a CStr>, Refused> {
    match v.get(key(field)) {
        None => Ok(None),
        Some(x) if x.is_null() => Ok(None),
        Some(x) => string(x, field).map(Some),
    }
}

fn boolean(v: Val, field: &'static [u8]) -> Result<bool, Refused> {
    match v.get(key(field)) {
        None => Ok(false),
        Some(x) => x.bool().map_or(refuse(field, BAD_TYPE), Ok),
    }
}

fn u32_of(v: Option<Val>, field: &'static [u8]) -> Result<Option<u32>, Refused> {
    match v {
        None => Ok(None),
        Some(x) => match x.u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Ok(Some(n)),
            None => refuse(field, BAD_TYPE),
        },
    }
}

fn u32_at(v: Val, field: &'static [u8]) -> Result<Option<u32>, Refused> {
    u32_of(v.get(key(field)), field)
}

/// Fill `out` with the strings of the array at the key of `field` in `v`; returns how many.
fn strings<'a>(v: Val<'a>, out: &mut [&'a CStr], field: &'static [u8]) -> Result<usize, Refused> {
    let Some(v) = v.get(key(field)) else { return Ok(0) };
    if v.is_null() {
        return Ok(0);
    }
    if v.kind() != Kind::Arr {
        return refuse(field, BAD_TYPE);
    }
    let mut n = 0;
    for x in v.items() {
        if n == out.len() {
            return refuse(field, TOO_MANY);
        }
        out[n] = string(x, field)?;
        n += 1;
    }
    Ok(n)
}

fn cap_set(v: Option<Val>) -> Result<u64, Refused> {
    let Some(v) = v else { return Ok(0) };
    if v.kind() != Kind::Arr && !v.is_null() {
        return refuse(b"process.capabilities", BAD_TYPE);
    }
    let mut m = 0;
    for x in v.items() {
        let name = x.bytes().ok_or(Refused { field: b"process.capabilities", why: BAD_TYPE })?;
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
        return refuse(b"process", BAD_TYPE);
    }
    refuse_present(v, b"process.selinuxLabel process.scheduler process.ioPriority process.execCPUAffinity")?;
    p.nargs = strings(v, &mut p.args, b"process.args")?;
    if let Some(cl) = v.get(b"commandLine") {
        if !cl.is_null() {
            return refuse(b"process.commandLine", NOT_SUPPORTED);
        }
    }
    let mut env = [c""; MAX_ENV];
    let n = strings(v, &mut env, b"process.env")?;
    for e in &env[..n] {
        p.push_env(e);
    }
    if let Some(cwd) = opt_string(v, b"process.cwd")? {
        if cwd.to_bytes().first() != Some(&b'/') {
            return refuse(b"process.cwd", why::MUST_BE_AN_ABSOLUTE_PATH);
        }
        p.cwd = cwd;
    }
    p.terminal = boolean(v, b"process.terminal")?;
    p.nnp = boolean(v, b"process.noNewPrivileges")?;
    if let Some(u) = v.get(b"user") {
        p.uid = u32_at(u, b"process.user.uid")?.unwrap_or(0);
        p.gid = u32_at(u, b"process.user.gid")?.unwrap_or(0);
        p.umask = u32_at(u, b"process.user.umask")?;
        if opt_string(u, b"process.user.username")?.is_some_and(|s| !s.is_empty()) {
            return refuse(b"process.user.username", why::A_WINDOWS_FIELD);
        }
        p.ngroups = 0;
        if let Some(g) = u.get(b"additionalGids") {
            for x in g.items() {
                if p.ngroups == MAX_GROUPS {
                    return refuse(b"process.user.additionalGids", TOO_MANY);
                }
                p.groups[p.ngroups] = u32_of(Some(x), b"process.user.additionalGids")?.unwrap_or(0);
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
            let t = x.bytes_at(b"type").ok_or(Refused { field: b"process.rlimits.type", why: BAD_TYPE })?;
            let name = t.strip_prefix(b"RLIMIT_").unwrap_or(b"");
            let Some(res) = RLIMITS.iter().position(|n| *n == name) else {
                return refuse(b"process.rlimits.type", why::UNKNOWN_RESOURCE);
            };
            let soft = x.u64_at(b"soft").ok_or(Refused { field: b"process.rlimits.soft", why: BAD_TYPE })?;
            let hard = x.u64_at(b"hard").ok_or(Refused { field: b"process.rlimits.hard", why: BAD_TYPE })?;
            if p.nrlimits == MAX_RLIMITS {
                return refuse(b"process.rlimits", TOO_MANY);
            }
            p.rlimits[p.nrlimits] = Rlimit { resource: res as u32, soft, hard };
            p.nrlimits += 1;
        }
    }
    if let Some(o) = v.get(b"oomScoreAdj") {
        p.oom_score_adj = Some(o.i64().filter(|n| (-1000..=1000).contains(n)).ok_or(Refused { field: b"process.oomScoreAdj", why: why::NOT_IN_OOM_RANGE })?);
    }
    p.apparmor = opt_string(v, b"process.apparmorProfile")?.filter(|s| !s.is_empty());
    if let Some(c) = v.get(b"consoleSize") {
        let h = u32_at(c, b"process.consoleSize.height")?.unwrap_or(0);
        let w = u32_at(c, b"process.consoleSize.width")?.unwrap_or(0);
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

fn mount<'a>(v: Val<'a>) -> Result<Mount<'a>, Refused> {
    let dest = v.str_at(b"destination").ok_or(Refused { field: b"mounts.destination", why: BAD_TYPE })?;
    if dest.to_bytes().first() != Some(&b'/') {
        return refuse(b"mounts.destination", why::MUST_BE_AN_ABSOLUTE_PATH);
    }
    if v.get(b"uidMappings").is_some_and(|x| x.len() > 0) || v.get(b"gidMappings").is_some_and(|x| x.len() > 0) {
        return refuse(b"mounts.uidMappings", why::NO_IDMAPPED_MOUNTS);
    }
    let mut m = Mount {
        dest,
        kind: opt_string(v, b"mounts.type")?.filter(|s| !s.is_empty()),
        source: opt_string(v, b"mounts.source")?,
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
            let o = o.bytes().ok_or(Refused { field: b"mounts.options", why: BAD_TYPE })?;
            match mount_option(o) {
                Opt::Set(f) => m.flags |= f,
                Opt::Clear(f) => {
                    m.flags &= !f;
                    m.clear |= f;
                }
                Opt::Propagation(f) => m.propagation = f,
                Opt::Refused => return refuse(b"mounts.options", why::NO_IDMAPPED_MOUNTS),
                Opt::Ignore | Opt::Data => {}
            }
        }
    }
    if m.is_bind() && m.source.is_none() {
        return refuse(b"mounts.source", why::A_BIND_MOUNT_NEEDS_A_SOURCE);
    }
    if !m.is_bind() && m.kind.is_none() {
        return refuse(b"mounts.type", why::NOT_BIND_NEEDS_TYPE);
    }
    Ok(m)
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

fn id_maps(v: Val, key: &[u8], out: &mut [IdMap; MAX_MAPS], field: &'static [u8]) -> Result<usize, Refused> {
    let mut n = 0;
    for x in v.items_at(key) {
        if n == MAX_MAPS {
            return refuse(field, TOO_MANY);
        }
        let f = |k: &[u8]| x.u64_at(k).and_then(|y| u32::try_from(y).ok());
        match (f(b"containerID"), f(b"hostID"), f(b"size")) {
            (Some(inside), Some(outside), Some(count)) => out[n] = IdMap { inside, outside, count },
            _ => return refuse(field, BAD_TYPE),
        }
        n += 1;
    }
    Ok(n)
}

fn devices<'a>(l: Val<'a>, s: &mut Spec<'a>) -> Result<(), Refused> {
    for d in l.items_at(b"devices") {
        let path = d.str_at(b"path").ok_or(Refused { field: b"linux.devices.path", why: BAD_TYPE })?;
        let kind = match d.bytes_at(b"type") {
            Some(b"c") | Some(b"u") => libc::S_IFCHR,
            Some(b"b") => libc::S_IFBLK,
            Some(b"p") => libc::S_IFIFO,
            _ => return refuse(b"linux.devices.type", why::DEVICE_TYPES),
        };
        let num = |k: &[u8]| d.u64_at(k);
        if s.ndevices == MAX_DEVICES {
            return refuse(b"linux.devices", TOO_MANY);
        }
        s.devices[s.ndevices] = Device {
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

#[inline(never)]
pub fn resources(v: Val, r: &mut Resources) -> Result<(), Refused> {
    // Positive limits only: -1 and 0 mean none.
    let limit = |x: Option<Val>| x.and_then(|x| x.i64()).filter(|&n| n > 0).map(|n| n as u64);
    if let Some(m) = v.get(b"memory") {
        r.memory = limit(m.get(b"limit"));
        r.reservation = limit(m.get(b"reservation"));
        r.swap = match (m.i64_at(b"swap"), r.memory) {
            (Some(-1), _) => Some(u64::MAX),
            (Some(s), Some(l)) if s > 0 && s as u64 >= l => Some(s as u64 - l),
            (Some(s), _) if s > 0 => return refuse(b"linux.resources.memory.swap", why::NEEDS_A_MEMORY_LIMIT_NO_LARGER),
            _ => None,
        };
        if limit(m.get(b"kernel")).is_some() || limit(m.get(b"kernelTCP")).is_some() {
            return refuse(b"linux.resources.memory.kernel", NOT_SUPPORTED);
        }
    }
    if let Some(p) = v.get(b"pids") {
        r.pids = limit(p.get(b"limit"));
    }
    if let Some(c) = v.get(b"cpu") {
        // shares (2..262144, default 1024) to cpu.weight (1..10000, default 100), as runc does.
        // 1024, the default engines put everywhere, is dropped where no cpu controller is.
        r.default_shares = limit(c.get(b"shares")) == Some(1024);
        if let Some(s) = limit(c.get(b"shares")) {
            let s = s.clamp(2, 262144);
            r.cpu_weight = Some(1 + ((s - 2) * 9999) / 262142);
        }
        r.cpu_quota = limit(c.get(b"quota"));
        r.cpu_period = limit(c.get(b"period"));
        if opt_string(c, b"linux.resources.cpu.cpus")?.is_some_and(|s| !s.is_empty())
            || opt_string(c, b"linux.resources.cpu.mems")?.is_some_and(|s| !s.is_empty())
        {
            return refuse(b"linux.resources.cpu.cpus", NOT_SUPPORTED);
        }
    }
    // devices: the allow/deny list of the device cgroup is not enforced; what the container
    // may open is what its /dev holds (the default nodes and linux.devices), as on cgroup v2
    // without a BPF program. blockIO, hugepageLimits, network, rdma, unified: not enforced
    // either, but refused when they ask for something.
    refuse_present(v, b"linux.resources.hugepageLimits linux.resources.rdma linux.resources.unified")?;
    Ok(())
}

/// Read the whole of config.json (parsed) into `s`.
pub fn spec<'a>(root: Val<'a>, s: &mut Spec<'a>) -> Result<(), Refused> {
    if root.kind() != Kind::Obj {
        return refuse(b"config.json", why::NOT_A_JSON_OBJECT);
    }
    refuse_present(root, b"hooks solaris windows vm zos")?;
    let r = root.get(b"root").ok_or(Refused { field: b"root", why: why::MISSING })?;
    s.root = r.str_at(b"path").filter(|p| !p.is_empty()).ok_or(Refused { field: b"root.path", why: why::MISSING })?;
    s.readonly = boolean(r, b"root.readonly")?;
    s.hostname = opt_string(root, b"hostname")?.filter(|h| !h.is_empty());
    s.domainname = opt_string(root, b"domainname")?.filter(|h| !h.is_empty());
    match root.get(b"process") {
        Some(p) => process(p, &mut s.process)?,
        None => return refuse(b"process", why::MISSING),
    }
    if s.process.nargs == 0 {
        return refuse(b"process.args", why::MISSING);
    }
    for m in root.items_at(b"mounts") {
        if s.nmounts == MAX_MOUNTS {
            return refuse(b"mounts", TOO_MANY);
        }
        s.mounts[s.nmounts] = mount(m)?;
        s.nmounts += 1;
    }
    s.annotations = root.get(b"annotations").filter(|a| a.kind() == Kind::Obj);
    let Some(l) = root.get(b"linux") else { return refuse(b"linux", why::MISSING) };
    refuse_present(l, b"linux.intelRdt linux.personality linux.timeOffsets linux.mountLabel linux.memoryPolicy linux.netDevices")?;
    for n in l.items_at(b"namespaces") {
        let t = n.bytes_at(b"type").unwrap_or(b"");
        let Some(&flag) = word_at(NAMESPACES, t).and_then(|i| NAMESPACE_FLAGS.get(i)) else {
            return refuse(b"linux.namespaces.type", why::UNKNOWN_NAMESPACE);
        };
        if s.namespace(flag).is_some() {
            return refuse(b"linux.namespaces.type", why::NAMED_TWICE);
        }
        let path = opt_string(n, b"linux.namespaces.path")?.filter(|p| !p.is_empty());
        s.namespaces[s.nnamespaces] = Namespace { flag, path };
        s.nnamespaces += 1;
    }
    if s.namespace(libc::CLONE_NEWNS).is_none_or(|n| n.path.is_some()) {
        return refuse(b"linux.namespaces", why::NEEDS_A_MOUNT_NAMESPACE);
    }
    s.nuid_maps = id_maps(l, b"uidMappings", &mut s.uid_maps, b"linux.uidMappings")?;
    s.ngid_maps = id_maps(l, b"gidMappings", &mut s.gid_maps, b"linux.gidMappings")?;
    if s.namespace(libc::CLONE_NEWUSER).is_some_and(|n| n.path.is_none()) && (s.nuid_maps == 0 || s.ngid_maps == 0) {
        return refuse(b"linux.uidMappings", why::USER_NAMESPACE_NEEDS_MAPPINGS);
    }
    s.nmasked = strings(l, &mut s.masked, b"linux.maskedPaths")?;
    s.nreadonly = strings(l, &mut s.readonly_paths, b"linux.readonlyPaths")?;
    for (k, v) in l.entries_at(b"sysctl") {
        if s.nsysctl == MAX_SYSCTL {
            return refuse(b"linux.sysctl", TOO_MANY);
        }
        let kb = k.to_bytes();
        if kb.is_empty() || kb.contains(&b'/') || kb.windows(2).any(|w| w == b"..") || kb.starts_with(b".") {
            return refuse(b"linux.sysctl", why::NOT_A_SYSCTL_NAME);
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
            return refuse(b"linux.sysctl", why::SYSCTL_NOT_OF_A_NAMESPACE);
        }
        s.sysctl[s.nsysctl] = (k, string(v, b"linux.sysctl")?);
        s.nsysctl += 1;
    }
    devices(l, s)?;
    s.propagation = match opt_string(l, b"linux.rootfsPropagation")? {
        None => 0,
        Some(p) if p.is_empty() => 0,
        Some(p) => match mount_option(p.to_bytes()) {
            Opt::Propagation(f) => f,
            _ => return refuse(b"linux.rootfsPropagation", why::UNKNOWN_PROPAGATION),
        },
    };
    s.cgroups_path = opt_string(l, b"linux.cgroupsPath")?.filter(|p| !p.is_empty());
    if s.cgroups_path.is_some_and(|p| p.to_bytes().split(|&c| c == b'/' || c == b':').any(|c| c == b"." || c == b"..")) {
        return refuse(b"linux.cgroupsPath", why::MAY_NOT_NAME_OR);
    }
    if let Some(r) = l.get(b"resources") {
        resources(r, &mut s.resources)?;
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
            process: Process::new(),
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
            annotations: None,
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
            with(&text, |s| assert_eq!(s.err().unwrap().field, field));
        }
        let t = BASE.replace(r#""terminal":true"#, r#""terminal":true,"selinuxLabel":"x""#);
        with(&t, |s| assert_eq!(s.err().unwrap().field, b"process.selinuxLabel"));
        let t = BASE.replace(r#""cgroupsPath""#, r#""intelRdt":{"closID":"x"},"cgroupsPath""#);
        with(&t, |s| assert_eq!(s.err().unwrap().field, b"linux.intelRdt"));
        let t = BASE.replace(r#""rslave""#, r#""idmap""#);
        with(&t, |s| assert_eq!(s.err().unwrap().field, b"mounts.options"));
        let t = BASE.replace(r#"{"type":"mount"},"#, "");
        with(&t, |s| assert_eq!(s.err().unwrap().field, b"linux.namespaces"));
        let t = BASE.replace(r#""args":["sh","-c","x"]"#, r#""args":[]"#);
        with(&t, |s| assert_eq!(s.err().unwrap().field, b"process.args"));
        let t = BASE.replace(r#""uid":1000"#, r#""uid":"x""#);
        with(&t, |s| assert_eq!(s.err().unwrap().field, b"process.user.uid"));
    }
}
