#include "launcher/spec_resolve.hpp"

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <regex>

#include "net/allowlist.hpp"
#include "sandbox/error.hpp"

namespace jobcell {
namespace {

// Where a workspace may never be: it would hide or replace part of the cell's system.
bool reserved_workspace(const std::string& path, const CellPolicy& cell) {
    if (path == "/") return true;
    auto under = [&](const std::string& dir) {
        return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                               path[dir.size()] == '/');
    };
    for (const char* dir : {"/proc", "/dev", "/etc", "/sys"})
        if (under(dir)) return true;
    for (const auto& dir : cell.system_dirs)
        if (under(dir)) return true;
    return false;
}

bool is_at_or_under(const std::string& path, const std::string& dir) {
    return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

// Why a workspace may not be this host directory, or "". A workspace is written by the job as
// the directory's owner (root, for a root runner) and its files are read back by the host, so
// a directory other things of the host live in is refused: the shared top-level ones, and
// anything holding jobcell's own state (a GitLab job's decision, the network leases), except a
// GitLab job's own builds directory, which is its workspace by design.
std::string shared_workspace_problem(const std::string& path) {
    static const char* const shared[] = {"/root", "/home", "/var", "/var/lib", "/var/tmp", "/var/log", "/run",
                                         "/tmp", "/boot", "/srv", "/opt", "/mnt", "/media"};
    for (const char* dir : shared)
        if (path == dir) return "a directory the whole host shares; give the job a directory of its own";
    for (const char* state : {"/var/lib/jobcell", "/run/jobcell"}) {
        if (is_at_or_under(state, path)) return std::string("it holds jobcell's own state (") + state + ")";
    }
    if (is_at_or_under(path, "/var/lib/jobcell") || is_at_or_under(path, "/run/jobcell")) {
        static const std::regex job_builds(R"(^/var/lib/jobcell/gitlab/jobs/[0-9]+/builds(/.*)?$)");
        if (!std::regex_match(path, job_builds)) return "it is inside jobcell's own state";
    }
    return "";
}

}  // namespace

std::string host_realpath(const std::string& path) {
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) == nullptr) throw_errno("workspace " + path);
    return resolved;
}

SandboxSpec resolve_spec(const Policy& policy, const RunRequest& request, const EnvList& host_env,
                         const std::string& cwd,
                         std::string (*workspace_realpath)(const std::string&)) {
    const TierPolicy& tier = policy.tier(request.tier.value_or(kDefaultTier));
    SandboxSpec spec;
    spec.tier = tier.name;
    spec.command = request.command;
    if (spec.command.empty()) throw Error("run: no command given (jobcell run [options] -- COMMAND [ARG...])");

    if (request.workspace && request.workspace->empty())
        throw Error("--workspace: empty (an unset variable?); give the job's directory");
    std::string ws = request.workspace.value_or(cwd);
    if (ws.empty() || ws[0] != '/') ws = cwd + "/" + ws;
    std::string given = std::filesystem::path(ws).lexically_normal().string();
    if (given.size() > 1 && given.back() == '/') given.pop_back();
    spec.workspace = workspace_realpath(given);
    // A symlink on the way could have been planted by an earlier job in a parent workspace and
    // point anywhere (/root): the workspace is named by its real path or not at all.
    if (spec.workspace != given)
        throw Error("workspace " + given + ": its path goes through a symlink (it is really " + spec.workspace +
                    "); give the real path");
    if (reserved_workspace(spec.workspace, policy.cell))
        throw Error("workspace " + spec.workspace + ": overlaps the cell's own system directories");
    if (std::string problem = shared_workspace_problem(spec.workspace); !problem.empty())
        throw Error("workspace " + spec.workspace + ": " + problem);

    spec.limits = tier.limits;
    if (request.timeout) spec.limits.timeout = *request.timeout;
    if (request.kill_grace) spec.limits.kill_grace = *request.kill_grace;
    if (request.memory_bytes) spec.limits.memory_bytes = *request.memory_bytes;
    if (request.pids) spec.limits.pids = *request.pids;
    if (request.cpus) spec.limits.cpus = *request.cpus;
    if (request.tmpfs_bytes) spec.limits.tmpfs_bytes = *request.tmpfs_bytes;

    spec.network = request.network.value_or(tier.network);
    spec.allow = tier.allow;
    for (const auto& entry : request.allow) {
        parse_allow_entry(entry);  // throws "allow entry 'X': why"
        spec.allow.push_back(entry);
    }
    if (!request.allow.empty() && spec.network != "allowlist")
        throw Error("--allow: the network of this run is \"" + spec.network +
                    "\", which has no allowlist; add --net allowlist");
    spec.plumbing = policy.network;
    spec.system_dirs = policy.cell.system_dirs;
    spec.host_etc = policy.cell.host_etc;
    spec.hostname = policy.cell.hostname;
    spec.user = policy.cell.user;
    spec.id_base = policy.cell.id_base;
    spec.seccomp_profile = tier.seccomp;
    if (request.rootless_invoker) {
        spec.rootless = true;
        spec.host_uid = request.rootless_invoker->uid;
        spec.host_gid = request.rootless_invoker->gid;
        // Fails closed: a limit the policy asks for and rootless mode cannot enforce is refused,
        // never silently dropped; one line names every flag that lifts it.
        const bool memory = spec.limits.memory_bytes != 0, cpu = spec.limits.cpus != 0;
        if (memory || cpu) {
            const std::string what = memory && cpu ? "memory and cpu limits need" : memory ? "memory limit needs" : "cpu limit needs";
            const std::string flags = memory && cpu ? "--memory 0 --cpus 0" : memory ? "--memory 0" : "--cpus 0";
            throw Error("rootless: tier " + spec.tier + "'s " + what +
                        " a cgroup, which jobcell can only create as root; run jobcell as root, or pass " + flags +
                        " to run without " + (memory && cpu ? "them" : "it"));
        }
    }

    for (const auto& entry : request.env) {
        std::string name = entry.substr(0, entry.find('='));
        if (!valid_env_name(name)) throw Error("--env " + entry + ": '" + name + "' is not a variable name");
    }
    spec.env = build_job_env(spec.user, host_env, tier.env_pass, tier.env_set, request.env);
    return spec;
}

}  // namespace jobcell
