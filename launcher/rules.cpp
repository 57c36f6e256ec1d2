// The trust decision: first matching rule over the trusted, uncontradicted facts. It fails
// closed at every step: a fact that is missing, only known from a source the job can write,
// contradicted, or of another type than the rule expects makes its condition fail, whatever
// the condition says (a negated condition too: "not a fork" is never inferred from silence).
#include "launcher/rules.hpp"

#include <algorithm>
#include <string>
#include <variant>
#include <vector>

#include "sandbox/error.hpp"

namespace jobcell {
namespace {

std::string values_text(const std::vector<FactValue>& values) {
    std::string text;
    for (const auto& value : values) {
        if (!text.empty()) text += ", ";
        text += fact_value_text(value);
    }
    return text;
}

// "true", "not push", "one of push, web", "none of NONE, FIRST_TIMER".
std::string wanted_text(const RuleCondition& condition) {
    if (condition.any_of.empty()) return "a value from an empty list (matches nothing)";
    const std::string values = values_text(condition.any_of);
    if (condition.any_of.size() == 1) return condition.negated ? "not " + values : values;
    return (condition.negated ? "none of " : "one of ") + values;
}

const char* type_text(const FactValue& value) {
    return std::holds_alternative<bool>(value) ? "true/false" : "text";
}

// "CUSTOM_ENV_CI_COMMIT_REF_PROTECTED=true" for a variable, "JOB_RESPONSE_FILE variables
// CI_PIPELINE_SOURCE says push" for an origin described in words, or just the value.
std::string fact_text(const Fact& fact) {
    const std::string value = fact_value_text(fact.value);
    if (fact.origin.empty()) return value;
    if (fact.origin.find(' ') != std::string::npos) return fact.origin + " says " + value;
    return fact.origin + "=" + value;
}

// Why a fact that is not contradicted still cannot be used.
std::string unusable_text(const std::string& name, const Facts& facts) {
    if (const auto found = facts.trusted.find(name); found != facts.trusted.end()) {
        // Facts::usable refused an entry of the trusted map: say what it is, never use it.
        const Fact& fact = found->second;
        return std::string("from ") + fact_source_name(fact.source) + " (" + fact_text(fact) + "), " +
               (is_trusted(fact.source) ? "not usable" : "not trusted");
    }
    if (const auto found = facts.untrusted.find(name); found != facts.untrusted.end()) {
        const Fact& fact = found->second;
        return std::string("only from ") + fact_source_name(fact.source) + " (" + fact_text(fact) +
               "), not trusted";
    }
    return "missing";
}

ConditionTrace check(const RuleCondition& condition, const Facts& facts) {
    ConditionTrace trace{condition.fact, wanted_text(condition), {}, false};
    if (const auto why = facts.contradictions.find(condition.fact); why != facts.contradictions.end()) {
        trace.got = "contradicted: " + why->second;
        return trace;
    }
    const Fact* fact = facts.usable(condition.fact);
    if (fact == nullptr || !is_trusted(fact->source)) {
        trace.got = unusable_text(condition.fact, facts);
        return trace;
    }
    trace.got = fact_value_text(fact->value);
    if (condition.any_of.empty()) return trace;
    // A rule comparing a yes/no fact with text (or the reverse) can only come from a hand-built
    // rule or an adapter bug; "none of" such values must not hold by accident.
    for (const auto& wanted : condition.any_of) {
        if (wanted.index() != fact->value.index()) {
            trace.got += std::string(" (a ") + type_text(fact->value) + " value; the rule compares " +
                         type_text(wanted) + " values)";
            return trace;
        }
    }
    const bool listed =
        std::find(condition.any_of.begin(), condition.any_of.end(), fact->value) != condition.any_of.end();
    trace.held = listed != condition.negated;
    return trace;
}

}  // namespace

Decision decide(const std::vector<Rule>& rules, const std::string& fallback_tier, const Facts& facts) {
    // The parser never produces these; a caller that does gets no tier rather than a guess.
    if (fallback_tier.empty()) throw Error("trust rules: no fallback tier");
    for (const auto& rule : rules) {
        if (rule.tier.empty()) throw Error("trust rules: rule '" + rule.name + "' names no tier");
    }

    Decision decision;
    if (!facts.forced_untrusted.empty()) {
        // No rule is tried: whatever they say, these facts end in the fallback tier.
        decision.tier = fallback_tier;
        decision.rule = "forced: " + facts.forced_untrusted.front();
        return decision;
    }
    for (const auto& rule : rules) {
        RuleTrace trace{rule.name, rule.tier, true, {}};
        for (const auto& condition : rule.conditions) {
            trace.conditions.push_back(check(condition, facts));
            if (!trace.conditions.back().held) {
                trace.matched = false;
                break;
            }
        }
        decision.trace.push_back(trace);
        if (trace.matched) {
            decision.tier = rule.tier;
            decision.rule = rule.name;
            return decision;
        }
    }
    decision.tier = fallback_tier;
    decision.rule = "fallback (no rule matched)";
    return decision;
}

}  // namespace jobcell
