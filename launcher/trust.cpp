#include "launcher/trust.hpp"

#include <sstream>

#include "launcher/scm_verify.hpp"
#include "sandbox/error.hpp"

namespace jobcell {

TrustOutcome decide_trust(const Policy& policy, const MetaRequest& meta, const EnvList& env,
                          const FileReader& read) {
    if (policy.rules.empty())
        throw Error(policy.source + ": has no [[rules]], so it cannot choose a tier: give --tier NAME");
    policy.tier(policy.fallback_tier);  // throws, naming the tiers, if the fallback is missing
    TrustOutcome outcome;
    outcome.facts = read_facts(meta, env, read);
    // The SCM's API, asked with the operator's token, confirms or contradicts what the metadata
    // said; a failure there is a warning and leaves the facts as they were.
    if (policy.verify.enabled) verify_with_scm(policy.verify, outcome.facts, curl_http_get());
    outcome.decision = decide(policy.rules, policy.fallback_tier, outcome.facts);
    return outcome;
}

namespace {

nlohmann::json fact_json(const Fact& fact) {
    nlohmann::json value;
    if (const bool* flag = std::get_if<bool>(&fact.value)) value = *flag;
    else value = std::get<std::string>(fact.value);
    return {{"value", value}, {"source", fact_source_name(fact.source)}, {"origin", fact.origin}};
}

nlohmann::json facts_json(const std::map<std::string, Fact>& facts) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [name, fact] : facts) out[name] = fact_json(fact);
    return out;
}

}  // namespace

nlohmann::json trust_to_json(const TrustOutcome& outcome) {
    const Facts& f = outcome.facts;
    nlohmann::json trace = nlohmann::json::array();
    for (const RuleTrace& rule : outcome.decision.trace) {
        nlohmann::json conditions = nlohmann::json::array();
        for (const ConditionTrace& c : rule.conditions)
            conditions.push_back({{"fact", c.fact}, {"wanted", c.wanted}, {"got", c.got}, {"held", c.held}});
        trace.push_back({{"rule", rule.rule}, {"tier", rule.tier}, {"matched", rule.matched},
                         {"conditions", conditions}});
    }
    return {
        {"tier", outcome.decision.tier},
        {"rule", outcome.decision.rule},
        {"adapter", f.adapter},
        {"facts", facts_json(f.trusted)},
        {"untrusted_facts", facts_json(f.untrusted)},
        {"contradictions", f.contradictions},
        {"forced_untrusted", f.forced_untrusted},
        {"warnings", f.warnings},
        {"trace", trace},
    };
}

std::string trust_to_text(const TrustOutcome& outcome) {
    const Facts& f = outcome.facts;
    std::ostringstream out;
    out << "metadata: " << f.adapter << "\n";
    for (const auto& warning : f.warnings) out << "warning: " << warning << "\n";
    out << "facts (trusted sources):\n";
    if (f.trusted.empty()) out << "  none\n";
    for (const auto& [name, fact] : f.trusted)
        out << "  " << name << " = " << fact_value_text(fact.value) << "    [" << fact_source_name(fact.source)
            << ": " << fact.origin << "]\n";
    if (!f.untrusted.empty()) {
        out << "claims the job can set (never raise trust):\n";
        for (const auto& [name, fact] : f.untrusted)
            out << "  " << name << " = " << fact_value_text(fact.value) << "    [" << fact.origin << "]\n";
    }
    for (const auto& [name, why] : f.contradictions) out << "contradiction: " << name << ": " << why << "\n";
    for (const auto& reason : f.forced_untrusted) out << "forced to the fallback tier: " << reason << "\n";
    if (!outcome.decision.trace.empty()) out << "rules, in order:\n";
    for (const RuleTrace& rule : outcome.decision.trace) {
        out << "  " << (rule.matched ? "MATCH  " : "no     ") << rule.rule << " -> " << rule.tier << "\n";
        for (const ConditionTrace& c : rule.conditions)
            out << "           " << (c.held ? "ok   " : "FAIL ") << c.fact << ": wanted " << c.wanted
                << ", got " << c.got << "\n";
    }
    out << "tier: " << outcome.decision.tier << " (" << outcome.decision.rule << ")\n";
    return out.str();
}

}  // namespace jobcell
