// jobcell check [--policy FILE]: validate a policy without running anything.
#include <iostream>
#include <memory>
#include <optional>

#include "launcher/cli.hpp"
#include "launcher/policy.hpp"

namespace jobcell {

CommandAction add_check_command(CLI::App& app) {
    auto policy_path = std::make_shared<std::optional<std::string>>();
    CLI::App* cmd = app.add_subcommand("check", "Validate a policy (exit 0 when it is usable, 125 when not)");
    add_policy_option(cmd, *policy_path);
    return [policy_path](const std::vector<std::string>&) {
        Policy policy = load_policy(*policy_path);
        std::cout << policy.source << ": ok, tiers:";
        for (const auto& [name, tier] : policy.tiers) std::cout << " " << name;
        std::cout << "\n";
        return 0;
    };
}

}  // namespace jobcell
