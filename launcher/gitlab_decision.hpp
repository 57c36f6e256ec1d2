// GitLab custom executor: what prepare decided for a job, as the value stored in the job's
// state directory and read back by every later stage. Pure (JSON in, JSON out); the file
// itself is gitlab_state.cpp's business.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "launcher/policy.hpp"

namespace jobcell {

struct GitlabDecision {
    std::string job_id;
    std::string tier;
    std::string rule;          // the rule that chose the tier ("fallback" when none matched)
    std::string project_id;    // may be empty
    std::string server_allow;  // allowlist entry of the GitLab server; may be empty
};

inline constexpr int kGitlabDecisionVersion = 1;

// {"version": 1, "job_id", "tier", "rule", "project_id", "server_allow", "trust": ...}.
// `trust` (trust_to_json) is kept for the operator and never read back.
nlohmann::json gitlab_decision_to_json(const GitlabDecision& decision, const nlohmann::json& trust);

// Reads a stored decision back and checks it against the job it is for and the policy of this
// stage: a decision for another job, with a tier the policy does not have, or with any field
// missing or malformed is refused with an Error naming the field (where: the file).
GitlabDecision gitlab_decision_from_json(const nlohmann::json& stored, const std::string& job_id,
                                         const Policy& policy, const std::string& where);

}  // namespace jobcell
