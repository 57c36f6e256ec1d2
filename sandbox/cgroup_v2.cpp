// A cell's cgroup on the unified hierarchy: one directory, limits in memory.max / pids.max /
// cpu.max, accounting from memory.peak and cpu.stat, teardown through cgroup.kill.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <sstream>

#include "sandbox/cgroup_impl.hpp"
#include "sandbox/error.hpp"

namespace jobcell {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> words(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> out;
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

CgroupV2::CgroupV2(const fs::path& root, const std::vector<std::string>& root_controllers,
                   const std::string& name, const CgroupLimits& limits)
    : dir_(root / ("jobcell-" + name)) {
    // memory and cpu are wanted for accounting even without a limit; a limit whose controller
    // the root does not offer is an error rather than a silently unlimited cell.
    const std::pair<std::string, bool> controllers[] = {{"memory", limits.memory_bytes != 0},
                                                        {"pids", limits.pids != 0},
                                                        {"cpu", limits.cpus != 0}};
    std::vector<std::string> wanted;
    for (const auto& [controller, needed] : controllers) {
        if (contains(root_controllers, controller)) {
            wanted.push_back(controller);
        } else if (needed) {
            throw Error("cgroup: " + root.string() + " does not offer the " + controller +
                        " controller (cgroup.controllers)");
        }
    }
    const std::vector<std::string> enabled =
        words(read_cgroup_file(root / "cgroup.subtree_control"));
    std::string enable;
    for (const std::string& c : wanted) {
        if (!contains(enabled, c)) enable += (enable.empty() ? "+" : " +") + c;
    }
    if (!enable.empty()) write_cgroup_file(root / "cgroup.subtree_control", enable);

    if (mkdir(dir_.c_str(), 0755) != 0) throw_errno("cgroup: mkdir " + dir_.string());
    try {
        std::error_code ec;
        write_cgroup_files(dir_, v2_limit_files(limits, fs::exists(dir_ / "memory.swap.max", ec)));
        dir_fd_.reset(open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir_fd_.valid()) throw_errno("cgroup: open " + dir_.string());
    } catch (...) {
        remove_cgroup_dir(dir_, 1s);
        throw;
    }
}

CgroupV2::~CgroupV2() {
    try {
        kill_all();
    } catch (...) {
        // Best effort: rmdir below fails (and leaves the directory for gc) if anything survived.
    }
    dir_fd_.reset();
    try {
        remove_cgroup_dir(dir_, 1s);
    } catch (...) {
    }
}

void CgroupV2::add_process(pid_t pid) {
    write_cgroup_file(dir_ / "cgroup.procs", std::to_string(pid));
}

CgroupUsage CgroupV2::usage() const {
    CgroupUsage u;
    std::optional<std::string> peak = read_cgroup_file_if_exists(dir_ / "memory.peak");
    if (!peak) peak = read_cgroup_file_if_exists(dir_ / "memory.current");  // before 5.19
    u.peak_memory_bytes = leading_number(peak);
    if (auto cpu = read_cgroup_file_if_exists(dir_ / "cpu.stat")) {
        u.cpu_usec = keyed_value(*cpu, "usage_usec").value_or(0);
    }
    if (auto events = read_cgroup_file_if_exists(dir_ / "memory.events")) {
        u.oom_kills = keyed_value(*events, "oom_kill").value_or(0);
    }
    return u;
}

void CgroupV2::kill_all() {
    // cgroup.kill (5.14+) kills the whole subtree atomically, forks in flight included; the
    // loop below then only waits. Without it, the loop does the killing.
    std::error_code ec;
    if (fs::exists(dir_ / "cgroup.kill", ec)) write_cgroup_file(dir_ / "cgroup.kill", "1");
    if (!kill_cgroup_procs({dir_}, 2s)) {
        throw Error("cgroup: processes still in " + dir_.string() + " after SIGKILL for 2 s");
    }
}

}  // namespace jobcell
