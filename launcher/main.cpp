// jobcell: the command line. The one place that prints jobcell's own errors (exit 125).
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "launcher/cli.hpp"
#include "sandbox/error.hpp"
#include "sandbox/job_stdio.hpp"

namespace {

constexpr int kJobcellFailure = 125;

void set_up_logging() {
    auto logger = spdlog::stderr_logger_st("jobcell");
    logger->set_pattern("jobcell: %v");
    spdlog::set_default_logger(logger);
}

// The subcommand of `parent` named `word`, or nullptr.
const CLI::App* subcommand_named(const CLI::App& parent, const std::string& word) {
    for (const CLI::App* sub : parent.get_subcommands({}))
        if (sub->get_name() == word) return sub;
    return nullptr;
}

std::string subcommand_list(const CLI::App& parent) {
    std::string known;
    for (const CLI::App* sub : parent.get_subcommands({})) known += (known.empty() ? "" : ", ") + sub->get_name();
    return known;
}

// "unknown command 'X' (commands: ...)" for a mistyped command or subcommand (`gitlab X`), or "".
std::string unknown_command(const CLI::App& app, const std::vector<std::string>& words) {
    auto is_word = [&](std::size_t i) { return words.size() > i && !words[i].empty() && words[i][0] != '-'; };
    if (!is_word(0)) return "";
    const CLI::App* command = subcommand_named(app, words[0]);
    if (command == nullptr) return "unknown command '" + words[0] + "' (commands: " + subcommand_list(app) + ")";
    if (!is_word(1) || command->get_subcommands({}).empty() || subcommand_named(*command, words[1]) != nullptr) return "";
    return "unknown command '" + words[0] + " " + words[1] + "' (commands of " + words[0] + ": " +
           subcommand_list(*command) + ")";
}

}  // namespace

int main(int argc, char** argv) {
    jobcell::fill_closed_stdio();
    // A write to a cell that has already gone must fail with EPIPE, not kill the launcher.
    std::signal(SIGPIPE, SIG_IGN);
    set_up_logging();
    CLI::App app{"jobcell: run one CI job in a throwaway Linux sandbox, trusted as much as its origin allows",
                 "jobcell"};
    app.footer(
        "Exit status of run: the job's own; 128+N when signal N killed it; 124 on timeout;\n"
        "125 when jobcell itself failed (one line on stderr says what); 126/127 when the command\n"
        "is not executable / not found.");
    app.require_subcommand(1);
    std::map<std::string, jobcell::CommandAction> actions;
    actions["run"] = jobcell::add_run_command(app);
    actions["explain"] = jobcell::add_explain_command(app);
    actions["check"] = jobcell::add_check_command(app);
    actions["gc"] = jobcell::add_gc_command(app);
    actions["gitlab"] = jobcell::add_gitlab_command(app);
    app.add_subcommand("version", "Print jobcell's version");
    app.set_version_flag("--version", std::string("jobcell ") + JOBCELL_VERSION);

    // The job's command line follows "--" and never goes through option parsing.
    std::vector<std::string> words(argv + 1, argv + argc);
    std::vector<std::string> after_dashes;
    if (auto dashes = std::find(words.begin(), words.end(), "--"); dashes != words.end()) {
        after_dashes.assign(dashes + 1, words.end());
        words.erase(dashes, words.end());
    }
    // GitLab Runner retries a job whose executor failed only when it exits with the system
    // failure code, so `jobcell gitlab ...` fails with that code wherever it fails.
    const int failure = !words.empty() && words.front() == "gitlab" ? jobcell::gitlab_system_failure_code()
                                                                     : kJobcellFailure;
    // CLI11 would call a mistyped command "a subcommand is required"; name it instead.
    if (const std::string unknown = unknown_command(app, words); !unknown.empty()) {
        std::fputs(("jobcell: " + unknown + "\n").c_str(), stderr);
        return failure;
    }
    std::reverse(words.begin(), words.end());  // CLI11 takes them last-first
    try {
        app.parse(words);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "jobcell: %s (see jobcell --help)\n", e.what());
        return failure;
    }
    try {
        for (CLI::App* sub : app.get_subcommands()) {
            if (sub->get_name() == "version") {
                std::cout << "jobcell " << JOBCELL_VERSION << "\n";
                return 0;
            }
            if (sub->get_name() != "run" && !after_dashes.empty()) {
                spdlog::error("{}: unexpected arguments after --", sub->get_name());
                return kJobcellFailure;
            }
            return actions.at(sub->get_name())(after_dashes);
        }
    } catch (const jobcell::Error& e) {
        spdlog::error("{}", e.what());
    } catch (const std::exception& e) {
        spdlog::error("internal error: {}", e.what());
    }
    return failure;
}
