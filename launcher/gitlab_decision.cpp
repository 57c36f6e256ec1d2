#include "launcher/gitlab_decision.hpp"

#include "net/allowlist.hpp"
#include "sandbox/error.hpp"

namespace jobcell {

nlohmann::json gitlab_decision_to_json(const GitlabDecision& d, const nlohmann::json& trust) {
    return {{"version", kGitlabDecisionVersion}, {"job_id", d.job_id},         {"tier", d.tier},
            {"rule", d.rule},                    {"project_id", d.project_id}, {"server_allow", d.server_allow},
            {"trust", trust}};
}

GitlabDecision gitlab_decision_from_json(const nlohmann::json& stored, const std::string& job_id,
                                         const Policy& policy, const std::string& where) {
    if (!stored.is_object()) throw Error(where + ": expected a JSON object");
    auto text = [&](const char* field) -> std::string {
        const auto found = stored.find(field);
        if (found == stored.end() || !found->is_string()) throw Error(where + ": " + field + ": expected a string");
        return found->get<std::string>();
    };
    const auto version = stored.find("version");
    if (version == stored.end() || *version != kGitlabDecisionVersion)
        throw Error(where + ": version: expected " + std::to_string(kGitlabDecisionVersion));
    GitlabDecision d;
    d.job_id = text("job_id");
    if (d.job_id != job_id) throw Error(where + ": job_id: is for job " + d.job_id + ", not job " + job_id);
    d.tier = text("tier");
    if (policy.tiers.find(d.tier) == policy.tiers.end())
        throw Error(where + ": tier: '" + d.tier + "' is not a tier of " + policy.source);
    d.rule = text("rule");
    d.project_id = text("project_id");
    for (char c : d.project_id)
        if (c < '0' || c > '9') throw Error(where + ": project_id: expected digits");
    d.server_allow = text("server_allow");
    if (!d.server_allow.empty()) {
        try {
            parse_allow_entry(d.server_allow);
        } catch (const Error& e) {
            throw Error(where + ": server_allow: " + e.what());
        }
    }
    return d;
}

}  // namespace jobcell
