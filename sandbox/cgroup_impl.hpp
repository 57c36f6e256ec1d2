// Inside the cgroup face (sandbox/cgroup.hpp): the two implementations and the file helpers they
// share. Only cgroup_*.cpp and the cgroup tests include this.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/cgroup.hpp"
#include "sandbox/fd.hpp"

namespace jobcell {

// ---- files (cgroup_files.cpp) ----

// Whole file; throws Error("cgroup: read <path>: <errno>").
std::string read_cgroup_file(const std::filesystem::path& file);
// Whole file, or nullopt when it does not exist (other errors throw).
std::optional<std::string> read_cgroup_file_if_exists(const std::filesystem::path& file);
// The number a cgroup file starts with (0 when absent or not a number).
std::uint64_t leading_number(const std::optional<std::string>& text);
// One write() of value; throws Error("cgroup: write <path> = <value>: <errno>").
void write_cgroup_file(const std::filesystem::path& file, std::string_view value);
// The number after "<key> " on its own line of a flat-keyed file (cpu.stat, memory.events,
// memory.oom_control); nullopt when the key is absent.
std::optional<std::uint64_t> keyed_value(std::string_view text, std::string_view key);
// The pids listed in <dir>/cgroup.procs (empty when the directory is gone).
std::vector<pid_t> cgroup_procs(const std::filesystem::path& dir);
// SIGKILLs everything in the dirs (and cgroups below them) until cgroup.procs are empty or
// `bound` passes; returns true when empty. Signals through pidfds opened before re-checking
// membership, so a recycled pid outside the cgroup is never hit.
bool kill_cgroup_procs(const std::vector<std::filesystem::path>& dirs,
                       std::chrono::milliseconds bound);
// rmdir of dir (children first), retrying EBUSY until `bound`; returns 0 or the last errno.
int remove_cgroup_dir(const std::filesystem::path& dir, std::chrono::milliseconds bound);

// ---- implementations ----

class CgroupV2 final : public CellCgroup {
public:
    // Enables the controllers the limits need in root's cgroup.subtree_control, creates
    // <root>/jobcell-<name>, writes the limits. Throws Error; leaves nothing behind on failure.
    CgroupV2(const std::filesystem::path& root, const std::vector<std::string>& root_controllers,
             const std::string& name, const CgroupLimits& limits);
    ~CgroupV2() override;
    CgroupV2(const CgroupV2&) = delete;
    CgroupV2& operator=(const CgroupV2&) = delete;

    void add_process(pid_t pid) override;
    int clone_into_fd() const override { return dir_fd_.get(); }
    CgroupUsage usage() const override;
    void kill_all() override;
    CgroupVersion version() const override { return CgroupVersion::v2; }
    const std::filesystem::path& dir() const { return dir_; }

private:
    std::filesystem::path dir_;
    Fd dir_fd_;
};

class CgroupV1 final : public CellCgroup {
public:
    // Creates jobcell-<name> under the memory, pids, cpu (when a cpu limit is set) and cpuacct
    // (when mounted) hierarchies, once per distinct mount (cpu,cpuacct may share one).
    CgroupV1(const std::map<std::string, std::filesystem::path>& roots, const std::string& name,
             const CgroupLimits& limits);
    ~CgroupV1() override;
    CgroupV1(const CgroupV1&) = delete;
    CgroupV1& operator=(const CgroupV1&) = delete;

    void add_process(pid_t pid) override;
    int clone_into_fd() const override { return -1; }
    CgroupUsage usage() const override;
    void kill_all() override;
    CgroupVersion version() const override { return CgroupVersion::v1; }
    // Every directory created, one per distinct hierarchy.
    const std::vector<std::filesystem::path>& dirs() const { return dirs_; }
    // The directory serving `controller`, or empty.
    std::filesystem::path dir_of(const std::string& controller) const;

private:
    void remove_all() noexcept;
    std::map<std::string, std::filesystem::path> by_controller_;
    std::vector<std::filesystem::path> dirs_;
};

}  // namespace jobcell
