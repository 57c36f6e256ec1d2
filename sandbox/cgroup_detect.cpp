// Which cgroup generation this machine offers (mountinfo, cgroup.controllers), the pure choice
// between them, and the two entry points that create and collect cell cgroups.
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <set>
#include <sstream>

#include "sandbox/cgroup.hpp"
#include "sandbox/cgroup_impl.hpp"
#include "sandbox/error.hpp"

namespace jobcell {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::vector<std::string_view> split(std::string_view text, char sep) {
    std::vector<std::string_view> out;
    while (true) {
        const std::size_t at = text.find(sep);
        out.push_back(text.substr(0, at));
        if (at == std::string_view::npos) return out;
        text.remove_prefix(at + 1);
    }
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view field) {
    std::string out;
    for (std::size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size()) {
            int value = 0;
            const auto [ptr, ec] =
                std::from_chars(field.data() + i + 1, field.data() + i + 4, value, 8);
            if (ec == std::errc{} && ptr == field.data() + i + 4) {
                out += static_cast<char>(value);
                i += 3;
                continue;
            }
        }
        out += field[i];
    }
    return out;
}

// v1 super options that are not controllers.
bool is_controller_option(std::string_view opt) {
    static const std::set<std::string_view> not_controllers = {"rw",
                                                               "ro",
                                                               "noprefix",
                                                               "clone_children",
                                                               "xattr",
                                                               "cpuset_v2_mode",
                                                               "favordynmods",
                                                               "nsdelegate",
                                                               "memory_recursiveprot",
                                                               "memory_localevents",
                                                               "memory_hugetlb_accounting"};
    return !opt.empty() && opt.find('=') == std::string_view::npos &&
           not_controllers.count(opt) == 0;
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
    return out;
}

bool pid_alive(pid_t pid) { return kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

CgroupMounts parse_cgroup_mountinfo(std::string_view mountinfo) {
    CgroupMounts mounts;
    for (std::string_view line : split(mountinfo, '\n')) {
        // id parent maj:min root mount-point options [optional...] - fstype source super-options
        const std::vector<std::string_view> f = split(line, ' ');
        const auto dash = std::find(f.begin(), f.end(), "-");
        if (f.size() < 5 || dash == f.end() || f.end() - dash < 4) continue;
        const std::string_view fstype = dash[1];
        const std::string_view super_options = dash[3];
        const fs::path mount_point = unescape(f[4]);
        if (fstype == "cgroup2") {
            if (mounts.v2_root.empty()) mounts.v2_root = mount_point;
        } else if (fstype == "cgroup") {
            for (std::string_view opt : split(super_options, ',')) {
                if (is_controller_option(opt))
                    mounts.v1_roots.emplace(std::string(opt), mount_point);
            }
        }
    }
    return mounts;
}

CgroupMounts read_cgroup_mounts() {
    CgroupMounts mounts = parse_cgroup_mountinfo(read_cgroup_file("/proc/self/mountinfo"));
    if (!mounts.v2_root.empty()) {
        std::istringstream in(read_cgroup_file(mounts.v2_root / "cgroup.controllers"));
        for (std::string c; in >> c;) mounts.v2_controllers.push_back(c);
    }
    return mounts;
}

CgroupVersion choose_cgroup_version(const CgroupMounts& mounts) {
    std::vector<std::string> v2_missing;
    for (const char* c : {"memory", "pids", "cpu"}) {
        if (std::find(mounts.v2_controllers.begin(), mounts.v2_controllers.end(), c) ==
            mounts.v2_controllers.end()) {
            v2_missing.emplace_back(c);
        }
    }
    if (!mounts.v2_root.empty() && v2_missing.empty()) return CgroupVersion::v2;

    std::vector<std::string> v1_missing;
    for (const char* c : {"memory", "pids"}) {
        if (mounts.v1_roots.count(c) == 0) v1_missing.emplace_back(c);
    }
    if (v1_missing.empty()) return CgroupVersion::v1;

    const std::string v2 = mounts.v2_root.empty()
                               ? std::string("no cgroup2 mount")
                               : "v2 at " + mounts.v2_root.string() + " lacks " + join(v2_missing);
    throw Error("cgroup: no usable cgroup (" + v2 + "; v1 lacks " + join(v1_missing) + ")");
}

std::unique_ptr<CellCgroup> create_cell_cgroup(const CgroupMounts& mounts, const std::string& name,
                                               const CgroupLimits& limits) {
    const bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '-' || c == '_';
    });
    if (!name_ok) throw Error("cgroup: invalid cell name '" + name + "'");
    if (choose_cgroup_version(mounts) == CgroupVersion::v2) {
        return std::make_unique<CgroupV2>(mounts.v2_root, mounts.v2_controllers, name, limits);
    }
    return std::make_unique<CgroupV1>(mounts.v1_roots, name, limits);
}

int collect_dead_cgroups(const CgroupMounts& mounts) {
    return collect_dead_cgroups(mounts, nullptr);
}

int collect_dead_cgroups(const CgroupMounts& mounts, std::vector<std::string>* failures) {
    std::vector<fs::path> roots;
    if (!mounts.v2_root.empty()) roots.push_back(mounts.v2_root);
    for (const auto& [controller, root] : mounts.v1_roots) {
        if (std::find(roots.begin(), roots.end(), root) == roots.end()) roots.push_back(root);
    }
    int removed = 0;
    for (const fs::path& root : roots) {
        std::error_code ec;
        for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
            const std::string entry = it->path().filename().string();
            // jobcell-<creator pid>-<random>
            constexpr std::string_view prefix = "jobcell-";
            std::error_code type_ec;
            if (entry.rfind(prefix, 0) != 0 || !it->is_directory(type_ec)) continue;
            const char* begin = entry.data() + prefix.size();
            const char* end_of_name = entry.data() + entry.size();
            pid_t pid = 0;
            const auto [after, perr] = std::from_chars(begin, end_of_name, pid);
            if (perr != std::errc{} || after == end_of_name || *after != '-' || pid <= 0) continue;
            if (pid_alive(pid)) continue;
            std::string failure;
            try {
                kill_cgroup_procs({it->path()}, 2s);
                const int err = remove_cgroup_dir(it->path(), 1s);
                if (err == 0) ++removed;
                if (err != 0) failure = it->path().string() + " (" + errno_text(err) + ")";
            } catch (const Error& e) {
                failure = e.what();
            }
            if (!failure.empty() && failures != nullptr) failures->push_back(failure);
        }
    }
    return removed;
}

}  // namespace jobcell
