#include "sandbox/privileges.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "sandbox/error.hpp"

namespace jobcell {

void drop_privileges(const JobUser& user, bool rootless) {
    // A new session: no controlling terminal of the host, so TIOCSTI cannot reach it.
    if (::setsid() < 0) throw_errno("setsid");
    // The bounding set needs CAP_SETPCAP, so it goes while we still hold it.
    for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            throw_errno("drop bounding capability " + std::to_string(cap));
    }
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) throw_errno("clear ambient capabilities");
    // Rootless, setgroups is denied in the cell (and the job user has no other groups there).
    if (!rootless && ::setgroups(0, nullptr) != 0) throw_errno("setgroups");
    if (::setresgid(user.gid, user.gid, user.gid) != 0) throw_errno("setresgid " + std::to_string(user.gid));
    if (::setresuid(user.uid, user.uid, user.uid) != 0) throw_errno("setresuid " + std::to_string(user.uid));
    // From the cell's root, setresuid cleared effective and permitted; rootless the uid did not
    // change and nothing was cleared. Either way all sets are emptied explicitly.
    cap_t none = ::cap_init();
    if (none == nullptr) throw_errno("cap_init");
    int rc = ::cap_set_proc(none);
    ::cap_free(none);
    if (rc != 0) throw_errno("clear capabilities");
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) throw_errno("no_new_privs");
    // Changing credentials cleared the parent-death signal; the cell must still die with us.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) throw_errno("set parent-death signal");
    rlimit no_core{0, 0};
    if (::setrlimit(RLIMIT_CORE, &no_core) != 0) throw_errno("setrlimit RLIMIT_CORE");
}

void close_fds_on_exec() {
    if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    if (DIR* dir = ::opendir("/proc/self/fd")) {
        int own = ::dirfd(dir);
        while (dirent* entry = ::readdir(dir)) {
            int fd = std::atoi(entry->d_name);
            if (fd > 2 && fd != own) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        }
        ::closedir(dir);
        return;
    }
    for (int fd = 3; fd < 65536; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

void reset_signals() {
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        ::signal(sig, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

}  // namespace jobcell
