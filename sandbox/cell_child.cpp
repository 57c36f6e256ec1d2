#include "sandbox/cell_child.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/cell_inside.hpp"
#include "sandbox/error.hpp"
#include "sandbox/fd.hpp"
#include "sandbox/idmap.hpp"
#include "sandbox/privileges.hpp"
#include "sandbox/rootfs.hpp"

namespace jobcell {
namespace {

void bring_up_loopback() {
    Fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock.valid()) throw_errno("loopback: socket");
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) throw_errno("loopback: get flags");
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
    if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) throw_errno("loopback: up");
}

void become_cell_root() {
    if (::setresgid(0, 0, 0) != 0) throw_errno("setresgid 0 in the cell");
    if (::setresuid(0, 0, 0) != 0) throw_errno("setresuid 0 in the cell");
    // A credential change clears the parent-death signal.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) throw_errno("set parent-death signal");
}

bool wait_for_byte(int fd) {
    char byte = 0;
    ssize_t n;
    while ((n = ::read(fd, &byte, 1)) < 0 && errno == EINTR) {
    }
    return n == 1;
}

void set_up_cell(const ChildContext& ctx) {
    const SandboxSpec& spec = *ctx.spec;
    // Rootless, the cell has no root to become: the job user holds the namespace's
    // capabilities from the clone until drop_privileges.
    if (!spec.rootless) become_cell_root();
    if (::sethostname(spec.hostname.data(), spec.hostname.size()) != 0) throw_errno("sethostname");
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        throw_errno("make mounts private");
    CellNetworkInside network(*ctx.net);  // needs the host's /proc: before the new root
    Fd own_workspace;  // rootless: cloned here, before the new root covers /tmp
    if (spec.rootless) own_workspace = clone_workspace_in_cell(spec.workspace, ctx.workspace_identity);
    build_rootfs(spec, spec.rootless ? own_workspace.get() : ctx.workspace_fd, *ctx.etc, ctx.bind_fds);
    bring_up_loopback();
    // The supervisor moves us into the cell's cgroup while we build (on cgroup v1 that move
    // waits for an RCU grace period, several milliseconds) and plugs in the veth; nothing of
    // the job runs before it.
    if (!wait_for_byte(ctx.release_fd)) ::_exit(125);
    network.configure();
    // That cgroup becomes the root of our cgroup namespace.
    if (::unshare(CLONE_NEWCGROUP) != 0) throw_errno("unshare cgroup namespace");
    drop_privileges(spec.user, spec.rootless);
    // Rootless, the process limit is RLIMIT_NPROC in place of the pids cgroup. It counts the
    // job user's processes of this user namespace only: the cell's, as the pids cgroup does,
    // plus the DNS forwarder of a cell with a network, which joins it (hence one more).
    if (spec.rootless && spec.limits.pids != 0) {
        const std::uint64_t limit = spec.limits.pids + (spec.network == "none" ? 0 : 1);
        rlimit nproc{limit, limit};
        if (::setrlimit(RLIMIT_NPROC, &nproc) != 0) throw_errno("setrlimit RLIMIT_NPROC");
    }
    reset_signals();
    close_fds_on_exec();
    if (int rc = ctx.filter->load(); rc != 0) throw_errno("load seccomp filter", -rc);
    ::syscall(SYS_execveat, ctx.init_fd, "", ctx.init_argv.data(), ctx.init_envp.data(), AT_EMPTY_PATH);
    throw_errno("exec the cell's init");
}

}  // namespace

void cell_child_main(const ChildContext& ctx) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    ::close(ctx.release_peer_fd);
    ::close(ctx.error_peer_fd);
    if (!wait_for_byte(ctx.release_fd)) ::_exit(125);  // the launcher is gone: nothing to run for
    try {
        set_up_cell(ctx);
    } catch (const std::exception& e) {
        const char* text = e.what();
        write_all(ctx.error_fd, text, std::strlen(text));
    }
    ::_exit(125);
}

}  // namespace jobcell
