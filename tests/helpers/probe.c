/* A static probe run inside the sandbox by the security tests: it tries what the sandbox must
 * refuse and prints one line per attempt, "name errno-name", so the test can assert on each. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/sched.h>

static const char *ename(int e) {
  switch (e) {
  case 0: return "OK";
  case EPERM: return "EPERM";
  case ENOSYS: return "ENOSYS";
  case EACCES: return "EACCES";
  case EINVAL: return "EINVAL";
  case EFAULT: return "EFAULT";
  case EBADF: return "EBADF";
  case ENOENT: return "ENOENT";
  case ENOTTY: return "ENOTTY";
  case EROFS: return "EROFS";
  case EAFNOSUPPORT: return "EAFNOSUPPORT";
  case EBUSY: return "EBUSY";
  default: return "OTHER";
  }
}

static void report(const char *name, long r) {
  printf("%s %s\n", name, r < 0 ? ename(errno) : "OK");
  fflush(stdout);
}

#define TRY(name, ...) do { errno = 0; long r_ = syscall(__VA_ARGS__); report(name, r_); } while (0)

/* clone3 with `flags`; a child made exits at once. */
static void clone3_try(const char *name, unsigned long long flags) {
  struct clone_args a;
  memset(&a, 0, sizeof a);
  a.flags = flags;
  a.exit_signal = SIGCHLD;
  errno = 0;
  long r = syscall(SYS_clone3, &a, sizeof a);
  if (r == 0) _exit(0);
  if (r > 0) waitpid(r, NULL, 0);
  report(name, r);
}

static void syscalls(void) {
  TRY("kexec_load", SYS_kexec_load, 0, 0, NULL, 0);
  TRY("kexec_file_load", SYS_kexec_file_load, -1, -1, 0, "", 0);
  TRY("init_module", SYS_init_module, NULL, 0, "");
  TRY("finit_module", SYS_finit_module, -1, "", 0);
  TRY("delete_module", SYS_delete_module, "nosuchmodule", 0);
  TRY("open_by_handle_at", SYS_open_by_handle_at, AT_FDCWD, NULL, 0);
  TRY("name_to_handle_at", SYS_name_to_handle_at, AT_FDCWD, "/", NULL, NULL, 0);
  TRY("keyctl", SYS_keyctl, 0, 0, 0, 0, 0);
  TRY("add_key", SYS_add_key, "user", "k", "v", 1, 0);
  TRY("request_key", SYS_request_key, "user", "k", NULL, 0);
  TRY("bpf", SYS_bpf, 0, NULL, 0);
  TRY("perf_event_open", SYS_perf_event_open, NULL, 0, -1, -1, 0);
  TRY("userfaultfd", SYS_userfaultfd, 0);
  TRY("swapon", SYS_swapon, "/nonexistent", 0);
  TRY("swapoff", SYS_swapoff, "/nonexistent");
  TRY("acct", SYS_acct, NULL);
  TRY("mount", SYS_mount, "none", "/tmp", "tmpfs", 0, NULL);
  TRY("umount2", SYS_umount2, "/proc", 0);
  TRY("pivot_root", SYS_pivot_root, "/tmp", "/tmp");
  TRY("unshare", SYS_unshare, CLONE_NEWNS);
  TRY("setns", SYS_setns, 0, 0);
  TRY("fsopen", SYS_fsopen, "tmpfs", 0);
  TRY("open_tree", SYS_open_tree, AT_FDCWD, "/", 0);
  TRY("move_mount", SYS_move_mount, -1, "", -1, "", 0);
  /* clone with namespace flags: refused. A plain fork-like clone: allowed. */
  {
    errno = 0;
    long r = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
    if (r == 0) _exit(0);
    if (r > 0) waitpid(r, NULL, 0);
    report("clone_newns", r);
    errno = 0;
    r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (r == 0) _exit(0);
    if (r > 0) waitpid(r, NULL, 0);
    report("clone_newuser", r);
    errno = 0;
    r = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (r == 0) _exit(0);
    if (r > 0) waitpid(r, NULL, 0);
    report("clone_plain", r);
  }
  clone3_try("clone3_newns", CLONE_NEWNS);
  /* Another ABI: the x32 number of getpid, and i386's int 0x80. */
  TRY("x32_getpid", 0x40000000 | SYS_getpid);
  {
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(20) : "memory");
    errno = r < 0 ? -r : 0;
    report("i386_getpid", r < 0 ? -1 : r);
  }
}

static void tiocsti(void) {
  char c = 'x';
  errno = 0;
  report("tiocsti", ioctl(0, TIOCSTI, &c));
  int sub = 6; /* TIOCL_GETSHIFTSTATE */
  errno = 0;
  report("tioclinux", ioctl(0, TIOCLINUX, &sub));
}

static void ptrace_probe(void) {
  errno = 0;
  report("ptrace_pid1", ptrace(PTRACE_ATTACH, 1, 0, 0));
  /* Tracing one's own child stays possible (strace inside). */
  pid_t p = fork();
  if (p == 0) {
    ptrace(PTRACE_TRACEME, 0, 0, 0);
    raise(SIGSTOP);
    _exit(7);
  }
  int st;
  waitpid(p, &st, 0);
  long r = WIFSTOPPED(st) ? ptrace(PTRACE_CONT, p, 0, 0) : -1;
  waitpid(p, &st, 0);
  errno = 0;
  report("ptrace_child", (r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 7) ? 0 : -1);
}

static void writes(void) {
  const char *paths[] = {"/proc/sysrq-trigger", "/proc/sys/kernel/hostname", "/sys/kernel/uevent_helper", "/proc/kcore", NULL};
  for (int i = 0; paths[i]; i++) {
    errno = 0;
    int fd = open(paths[i], O_WRONLY);
    long r = fd;
    if (fd >= 0) {
      r = write(fd, "x", 1);
      close(fd);
    }
    char name[80];
    snprintf(name, sizeof name, "write:%s", paths[i]);
    report(name, r);
  }
}

/* The classic way out of a chroot: chroot into a subdirectory, climb "..", chroot there. Inside a
 * pivot_root'ed sandbox it only reaches the sandbox's own root; MARKER is a path that exists
 * only outside it. */
static void escape(const char *marker) {
  mkdir("/tmp/esc", 0755);
  if (chroot("/tmp/esc") != 0) { report("escape_chroot", -1); return; }
  for (int i = 0; i < 64; i++) chdir("..");
  chroot(".");
  printf("escape %s\n", access(marker, F_OK) == 0 ? "ESCAPED" : "contained");
  fflush(stdout);
}

/* The seccomp filter as an allowlist: what a program uses is allowed, what it does not name is
 * refused, numbers it does not know get ENOSYS. Calls that only a capability allows are tried
 * where the kernel itself would let them through, so that EPERM can only be the filter's. */
static void *thread_main(void *arg) { return arg; }

#ifndef SYS_open_tree_attr
#define SYS_open_tree_attr 467
#endif
#ifndef SYS_listmount
#define SYS_listmount 458
#endif
#ifndef SYS_file_getattr
#define SYS_file_getattr 468
#endif
#ifndef SYS_quotactl_fd
#define SYS_quotactl_fd 443
#endif

static void allowlist(void) {
  unsigned char ldt[16];
  TRY("modify_ldt", SYS_modify_ldt, 0, ldt, sizeof ldt);
  TRY("personality_query", SYS_personality, 0xffffffff);
  TRY("personality_linux32", SYS_personality, PER_LINUX32);
  TRY("personality_linux", SYS_personality, PER_LINUX);
  TRY("personality_no_randomize", SYS_personality, ADDR_NO_RANDOMIZE);
  TRY("socket_vsock", SYS_socket, 40 /* AF_VSOCK */, SOCK_STREAM, 0);
  TRY("socket_unix", SYS_socket, AF_UNIX, SOCK_STREAM, 0);
  TRY("socket_inet", SYS_socket, AF_INET, SOCK_DGRAM, 0);
  TRY("keyctl", SYS_keyctl, 0, 0, 0, 0, 0);
  TRY("io_uring_setup", SYS_io_uring_setup, 1, NULL);
  /* Unknown to the filter: past its table, in the gap before 424, a call the kernel dropped. */
  TRY("nr_1000", 1000);
  TRY("nr_400", 400);
  TRY("sysctl", 156 /* _sysctl */, NULL);
  /* The kernel lets anyone open a tree without OPEN_TREE_CLONE: EPERM is the filter's. */
  TRY("open_tree_attr", SYS_open_tree_attr, AT_FDCWD, "/", 0, NULL, 0);
  TRY("quotactl_fd", SYS_quotactl_fd, 0, 0, 0, NULL);
  /* Allowed: the kernel answers (a NULL request: EFAULT; a size 0: EINVAL). */
  TRY("listmount", SYS_listmount, NULL, NULL, 0, 0);
  TRY("file_getattr", SYS_file_getattr, AT_FDCWD, "/", NULL, 0, 0);
  /* kcmp of one's own files and set_mempolicy(MPOL_DEFAULT) need no capability in the kernel:
   * EPERM is the filter's (they follow CAP_SYS_PTRACE and CAP_SYS_NICE). */
  TRY("kcmp", SYS_kcmp, getpid(), getpid(), 0 /* KCMP_FILE */, 0, 0);
  TRY("set_mempolicy", SYS_set_mempolicy, 0 /* MPOL_DEFAULT */, NULL, 0);
  TRY("chroot", SYS_chroot, "/");
  /* CAP_SYS_ADMIN's: a tmpfs mount, a new UTS namespace, clone3. */
  mkdir("/tmp/m", 0755);
  TRY("mount_tmpfs", SYS_mount, "none", "/tmp/m", "tmpfs", 0, NULL);
  TRY("unshare_uts", SYS_unshare, CLONE_NEWUTS);
  clone3_try("clone3_plain", 0);
  /* A thread: the C library tries clone3 first and falls back to clone on ENOSYS. */
  {
    pthread_t t;
    void *ret = NULL;
    int e = pthread_create(&t, NULL, thread_main, (void *)7);
    if (e == 0) e = pthread_join(t, &ret);
    errno = e;
    report("thread", e == 0 && ret == (void *)7 ? 0 : -1);
  }
}

int main(int argc, char **argv) {
  if (argc > 2 && !strcmp(argv[1], "escape")) { escape(argv[2]); return 0; }
  const char *what = argc > 1 ? argv[1] : "all";
  if (!strcmp(what, "syscalls") || !strcmp(what, "all")) syscalls();
  if (!strcmp(what, "tiocsti") || !strcmp(what, "all")) tiocsti();
  if (!strcmp(what, "ptrace") || !strcmp(what, "all")) ptrace_probe();
  if (!strcmp(what, "writes") || !strcmp(what, "all")) writes();
  if (!strcmp(what, "allowlist")) allowlist();
  return 0;
}
