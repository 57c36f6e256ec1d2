// jobcell run [options] -- COMMAND [ARG...]
#include <unistd.h>

#include <climits>
#include <iostream>
#include <memory>
#include <optional>

#include <spdlog/spdlog.h>

#include "launcher/audit.hpp"
#include "launcher/cli.hpp"
#include "launcher/policy.hpp"
#include "launcher/spec_json.hpp"
#include "launcher/spec_resolve.hpp"
#include "launcher/units.hpp"
#include "sandbox/error.hpp"
#include "sandbox/supervisor.hpp"

extern char** environ;

namespace jobcell {
namespace {

struct RunArgs {
    std::optional<std::string> policy, tier, workspace, timeout, kill_grace, memory, tmpfs_size, audit;
    std::optional<std::uint64_t> pids;
    std::optional<double> cpus;
    std::vector<std::string> env;
    bool dry_run = false;
    bool verbose = false;
    std::vector<std::string> command;
};

template <typename T, typename Parse>
std::optional<T> parsed(const std::optional<std::string>& text, const char* flag, Parse parse) {
    if (!text) return std::nullopt;
    try {
        return parse(*text);
    } catch (const Error& e) {
        throw Error(std::string(flag) + ": " + e.what());
    }
}

std::string current_dir() {
    char buf[PATH_MAX];
    if (::getcwd(buf, sizeof buf) == nullptr) throw_errno("getcwd");
    return buf;
}

void report(const SandboxSpec& spec, const RunResult& result) {
    if (!result.workspace_note.empty())
        spdlog::warn("workspace {}: {}", spec.workspace, result.workspace_note);
    if (result.oom_killed)
        spdlog::error("out of memory (limit {})", format_size(spec.limits.memory_bytes));
    if (result.timed_out)
        spdlog::error("timed out after {} (SIGTERM, then SIGKILL after {})",
                      format_duration(spec.limits.timeout), format_duration(spec.limits.kill_grace));
    spdlog::debug("tier {}: exit {} after {} ms, peak memory {}, cpu {} ms, cgroup {}", spec.tier,
                  result.exit_code, result.wall.count(), format_size(result.usage.peak_memory_bytes),
                  result.usage.cpu_usec / 1000, result.cgroup_version);
}

int run(const RunArgs& args) {
    if (args.verbose) spdlog::set_level(spdlog::level::debug);
    RunRequest request;
    request.tier = args.tier;
    request.workspace = args.workspace;
    request.env = args.env;
    request.timeout = parsed<std::chrono::milliseconds>(args.timeout, "--timeout", parse_duration);
    request.kill_grace = parsed<std::chrono::milliseconds>(args.kill_grace, "--kill-grace", parse_duration);
    request.memory_bytes = parsed<std::uint64_t>(args.memory, "--memory", parse_size);
    request.tmpfs_bytes = parsed<std::uint64_t>(args.tmpfs_size, "--tmpfs-size", parse_size);
    request.pids = args.pids;
    request.cpus = args.cpus;
    request.command = args.command;

    Policy policy = load_policy(args.policy);
    SandboxSpec spec = resolve_spec(policy, request, parse_environ(environ), current_dir(), host_realpath);
    if (args.dry_run) {
        std::cout << spec_to_json(spec).dump(2) << "\n";
        return 0;
    }
    auto started = std::chrono::system_clock::now();
    RunResult result;
    try {
        result = run_cell(spec);
    } catch (const Error& e) {
        if (args.audit) append_audit(*args.audit, audit_record(spec, nullptr, e.what(), started));
        throw;
    }
    report(spec, result);
    if (args.audit) append_audit(*args.audit, audit_record(spec, &result, "", started));
    return result.exit_code;
}

}  // namespace

CommandAction add_run_command(CLI::App& app) {
    auto args = std::make_shared<RunArgs>();
    CLI::App* cmd = app.add_subcommand("run", "Run a job in a throwaway cell: jobcell run [OPTIONS] -- COMMAND [ARG...]");
    cmd->add_option("--policy", args->policy, "Policy file (default: /etc/jobcell/policy.toml, else built-in)");
    cmd->add_option("--tier", args->tier, "Trust tier: trusted, internal, untrusted (default: untrusted)");
    cmd->add_option("--workspace", args->workspace, "Directory bound read-write at the same path; the job starts there (default: .)");
    cmd->add_option("--env", args->env, "NAME=VALUE, or NAME to copy it from jobcell's environment (repeatable)")->allow_extra_args(false);
    cmd->add_option("--timeout", args->timeout, "Wall-clock limit, e.g. 90s, 10m, 1h30m");
    cmd->add_option("--kill-grace", args->kill_grace, "Time between SIGTERM and SIGKILL (default: the tier's)");
    cmd->add_option("--memory", args->memory, "Memory limit, e.g. 512M, 2G");
    cmd->add_option("--pids", args->pids, "Process limit")->check(CLI::Range(std::uint64_t{1}, std::uint64_t{4194304}));
    cmd->add_option("--cpus", args->cpus, "CPU limit in cores, e.g. 1.5")->check(CLI::Range(0.01, 1024.0));
    cmd->add_option("--tmpfs-size", args->tmpfs_size, "Size of /tmp and of $HOME, each");
    cmd->add_option("--audit", args->audit, "Append one JSON audit record to FILE");
    cmd->add_flag("--dry-run", args->dry_run, "Print the resolved cell as JSON and start nothing");
    cmd->add_flag("-v,--verbose", args->verbose, "Say more on stderr");
    // Everything from the first positional on (or after "--") is the job's command line.
    cmd->prefix_command();
    return [args, cmd](const std::vector<std::string>& after_dashes) {
        args->command = cmd->remaining();
        // prefix_command() hands over an unknown option as if it began the job's command.
        if (!args->command.empty() && args->command.front().size() > 1 && args->command.front()[0] == '-')
            throw Error("run: unknown option " + args->command.front() + " (the job's command follows --)");
        args->command.insert(args->command.end(), after_dashes.begin(), after_dashes.end());
        return run(*args);
    };
}

}  // namespace jobcell
