// Cgroups behind one face: cgroup_v2.cpp (unified hierarchy with controllers) and cgroup_v1.cpp
// (one directory per controller hierarchy). Which one is used is decided at runtime from what
// the machine mounts; the decision itself (choose_cgroup_version) is pure.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobcell {

struct CgroupLimits {
    std::uint64_t memory_bytes = 0;  // 0: none
    std::uint64_t pids = 0;          // 0: none
    double cpus = 0;                 // 0: none
};

struct CgroupUsage {
    std::uint64_t peak_memory_bytes = 0;
    std::uint64_t cpu_usec = 0;
    std::uint64_t oom_kills = 0;
};

// none: rootless mode, where jobcell cannot create cgroups (no limits, no usage figures).
enum class CgroupVersion { v1, v2, none };

// Where the hierarchies are mounted. v2_root: the unified mount (may be empty). v1_roots:
// controller name ("memory", "pids", "cpu", "cpuacct") -> mount point of its hierarchy.
struct CgroupMounts {
    std::filesystem::path v2_root;
    std::vector<std::string> v2_controllers;  // from <v2_root>/cgroup.controllers
    std::map<std::string, std::filesystem::path> v1_roots;
};

// Pure: v2 when its root offers memory, pids and cpu; else v1 when memory and pids
// hierarchies exist; throws Error naming what is missing otherwise.
CgroupVersion choose_cgroup_version(const CgroupMounts& mounts);

// Reads /proc/self/mountinfo and cgroup.controllers.
CgroupMounts read_cgroup_mounts();

// Pure: the cgroup2 and cgroup (v1) mounts in mountinfo text (first mount of each wins; v1
// controllers come from the super options). v2_controllers is left empty.
CgroupMounts parse_cgroup_mountinfo(std::string_view mountinfo);

// Pure: the files and values that express the limits. v2: file -> value. v1: controller ->
// (file -> value), in the order they must be written (memsw after memory).
std::vector<std::pair<std::string, std::string>> v2_limit_files(const CgroupLimits& limits);
// As above; memory.swap.max only when has_swap_max (the kernel may be built without swap).
std::vector<std::pair<std::string, std::string>> v2_limit_files(const CgroupLimits& limits,
                                                                bool has_swap_max);
std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>
v1_limit_files(const CgroupLimits& limits, bool has_memsw);

// Writes name=value files into dir; throws Error("write <dir>/<file> = <value>: EINVAL ...").
void write_cgroup_files(const std::filesystem::path& dir,
                        const std::vector<std::pair<std::string, std::string>>& files);

// A cell's cgroup (one directory per hierarchy). The destructor kills what is left in it and
// removes the directories: cleanup cannot be forgotten.
class CellCgroup {
public:
    virtual ~CellCgroup() = default;
    virtual void add_process(pid_t pid) = 0;
    // An O_DIRECTORY fd for clone3(CLONE_INTO_CGROUP), or -1 where that is not possible (v1).
    virtual int clone_into_fd() const = 0;
    virtual CgroupUsage usage() const = 0;
    virtual void kill_all() = 0;
    virtual CgroupVersion version() const = 0;
};

// Creates "<root>/jobcell-<name>" in each needed hierarchy and writes the limits.
std::unique_ptr<CellCgroup> create_cell_cgroup(const CgroupMounts& mounts, const std::string& name,
                                               const CgroupLimits& limits);

// Rootless mode: no cgroup at all. The supervisor ends the cell through its init (the pid
// namespace takes every process with it), so kill_all has nothing of its own to do.
std::unique_ptr<CellCgroup> make_no_cgroup();

// Removes jobcell-* cgroups whose creator (pid encoded in the name) is gone. Returns how many.
int collect_dead_cgroups(const CgroupMounts& mounts);
// As above; best effort: a directory that cannot be removed (a member that will not die) is
// left for the next run and described in *failures ("<dir> (EBUSY (...))") when given. Never
// throws for that, so one stuck leftover cannot fail every later run.
int collect_dead_cgroups(const CgroupMounts& mounts, std::vector<std::string>* failures);

}  // namespace jobcell
