// The whole trust step, from metadata to a tier: read facts (metadata.hpp), decide (rules.hpp),
// and render the why for `jobcell explain`, the audit record and the run's log line.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "launcher/facts.hpp"
#include "launcher/metadata.hpp"
#include "launcher/policy.hpp"
#include "launcher/rules.hpp"

namespace jobcell {

struct TrustOutcome {
    Facts facts;
    Decision decision;
};

// Throws Error only for what the operator got wrong (a bad --meta file:PATH, a policy without
// rules or whose fallback tier does not exist).
TrustOutcome decide_trust(const Policy& policy, const MetaRequest& meta, const EnvList& env,
                          const FileReader& read);

// {"tier", "rule", "adapter", "facts": {name: {value, source, origin}}, "untrusted_facts",
//  "contradictions", "forced_untrusted", "warnings", "trace": [...]}
nlohmann::json trust_to_json(const TrustOutcome& outcome);

// The same for people: facts with their sources, every rule tried and why it did or did not
// match, the chosen tier last.
std::string trust_to_text(const TrustOutcome& outcome);

}  // namespace jobcell
