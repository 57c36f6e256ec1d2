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
    for (const CLI::App* level = &app; level != nullptr;) {
        const std::size_t depth = level == &app ? 0 : 1;
        if (words.size() <= depth || words[depth].empty() || words[depth][0] == '-' || level->get_subcommands({}).empty())
            break;
        const CLI::App* next = nullptr;
        std::string known;
        for (const CLI::App* sub : level->get_subcommands({})) {
            known += (known.empty() ? "" : ", ") + sub->get_name();
            if (sub->get_name() == words[depth]) next = sub;
        }
        if (next == nullptr) {
            const std::string command = depth == 0 ? words[0] : words[0] + " " + words[depth];
            const std::string of = depth == 0 ? "" : " of " + words[0];
            std::fputs(("jobcell: unknown command '" + command + "' (commands" + of + ": " + known + ")\n").c_str(), stderr);
            return failure;
        }
        level = depth == 0 ? next : nullptr;
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
