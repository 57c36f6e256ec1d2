#include "launcher/spec_json.hpp"

#include <array>
#include <string_view>

#include "launcher/units.hpp"

namespace jobcell {
namespace {

// Variables jobcell itself sets: safe to print. Everything else came from the host or the
// policy and may be a secret.
bool printable_env(std::string_view name) {
    static constexpr std::array<std::string_view, 10> safe = {
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TMPDIR", "LANG", "CI", "TERM", "JOBCELL_TIER"};
    for (auto s : safe)
        if (s == name) return true;
    return false;
}

}  // namespace

nlohmann::json spec_to_json(const SandboxSpec& spec) {
    nlohmann::json env = nlohmann::json::object();
    for (const auto& [name, value] : spec.env) env[name] = printable_env(name) ? value : "<set>";
    const CellLimits& l = spec.limits;
    nlohmann::json out = {
        {"tier", spec.tier},
        {"command", spec.command},
        {"workspace", spec.workspace},
        {"env", env},
        {"limits",
         {{"memory", l.memory_bytes ? nlohmann::json(format_size(l.memory_bytes)) : nlohmann::json("none")},
          {"memory_bytes", l.memory_bytes},
          {"pids", l.pids},
          {"cpus", l.cpus},
          {"tmpfs_size", format_size(l.tmpfs_bytes)},
          {"tmpfs_bytes", l.tmpfs_bytes},
          {"tmpfs_inodes", l.tmpfs_inodes},
          {"timeout", l.timeout.count() ? nlohmann::json(format_duration(l.timeout)) : nlohmann::json("none")},
          {"kill_grace", format_duration(l.kill_grace)}}},
        {"network", spec.network},
        {"allow", spec.allow},
        {"system_dirs", spec.system_dirs},
        {"host_etc", spec.host_etc},
        {"hostname", spec.hostname},
        {"user", {{"name", spec.user.name}, {"uid", spec.user.uid}, {"gid", spec.user.gid}, {"home", spec.user.home}}},
        {"id_base", spec.id_base},
        {"rootless", spec.rootless},
        {"seccomp", spec.seccomp_profile},
    };
    // Only the GitLab executor sets these; plain runs print as they always did.
    if (!spec.workspace_at.empty()) out["workspace_at"] = spec.workspace_at;
    if (!spec.binds.empty()) {
        nlohmann::json binds = nlohmann::json::array();
        for (const CellBind& b : spec.binds)
            binds.push_back({{"host", b.host}, {"cell", b.cell}, {"writable", b.writable}});
        out["binds"] = binds;
    }
    return out;
}

}  // namespace jobcell
