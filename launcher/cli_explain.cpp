// jobcell explain [--policy FILE] [--meta SOURCE] [--json]: why this job gets this tier.
// Exit 0 whatever the tier; 125 only when the policy or an operator metadata file is bad.
#include <iostream>
#include <memory>
#include <optional>

#include "launcher/cli.hpp"
#include "launcher/policy.hpp"
#include "launcher/trust.hpp"

extern char** environ;

namespace jobcell {

namespace {
struct ExplainArgs {
    std::optional<std::string> policy;
    std::string meta = "auto";
    bool json = false;
};
}  // namespace

CommandAction add_explain_command(CLI::App& app) {
    auto args = std::make_shared<ExplainArgs>();
    CLI::App* cmd = app.add_subcommand("explain", "Show the facts about this job, every rule tried, and the tier chosen");
    add_policy_option(cmd, args->policy);
    add_meta_option(cmd, args->meta);
    cmd->add_flag("--json", args->json, "One JSON object: tier, rule, facts, trace, ...");
    return [args](const std::vector<std::string>&) {
        Policy policy = load_policy(args->policy);
        TrustOutcome outcome =
            decide_trust(policy, parse_meta_request(args->meta), parse_environ(environ), real_file_reader());
        if (args->json) std::cout << trust_to_json(outcome).dump(2) << "\n";
        else std::cout << trust_to_text(outcome);
        return 0;
    };
}

}  // namespace jobcell
