// libFuzzer target for the policy parser: any bytes either parse into a Policy or throw
// jobcell::Error with a "SOURCE:LINE:COL: " message on one line. Anything else (another
// exception, a crash, a sanitizer report) is a bug. A policy that parses is also decided on,
// with no facts and with facts that would satisfy every condition's first value: the decision
// must name a tier of the policy, and without facts it must be the fallback.
//
//   clang++ -std=c++20 -fsanitize=fuzzer,address -I. tests/fuzz/fuzz_policy.cpp launcher/policy.cpp \
//     launcher/units.cpp launcher/rules.cpp launcher/facts.cpp sandbox/error.cpp sandbox/env.cpp \
//     BUILD/builtin_policy.cpp $(pkg-config --cflags --libs tomlplusplus) -o fuzz_policy
//   ./fuzz_policy -max_total_time=60 [CORPUS_DIR]   (profiles/ is a good seed corpus)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "launcher/facts.hpp"
#include "launcher/policy.hpp"
#include "launcher/rules.hpp"
#include "sandbox/error.hpp"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

// The message begins "fuzz.toml:LINE:COL: " and stays on one line.
void check_message(std::string_view message) {
    constexpr std::string_view prefix = "fuzz.toml:";
    check(message.starts_with(prefix));
    std::size_t i = prefix.size();
    for (int part = 0; part < 2; ++part) {
        const std::size_t digits = i;
        while (i < message.size() && message[i] >= '0' && message[i] <= '9') ++i;
        check(i > digits);
        check(i < message.size() && message[i] == ':');
        ++i;
    }
    check(message.substr(i).starts_with(" "));
    check(message.find('\n') == std::string_view::npos);
}

void check_decisions(const jobcell::Policy& policy) {
    jobcell::Facts none;
    // Without facts only a rule without conditions can match.
    const auto fallback = jobcell::decide(policy.rules, policy.fallback_tier, none);
    if (fallback.rule == "fallback (no rule matched)") {
        check(fallback.tier == policy.fallback_tier);
    } else {
        check(!fallback.trace.empty() && fallback.trace.back().matched &&
              fallback.trace.back().conditions.empty());
    }
    if (!policy.rules.empty()) check(policy.tiers.count(fallback.tier) == 1);

    jobcell::Facts eager;
    for (const auto& rule : policy.rules) {
        for (const auto& condition : rule.conditions) {
            if (condition.any_of.empty() || condition.negated) continue;
            eager.set_trusted(condition.fact, condition.any_of.front(), jobcell::FactSource::operator_file,
                              "fuzz");
        }
    }
    const auto decision = jobcell::decide(policy.rules, policy.fallback_tier, eager);
    if (!policy.rules.empty()) check(policy.tiers.count(decision.tier) == 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        check_decisions(jobcell::parse_policy(text, "fuzz.toml"));
    } catch (const jobcell::Error& e) {
        check_message(e.what());
    }
    return 0;
}
