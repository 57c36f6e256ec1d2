// The audit record: one JSON object per run, appended as one line to --audit FILE.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "sandbox/spec.hpp"
#include "sandbox/supervisor.hpp"

namespace jobcell {

// result == nullptr: the cell was never built; error says why. trust: how the tier was chosen
// (trust_to_json), or null when --tier named it.
nlohmann::json audit_record(const SandboxSpec& spec, const RunResult* result, const std::string& error,
                            std::chrono::system_clock::time_point started, const nlohmann::json& trust);

// One line, O_APPEND, so concurrent jobs never interleave a record. Throws Error.
void append_audit(const std::string& path, const nlohmann::json& record);

}  // namespace jobcell
