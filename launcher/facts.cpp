// Facts: provenance-carrying values and the contradiction rule. Pure.
//
// Any disagreement between two sources about one fact makes it contradicted, whichever sources
// they are: two trusted ones, a trusted and an untrusted one (in either order), or two untrusted
// ones. A contradicted fact is unusable, so every rule reading it fails and the job lands in the
// fallback tier. That is the "any source may lower trust" half of the rule; the other half is
// that usable() only ever returns a value from a trusted source.
#include "launcher/facts.hpp"

#include <algorithm>

namespace jobcell {

const std::vector<std::string> kFactNames = {
    "ci",          "event",       "ref",  "ref_type",           "ref_protected", "change_request",
    "source_repo", "target_repo", "fork", "author_association", "approved",
};

bool is_fact_name(const std::string& name) {
    return std::find(kFactNames.begin(), kFactNames.end(), name) != kFactNames.end();
}

bool is_bool_fact(const std::string& name) {
    return name == "ref_protected" || name == "change_request" || name == "fork" || name == "approved";
}

bool is_trusted(FactSource source) {
    switch (source) {
    case FactSource::job_response:
    case FactSource::event_payload:
    case FactSource::runner_env:
    case FactSource::operator_file:
    case FactSource::scm_api:
    case FactSource::derived:
        return true;
    case FactSource::job_env:
        return false;
    }
    return false;  // an out-of-range value is not a source anyone vouched for
}

const char* fact_source_name(FactSource source) {
    switch (source) {
    case FactSource::job_response: return "job_response";
    case FactSource::event_payload: return "event_payload";
    case FactSource::runner_env: return "runner_env";
    case FactSource::operator_file: return "operator_file";
    case FactSource::scm_api: return "scm_api";
    case FactSource::derived: return "derived";
    case FactSource::job_env: return "job_env";
    }
    return "unknown";
}

std::string fact_value_text(const FactValue& value) {
    if (const bool* flag = std::get_if<bool>(&value)) return *flag ? "true" : "false";
    return std::get<std::string>(value);
}

namespace {

// A value of the wrong kind for its name (a string for `fork`) is an adapter bug; dropping it
// with a warning keeps it from ever matching a rule.
bool well_typed(const std::string& name, const FactValue& value) {
    return is_bool_fact(name) == std::holds_alternative<bool>(value);
}

std::string says(const std::string& origin, const FactValue& value) {
    return origin + " says " + fact_value_text(value);
}

void contradict(Facts& facts, const std::string& name, const std::string& why) {
    auto [entry, inserted] = facts.contradictions.emplace(name, why);
    if (!inserted && entry->second.find(why) == std::string::npos) entry->second += "; " + why;
}

bool accept(Facts& facts, const std::string& name, const FactValue& value, const std::string& origin) {
    if (!is_fact_name(name)) {
        facts.warnings.push_back(origin + ": unknown fact '" + name + "' ignored");
        return false;
    }
    if (!well_typed(name, value)) {
        facts.warnings.push_back(origin + ": " + name + ": expected a " +
                                 (is_bool_fact(name) ? "boolean" : "string") + ", ignored");
        return false;
    }
    return true;
}

}  // namespace

void Facts::set_trusted(const std::string& name, FactValue value, FactSource source, std::string origin) {
    if (!is_trusted(source)) {
        set_untrusted(name, std::move(value), std::move(origin));
        return;
    }
    if (!accept(*this, name, value, origin)) return;
    if (const auto other = untrusted.find(name); other != untrusted.end() && other->second.value != value) {
        contradict(*this, name, says(origin, value) + ", " + says(other->second.origin, other->second.value));
    }
    const auto [entry, inserted] = trusted.emplace(name, Fact{value, source, origin});
    // The first trusted value stays (explain shows it); a second that differs is a contradiction.
    if (!inserted && entry->second.value != value) {
        contradict(*this, name, says(entry->second.origin, entry->second.value) + ", " + says(origin, value));
    }
}

void Facts::set_untrusted(const std::string& name, FactValue value, std::string origin) {
    if (!accept(*this, name, value, origin)) return;
    if (const auto other = trusted.find(name); other != trusted.end() && other->second.value != value) {
        contradict(*this, name, says(other->second.origin, other->second.value) + ", " + says(origin, value));
    }
    const auto [entry, inserted] = untrusted.emplace(name, Fact{value, FactSource::job_env, origin});
    // Two job-controlled values that differ mean someone overrode a predefined variable: that
    // is itself a reason to distrust the fact.
    if (!inserted && entry->second.value != value) {
        contradict(*this, name, says(entry->second.origin, entry->second.value) + ", " + says(origin, value));
    }
}

const Fact* Facts::usable(const std::string& name) const {
    if (contradictions.count(name) != 0) return nullptr;
    const auto found = trusted.find(name);
    if (found == trusted.end() || !is_trusted(found->second.source)) return nullptr;
    return &found->second;
}

}  // namespace jobcell
