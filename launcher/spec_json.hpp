// SandboxSpec as JSON: what --dry-run prints and what the audit record hashes.
#pragma once

#include <nlohmann/json.hpp>

#include "sandbox/spec.hpp"

namespace jobcell {

// Values of environment variables are shown only for names the caller marks visible; the rest
// print as "<set>", so a dry run or an audit record never carries a secret.
nlohmann::json spec_to_json(const SandboxSpec& spec);

}  // namespace jobcell
