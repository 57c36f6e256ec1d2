/* probe: calls one dangerous operation per argument and prints "<name>: <ERRNO NAME>" or
 * "<name>: ok", in the attacker's language (bubblewrap's try-syscall.c). Each probe runs in a
 * child so that a kill (SIGSYS for a foreign ABI) is reported as "killed by SIGSYS" and
 * later probes still run. Probes are chosen to be harmless if they succeed.
 *
 * Network probes take arguments (several probes may follow each other on one command line):
 *   connect HOST_OR_ADDR PORT   getaddrinfo, then a TCP connect (3 s) to each address until one
 *                               works: "connect H:P: ok" | "connect H:P: EPERM" (the first
 *                               address's errno; ETIMEDOUT when it never answered) |
 *                               "connect H:P: resolve: EAI_..."
 *   http HOST_OR_ADDR PORT      the same connect, then GET / (3 s): "http H:P: <first body line>"
 *                               | "http H:P: <errno>" | "http H:P: resolve: EAI_..."
 *   resolve NAME                getaddrinfo: "resolve N: ADDR [ADDR...]" | "resolve N: EAI_..."
 *   dns-udp SERVER NAME         one raw A query straight to SERVER:53 over UDP (3 s):
 *                               "dns-udp S N: answer" (NOERROR with answers) | NODATA | NXDOMAIN
 *                               | REFUSED | SERVFAIL | ... | timeout | <errno>
 * H:P prints an IPv6 address as [ADDR]:P. Every probe is also bounded by a 20 s alarm. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
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
#include <time.h>
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

/* ---- network probes ---- */

static const char *errno_name(int e) {
    const char *n = strerrorname_np(e);
    return n ? n : "?";
}

static const char *gai_name(int r) {
    switch (r) {
    case EAI_AGAIN: return "EAI_AGAIN";
    case EAI_BADFLAGS: return "EAI_BADFLAGS";
    case EAI_FAIL: return "EAI_FAIL";
    case EAI_FAMILY: return "EAI_FAMILY";
    case EAI_MEMORY: return "EAI_MEMORY";
    case EAI_NONAME: return "EAI_NONAME";
    case EAI_SERVICE: return "EAI_SERVICE";
    case EAI_SOCKTYPE: return "EAI_SOCKTYPE";
    case EAI_SYSTEM: return "EAI_SYSTEM";
    case EAI_OVERFLOW: return "EAI_OVERFLOW";
#ifdef EAI_NODATA
    case EAI_NODATA: return "EAI_NODATA";
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY: return "EAI_ADDRFAMILY";
#endif
    default: return "EAI_?";
    }
}

/* "[2001:db8::1]:80" or "host:80", for the output lines. */
static void label(char *out, size_t n, const char *host, const char *port) {
    if (strchr(host, ':') && host[0] != '[') snprintf(out, n, "[%s]:%s", host, port);
    else snprintf(out, n, "%s:%s", host, port);
}

/* A host argument may be a bracketed IPv6 address. */
static const char *unbracket(const char *host, char *buf, size_t n) {
    size_t len = strlen(host);
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < n) {
        memcpy(buf, host + 1, len - 2);
        buf[len - 2] = 0;
        return buf;
    }
    return host;
}

static int resolve(const char *host, const char *port, struct addrinfo **res) {
    char buf[256];
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    return getaddrinfo(unbracket(host, buf, sizeof buf), port, &hints, res);
}

/* A TCP connect bounded by `ms`; returns the fd, or -1 with errno set. */
static int connect_bounded(const struct addrinfo *ai, int ms) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return fd;
    if (errno != EINPROGRESS) { int e = errno; close(fd); errno = e; return -1; }
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int r = poll(&p, 1, ms);
    if (r == 0) { close(fd); errno = ETIMEDOUT; return -1; }
    if (r < 0) { int e = errno; close(fd); errno = e; return -1; }
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err) { close(fd); errno = err; return -1; }
    return fd;
}

/* Resolves and connects; on failure prints "<what> H:P: <why>" and returns -1. */
static int open_tcp(const char *what, const char *host, const char *port) {
    char name[320];
    label(name, sizeof name, host, port);
    struct addrinfo *res = NULL;
    int r = resolve(host, port, &res);
    if (r != 0) {
        if (r == EAI_SYSTEM) printf("%s %s: resolve: EAI_SYSTEM %s\n", what, name, errno_name(errno));
        else printf("%s %s: resolve: %s\n", what, name, gai_name(r));
        return -1;
    }
    int first_errno = 0, fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = connect_bounded(ai, 3000);
        if (fd >= 0) break;
        if (!first_errno) first_errno = errno;
    }
    freeaddrinfo(res);
    if (fd < 0) printf("%s %s: %s\n", what, name, first_errno ? errno_name(first_errno) : "no address");
    return fd;
}

static void probe_connect(const char *host, const char *port) {
    int fd = open_tcp("connect", host, port);
    if (fd < 0) return;
    char name[320];
    label(name, sizeof name, host, port);
    printf("connect %s: ok\n", name);
    close(fd);
}

static long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

static void probe_http(const char *host, const char *port) {
    int fd = open_tcp("http", host, port);
    if (fd < 0) return;
    char name[320], req[512], resp[8192];
    label(name, sizeof name, host, port);
    char hbuf[256];
    const char *h = unbracket(host, hbuf, sizeof hbuf);
    int n = snprintf(req, sizeof req, "GET / HTTP/1.0\r\nHost: %s%s%s\r\nConnection: close\r\n\r\n",
                     strchr(h, ':') ? "[" : "", h, strchr(h, ':') ? "]" : "");
    size_t got = 0;
    long deadline = now_ms() + 3000;
    int err = 0;
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) err = errno ? errno : EIO;
    while (!err && got < sizeof resp - 1) {
        long left = deadline - now_ms();
        if (left <= 0) { err = ETIMEDOUT; break; }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r == 0) { err = ETIMEDOUT; break; }
        if (r < 0) { err = errno; break; }
        ssize_t k = recv(fd, resp + got, sizeof resp - 1 - got, 0);
        if (k < 0) { if (errno == EAGAIN) continue; err = errno; break; }
        if (k == 0) break;
        got += (size_t)k;
    }
    close(fd);
    resp[got] = 0;
    char *body = strstr(resp, "\r\n\r\n");
    if (err && !body) { printf("http %s: %s\n", name, errno_name(err)); return; }
    if (!body) { printf("http %s: no response\n", name); return; }
    body += 4;
    body[strcspn(body, "\r\n")] = 0;
    printf("http %s: %s\n", name, *body ? body : "empty body");
}

static void probe_resolve(const char *host) {
    struct addrinfo *res = NULL;
    int r = resolve(host, NULL, &res);
    if (r != 0) {
        if (r == EAI_SYSTEM) printf("resolve %s: EAI_SYSTEM %s\n", host, errno_name(errno));
        else printf("resolve %s: %s\n", host, gai_name(r));
        return;
    }
    char line[2048] = "";
    size_t used = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        char a[INET6_ADDRSTRLEN] = "";
        const void *src = ai->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                                                    : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
        inet_ntop(ai->ai_family, src, a, sizeof a);
        /* one entry per address, though getaddrinfo lists one per socket type */
        char key[INET6_ADDRSTRLEN + 2];
        snprintf(key, sizeof key, " %s ", a);
        char padded[sizeof line + 2];
        snprintf(padded, sizeof padded, " %s ", line);
        if (strstr(padded, key)) continue;
        used += (size_t)snprintf(line + used, sizeof line - used, "%s%s", used ? " " : "", a);
        if (used >= sizeof line) break;
    }
    freeaddrinfo(res);
    printf("resolve %s: %s\n", host, line);
}

static void probe_dns_udp(const char *server, const char *qname) {
    char sbuf[256];
    const char *s = unbracket(server, sbuf, sizeof sbuf);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET; s4->sin_port = htons(53); sl = sizeof *s4;
    } else if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6; s6->sin6_port = htons(53); sl = sizeof *s6;
    } else {
        printf("dns-udp %s %s: not an address\n", server, qname);
        return;
    }
    unsigned char q[512];
    unsigned short id = (unsigned short)(getpid() ^ now_ms());
    size_t n = 0;
    q[n++] = (unsigned char)(id >> 8); q[n++] = (unsigned char)(id & 0xff);
    q[n++] = 0x01; q[n++] = 0x00;                      /* RD */
    q[n++] = 0; q[n++] = 1; memset(q + n, 0, 6); n += 6; /* QDCOUNT 1 */
    const char *p = qname;
    while (*p) {
        size_t l = strcspn(p, ".");
        if (l == 0 || l > 63 || n + l + 6 > sizeof q) { printf("dns-udp %s %s: bad name\n", server, qname); return; }
        q[n++] = (unsigned char)l; memcpy(q + n, p, l); n += l; p += l;
        if (*p == '.') p++;
    }
    q[n++] = 0;
    q[n++] = 0; q[n++] = 1; q[n++] = 0; q[n++] = 1;    /* A, IN */
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { printf("dns-udp %s %s: %s\n", server, qname, errno_name(errno)); return; }
    if (connect(fd, (struct sockaddr *)&ss, sl) < 0 || send(fd, q, n, 0) < 0) {
        printf("dns-udp %s %s: %s\n", server, qname, errno_name(errno));
        close(fd);
        return;
    }
    long deadline = now_ms() + 3000;
    for (;;) {
        long left = deadline - now_ms();
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int r = left > 0 ? poll(&pf, 1, (int)left) : 0;
        if (r == 0) { printf("dns-udp %s %s: timeout\n", server, qname); break; }
        if (r < 0) { printf("dns-udp %s %s: %s\n", server, qname, errno_name(errno)); break; }
        unsigned char a[4096];
        ssize_t k = recv(fd, a, sizeof a, 0);
        if (k < 0) { printf("dns-udp %s %s: %s\n", server, qname, errno_name(errno)); break; }
        if (k < 12 || a[0] != q[0] || a[1] != q[1] || !(a[2] & 0x80)) continue; /* not our answer */
        static const char *rcodes[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};
        int rcode = a[3] & 0x0f, ancount = a[6] << 8 | a[7];
        if (rcode == 0) printf("dns-udp %s %s: %s\n", server, qname, ancount ? "answer" : "NODATA");
        else if (rcode < 6) printf("dns-udp %s %s: %s\n", server, qname, rcodes[rcode]);
        else printf("dns-udp %s %s: RCODE%d\n", server, qname, rcode);
        break;
    }
    close(fd);
}

/* How many arguments a probe takes (the network probes), or 0. */
static int probe_arity(const char *name) {
    if (!strcmp(name, "connect") || !strcmp(name, "http") || !strcmp(name, "dns-udp")) return 2;
    if (!strcmp(name, "resolve")) return 1;
    return 0;
}

static void run_net(const char *name, char **a) {
    if (!strcmp(name, "connect")) probe_connect(a[0], a[1]);
    else if (!strcmp(name, "http")) probe_http(a[0], a[1]);
    else if (!strcmp(name, "resolve")) probe_resolve(a[0]);
    else probe_dns_udp(a[0], a[1]);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    /* the resolver's own retries stay well inside the probe's bounds */
    setenv("RES_OPTIONS", "timeout:2 attempts:1", 0);
    for (int i = 1; i < argc; i++) {
        int arity = probe_arity(argv[i]);
        if (i + arity >= argc) {
            fprintf(stderr, "probe: %s takes %d argument%s\n", argv[i], arity, arity == 1 ? "" : "s");
            return 2;
        }
        pid_t p = fork();
        if (p == 0) {
            alarm(20);
            if (arity) { run_net(argv[i], argv + i + 1); _exit(0); }
            errno = 0;
            long r = run(argv[i]);
            if (r >= 0) printf("%s: ok\n", argv[i]);
            else printf("%s: %s\n", argv[i], strerrorname_np(errno) ? strerrorname_np(errno) : "?");
            _exit(0);
        }
        int st = 0;
        waitpid(p, &st, 0);
        if (WIFSIGNALED(st)) printf("%s: killed by SIG%s\n", argv[i], sigabbrev_np(WTERMSIG(st)));
        i += arity;
    }
    return 0;
}
