/* probe: calls one dangerous operation per argument and prints "<name>: <ERRNO NAME>" or
 * "<name>: ok", in the attacker's language (bubblewrap's try-syscall.c). Each probe runs in a
 * child so that a kill (SIGSYS for a foreign ABI) is reported as "killed by SIGSYS" and
 * later probes still run. Probes are chosen to be harmless if they succeed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static long clone_flag_probe(unsigned long flag) {
    long pid = syscall(SYS_clone, flag | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid((pid_t)pid, NULL, 0);
    return pid > 0 ? 0 : -1;
}

static long run(const char *name) {
    char scratch[] = "/tmp/probe-mnt-XXXXXX";
    if (!strcmp(name, "mount")) {
        if (!mkdtemp(scratch)) return -1;
        long r = mount("x", scratch, "tmpfs", 0, NULL);
        int e = errno;
        if (r == 0) umount(scratch);
        rmdir(scratch);
        errno = e;
        return r;
    }
    if (!strcmp(name, "unshare-user")) return unshare(CLONE_NEWUSER);
    if (!strcmp(name, "unshare-net")) return unshare(CLONE_NEWNET);
    if (!strcmp(name, "setns")) { int fd = open("/proc/self/ns/net", O_RDONLY); return setns(fd, 0); }
    if (!strcmp(name, "clone-newuser")) return clone_flag_probe(CLONE_NEWUSER);
    if (!strcmp(name, "clone-newns")) return clone_flag_probe(CLONE_NEWNS);
    if (!strcmp(name, "clone3")) {
        struct clone_args a; memset(&a, 0, sizeof a); a.exit_signal = SIGCHLD;
        long pid = syscall(SYS_clone3, &a, sizeof a);
        if (pid == 0) _exit(0);
        if (pid > 0) { waitpid((pid_t)pid, NULL, 0); return 0; }
        return -1;
    }
    if (!strcmp(name, "fork")) { pid_t p = fork(); if (p == 0) _exit(0); if (p > 0) waitpid(p, NULL, 0); return p > 0 ? 0 : -1; }
    if (!strcmp(name, "pivot_root")) return syscall(SYS_pivot_root, "/tmp", "/tmp");
    if (!strcmp(name, "chroot")) return chroot("/tmp");
    if (!strcmp(name, "bpf")) return syscall(SYS_bpf, 0, NULL, 0);
    if (!strcmp(name, "perf_event_open")) return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
    if (!strcmp(name, "userfaultfd")) return syscall(SYS_userfaultfd, 0);
    if (!strcmp(name, "keyctl")) return syscall(SYS_keyctl, 0, 0, 0, 0, 0);
    if (!strcmp(name, "add_key")) return syscall(SYS_add_key, "user", "jobcell", "x", 1, -2);
    if (!strcmp(name, "io_uring_setup")) return syscall(SYS_io_uring_setup, 1, NULL);
    if (!strcmp(name, "open_by_handle_at")) return syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, 0);
    if (!strcmp(name, "kexec_load")) return syscall(SYS_kexec_load, 0, 0, NULL, 0);
    if (!strcmp(name, "init_module")) return syscall(SYS_init_module, NULL, 0, "");
    if (!strcmp(name, "reboot")) return syscall(SYS_reboot, 0, 0, 0, NULL); /* bad magic: EINVAL if reached */
    if (!strcmp(name, "swapon")) return syscall(SYS_swapon, "/nonexistent", 0);
    if (!strcmp(name, "acct")) return syscall(SYS_acct, NULL);
    if (!strcmp(name, "tiocsti")) { char c = ' '; return ioctl(0, TIOCSTI, &c); }
    if (!strcmp(name, "tiocsti64")) { char c = ' '; return syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI | 0x100000000UL, &c); }
    if (!strcmp(name, "tioclinux")) { char c = 0; return ioctl(0, TIOCLINUX, &c); }
    if (!strcmp(name, "socket-packet")) return socket(AF_PACKET, SOCK_RAW, 0);
    if (!strcmp(name, "socket-vsock")) return socket(AF_VSOCK, SOCK_STREAM, 0);
    if (!strcmp(name, "socket-netlink-audit")) return socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT);
    if (!strcmp(name, "socket-netlink-route")) return socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    if (!strcmp(name, "socket-inet")) return socket(AF_INET, SOCK_STREAM, 0);
    if (!strcmp(name, "x32-unshare")) return syscall(0x40000000L | SYS_unshare, CLONE_NEWUSER);
    if (!strcmp(name, "setuid0")) return setuid(0);
    if (!strcmp(name, "write-proc1-exe")) return open("/proc/1/exe", O_WRONLY);
    if (!strcmp(name, "ptrace-init")) return syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, 1, 0, 0);
    fprintf(stderr, "probe: unknown probe %s\n", name);
    exit(2);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    for (int i = 1; i < argc; i++) {
        pid_t p = fork();
        if (p == 0) {
            errno = 0;
            long r = run(argv[i]);
            if (r >= 0) printf("%s: ok\n", argv[i]);
            else printf("%s: %s\n", argv[i], strerrorname_np(errno) ? strerrorname_np(errno) : "?");
            _exit(0);
        }
        int st = 0;
        waitpid(p, &st, 0);
        if (WIFSIGNALED(st)) printf("%s: killed by SIG%s\n", argv[i], sigabbrev_np(WTERMSIG(st)));
    }
    return 0;
}
