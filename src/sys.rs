//! The one room for `unsafe`: every raw system call sandbox makes, with typed arguments in and
//! `Result<_, Errno>` out. Nothing else in the crate touches raw pointers or `syscall!`.
//!
//! Each wrapper is one `unsafe` line. The common SAFETY argument: every pointer handed to the
//! kernel comes from a live Rust reference (`&CStr`, `&[u8]`, `&mut T`) that outlives the call, and
//! lengths come from the same slice, so the kernel reads and writes only memory we own.

use core::ffi::CStr;
use core::ptr::null;
use syscalls::{syscall, Sysno};

pub use syscalls::Errno;
pub type Result<T> = core::result::Result<T, Errno>;

pub const AT_FDCWD: Fd = Fd(libc::AT_FDCWD);

/// A file descriptor. Plain `Copy`: ownership is simple in a process that exits soon, and the
/// fds that must not reach the command are opened with `O_CLOEXEC`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fd(pub i32);

pub const STDIN: Fd = Fd(0);
pub const STDERR: Fd = Fd(2);

fn ptr(s: Option<&CStr>) -> usize {
    s.map_or(0, |s| s.as_ptr() as usize)
}

// ---- processes -------------------------------------------------------------------------------

pub fn exit(code: i32) -> ! {
    // SAFETY: exit_group takes no pointers and does not return.
    unsafe {
        let _ = syscall!(Sysno::exit_group, code);
    }
    #[allow(clippy::empty_loop)] // not reached: exit_group does not return
    loop {}
}

#[inline(never)]
pub fn getpid() -> i32 {
    // SAFETY: no arguments.
    unsafe { syscall!(Sysno::getpid) }.unwrap_or(0) as i32
}

#[inline(never)]
pub fn geteuid() -> u32 {
    // SAFETY: no arguments.
    unsafe { syscall!(Sysno::geteuid) }.unwrap_or(0) as u32
}

pub fn getegid() -> u32 {
    // SAFETY: no arguments.
    unsafe { syscall!(Sysno::getegid) }.unwrap_or(0) as u32
}

#[inline(never)]
pub fn getpgrp() -> i32 {
    // SAFETY: getpgid(0) takes no pointers.
    unsafe { syscall!(Sysno::getpgid, 0) }.unwrap_or(0) as i32
}

pub fn getppid() -> i32 {
    // SAFETY: no arguments.
    unsafe { syscall!(Sysno::getppid) }.unwrap_or(0) as i32
}

pub fn getpgid(pid: i32) -> i32 {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::getpgid, pid) }.map_or(-1, |g| g as i32)
}

#[inline(never)]
pub fn setpgid(pid: i32, pgid: i32) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::setpgid, pid, pgid) }.map(drop)
}

/// The stack of a process that `spawn` starts, in .bss: its pages cost only once touched. One
/// child per stack and per process: a stack is taken for good (EBUSY after).
#[repr(C, align(16))]
pub struct Stack<const N: usize> {
    bytes: core::cell::UnsafeCell<[u8; N]>,
    taken: core::sync::atomic::AtomicBool,
}

// SAFETY: the bytes are handed out once (`taken`), to one child, and never read here.
unsafe impl<const N: usize> Sync for Stack<N> {}

impl<const N: usize> Stack<N> {
    pub const fn new() -> Self {
        Stack { bytes: core::cell::UnsafeCell::new([0; N]), taken: core::sync::atomic::AtomicBool::new(false) }
    }
}

/// Start a process that shares this address space until it execs, as posix_spawn does: clone
/// with CLONE_VM, `main(arg)` on a stack of its own. A fork copies the page tables and then
/// both sides take a copy-on-write fault on every page they write; this costs a fifth of that.
/// The child must not return from `main` (it execs or exits), must write nothing but its own
/// stack, and `arg` must stay alive and unchanged until the child has exec'd or exited.
pub fn spawn<T, const N: usize>(flags: u64, stack: &'static Stack<N>, main: extern "C" fn(&T) -> !, arg: &T) -> Result<i32> {
    if stack.taken.swap(true, core::sync::atomic::Ordering::Relaxed) {
        return Err(Errno::EBUSY);
    }
    let top = (stack.bytes.get() as usize + N) & !15;
    let ret: isize;
    // SAFETY: the child starts on the 16-byte aligned top of `stack`, which nothing else uses,
    // with rdi = arg and calls main, which does not return (ud2 otherwise). The parent gets the
    // pid or -errno in rax; syscall clobbers rcx and r11 only.
    unsafe {
        core::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") Sysno::clone as isize => ret,
            in("rdi") flags | libc::CLONE_VM as u64,
            in("rsi") top,
            in("rdx") 0usize,
            in("r10") 0usize,
            in("r8") 0usize,
            in("r12") arg as *const T as usize,
            in("r13") main as usize,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    if ret < 0 {
        Err(Errno::new(-ret as i32))
    } else {
        Ok(ret as i32)
    }
}

/// fork-like clone: no new stack, so the child continues on a private copy of ours. Returns the
/// child's pid in the parent and 0 in the child.
pub fn clone(flags: u64) -> Result<i32> {
    // SAFETY: without CLONE_VM the child gets a copy of the address space, so sharing the stack
    // pointer is what fork does; no pointer arguments are passed.
    unsafe { syscall!(Sysno::clone, flags, 0, 0, 0, 0) }.map(|p| p as i32)
}

/// wait4 with a status word; returns (pid, status). pid 0 with WNOHANG: nothing ready.
pub fn wait4(pid: i32, options: i32) -> Result<(i32, i32)> {
    let mut status: i32 = 0;
    // SAFETY: status is a live i32; rusage is NULL.
    let r = unsafe { syscall!(Sysno::wait4, pid, &mut status as *mut i32, options, 0) }?;
    Ok((r as i32, status))
}

#[inline(never)]
pub fn kill(pid: i32, sig: i32) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::kill, pid, sig) }.map(drop)
}

/// Whether `cap` is in this process's bounding set.
pub fn capbset_read(cap: u64) -> bool {
    // SAFETY: integers only.
    unsafe { syscall!(Sysno::prctl, libc::PR_CAPBSET_READ, cap, 0, 0, 0) }.is_ok_and(|v| v == 1)
}

pub fn prctl(option: i32, arg: u64) -> Result<()> {
    // SAFETY: the options used here take integers only.
    unsafe { syscall!(Sysno::prctl, option, arg, 0, 0, 0) }.map(drop)
}

pub fn umask(mask: u32) -> u32 {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::umask, mask) }.unwrap_or(0o022) as u32
}

/// execve with NULL-terminated argument and environment vectors (see `Args`, `Env`).
pub fn execve(path: &CStr, argv: *const *const u8, envp: *const *const u8) -> Errno {
    // SAFETY: path is a live C string; argv and envp are NULL-terminated arrays of C strings that
    // the callers build from the process's own argv/envp or from arrays that outlive the call.
    match unsafe { syscall!(Sysno::execve, path.as_ptr(), argv, envp) } {
        Ok(_) => Errno::new(0),
        Err(e) => e,
    }
}

// ---- signals ---------------------------------------------------------------------------------

/// The kernel's 64-bit signal set.
#[derive(Clone, Copy)]
pub struct SigSet(pub u64);

impl SigSet {
    pub const fn of(sigs: &[i32]) -> SigSet {
        let mut m = 0u64;
        let mut i = 0;
        while i < sigs.len() {
            m |= 1 << (sigs[i] - 1);
            i += 1;
        }
        SigSet(m)
    }
    #[cfg(test)]
    pub fn has(self, sig: i32) -> bool {
        sig > 0 && sig <= 64 && self.0 & (1 << (sig - 1)) != 0
    }
}

pub fn sigprocmask(how: i32, set: SigSet) -> Result<SigSet> {
    let mut old = SigSet(0);
    // SAFETY: both sets are live u64s of the size passed.
    unsafe { syscall!(Sysno::rt_sigprocmask, how, &set.0 as *const u64, &mut old.0 as *mut u64, 8) }?;
    Ok(old)
}

/// Wait for one of the (blocked) signals in `set`; returns its number.
/// Wait for one of the (blocked) signals in `set`; returns its number and si_code (SI_KERNEL
/// for one the kernel sent, as a terminal's Ctrl-C; SI_USER for kill(2)).
pub fn sigwait_info(set: SigSet) -> Result<(i32, i32)> {
    let mut info = [0i32; 32];
    // SAFETY: set is a live u64 and info a live 128-byte siginfo_t; the timeout is NULL.
    let sig = unsafe { syscall!(Sysno::rt_sigtimedwait, &set.0 as *const u64, info.as_mut_ptr(), 0, 8) }?;
    Ok((sig as i32, info[2]))
}

// ---- files -----------------------------------------------------------------------------------

pub fn openat(dir: Fd, path: &CStr, flags: i32, mode: u32) -> Result<Fd> {
    // SAFETY: path is a live C string.
    unsafe { syscall!(Sysno::openat, dir.0, path.as_ptr(), flags, mode) }.map(|f| Fd(f as i32))
}

/// Close `fd`; a negative one (none) costs no syscall.
#[inline(never)]
pub fn close(fd: Fd) {
    if fd.0 >= 0 {
        // SAFETY: no pointers.
        let _ = unsafe { syscall!(Sysno::close, fd.0) };
    }
}

pub fn read(fd: Fd, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: buf is live and writable for its length.
    unsafe { syscall!(Sysno::read, fd.0, buf.as_mut_ptr(), buf.len()) }
}

pub fn write(fd: Fd, buf: &[u8]) -> Result<usize> {
    // SAFETY: buf is live for its length.
    unsafe { syscall!(Sysno::write, fd.0, buf.as_ptr(), buf.len()) }
}

/// Write all of `buf`, retrying short writes and EINTR.
pub fn write_all(fd: Fd, mut buf: &[u8]) -> Result<()> {
    while !buf.is_empty() {
        match write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub fn mkdirat(dir: Fd, path: &CStr, mode: u32) -> Result<()> {
    // SAFETY: path is a live C string.
    unsafe { syscall!(Sysno::mkdirat, dir.0, path.as_ptr(), mode) }.map(drop)
}

pub fn unlinkat(dir: Fd, path: &CStr, flags: i32) -> Result<()> {
    // SAFETY: path is a live C string.
    unsafe { syscall!(Sysno::unlinkat, dir.0, path.as_ptr(), flags) }.map(drop)
}

pub fn fchmodat(dir: Fd, path: &CStr, mode: u32) -> Result<()> {
    // SAFETY: path is a live C string.
    unsafe { syscall!(Sysno::fchmodat, dir.0, path.as_ptr(), mode) }.map(drop)
}

#[inline(never)]
pub fn mknodat(dir: Fd, path: &CStr, mode: u32, dev: u64) -> Result<()> {
    // SAFETY: path is a live C string.
    unsafe { syscall!(Sysno::mknodat, dir.0, path.as_ptr(), mode, dev) }.map(drop)
}

pub fn symlinkat(target: &CStr, dir: Fd, path: &CStr) -> Result<()> {
    // SAFETY: both are live C strings.
    unsafe { syscall!(Sysno::symlinkat, target.as_ptr(), dir.0, path.as_ptr()) }.map(drop)
}

/// getdents64 into `buf`; returns the number of bytes filled (0 at the end).
pub fn getdents(fd: Fd, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: buf is live and writable for its length.
    unsafe { syscall!(Sysno::getdents64, fd.0, buf.as_mut_ptr(), buf.len()) }
}

/// The entries of a getdents64 buffer (the bytes it filled): each name with its d_type,
/// up to the end or a malformed entry.
pub fn dirents(buf: &[u8]) -> Dirents<'_> {
    Dirents { buf, off: 0 }
}

pub struct Dirents<'a> {
    buf: &'a [u8],
    off: usize,
}

impl<'a> Iterator for Dirents<'a> {
    type Item = (&'a CStr, u8);
    fn next(&mut self) -> Option<(&'a CStr, u8)> {
        let (b, at) = (self.buf, self.off);
        // struct linux_dirent64: ino, off, reclen (at 16), type (at 18), then the name.
        let head = b.get(at..at + 19)?;
        let reclen = u16::from_ne_bytes([head[16], head[17]]) as usize;
        self.off = at + reclen.max(1);
        let name = CStr::from_bytes_until_nul(b.get(at + 19..(at + reclen).min(b.len()))?).ok()?;
        Some((name, head[18]))
    }
}

pub fn rewind(fd: Fd) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::lseek, fd.0, 0, libc::SEEK_SET) }.map(drop)
}

pub fn flock(fd: Fd, op: i32) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::flock, fd.0, op) }.map(drop)
}

/// A POSIX read lock on all of `fd`'s file, held until this process closes any fd of it.
pub fn lock_shared(fd: Fd) -> Result<()> {
    let fl = libc::flock { l_type: libc::F_RDLCK as i16, l_whence: libc::SEEK_SET as i16, l_start: 0, l_len: 0, l_pid: 0 };
    // SAFETY: fl is a live struct flock, read by F_SETLK.
    unsafe { syscall!(Sysno::fcntl, fd.0, libc::F_SETLK, &fl as *const libc::flock) }.map(drop)
}

/// The pid (in our PID namespace) of a process holding a POSIX lock on `fd`'s file that a write
/// lock would wait for; 0: none, or one we cannot see.
pub fn lock_holder(fd: Fd) -> i32 {
    let mut fl = libc::flock { l_type: libc::F_WRLCK as i16, l_whence: libc::SEEK_SET as i16, l_start: 0, l_len: 0, l_pid: 0 };
    // SAFETY: fl is a live, writable struct flock, filled in by F_GETLK.
    let r = unsafe { syscall!(Sysno::fcntl, fd.0, libc::F_GETLK, &mut fl as *mut libc::flock) };
    if r.is_ok() && fl.l_type != libc::F_UNLCK as i16 { fl.l_pid } else { 0 }
}

/// The few fields of fstat that sandbox reads.
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
}

pub fn fstat(fd: Fd) -> Result<Stat> {
    stat_at(fd, c"", libc::AT_EMPTY_PATH)
}

/// newfstatat: `path` in `dir` (with AT_EMPTY_PATH and "", `dir` itself).
pub fn stat_at(dir: Fd, path: &CStr, flags: i32) -> Result<Stat> {
    // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: path is a live C string and st a live, writable `struct stat`.
    unsafe { syscall!(Sysno::newfstatat, dir.0, path.as_ptr(), &mut st as *mut libc::stat, flags) }?;
    Ok(Stat { dev: st.st_dev, ino: st.st_ino, mode: st.st_mode, nlink: st.st_nlink, uid: st.st_uid, gid: st.st_gid, size: st.st_size as u64 })
}

pub fn chdir(path: &CStr) -> Result<()> {
    // SAFETY: path is a live C string.
    unsafe { syscall!(Sysno::chdir, path.as_ptr()) }.map(drop)
}

pub fn socketpair(domain: i32, ty: i32) -> Result<(Fd, Fd)> {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a live array of two ints.
    unsafe { syscall!(Sysno::socketpair, domain, ty, 0, fds.as_mut_ptr()) }?;
    Ok((Fd(fds[0]), Fd(fds[1])))
}

#[inline(never)]
pub fn socket(domain: i32, ty: i32, proto: i32) -> Result<Fd> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::socket, domain, ty, proto) }.map(|f| Fd(f as i32))
}

/// Poll one fd without waiting; returns its revents.
pub fn poll_now(fd: Fd, events: i16) -> Result<i16> {
    let mut p = libc::pollfd { fd: fd.0, events, revents: 0 };
    // SAFETY: p is one live pollfd.
    unsafe { syscall!(Sysno::poll, &mut p as *mut libc::pollfd, 1, 0) }?;
    Ok(p.revents)
}

/// ioctl whose third argument is a pointer to `T` (read or written by the kernel).
pub fn ioctl<T>(fd: Fd, req: u64, arg: &mut T) -> Result<()> {
    // SAFETY: arg is a live, writable T of the type the request expects (callers pair them).
    unsafe { syscall!(Sysno::ioctl, fd.0, req, arg as *mut T) }.map(drop)
}

// ---- mounts and namespaces -------------------------------------------------------------------

#[inline(never)]
pub fn mount(
    src: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: u64,
    data: Option<&CStr>,
) -> Result<()> {
    // SAFETY: every pointer is a live C string or NULL.
    unsafe { syscall!(Sysno::mount, ptr(src), target.as_ptr(), ptr(fstype), flags, ptr(data)) }
        .map(drop)
}

pub fn umount2(target: &CStr, flags: i32) -> Result<()> {
    // SAFETY: target is a live C string.
    unsafe { syscall!(Sysno::umount2, target.as_ptr(), flags) }.map(drop)
}

pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> Result<()> {
    // SAFETY: both are live C strings.
    unsafe { syscall!(Sysno::pivot_root, new_root.as_ptr(), put_old.as_ptr()) }.map(drop)
}

/// mount_setattr on one path, recursively: set and clear MOUNT_ATTR_* bits.
/// mount_setattr: set and clear MOUNT_ATTR_* bits on the mount at `path` in `dir` (flags:
/// AT_RECURSIVE for the mounts below it too, AT_EMPTY_PATH for `dir` itself).
pub fn mount_setattr(dir: Fd, path: &CStr, flags: i32, set: u64, clear: u64) -> Result<()> {
    let attr: [u64; 4] = [set, clear, 0, 0];
    // SAFETY: path is a live C string and attr a live `struct mount_attr` of the size passed.
    unsafe { syscall!(Sysno::mount_setattr, dir.0, path.as_ptr(), flags, attr.as_ptr(), 32) }.map(drop)
}

/// openat2 with RESOLVE_* flags; again on EAGAIN, which a scoped lookup through `..` returns
/// when any mount or rename on the system raced with it.
pub fn openat2(dir: Fd, path: &CStr, flags: i32, resolve: u64) -> Result<Fd> {
    let how: [u64; 3] = [flags as u64, 0, resolve];
    let mut tries = 0;
    loop {
        // SAFETY: path is a live C string and how a live `struct open_how` of the size passed.
        let r = unsafe { syscall!(Sysno::openat2, dir.0, path.as_ptr(), how.as_ptr(), 24) }.map(|f| Fd(f as i32));
        match r {
            Err(Errno::EAGAIN) if tries < 10_000 => tries += 1,
            r => return r,
        }
    }
}

/// Close (or, with CLOSE_RANGE_CLOEXEC, mark close-on-exec) every fd from `first` to `last`.
pub fn close_range(first: u32, last: u32, flags: u32) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::close_range, first, last, flags) }.map(drop)
}

/// Close every fd but those in `keep` (sorted here; negative ones are ignored).
pub fn close_all_but(keep: &mut [Fd]) {
    let _ = close_from_but(0, keep);
}

/// Close every fd from `from` on but those in `keep` (sorted here; negative ones and those
/// below `from` are ignored). Every range is closed; the first failure is returned.
pub fn close_from_but(from: u32, keep: &mut [Fd]) -> Result<()> {
    for i in 1..keep.len() {
        let mut j = i;
        while j > 0 && keep[j - 1].0 > keep[j].0 {
            keep.swap(j - 1, j);
            j -= 1;
        }
    }
    let mut first = from;
    let mut r = Ok(());
    for fd in keep.iter().filter(|f| f.0 >= 0 && f.0 as u32 >= from) {
        let k = fd.0 as u32;
        if k > first {
            r = r.and(close_range(first, k - 1, 0));
        }
        first = k + 1;
    }
    r.and(close_range(first, u32::MAX, 0))
}

pub fn sethostname(name: &[u8]) -> Result<()> {
    // SAFETY: name is live for its length.
    unsafe { syscall!(Sysno::sethostname, name.as_ptr(), name.len()) }.map(drop)
}

pub fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a live timespec.
    let _ = unsafe { syscall!(Sysno::clock_gettime, libc::CLOCK_MONOTONIC, &mut ts as *mut libc::timespec) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

// ---- the process's own argv and environment --------------------------------------------------

/// The NULL-terminated argv the process was started with. It lives as long as the process.
#[derive(Clone, Copy)]
pub struct Args {
    argc: usize,
    argv: *const *const u8,
}

impl Args {
    /// # Safety
    /// `argv` must be the process's argv with `argc` valid entries and a NULL after them.
    pub unsafe fn new(argc: i32, argv: *const *const u8) -> Args {
        Args { argc: argc.max(0) as usize, argv }
    }
    pub fn len(&self) -> usize {
        self.argc
    }
    pub fn get(&self, i: usize) -> &'static CStr {
        assert!(i < self.argc);
        // SAFETY: i < argc, and argv entries are C strings that live as long as the process.
        unsafe { CStr::from_ptr(*self.argv.add(i) as *const core::ffi::c_char) }
    }
    /// The NULL-terminated tail of argv from entry `i` on, as execve wants it.
    pub fn tail(&self, i: usize) -> *const *const u8 {
        assert!(i <= self.argc);
        // SAFETY: i <= argc stays within the argv array (the NULL is at argc).
        unsafe { self.argv.add(i) }
    }
}

/// The process's NULL-terminated environment.
#[derive(Clone, Copy)]
pub struct Env(*const *const u8);

impl Env {
    /// # Safety
    /// `envp` must be the process's environment array, NULL-terminated, or NULL.
    pub unsafe fn new(envp: *const *const u8) -> Env {
        Env(envp)
    }
    pub fn raw(&self) -> *const *const u8 {
        self.0
    }
    /// The value of `key` (without `=`), if set.
    pub fn get(&self, key: &[u8]) -> Option<&'static CStr> {
        let e = self.entry(key)?.to_bytes_with_nul();
        CStr::from_bytes_until_nul(&e[key.len() + 1..]).ok()
    }

    /// The whole `KEY=value` entry of `key`, if set.
    pub fn entry(&self, key: &[u8]) -> Option<&'static CStr> {
        let mut i = 0;
        loop {
            if self.0.is_null() {
                return None;
            }
            // SAFETY: the array is NULL-terminated; we stop at the NULL.
            let p = unsafe { *self.0.add(i) };
            if p.is_null() {
                return None;
            }
            // SAFETY: every non-NULL entry is a C string living as long as the process.
            let c = unsafe { CStr::from_ptr(p as *const core::ffi::c_char) };
            let s = c.to_bytes();
            if s.len() > key.len() && s.starts_with(key) && s[key.len()] == b'=' {
                return Some(c);
            }
            i += 1;
        }
    }
}

/// A NULL-terminated array of C-string pointers built in a fixed buffer, for execve. The
/// storage is left uninitialized: only the slots used are written, so a large capacity costs
/// no page faults.
pub struct PtrArray<const N: usize> {
    p: core::mem::MaybeUninit<[*const u8; N]>,
    n: usize,
}

impl<const N: usize> PtrArray<N> {
    pub fn new() -> Self {
        PtrArray { p: core::mem::MaybeUninit::uninit(), n: 0 }
    }
    fn slot(&mut self, i: usize) -> *mut *const u8 {
        assert!(i < N);
        // SAFETY: i < N keeps the pointer inside the array.
        unsafe { (self.p.as_mut_ptr() as *mut *const u8).add(i) }
    }
    pub fn len(&self) -> usize {
        self.n
    }
    /// Append; false when full (one slot stays for the NULL).
    pub fn push(&mut self, s: &'static CStr) -> bool {
        if self.n + 1 >= N {
            return false;
        }
        let at = self.slot(self.n);
        // SAFETY: `at` is a valid slot of the array.
        unsafe { at.write(s.as_ptr() as *const u8) };
        self.n += 1;
        true
    }
    pub fn set(&mut self, i: usize, s: &'static CStr) {
        assert!(i < self.n);
        let at = self.slot(i);
        // SAFETY: `at` is a valid slot of the array.
        unsafe { at.write(s.as_ptr() as *const u8) };
    }
    pub fn get(&self, i: usize) -> &'static CStr {
        assert!(i < self.n);
        // SAFETY: slots below n were written with `&'static CStr` pointers.
        unsafe { CStr::from_ptr(*(self.p.as_ptr() as *const *const core::ffi::c_char).add(i)) }
    }
    /// The array, NULL-terminated.
    pub fn as_ptr(&mut self) -> *const *const u8 {
        let end = self.slot(self.n);
        // SAFETY: n < N always (push keeps a slot free), so `end` is a valid slot.
        unsafe { end.write(null()) };
        self.p.as_ptr() as *const *const u8
    }
}

// ---- privileges ------------------------------------------------------------------------------

/// prctl with two integer arguments after the option.
pub fn prctl4(option: i32, arg2: u64, arg3: u64) -> Result<()> {
    // SAFETY: the options used here take integers only.
    unsafe { syscall!(Sysno::prctl, option, arg2, arg3, 0, 0) }.map(drop)
}

/// capset, version 3 (64-bit sets), for this thread.
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> Result<()> {
    let header: [u32; 2] = [0x2008_0522, 0];
    let lo = |v: u64| v as u32;
    let hi = |v: u64| (v >> 32) as u32;
    let data: [u32; 6] = [lo(effective), lo(permitted), lo(inheritable), hi(effective), hi(permitted), hi(inheritable)];
    // SAFETY: header and data are live arrays laid out as cap_user_header and two cap_user_data.
    unsafe { syscall!(Sysno::capset, header.as_ptr(), data.as_ptr()) }.map(drop)
}

/// The permitted set of this thread (capget, version 3).
pub fn capget_permitted() -> Result<u64> {
    let header: [u32; 2] = [0x2008_0522, 0];
    let mut data = [0u32; 6];
    // SAFETY: header and data are live arrays laid out as cap_user_header and two cap_user_data.
    unsafe { syscall!(Sysno::capget, header.as_ptr(), data.as_mut_ptr()) }?;
    Ok(data[1] as u64 | (data[4] as u64) << 32)
}

/// Install a classic BPF seccomp filter on this thread, with `flags` (SECCOMP_FILTER_FLAG_*).
pub fn seccomp_filter<T>(prog: &[T], flags: u32) -> Result<()> {
    #[repr(C)]
    struct Fprog {
        len: u16,
        filter: usize,
    }
    let p = Fprog { len: prog.len() as u16, filter: prog.as_ptr() as usize };
    // SAFETY: p is a live sock_fprog pointing at `prog`, whose elements are 8-byte sock_filter.
    unsafe { syscall!(Sysno::seccomp, libc::SECCOMP_SET_MODE_FILTER, flags, &p as *const Fprog) }.map(drop)
}

// ---- the machine (sandbox as the kernel's init) ----------------------------------------------

/// landlock_create_ruleset: a ruleset handling the file-system rights `fs`; with `fs` 0, the
/// kernel's Landlock ABI version (the `version` flag).
pub fn landlock_ruleset(fs: u64) -> Result<i32> {
    // SAFETY: the attribute is a live u64 (handled_access_fs, the ABI 1 size), or NULL with the
    // version flag.
    match fs {
        0 => unsafe { syscall!(Sysno::landlock_create_ruleset, 0, 0, 1) },
        _ => unsafe { syscall!(Sysno::landlock_create_ruleset, &fs as *const u64, 8, 0) },
    }
    .map(|v| v as i32)
}

/// landlock_add_rule: `access` beneath the directory `at`, or to the file `at`.
pub fn landlock_rule(ruleset: Fd, at: Fd, access: u64) -> Result<()> {
    #[repr(C, packed)]
    struct PathBeneath {
        allowed_access: u64,
        parent_fd: i32,
    }
    let rule = PathBeneath { allowed_access: access, parent_fd: at.0 };
    // SAFETY: rule is a live struct landlock_path_beneath_attr (LANDLOCK_RULE_PATH_BENEATH).
    unsafe { syscall!(Sysno::landlock_add_rule, ruleset.0, 1, &rule as *const PathBeneath, 0) }.map(drop)
}

/// landlock_restrict_self: this thread, and what it starts, in the ruleset's domain.
pub fn landlock_restrict(ruleset: Fd) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::landlock_restrict_self, ruleset.0, 0) }.map(drop)
}

/// Whether `fd` is open.
#[inline(never)]
pub fn fd_open(fd: Fd) -> bool {
    // SAFETY: F_GETFD takes no pointer.
    unsafe { syscall!(Sysno::fcntl, fd.0, libc::F_GETFD) }.is_ok()
}

pub fn dup3(old: Fd, new: Fd) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::dup3, old.0, new.0, 0) }.map(drop)
}

pub fn setsid() -> Result<()> {
    // SAFETY: no arguments.
    unsafe { syscall!(Sysno::setsid) }.map(drop)
}

pub fn chroot(path: &CStr) -> Result<()> {
    // SAFETY: path is a live C string.
    unsafe { syscall!(Sysno::chroot, path.as_ptr()) }.map(drop)
}

pub fn finit_module(fd: Fd, flags: i32) -> Result<()> {
    // SAFETY: the parameter string is a live, empty C string.
    unsafe { syscall!(Sysno::finit_module, fd.0, c"".as_ptr(), flags) }.map(drop)
}

pub fn sync() {
    // SAFETY: no arguments.
    let _ = unsafe { syscall!(Sysno::sync) };
}

pub fn power_off() -> Errno {
    // SAFETY: reboot with the documented magic numbers and no argument pointer.
    match unsafe {
        syscall!(Sysno::reboot, libc::LINUX_REBOOT_MAGIC1, libc::LINUX_REBOOT_MAGIC2, libc::LINUX_REBOOT_CMD_POWER_OFF, 0)
    } {
        Ok(_) => Errno::new(0),
        Err(e) => e,
    }
}

pub fn pause() {
    // SAFETY: no arguments.
    let _ = unsafe { syscall!(Sysno::pause) };
}

/// Read a small file whole into `buf`; returns the bytes read.
pub fn read_file(path: &CStr, buf: &mut [u8]) -> Result<usize> {
    read_file_at(AT_FDCWD, path, buf)
}

/// Read a file under `dir` whole into `buf` (as much as fits); returns the bytes read.
pub fn read_file_at(dir: Fd, path: &CStr, buf: &mut [u8]) -> Result<usize> {
    let fd = openat(dir, path, libc::O_RDONLY | libc::O_CLOEXEC, 0)?;
    let r = read_all(fd, buf);
    close(fd);
    r
}

/// Read from `fd` until its end or until `buf` is full; returns the bytes read.
pub fn read_all(fd: Fd, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match read(fd, &mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Write `data` to an existing file (cgroup and proc control files).
pub fn write_file(dir: Fd, path: &CStr, data: &[u8]) -> Result<()> {
    let fd = openat(dir, path, libc::O_WRONLY | libc::O_CLOEXEC, 0)?;
    let r = write(fd, data).map(drop);
    close(fd);
    r
}

/// clone3 with CLONE_INTO_CGROUP: fork-like (no new stack), born in the cgroup `cgroup`.
pub fn clone3_into(flags: u64, exit_signal: u64, cgroup: Fd) -> Result<i32> {
    // struct clone_args up to `cgroup` (CLONE_ARGS_SIZE_VER2): flags, pidfd, child_tid,
    // parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup.
    let args: [u64; 11] = [flags | 0x2_0000_0000, 0, 0, 0, exit_signal, 0, 0, 0, 0, 0, cgroup.0 as u64];
    // SAFETY: args is a live clone_args of the size passed; without CLONE_VM the child gets a
    // copy of the address space, as with fork.
    unsafe { syscall!(Sysno::clone3, args.as_ptr(), core::mem::size_of_val(&args)) }.map(|p| p as i32)
}

/// Load an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE made of `insns`.
pub fn bpf_device_program(insns: &[u64]) -> Result<Fd> {
    // union bpf_attr for BPF_PROG_LOAD: prog_type, insn_cnt, insns, license; the rest zero.
    let mut attr = [0u64; 16];
    attr[0] = 15 | (insns.len() as u64) << 32;
    attr[1] = insns.as_ptr() as u64;
    attr[2] = c"GPL".as_ptr() as u64;
    // SAFETY: attr is a live bpf_attr of the size passed; the pointers in it are live.
    unsafe { syscall!(Sysno::bpf, 5, attr.as_ptr(), 128) }.map(|fd| Fd(fd as i32))
}

/// Attach a device program to the cgroup `cgroup` (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI).
pub fn bpf_attach_device(prog: Fd, cgroup: Fd) -> Result<()> {
    // union bpf_attr for BPF_PROG_ATTACH: target_fd, attach_bpf_fd, attach_type, attach_flags.
    let mut attr = [0u64; 16];
    attr[0] = cgroup.0 as u32 as u64 | (prog.0 as u32 as u64) << 32;
    attr[1] = 6 | 2 << 32;
    // SAFETY: attr is a live bpf_attr of the size passed.
    unsafe { syscall!(Sysno::bpf, 8, attr.as_ptr(), 128) }.map(drop)
}

/// A pidfd for `pid`, a child of ours.
pub fn pidfd_open(pid: i32) -> Result<Fd> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::pidfd_open, pid, 0) }.map(|fd| Fd(fd as i32))
}

/// Join the namespaces of kind `nstype` that `fd` (a namespace file or a pidfd) names.
pub fn setns(fd: Fd, nstype: i32) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::setns, fd.0, nstype) }.map(drop)
}

pub fn unshare(flags: i32) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::unshare, flags) }.map(drop)
}

#[inline(never)]
pub fn sleep_ms(ms: u64) {
    let ts = libc::timespec { tv_sec: (ms / 1000) as i64, tv_nsec: ((ms % 1000) * 1_000_000) as i64 };
    // SAFETY: ts is a live timespec; the remainder pointer is NULL.
    let _ = unsafe { syscall!(Sysno::nanosleep, &ts as *const libc::timespec, 0) };
}

pub fn pipe(flags: i32) -> Result<(Fd, Fd)> {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a live array of two ints.
    unsafe { syscall!(Sysno::pipe2, fds.as_mut_ptr(), flags) }?;
    Ok((Fd(fds[0]), Fd(fds[1])))
}

pub fn fchdir(fd: Fd) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::fchdir, fd.0) }.map(drop)
}

// ---- the sealed copy of the binary, sessions and the terminal relay ---------------------------

/// memfd_create: an anonymous file in memory.
pub fn memfd_create(name: &CStr, flags: u32) -> Result<Fd> {
    // SAFETY: name is a live C string.
    unsafe { syscall!(Sysno::memfd_create, name.as_ptr(), flags) }.map(|f| Fd(f as i32))
}

/// Move a file's offset (SEEK_SET, SEEK_DATA, SEEK_HOLE); the new one.
pub fn lseek(fd: Fd, off: u64, whence: i32) -> Result<u64> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::lseek, fd.0, off, whence) }.map(|o| o as u64)
}

/// Set a file's length.
pub fn ftruncate(fd: Fd, len: u64) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::ftruncate, fd.0, len) }.map(drop)
}

/// sendfile from `src` (at its file offset) to `dst`; returns the bytes copied.
pub fn sendfile(dst: Fd, src: Fd, count: usize) -> Result<usize> {
    // SAFETY: the offset pointer is NULL: the file's own offset is used.
    unsafe { syscall!(Sysno::sendfile, dst.0, src.0, 0, count) }
}

/// fcntl with an integer argument (F_GET_SEALS, F_ADD_SEALS, F_GETFL, F_SETFL, ...).
pub fn fcntl(fd: Fd, cmd: i32, arg: u64) -> Result<u64> {
    // SAFETY: the commands used take an integer, not a pointer.
    unsafe { syscall!(Sysno::fcntl, fd.0, cmd, arg) }.map(|v| v as u64)
}

/// O_NONBLOCK on or off.
pub fn set_nonblocking(fd: Fd, on: bool) {
    let fl = fcntl(fd, libc::F_GETFL, 0).unwrap_or(0);
    let nb = libc::O_NONBLOCK as u64;
    let _ = fcntl(fd, libc::F_SETFL, if on { fl | nb } else { fl & !nb });
}

/// execveat of the file `fd` itself (AT_EMPTY_PATH); returns only on failure.
pub fn execveat_fd(fd: Fd, argv: *const *const u8, envp: *const *const u8) -> Errno {
    // SAFETY: argv and envp are the process's own NULL-terminated arrays (from Args/Env), which
    // stay valid until the call replaces the process; the path is a live empty C string.
    match unsafe { syscall!(Sysno::execveat, fd.0, c"".as_ptr(), argv, envp, libc::AT_EMPTY_PATH) } {
        Ok(_) => Errno::new(0),
        Err(e) => e,
    }
}

/// poll on `fds` until one is ready (no timeout); returns how many are.
pub fn poll(fds: &mut [libc::pollfd]) -> Result<usize> {
    // SAFETY: fds is a live, writable array of pollfd of the length passed.
    unsafe { syscall!(Sysno::poll, fds.as_mut_ptr(), fds.len(), -1i32) }
}

/// A signalfd for the (blocked) signals in `set`, non-blocking and close-on-exec.
pub fn signalfd(set: SigSet) -> Result<Fd> {
    // SAFETY: set is a live u64 of the size passed.
    unsafe { syscall!(Sysno::signalfd4, -1i32, &set.0 as *const u64, 8, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) }
        .map(|f| Fd(f as i32))
}

/// The next signal waiting in a signalfd: its number and si_code; None when none waits.
pub fn read_signal(fd: Fd) -> Option<(i32, i32)> {
    // struct signalfd_siginfo: ssi_signo, ssi_errno, ssi_code, ... 128 bytes.
    let mut info = [0u32; 32];
    // SAFETY: info is a live, writable 128-byte buffer.
    match unsafe { syscall!(Sysno::read, fd.0, info.as_mut_ptr(), 128) } {
        Ok(128) => Some((info[0] as i32, info[2] as i32)),
        _ => None,
    }
}

/// ioctl whose third argument is an integer, not a pointer (TIOCSCTTY, TIOCGPTPEER, ...).
pub fn ioctl_int(fd: Fd, req: u64, arg: u64) -> Result<i32> {
    // SAFETY: the requests used take an integer argument.
    unsafe { syscall!(Sysno::ioctl, fd.0, req, arg) }.map(|v| v as i32)
}

/// Send one byte and, when `pass` is an fd, that fd with it (SCM_RIGHTS) on a unix socket.
pub fn send_fd(sock: Fd, byte: u8, pass: Fd) -> Result<()> {
    let data = [byte];
    let iov = libc::iovec { iov_base: data.as_ptr() as *mut _, iov_len: 1 };
    // cmsghdr (len, level, type) then one int, padded to 8: 24 bytes.
    let mut cmsg = [0u64; 3];
    cmsg[0] = 20;
    cmsg[1] = (libc::SOL_SOCKET as u64) | ((libc::SCM_RIGHTS as u64) << 32);
    cmsg[2] = pass.0 as u32 as u64;
    let mut msg: libc::msghdr = unsafe_zeroed_msghdr();
    msg.msg_iov = &iov as *const libc::iovec as *mut libc::iovec;
    msg.msg_iovlen = 1;
    if pass.0 >= 0 {
        msg.msg_control = cmsg.as_mut_ptr() as *mut _;
        msg.msg_controllen = 24;
    }
    // SAFETY: msg points to live iov, data and cmsg buffers of the lengths it gives.
    unsafe { syscall!(Sysno::sendmsg, sock.0, &msg as *const libc::msghdr, libc::MSG_NOSIGNAL) }.map(drop)
}

/// Receive a message of up to `buf.len()` bytes and the fd passed with it, if any.
pub fn recv_fd(sock: Fd, buf: &mut [u8]) -> Result<(usize, Fd)> {
    let iov = libc::iovec { iov_base: buf.as_mut_ptr() as *mut _, iov_len: buf.len() };
    let mut cmsg = [0u64; 3];
    let mut msg: libc::msghdr = unsafe_zeroed_msghdr();
    msg.msg_iov = &iov as *const libc::iovec as *mut libc::iovec;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.as_mut_ptr() as *mut _;
    msg.msg_controllen = 24;
    // SAFETY: msg points to live, writable iov (buf) and cmsg buffers of the lengths it gives.
    let n = unsafe { syscall!(Sysno::recvmsg, sock.0, &mut msg as *mut libc::msghdr, libc::MSG_CMSG_CLOEXEC) }?;
    let level_type = (libc::SOL_SOCKET as u64) | ((libc::SCM_RIGHTS as u64) << 32);
    let fd = if msg.msg_controllen >= 20 && cmsg[1] == level_type { Fd(cmsg[2] as u32 as i32) } else { Fd(-1) };
    Ok((n, fd))
}

fn unsafe_zeroed_msghdr() -> libc::msghdr {
    // SAFETY: msghdr is plain data (pointers and integers); all-zero is its empty value.
    unsafe { core::mem::zeroed() }
}

// ---- the overlay, made and attached by descriptor (root.rs) -----------------------------------

pub const FSCONFIG_SET_FLAG: u32 = 0;
pub const FSCONFIG_SET_STRING: u32 = 1;
pub const FSCONFIG_CMD_CREATE: u32 = 6;

/// fsopen(2): a filesystem context of `fstype`, close-on-exec.
pub fn fsopen(fstype: &CStr) -> Result<Fd> {
    // SAFETY: fstype is a live C string.
    unsafe { syscall!(Sysno::fsopen, fstype.as_ptr(), 1 /* FSOPEN_CLOEXEC */) }.map(|f| Fd(f as i32))
}

/// fsconfig(2) with a key and a string value (or none: a flag, or a command).
pub fn fsconfig(fs: Fd, cmd: u32, key: Option<&CStr>, value: Option<&CStr>) -> Result<()> {
    // SAFETY: key and value are live C strings or NULL.
    unsafe { syscall!(Sysno::fsconfig, fs.0, cmd, ptr(key), ptr(value), 0) }.map(drop)
}

/// fsmount(2): the created filesystem as a detached mount with MOUNT_ATTR_* `attrs`; an fd of
/// its root, close-on-exec.
pub fn fsmount(fs: Fd, attrs: u64) -> Result<Fd> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::fsmount, fs.0, 1 /* FSMOUNT_CLOEXEC */, attrs) }.map(|f| Fd(f as i32))
}

/// move_mount(2) of the mount `from` (an fsmount fd) onto the directory `to`, both by fd.
pub fn move_mount(from: Fd, to: Fd) -> Result<()> {
    // MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH
    // SAFETY: both paths are live empty C strings.
    unsafe { syscall!(Sysno::move_mount, from.0, c"".as_ptr(), to.0, c"".as_ptr(), 0x04 | 0x40) }.map(drop)
}

/// The signals pending for this process (blocked ones that arrived).
pub fn sigpending() -> SigSet {
    let mut set = SigSet(0);
    // SAFETY: set is a live u64 of the size passed.
    let _ = unsafe { syscall!(Sysno::rt_sigpending, &mut set.0 as *mut u64, 8) };
    set
}

/// open_tree with OPEN_TREE_CLONE: a detached bind mount of `path` in `dir` ("": `dir` itself),
/// close-on-exec.
pub fn open_tree_clone(dir: Fd, path: &CStr) -> Result<Fd> {
    // OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC
    // SAFETY: path is a live C string.
    unsafe { syscall!(Sysno::open_tree, dir.0, path.as_ptr(), 1u32 | libc::O_CLOEXEC as u32 | libc::AT_EMPTY_PATH as u32) }.map(|f| Fd(f as i32))
}

/// Whether the mount that `fd` is on is read-only (statfs's ST_RDONLY).
pub fn on_read_only_mount(fd: Fd) -> bool {
    // SAFETY: an all-zero statfs is a valid value of this plain C struct.
    let mut st: libc::statfs = unsafe { core::mem::zeroed() };
    // SAFETY: st is a live, writable struct statfs.
    unsafe { syscall!(Sysno::fstatfs, fd.0, &mut st as *mut libc::statfs) }.is_ok_and(|_| st.f_flags & libc::ST_RDONLY != 0)
}

// OCI runtime ---------------------------------------------------------------------------------

/// A large buffer in .bss (its pages cost only once touched), handed out once: a second
/// `take` gets None.
pub struct Static<T> {
    cell: core::cell::UnsafeCell<T>,
    taken: core::sync::atomic::AtomicBool,
}

// SAFETY: the value is handed out once (`taken`), as the only reference to it.
unsafe impl<T> Sync for Static<T> {}

impl<T> Static<T> {
    pub const fn new(v: T) -> Self {
        Static { cell: core::cell::UnsafeCell::new(v), taken: core::sync::atomic::AtomicBool::new(false) }
    }
    #[allow(clippy::mut_from_ref)] // one &mut ever: `taken` hands the value out once
    pub fn take(&'static self) -> Option<&'static mut T> {
        if self.taken.swap(true, core::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        // SAFETY: `taken` guarantees this is the only reference ever made to the value.
        Some(unsafe { &mut *self.cell.get() })
    }
}

/// A stream socket connected to the unix socket at `path`, close-on-exec.
pub fn connect_unix(path: &[u8]) -> Result<Fd> {
    let mut addr = libc::sockaddr_un { sun_family: libc::AF_UNIX as u16, sun_path: [0; 108] };
    if path.is_empty() || path.len() >= addr.sun_path.len() {
        return Err(Errno::ENAMETOOLONG);
    }
    for (d, s) in addr.sun_path.iter_mut().zip(path) {
        *d = *s as libc::c_char;
    }
    let s = socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0)?;
    // SAFETY: addr is a live sockaddr_un of the size passed.
    match unsafe { syscall!(Sysno::connect, s.0, &addr as *const libc::sockaddr_un, core::mem::size_of_val(&addr)) } {
        Ok(_) => Ok(s),
        Err(e) => {
            close(s);
            Err(e)
        }
    }
}

pub fn setdomainname(name: &[u8]) -> Result<()> {
    // SAFETY: name is live for its length.
    unsafe { syscall!(Sysno::setdomainname, name.as_ptr(), name.len()) }.map(drop)
}

/// setrlimit of this process (prlimit64 on pid 0).
pub fn setrlimit(resource: u32, soft: u64, hard: u64) -> Result<()> {
    let lim: [u64; 2] = [soft, hard];
    // SAFETY: lim is a live struct rlimit64; the old-limit pointer is NULL.
    unsafe { syscall!(Sysno::prlimit64, 0, resource, lim.as_ptr(), 0) }.map(drop)
}

// ---- day two: records of running sandboxes, --list, --stop, --remove and --join -------------

/// renameat: `from` in `fd_from` to `to` in `fd_to`, replacing it (atomic for a reader).
pub fn renameat(fd_from: Fd, from: &CStr, fd_to: Fd, to: &CStr) -> Result<()> {
    // SAFETY: both are live C strings.
    unsafe { syscall!(Sysno::renameat, fd_from.0, from.as_ptr(), fd_to.0, to.as_ptr()) }.map(drop)
}

/// The working directory, as a C string in `buf`; returns its length without the NUL.
pub fn getcwd(buf: &mut [u8]) -> Result<usize> {
    // SAFETY: buf is live and writable for its length.
    let n = unsafe { syscall!(Sysno::getcwd, buf.as_mut_ptr(), buf.len()) }?;
    Ok(n.saturating_sub(1))
}

/// The wall clock, seconds since the epoch.
pub fn wall_secs() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a live timespec.
    let _ = unsafe { syscall!(Sysno::clock_gettime, libc::CLOCK_REALTIME, &mut ts as *mut libc::timespec) };
    ts.tv_sec as u64
}

/// Send `sig` to the process a pidfd names (never to a pid reused since).
pub fn pidfd_send_signal(pidfd: Fd, sig: i32) -> Result<()> {
    // SAFETY: no siginfo (NULL); integers only.
    unsafe { syscall!(Sysno::pidfd_send_signal, pidfd.0, sig, 0, 0) }.map(drop)
}

pub fn setresuid(uid: u32) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::setresuid, uid, uid, uid) }.map(drop)
}

// ---- user, devices ---------------------------------------------------------------------------

/// setgroups(2): the supplementary groups of this thread.
pub fn setgroups(groups: &[u32]) -> Result<()> {
    // SAFETY: groups is a live slice of gid_t (u32) of the length passed.
    unsafe { syscall!(Sysno::setgroups, groups.len(), groups.as_ptr()) }.map(drop)
}

pub fn setresgid(gid: u32) -> Result<()> {
    // SAFETY: no pointers.
    unsafe { syscall!(Sysno::setresgid, gid, gid, gid) }.map(drop)
}

/// A buffer in .bss handed out once for good, for bytes that an execve array points to until
/// the process execs or exits (they must be `'static`; there is no heap).
pub struct Once<const N: usize> {
    bytes: core::cell::UnsafeCell<[u8; N]>,
    taken: core::sync::atomic::AtomicBool,
}

// SAFETY: the bytes are handed out at most once (`taken`), as one exclusive reference.
unsafe impl<const N: usize> Sync for Once<N> {}

impl<const N: usize> Once<N> {
    pub const fn new() -> Self {
        Once { bytes: core::cell::UnsafeCell::new([0; N]), taken: core::sync::atomic::AtomicBool::new(false) }
    }
    /// The buffer, the first time only.
    #[allow(clippy::mut_from_ref)] // one exclusive reference ever: `taken`
    pub fn take(&'static self) -> Option<&'static mut [u8; N]> {
        if self.taken.swap(true, core::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        // SAFETY: `taken` makes this the only reference ever handed out.
        Some(unsafe { &mut *self.bytes.get() })
    }
}

/// `env` copied into `out` with the variable that `entry` (`KEY=value`) sets replaced by it, or
/// added; NULL-terminated, for an execve made while `entry` lives (the one value known only at
/// the last moment: HOME of --user).
pub fn env_with<const N: usize>(env: Env, entry: &CStr, out: &mut PtrArray<N>) -> *const *const u8 {
    let e = entry.to_bytes();
    let key = &e[..e.iter().position(|&b| b == b'=').map_or(e.len(), |i| i + 1)];
    let mut set = false;
    let mut i = 0;
    while !env.0.is_null() && out.n + 2 < N {
        // SAFETY: Env's array is NULL-terminated; we stop at the NULL.
        let p = unsafe { *env.0.add(i) };
        if p.is_null() {
            break;
        }
        // SAFETY: every non-NULL entry is a live C string.
        let c = unsafe { CStr::from_ptr(p as *const core::ffi::c_char) };
        let same = c.to_bytes().starts_with(key);
        let at = out.slot(out.n);
        // SAFETY: `at` is a valid slot of the array (n + 2 < N).
        unsafe { at.write(if same && !set { entry.as_ptr() as *const u8 } else { p }) };
        if !same || !set {
            out.n += 1;
        }
        set |= same;
        i += 1;
    }
    if !set {
        let at = out.slot(out.n);
        // SAFETY: `at` is a valid slot of the array (one is always left for this and the NULL).
        unsafe { at.write(entry.as_ptr() as *const u8) };
        out.n += 1;
    }
    out.as_ptr()
}

/// open_tree(2) with `flags` (OPEN_TREE_CLONE, AT_RECURSIVE, AT_EMPTY_PATH, ...), close-on-exec.
pub fn open_tree(dir: Fd, path: &CStr, flags: u32) -> Result<Fd> {
    // SAFETY: path is a live C string.
    unsafe { syscall!(Sysno::open_tree, dir.0, path.as_ptr(), flags | libc::O_CLOEXEC as u32) }.map(|f| Fd(f as i32))
}

/// The wall clock: seconds and nanoseconds since the epoch.
pub fn realtime() -> (u64, u64) {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a live timespec.
    let _ = unsafe { syscall!(Sysno::clock_gettime, libc::CLOCK_REALTIME, &mut ts as *mut libc::timespec) };
    (ts.tv_sec as u64, ts.tv_nsec as u64)
}

pub fn fchownat(dir: Fd, path: &CStr, uid: u32, gid: u32, flags: i32) -> Result<()> {
    // SAFETY: path is a live C string.
    unsafe { syscall!(Sysno::fchownat, dir.0, path.as_ptr(), uid, gid, flags) }.map(drop)
}

/// Wait for one of `fds` to be ready, at most `ms` milliseconds (-1: no limit); returns how many are.
pub fn poll_for(fds: &mut [libc::pollfd], ms: i32) -> Result<usize> {
    // SAFETY: fds is a live, writable array of pollfd of the length passed.
    unsafe { syscall!(Sysno::poll, fds.as_mut_ptr(), fds.len(), ms) }
}

/// readlinkat: the target of the symlink `path`, into `buf`; returns its length.
pub fn readlink(path: &CStr, buf: &mut [u8]) -> Result<usize> {
    readlinkat(AT_FDCWD, path, buf)
}

/// readlinkat: the target of the symlink `path` in `dir`, into `buf`; returns its length.
pub fn readlinkat(dir: Fd, path: &CStr, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: path is a live C string and buf live and writable for its length.
    unsafe { syscall!(Sysno::readlinkat, dir.0, path.as_ptr(), buf.as_mut_ptr(), buf.len()) }
}

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL): a new anonymous session keyring for this process.
pub fn join_new_session_keyring() -> Result<()> {
    // SAFETY: the name pointer is NULL (an anonymous keyring).
    unsafe { syscall!(Sysno::keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, 0) }.map(drop)
}

/// The file system type (statfs's f_type) of the file `fd`.
pub fn fs_type_of(fd: Fd) -> Result<u64> {
    // SAFETY: an all-zero statfs is a valid value of this plain C struct.
    let mut st: libc::statfs = unsafe { core::mem::zeroed() };
    // SAFETY: st is a live, writable struct statfs.
    unsafe { syscall!(Sysno::fstatfs, fd.0, &mut st as *mut libc::statfs) }?;
    Ok(st.f_type)
}

/// The file system type (statfs's f_type) of the file at `path`.
pub fn fs_type(path: &CStr) -> Result<u64> {
    // SAFETY: an all-zero statfs is a valid value of this plain C struct.
    let mut st: libc::statfs = unsafe { core::mem::zeroed() };
    // SAFETY: path is a live C string and st a live, writable struct statfs.
    unsafe { syscall!(Sysno::statfs, path.as_ptr(), &mut st as *mut libc::statfs) }?;
    Ok(st.f_type)
}
