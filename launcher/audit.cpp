#include "launcher/audit.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/stat.h>
#include <signal.h>
#include <string.h>

#include <cerrno>

#include "launcher/spec_json.hpp"
#include "sandbox/env.hpp"
#include "sandbox/error.hpp"
#include "sandbox/fd.hpp"

namespace jobcell {

nlohmann::json audit_record(const SandboxSpec& spec, const RunResult* result, const std::string& error,
                            std::chrono::system_clock::time_point started, const nlohmann::json& trust) {
    using namespace std::chrono;
    nlohmann::json record = {
        {"time", duration_cast<milliseconds>(started.time_since_epoch()).count() / 1000.0},
        {"job_id", ""},
        {"tier", spec.tier},
        {"spec", spec_to_json(spec)},
        {"trust", trust.is_null() ? nlohmann::json{{"tier", spec.tier}, {"rule", "--tier"}} : trust},
    };
    if (const std::string* id = env_get(spec.env, "CI_JOB_ID")) record["job_id"] = *id;
    if (result == nullptr) {
        record["outcome"] = "error";
        record["error"] = error;
        record["exit_code"] = 125;
        return record;
    }
    record["outcome"] = result->timed_out ? "timeout" : result->oom_killed ? "oom" : "exited";
    record["exit_code"] = result->exit_code;
    record["signal"] = result->init_signal != 0 ? nlohmann::json(sigabbrev_np(result->init_signal))
                                                : nlohmann::json(nullptr);
    if (result->exit_code > 128 && result->exit_code < 128 + NSIG && !result->timed_out) {
        const char* name = sigabbrev_np(result->exit_code - 128);
        record["job_signal"] = name ? name : "";
    }
    record["timed_out"] = result->timed_out;
    record["oom_killed"] = result->oom_killed;
    record["forwarded_signal"] = result->forwarded_signal;
    record["wall_ms"] = result->wall.count();
    record["timings_us"] = {{"setup", result->setup_us}, {"job", result->job_us}, {"teardown", result->teardown_us}};
    record["peak_memory_bytes"] = result->usage.peak_memory_bytes;
    record["cpu_usec"] = result->usage.cpu_usec;
    record["oom_kills"] = result->usage.oom_kills;
    record["cgroup"] = result->cgroup_version;
    record["workspace_idmapped"] = result->workspace_idmapped;
    nlohmann::json network = {{"mode", spec.network}, {"allow", spec.allow}};
    if (result->network) {
        network.update(nlohmann::json::parse(accounting_to_json(*result->network)));
        network["cell_address"] = result->cell_address;
    }
    record["network"] = network;
    return record;
}

AuditLog::AuditLog(const std::string& path) : path_(path) {
    // No symlink anywhere on the path, not only at its end: a job could plant one in a directory
    // a later run's audit path goes through (found by our attack run).
    open_how how{};
    how.flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
    how.mode = 0600;
    how.resolve = RESOLVE_NO_SYMLINKS;
    fd_.reset(static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, path.c_str(), &how, sizeof how)));
    if (!fd_.valid()) {
        const int err = errno;
        throw Error("audit " + path + ": " + errno_text(err) + (err == ELOOP ? " (the path may not go through a symlink)" : ""));
    }
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0 || !S_ISREG(st.st_mode)) throw Error("audit " + path + ": not a regular file");
}

void AuditLog::append(const nlohmann::json& record) const {
    std::string line = record.dump() + "\n";
    if (!write_all(fd_.get(), line.data(), line.size())) throw_errno("audit " + path_);
}

}  // namespace jobcell
