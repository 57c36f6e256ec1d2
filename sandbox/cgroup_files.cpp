// What the limits look like as cgroup files, and the small file operations both cgroup
// generations share (read, write with context, list and kill members, remove directories).
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <set>
#include <thread>
#include <utility>

#include "sandbox/cgroup.hpp"
#include "sandbox/cgroup_impl.hpp"
#include "sandbox/error.hpp"

namespace jobcell {
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kCpuPeriodUsec = 100000;
// The kernel refuses a CFS quota below 1 ms.
constexpr std::uint64_t kMinCpuQuotaUsec = 1000;

std::string cpu_quota_usec(double cpus) {
    if (!std::isfinite(cpus) || cpus < 0) {
        throw Error("cgroup: cpus must be a positive number, not " + std::to_string(cpus));
    }
    const auto quota = static_cast<std::uint64_t>(std::llround(cpus * kCpuPeriodUsec));
    return std::to_string(std::max(quota, kMinCpuQuotaUsec));
}

int pidfd_open(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_kill(int pidfd) {
    return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0));
}

// dir and every cgroup below it (a job may have made sub-cgroups).
std::vector<fs::path> cgroup_tree(const std::vector<fs::path>& dirs) {
    std::vector<fs::path> all;
    for (const fs::path& dir : dirs) {
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) continue;
        all.push_back(dir);
        for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
             it.increment(ec)) {
            if (it->is_directory(ec)) all.push_back(it->path());
        }
    }
    return all;
}

std::set<pid_t> procs_of(const std::vector<fs::path>& dirs) {
    std::set<pid_t> pids;
    for (const fs::path& d : cgroup_tree(dirs)) {
        for (pid_t p : cgroup_procs(d)) pids.insert(p);
    }
    return pids;
}

}  // namespace

// ---- limits as files ----

std::vector<std::pair<std::string, std::string>> v2_limit_files(const CgroupLimits& limits) {
    return v2_limit_files(limits, true);
}

std::vector<std::pair<std::string, std::string>> v2_limit_files(const CgroupLimits& limits,
                                                                bool has_swap_max) {
    std::vector<std::pair<std::string, std::string>> files;
    if (limits.memory_bytes != 0) {
        files.emplace_back("memory.max", std::to_string(limits.memory_bytes));
        // Swap would let the job exceed the memory limit (and thrash the host's disk).
        if (has_swap_max) files.emplace_back("memory.swap.max", "0");
    }
    if (limits.pids != 0) files.emplace_back("pids.max", std::to_string(limits.pids));
    if (limits.cpus != 0) {
        files.emplace_back("cpu.max",
                           cpu_quota_usec(limits.cpus) + " " + std::to_string(kCpuPeriodUsec));
    }
    return files;
}

std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>>
v1_limit_files(const CgroupLimits& limits, bool has_memsw) {
    std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> out;
    if (limits.memory_bytes != 0) {
        const std::string bytes = std::to_string(limits.memory_bytes);
        std::vector<std::pair<std::string, std::string>> memory = {
            {"memory.limit_in_bytes", bytes}};
        // memory+swap equal to memory: swap cannot extend the limit. Must follow the memory
        // limit (the kernel keeps memsw >= memory).
        if (has_memsw) memory.emplace_back("memory.memsw.limit_in_bytes", bytes);
        out.emplace_back("memory", std::move(memory));
    }
    if (limits.pids != 0) {
        out.push_back({"pids", {{"pids.max", std::to_string(limits.pids)}}});
    }
    if (limits.cpus != 0) {
        out.push_back({"cpu",
                       {{"cpu.cfs_period_us", std::to_string(kCpuPeriodUsec)},
                        {"cpu.cfs_quota_us", cpu_quota_usec(limits.cpus)}}});
    }
    return out;
}

void write_cgroup_files(const fs::path& dir,
                        const std::vector<std::pair<std::string, std::string>>& files) {
    for (const auto& [name, value] : files) write_cgroup_file(dir / name, value);
}

// ---- file helpers ----

std::optional<std::string> read_cgroup_file_if_exists(const fs::path& file) {
    Fd fd(open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        if (errno == ENOENT) return std::nullopt;
        throw_errno("cgroup: read " + file.string());
    }
    std::string text;
    char buf[4096];
    for (;;) {
        const ssize_t n = read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        // A cgroup removed under us reads as ENODEV.
        if (n < 0 && errno == ENODEV) return std::nullopt;
        if (n < 0) throw_errno("cgroup: read " + file.string());
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    return text;
}

std::string read_cgroup_file(const fs::path& file) {
    std::optional<std::string> text = read_cgroup_file_if_exists(file);
    if (!text) throw_errno("cgroup: read " + file.string(), ENOENT);
    return *text;
}

void write_cgroup_file(const fs::path& file, std::string_view value) {
    const std::string context = "cgroup: write " + file.string() + " = " + std::string(value);
    // No O_CREAT: a misspelt control file must fail, not appear.
    Fd fd(open(file.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
    if (!fd.valid()) throw_errno(context);
    ssize_t n;
    do {
        n = write(fd.get(), value.data(), value.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) throw_errno(context);
    if (static_cast<std::size_t>(n) != value.size()) throw_errno(context + " (short write)", EIO);
}

std::optional<std::uint64_t> keyed_value(std::string_view text, std::string_view key) {
    while (!text.empty()) {
        const std::size_t eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        if (line.size() <= key.size() || line.substr(0, key.size()) != key ||
            line[key.size()] != ' ') {
            continue;
        }
        line.remove_prefix(key.size() + 1);
        std::uint64_t value = 0;
        const auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
        if (ec == std::errc{}) return value;
    }
    return std::nullopt;
}

std::vector<pid_t> cgroup_procs(const fs::path& dir) {
    std::vector<pid_t> pids;
    const std::optional<std::string> text = read_cgroup_file_if_exists(dir / "cgroup.procs");
    if (!text) return pids;
    const char* p = text->data();
    const char* end = p + text->size();
    while (p < end) {
        pid_t pid = 0;
        const auto [next, ec] = std::from_chars(p, end, pid);
        if (ec == std::errc{} && pid > 0) pids.push_back(pid);
        p = ec == std::errc{} ? next : p + 1;
        while (p < end && (*p == '\n' || *p == ' ')) ++p;
    }
    return pids;
}

bool kill_cgroup_procs(const std::vector<fs::path>& dirs, std::chrono::milliseconds bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    for (;;) {
        const std::set<pid_t> listed = procs_of(dirs);
        if (listed.empty()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        // Pin each process with a pidfd, then re-read membership: a pid still listed after its
        // pidfd was opened is that process (or the pidfd's process is dead and the signal goes
        // nowhere). A pid recycled by an unrelated process is never signalled.
        std::vector<std::pair<pid_t, Fd>> pinned;
        bool have_pidfd = true;
        for (pid_t pid : listed) {
            Fd fd(pidfd_open(pid));
            if (fd.valid()) {
                pinned.emplace_back(pid, std::move(fd));
            } else if (errno == ENOSYS) {
                have_pidfd = false;
                break;
            }
        }
        if (have_pidfd) {
            const std::set<pid_t> still = procs_of(dirs);
            for (const auto& [pid, fd] : pinned) {
                if (still.count(pid) != 0) pidfd_kill(fd.get());
            }
        } else {
            for (pid_t pid : listed) kill(pid, SIGKILL);  // kernels before 5.3
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

int remove_cgroup_dir(const fs::path& dir, std::chrono::milliseconds bound) {
    std::error_code ec;
    std::vector<fs::path> children;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_directory(ec)) children.push_back(it->path());
    }
    int last = 0;
    for (const fs::path& child : children) {
        if (const int err = remove_cgroup_dir(child, bound); err != 0) last = err;
    }
    const auto deadline = std::chrono::steady_clock::now() + bound;
    for (;;) {
        if (rmdir(dir.c_str()) == 0) return 0;
        const int err = errno;
        if (err == ENOENT) return 0;
        // EBUSY: the last members are still exiting.
        if (err != EBUSY || std::chrono::steady_clock::now() >= deadline) {
            return last != 0 ? last : err;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

std::uint64_t leading_number(const std::optional<std::string>& text) {
    std::uint64_t value = 0;
    if (text) std::from_chars(text->data(), text->data() + text->size(), value);
    return value;
}

}  // namespace jobcell
