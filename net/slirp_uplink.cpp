#include "net/slirp_uplink.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <sstream>

#include "sandbox/error.hpp"

namespace jobcell {
namespace {

using namespace std::chrono_literals;

// slirp4netns creates tap0 within a few milliseconds; this bounds a stuck one.
constexpr auto kReadyBound = 10s;
constexpr auto kExitBound = 1s;
constexpr int kChildReadyFd = 3;
constexpr int kChildExitFd = 4;

bool executable_file(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

// Its messages on one line, without the warning it always prints about its own seccomp filter.
std::string one_line(const std::string& text) {
    std::string out, line;
    std::istringstream in(text);
    while (std::getline(in, line)) {
        if (line.empty() || line.find("seccomp is experimental") != std::string::npos) continue;
        out += (out.empty() ? "" : "; ") + line;
    }
    return out;
}

std::string read_log(int memfd) {
    if (memfd < 0 || ::lseek(memfd, 0, SEEK_SET) != 0) return "";
    return read_all(memfd, 4096);
}

// Polls `fd` for input until `bound`; false on timeout.
bool wait_readable(int fd, std::chrono::milliseconds bound) {
    pollfd p{fd, POLLIN, 0};
    int rc;
    while ((rc = ::poll(&p, 1, static_cast<int>(bound.count()))) < 0 && errno == EINTR) {
    }
    return rc > 0;
}

}  // namespace

std::vector<std::string> slirp4netns_argv(const std::string& binary, pid_t cell_pid, int ready_fd, int exit_fd) {
    return {binary,
            // No path from the cell to the user's own loopback services (10.0.2.2 -> 127.0.0.1).
            "--disable-host-loopback",
            // No DNS proxy of its own at 10.0.2.3: names go through jobcell's forwarder only.
            "--disable-dns",
            // Its seccomp filter, since it parses the cell's packets. Not --enable-sandbox: that
            // needs a root in the cell's user namespace, and a rootless cell has only the job
            // user (docs/threat-model.md says what that leaves).
            "--enable-seccomp",
            "--ready-fd=" + std::to_string(ready_fd), "--exit-fd=" + std::to_string(exit_fd),
            std::to_string(cell_pid), kSlirpLink};
}

std::string find_program(std::string_view name, std::string_view path_var,
                         bool (*is_executable)(const std::string&)) {
    while (true) {
        const std::size_t colon = path_var.find(':');
        const std::string_view dir = path_var.substr(0, colon);
        // A relative entry would depend on the working directory: never looked at.
        if (!dir.empty() && dir.front() == '/') {
            std::string candidate(dir);
            if (candidate.back() != '/') candidate += '/';
            candidate += name;
            if (is_executable(candidate)) return candidate;
        }
        if (colon == std::string_view::npos) return "";
        path_var.remove_prefix(colon + 1);
    }
}

SlirpUplink::SlirpUplink(const SandboxSpec& spec) {
    const char* path = std::getenv("PATH");
    binary_ = find_program("slirp4netns", path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin", executable_file);
    if (binary_.empty())
        throw Error("rootless: --net " + spec.network +
                    " needs a user-mode uplink and slirp4netns is not installed (apt-get install "
                    "slirp4netns), or use --net none");
    // slirp4netns opens /dev/net/tun inside the cell's namespaces; say so here, not later.
    Fd tun(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
    if (!tun.valid())
        throw_errno("rootless: --net " + spec.network + " needs /dev/net/tun for slirp4netns (open /dev/net/tun)");
    config_.has_link = true;
    config_.link = kSlirpLink;
    config_.addresses.cell4 = kSlirpCell4;
    config_.addresses.host4 = kSlirpGateway4;
    config_.prefix4 = kSlirpPrefix4;
    config_.ipv6 = false;  // slirp4netns's IPv6 is experimental: the cell gets none
    plan_egress(spec, {kSlirpGateway4, kSlirpDns4});
}

void SlirpUplink::attach(pid_t cell_pid, int) {
    Pipe ready = make_pipe();
    Pipe exit = make_pipe();
    Fd log(::memfd_create("jobcell-slirp4netns", MFD_CLOEXEC));
    if (!log.valid()) throw_errno("slirp4netns: memfd for its messages");
    std::vector<std::string> args = slirp4netns_argv(binary_, cell_pid, kChildReadyFd, kChildExitFd);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    char path_env[] = "PATH=/usr/bin:/bin";
    char* envp[] = {path_env, nullptr};
    const pid_t parent = ::getpid();

    pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork slirp4netns");
    if (pid == 0) {
        // Its own session: a runner's SIGTERM to jobcell's process group reaches jobcell,
        // which ends the cell and then slirp4netns in order. It dies with jobcell regardless.
        ::setsid();
        ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (::getppid() != parent) ::_exit(127);
        int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull < 0 || ::dup2(devnull, 0) < 0 || ::dup2(log.get(), 1) < 0 || ::dup2(log.get(), 2) < 0 ||
            ::dup2(ready.write.get(), kChildReadyFd) < 0 || ::dup2(exit.read.get(), kChildExitFd) < 0)
            ::_exit(127);
        ::syscall(SYS_close_range, kChildExitFd + 1, ~0U, 0);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execve(argv[0], argv.data(), envp);
        ::_exit(127);
    }
    pid_ = pid;
    pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    exit_write_ = std::move(exit.write);
    ready.write.reset();
    exit.read.reset();

    auto failure = [&](const std::string& why) {
        std::string said = one_line(read_log(log.get()));
        return Error("slirp4netns: " + why + (said.empty() ? "" : ": " + said));
    };
    if (!wait_readable(ready.read.get(), std::chrono::duration_cast<std::chrono::milliseconds>(kReadyBound)))
        throw failure("not ready after " + std::to_string(kReadyBound.count()) + " s");
    char byte = 0;
    ssize_t n;
    while ((n = ::read(ready.read.get(), &byte, 1)) < 0 && errno == EINTR) {
    }
    if (n != 1) throw failure("ended before the cell's tap0 was up");
}

SlirpUplink::~SlirpUplink() {
    if (pid_ <= 0) return;
    exit_write_.reset();
    if (!pidfd_.valid() || !wait_readable(pidfd_.get(), kExitBound)) ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
}

}  // namespace jobcell
