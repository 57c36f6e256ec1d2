// The audit record: one JSON object per run, appended as one line to --audit FILE.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "sandbox/fd.hpp"
#include "sandbox/spec.hpp"
#include "sandbox/supervisor.hpp"

namespace jobcell {

// result == nullptr: the cell was never built; error says why. trust: how the tier was chosen
// (trust_to_json), or null when --tier named it.
nlohmann::json audit_record(const SandboxSpec& spec, const RunResult* result, const std::string& error,
                            std::chrono::system_clock::time_point started, const nlohmann::json& trust);

// The audit file, opened before the job starts (so a bad path fails before anything runs):
// never through a symlink, only a regular file. One record is one O_APPEND write, so concurrent
// jobs never interleave. Throws Error.
class AuditLog {
public:
    explicit AuditLog(const std::string& path);
    void append(const nlohmann::json& record) const;

private:
    std::string path_;
    Fd fd_;
};

}  // namespace jobcell
