// The sub-commands of the command line, one file each. Each adds itself to the CLI11 app and
// returns the function that runs it; errors are thrown as Error and printed by main().
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace jobcell {

// after_dashes: the words after the first "--" on the command line (the job's command line),
// which main() keeps away from option parsing.
using CommandAction = std::function<int(const std::vector<std::string>& after_dashes)>;

// Options more than one sub-command takes, worded once.
inline void add_policy_option(CLI::App* cmd, std::optional<std::string>& path) {
    cmd->add_option("--policy", path, "Policy file (default: /etc/jobcell/policy.toml, else built-in)");
}
inline void add_meta_option(CLI::App* cmd, std::string& meta) {
    cmd->add_option("--meta", meta, "Job metadata: auto, gitlab, github, file:PATH or none (default: auto)");
}

CommandAction add_run_command(CLI::App& app);
CommandAction add_check_command(CLI::App& app);
CommandAction add_gc_command(CLI::App& app);
CommandAction add_explain_command(CLI::App& app);
CommandAction add_gitlab_command(CLI::App& app);
// What `jobcell gitlab ...` exits with when jobcell itself fails ($SYSTEM_FAILURE_EXIT_CODE).
int gitlab_system_failure_code();

}  // namespace jobcell
