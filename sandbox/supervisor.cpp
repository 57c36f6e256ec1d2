#include "sandbox/supervisor.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <optional>
#include <random>

#include "net/uplink.hpp"
#include "sandbox/cell_child.hpp"
#include "sandbox/error.hpp"
#include "sandbox/fd.hpp"
#include "sandbox/idmap.hpp"
#include "sandbox/job_stdio.hpp"
#include "sandbox/seccomp_filter.hpp"

extern "C" const unsigned char jobcell_init_blob[];
extern "C" const unsigned char jobcell_init_blob_end[];

namespace jobcell {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kForwardedSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

// The init program in a sealed memfd: the cell executes it without any host path, and
// /proc/1/exe inside the cell is not a host file anyone could write to.
Fd make_init_memfd() {
    constexpr unsigned kMfdExec = 0x10U;  // MFD_EXEC (Linux 6.3); older kernels: not needed
    int fd = ::memfd_create("jobcell-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | kMfdExec);
    if (fd < 0 && errno == EINVAL) fd = ::memfd_create("jobcell-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) throw_errno("memfd for the cell's init");
    Fd memfd(fd);
    auto size = static_cast<std::size_t>(jobcell_init_blob_end - jobcell_init_blob);
    if (!write_all(memfd.get(), jobcell_init_blob, size)) throw_errno("write the cell's init");
    if (::fcntl(memfd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
        throw_errno("seal the cell's init");
    return memfd;
}

std::string random_suffix() {
    std::random_device rd;
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08x", rd());
    return buf;
}

// Signals the launcher receives arrive on a signalfd; the old mask comes back on destruction.
class SignalFeed {
public:
    SignalFeed() {
        sigemptyset(&set_);
        for (int sig : kForwardedSignals) sigaddset(&set_, sig);
        if (::sigprocmask(SIG_BLOCK, &set_, &old_) != 0) throw_errno("sigprocmask");
        fd_.reset(::signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK));
        if (!fd_.valid()) {
            ::sigprocmask(SIG_SETMASK, &old_, nullptr);
            throw_errno("signalfd");
        }
    }
    ~SignalFeed() { ::sigprocmask(SIG_SETMASK, &old_, nullptr); }
    SignalFeed(const SignalFeed&) = delete;
    SignalFeed& operator=(const SignalFeed&) = delete;
    int fd() const { return fd_.get(); }
    int next() {
        signalfd_siginfo info{};
        if (::read(fd_.get(), &info, sizeof info) != sizeof info) return 0;
        return static_cast<int>(info.ssi_signo);
    }

private:
    sigset_t set_{}, old_{};
    Fd fd_;
};

// The cell's first process; killed and reaped on destruction unless it was waited for.
class CellProcess {
public:
    CellProcess(pid_t pid, Fd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
    ~CellProcess() {
        if (reaped_) return;
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
    CellProcess(const CellProcess&) = delete;
    CellProcess& operator=(const CellProcess&) = delete;
    pid_t pid() const { return pid_; }
    int pidfd() const { return pidfd_.get(); }
    siginfo_t wait() {
        siginfo_t info{};
        while (::waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &info, WEXITED) < 0) {
            if (errno != EINTR) throw_errno("wait for the cell");
        }
        reaped_ = true;
        return info;
    }

private:
    pid_t pid_;
    Fd pidfd_;
    bool reaped_ = false;
};

std::unique_ptr<CellProcess> clone_cell(const ChildContext& ctx, int cgroup_fd) {
    clone_args args{};
    args.flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |
                 CLONE_NEWUTS | CLONE_PIDFD;
    if (cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<std::uint64_t>(cgroup_fd);
    }
    int pidfd = -1;
    args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) throw_errno("clone the cell");
    if (pid == 0) cell_child_main(ctx);
    return std::make_unique<CellProcess>(static_cast<pid_t>(pid), Fd(pidfd));
}

// Root mode: the cell's 0..65535 are the host's id_base..id_base+65535. Rootless: the job user
// is the invoking user and no other id exists in the cell; setgroups stays denied, as an
// unprivileged writer of gid_map must have it, so the job cannot shed the user's groups either.
void write_id_maps(pid_t pid, const SandboxSpec& spec) {
    const std::string proc = "/proc/" + std::to_string(pid);
    if (spec.rootless) {
        write_file(proc + "/setgroups", "deny");
        write_file(proc + "/uid_map", std::to_string(spec.user.uid) + " " + std::to_string(spec.host_uid) + " 1\n");
        write_file(proc + "/gid_map", std::to_string(spec.user.gid) + " " + std::to_string(spec.host_gid) + " 1\n");
        return;
    }
    const std::string map = "0 " + std::to_string(spec.id_base) + " 65536\n";
    write_file(proc + "/uid_map", map);
    write_file(proc + "/gid_map", map);
}

Fd open_namespace(pid_t pid, const char* name) {
    const std::string path = "/proc/" + std::to_string(pid) + "/ns/" + name;
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) throw_errno("open " + path);
    return fd;
}

// The cell's uplink (veth and NAT, or slirp4netns), then its DNS forwarder; both before the
// job can run.
std::unique_ptr<DnsForwarderProcess> plug_in_network(CellUplink& network, const SandboxSpec& spec,
                                                     const std::vector<sockaddr_storage>& resolvers, pid_t cell) {
    Fd netns = open_namespace(cell, "net");
    Fd userns = open_namespace(cell, "user");
    network.attach(cell, netns.get());
    DnsProcessSetup setup;
    setup.gate.entries = network.entries();
    setup.gate.entry_group = network.ruleset().entry_group;
    setup.gate.host_addresses = network.host_addresses();
    setup.gate.every_name = spec.network == "open";
    setup.groups = network.ruleset().groups;
    setup.resolvers = resolvers;
    setup.cell_netns_fd = netns.get();
    setup.cell_userns_fd = userns.get();
    setup.rootless = spec.rootless;
    return std::make_unique<DnsForwarderProcess>(setup);
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    for (auto& s : strings) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

}  // namespace

RunResult run_cell(const SandboxSpec& spec) {
    if (spec.rootless != (::geteuid() != 0))
        throw Error(spec.rootless ? "the cell was planned rootless, but jobcell runs as root"
                                  : "the cell was planned for root mode, but jobcell does not run as root");
    if (spec.command.empty()) throw Error("no command to run");
    check_job_stdio();
    if (!spec.rootless && spec.id_base == 0) throw Error("id_base 0 would make the cell's root the host's root");
    if (spec.rootless && (spec.limits.memory_bytes != 0 || spec.limits.cpus != 0))
        throw Error("rootless: memory and cpu limits need a cgroup, which jobcell cannot create without root");
    const auto started = Clock::now();
    RunResult result;

    std::unique_ptr<CellCgroup> cgroup;
    if (spec.rootless) {
        cgroup = make_no_cgroup();
        result.cgroup_version = "none";
    } else {
        CgroupMounts mounts = read_cgroup_mounts();
        collect_dead_cgroups(mounts);
        CgroupLimits limits{spec.limits.memory_bytes, spec.limits.pids, spec.limits.cpus};
        cgroup = create_cell_cgroup(mounts, std::to_string(::getpid()) + "-" + random_suffix(), limits);
        result.cgroup_version = cgroup->version() == CgroupVersion::v2 ? "v2" : "v1";
    }

    Fd init = make_init_memfd();
    // Root mode clones (and idmaps) the workspace here, in the host's mount namespace; rootless,
    // the cell clones it in its own (only it may), after checking it is the directory seen here.
    WorkspaceTree workspace;
    WorkspaceIdentity workspace_identity;
    // Further binds (GitLab: stage script, cache) are idmapped like the workspace (root mode).
    std::vector<WorkspaceTree> bind_trees;
    if (spec.rootless) {
        if (!spec.binds.empty()) throw Error("rootless: further binds (the GitLab executor's) need root mode");
        workspace_identity = identify_workspace(spec.workspace);  // files the job writes are the user's
    } else {
        const std::uint32_t job_uid = spec.id_base + spec.user.uid, job_gid = spec.id_base + spec.user.gid;
        workspace = open_workspace_tree(spec.workspace, job_uid, job_gid);
        result.workspace_idmapped = workspace.idmapped;
        result.workspace_note = workspace.note;
        for (const CellBind& bind : spec.binds) bind_trees.push_back(open_workspace_tree(bind.host, job_uid, job_gid));
    }
    SeccompFilter filter(seccomp_profile(spec.seccomp_profile));
    std::vector<GeneratedFile> etc = generated_etc(spec);
    // A cell with a network leases its addresses now; the veth follows once the cell exists.
    static const CellNetConfig loopback_only;
    std::unique_ptr<CellUplink> network;
    std::vector<sockaddr_storage> resolvers;
    if (spec.network != "none") {
        network = make_cell_uplink(spec);
        resolvers = upstream_resolvers(spec.plumbing.resolvers);
        result.cell_address = network->cell_config().addresses.cell4;
    }

    std::vector<std::string> argv_strings{"jobcell-init"};
    argv_strings.insert(argv_strings.end(), spec.command.begin(), spec.command.end());
    std::vector<std::string> env_strings;
    for (const auto& [name, value] : spec.env) env_strings.push_back(name + "=" + value);

    Pipe release = make_pipe();
    Pipe errors = make_pipe();
    SignalFeed signals;

    ChildContext ctx;
    ctx.spec = &spec;
    ctx.filter = &filter;
    ctx.etc = &etc;
    ctx.net = network ? &network->cell_config() : &loopback_only;
    ctx.release_fd = release.read.get();
    ctx.error_fd = errors.write.get();
    ctx.release_peer_fd = release.write.get();
    ctx.error_peer_fd = errors.read.get();
    ctx.init_fd = init.get();
    ctx.workspace_fd = workspace.tree.get();
    ctx.workspace_identity = workspace_identity;
    for (const WorkspaceTree& tree : bind_trees) ctx.bind_fds.push_back(tree.tree.get());
    ctx.init_argv = c_strings(argv_strings);
    ctx.init_envp = c_strings(env_strings);

    std::unique_ptr<CellProcess> cell = clone_cell(ctx, cgroup->clone_into_fd());
    release.read.reset();
    errors.write.reset();
    write_id_maps(cell->pid(), spec);
    // Two releases: the cell builds its root while we move it into its cgroup (v1), and waits
    // for the second byte before anything of the job can run. A failed write means the cell
    // already gave up; its reason is on the error pipe.
    bool released = write_all(release.write.get(), "g", 1);
    if (released && cgroup->clone_into_fd() < 0) cgroup->add_process(cell->pid());
    std::unique_ptr<DnsForwarderProcess> dns;
    std::exception_ptr plumbing_failure;
    try {
        if (released && network) dns = plug_in_network(*network, spec, resolvers, cell->pid());
    } catch (const std::exception&) {
        plumbing_failure = std::current_exception();
    }
    if (released && !plumbing_failure) write_all(release.write.get(), "c", 1);
    release.write.reset();
    // A cell that gave up while it was being plugged in says why; that comes first, since the
    // plumbing then failed only for want of a cell.
    if (std::string failure = read_all(errors.read.get()); !failure.empty()) throw Error(failure);
    if (plumbing_failure) std::rethrow_exception(plumbing_failure);
    if (!released) throw Error("the cell exited before it was released");
    const auto job_started = Clock::now();

    // The job runs. Wait for it, with the timeout and the launcher's signals.
    const auto timeout_at = spec.limits.timeout.count() > 0
                                ? std::optional(started + spec.limits.timeout)
                                : std::nullopt;
    std::optional<Clock::time_point> kill_at;
    auto begin_stop = [&](int sig) {
        ::kill(cell->pid(), sig);
        if (!kill_at) kill_at = Clock::now() + spec.limits.kill_grace;
    };
    for (;;) {
        int wait_ms = -1;
        auto now = Clock::now();
        auto until = [&](Clock::time_point t) {
            auto ms = std::chrono::ceil<std::chrono::milliseconds>(t - now).count();
            int clamped = static_cast<int>(std::max<long long>(0, std::min<long long>(ms, 1 << 30)));
            wait_ms = wait_ms < 0 ? clamped : std::min(wait_ms, clamped);
        };
        if (timeout_at && !result.timed_out) until(*timeout_at);
        if (kill_at) until(*kill_at);
        pollfd fds[2] = {{cell->pidfd(), POLLIN, 0}, {signals.fd(), POLLIN, 0}};
        int ready = ::poll(fds, 2, wait_ms);
        if (ready < 0 && errno != EINTR) throw_errno("poll");
        if (fds[0].revents != 0) break;
        if (fds[1].revents != 0) {
            while (int sig = signals.next()) {
                result.forwarded_signal = sig;
                begin_stop(sig);
            }
        }
        now = Clock::now();
        if (timeout_at && !result.timed_out && now >= *timeout_at) {
            result.timed_out = true;
            begin_stop(SIGTERM);
        }
        if (kill_at && now >= *kill_at) {
            cgroup->kill_all();
            ::kill(cell->pid(), SIGKILL);
            kill_at = Clock::time_point::max();
        }
    }
    siginfo_t info = cell->wait();
    if (dns) result.network = dns->stop();
    network.reset();  // the veth and the NAT table, or slirp4netns, go
    int code = info.si_status;
    if (info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED) {
        result.init_signal = info.si_status;
        code = 128 + info.si_status;
    }
    const auto job_ended = Clock::now();
    result.usage = cgroup->usage();
    cgroup.reset();  // kills what is left and removes the cgroup
    auto us = [](Clock::duration d) { return std::chrono::duration_cast<std::chrono::microseconds>(d).count(); };
    result.setup_us = us(job_started - started);
    result.job_us = us(job_ended - job_started);
    result.teardown_us = us(Clock::now() - job_ended);
    result.oom_killed = result.usage.oom_kills > 0 && code == 128 + SIGKILL;
    result.exit_code = result.timed_out ? 124 : code;
    result.wall = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    return result;
}

}  // namespace jobcell
