// The trust decision: ordered rules over Facts, first match wins, in the same TOML as the
// tiers. Pure; every step is recorded so `jobcell explain` can show why.
#pragma once

#include <string>
#include <vector>

#include "launcher/facts.hpp"

namespace jobcell {

// One condition: the fact must be present from a trusted source, uncontradicted, and equal
// to one of `any_of` (or, with `negated`, to none of them).
struct RuleCondition {
    std::string fact;
    std::vector<FactValue> any_of;
    bool negated = false;
};

struct Rule {
    std::string name;
    std::string tier;
    std::string description;
    std::vector<RuleCondition> conditions;  // all must hold; none: always matches
};

struct ConditionTrace {
    std::string fact;
    std::string wanted;  // "true", "one of push, web", "none of NONE, FIRST_TIMER"
    std::string got;     // the value, or "missing", "from job_env only (not trusted)", "contradicted: ..."
    bool held = false;
};

struct RuleTrace {
    std::string rule;
    std::string tier;
    bool matched = false;
    std::vector<ConditionTrace> conditions;  // up to and including the first that failed
};

struct Decision {
    std::string tier;
    std::string rule;  // the rule that matched, or "fallback" / "forced: <reason>"
    std::vector<RuleTrace> trace;
};

// fallback_tier: the policy's most restrictive tier, used when facts force it or no rule
// matches.
Decision decide(const std::vector<Rule>& rules, const std::string& fallback_tier, const Facts& facts);

}  // namespace jobcell
