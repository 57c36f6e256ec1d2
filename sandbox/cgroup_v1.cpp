// A cell's cgroup on v1 hierarchies: one directory per hierarchy it needs (memory, pids, cpu,
// cpuacct; cpu and cpuacct may be one co-mounted hierarchy), limits and accounting in each.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "sandbox/cgroup_impl.hpp"
#include "sandbox/error.hpp"

namespace jobcell {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

CgroupV1::CgroupV1(const std::map<std::string, fs::path>& roots, const std::string& name,
                   const CgroupLimits& limits) {
    // memory and pids always (limits, accounting, finding members to kill); cpu for a cpu
    // limit; cpuacct, when mounted, for cpu time.
    const std::pair<std::string, bool> controllers[] = {
        {"memory", true}, {"pids", true}, {"cpu", limits.cpus != 0}, {"cpuacct", false}};
    std::vector<fs::path> planned;
    for (const auto& [controller, required] : controllers) {
        const auto root = roots.find(controller);
        if (root == roots.end()) {
            if (required) throw Error("cgroup: v1 has no " + controller + " hierarchy mounted");
            continue;
        }
        if (controller == "cpu" && !required) continue;
        const fs::path dir = root->second / ("jobcell-" + name);
        by_controller_[controller] = dir;
        if (std::find(planned.begin(), planned.end(), dir) == planned.end()) planned.push_back(dir);
    }

    try {
        for (const fs::path& dir : planned) {
            if (mkdir(dir.c_str(), 0755) != 0) throw_errno("cgroup: mkdir " + dir.string());
            dirs_.push_back(dir);
        }
        std::error_code ec;
        const bool has_memsw = fs::exists(dir_of("memory") / "memory.memsw.limit_in_bytes", ec);
        for (const auto& [controller, files] : v1_limit_files(limits, has_memsw)) {
            write_cgroup_files(dir_of(controller), files);
        }
        // v1 keeps socket buffers out of memory.limit_in_bytes: without this a job can pin
        // host memory in TCP queues far beyond its limit. v2 charges them to memory.max.
        const fs::path tcp = dir_of("memory") / "memory.kmem.tcp.limit_in_bytes";
        if (limits.memory_bytes != 0 && fs::exists(tcp, ec))
            write_cgroup_files(dir_of("memory"), {{"memory.kmem.tcp.limit_in_bytes", std::to_string(limits.memory_bytes)}});
    } catch (...) {
        remove_all();
        throw;
    }
}

CgroupV1::~CgroupV1() {
    try {
        kill_all();
    } catch (...) {
        // Best effort: rmdir below fails (and leaves the directories for gc) if anything survived.
    }
    remove_all();
}

void CgroupV1::remove_all() noexcept {
    for (const fs::path& dir : dirs_) {
        try {
            remove_cgroup_dir(dir, 1s);
        } catch (...) {
        }
    }
}

fs::path CgroupV1::dir_of(const std::string& controller) const {
    const auto it = by_controller_.find(controller);
    return it == by_controller_.end() ? fs::path{} : it->second;
}

void CgroupV1::add_process(pid_t pid) {
    // One hierarchy at a time: the caller adds a child that is still waiting to be released, so
    // it cannot fork in between.
    for (const fs::path& dir : dirs_) write_cgroup_file(dir / "cgroup.procs", std::to_string(pid));
}

CgroupUsage CgroupV1::usage() const {
    CgroupUsage u;
    const fs::path memory = dir_of("memory");
    u.peak_memory_bytes =
        leading_number(read_cgroup_file_if_exists(memory / "memory.max_usage_in_bytes"));
    if (auto oom = read_cgroup_file_if_exists(memory / "memory.oom_control")) {
        u.oom_kills = keyed_value(*oom, "oom_kill").value_or(0);  // 4.13+
    }
    if (const fs::path cpuacct = dir_of("cpuacct"); !cpuacct.empty()) {
        u.cpu_usec = leading_number(read_cgroup_file_if_exists(cpuacct / "cpuacct.usage")) / 1000;
    }
    return u;
}

void CgroupV1::kill_all() {
    // No cgroup.kill in v1: signal members until every hierarchy's cgroup.procs is empty.
    if (!kill_cgroup_procs(dirs_, 2s)) {
        throw Error("cgroup: processes still in " + dir_of("memory").string() +
                    " after SIGKILL for 2 s");
    }
}

}  // namespace jobcell
