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
#include "launcher/trust.hpp"
#include "launcher/units.hpp"
#include "sandbox/error.hpp"
#include "sandbox/supervisor.hpp"

extern char** environ;

namespace jobcell {
namespace {

struct RunArgs {
    std::optional<std::string> policy, workspace, timeout, kill_grace, memory, tmpfs_size, audit, net;
    std::vector<std::string> allow;
    std::optional<std::uint64_t> pids;
    std::optional<double> cpus;
    std::vector<std::string> env;
    std::string tier = "auto";
    std::string meta = "auto";
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

// One line for the job log when the cell tried to reach what it may not: the operator sees
// what to allow (or what to worry about) without reading the audit record.
void report_denied_egress(const NetworkAccounting& network) {
    std::uint64_t total = 0;
    std::string reasons;
    for (const auto& [counter, packets] : network.denied) {
        if (packets == 0) continue;
        total += packets;
        reasons += (reasons.empty() ? "" : ", ") + counter + " " + std::to_string(packets);
    }
    if (total > 0) {
        std::string where;
        for (std::size_t i = 0; i < network.denied_destinations.size() && i < 8; ++i)
            where += (i ? "; " : "") + network.denied_destinations[i];
        spdlog::warn("egress denied: {} packet{} ({}){}{}", total, total == 1 ? "" : "s", reasons,
                     where.empty() ? "" : " to ", where);
    }
    if (network.dns.refused > 0) {
        std::string names;
        for (std::size_t i = 0; i < network.dns.refused_names.size() && i < 8; ++i)
            names += (i ? ", " : "") + network.dns.refused_names[i];
        spdlog::warn("dns refused {} question{} for names off the allowlist: {}", network.dns.refused,
                     network.dns.refused == 1 ? "" : "s", names);
    }
}

void report(const SandboxSpec& spec, const RunResult& result) {
    if (result.network) report_denied_egress(*result.network);
    if (!result.workspace_note.empty())
        spdlog::warn("workspace {}: {}", spec.workspace, result.workspace_note);
    if (result.oom_killed)
        spdlog::error("out of memory (limit {})", format_size(spec.limits.memory_bytes));
    if (result.timed_out)
        spdlog::error("timed out after {} (SIGTERM, then SIGKILL after {})",
                      format_duration(spec.limits.timeout), format_duration(spec.limits.kill_grace));
    spdlog::debug("tier {}: exit {} after {} ms (cell setup {} us, job {} us, teardown {} us), peak memory {}, "
                  "cpu {} ms, cgroup {}",
                  spec.tier, result.exit_code, result.wall.count(), result.setup_us, result.job_us,
                  result.teardown_us, format_size(result.usage.peak_memory_bytes), result.usage.cpu_usec / 1000,
                  result.cgroup_version);
}

int run(const RunArgs& args) {
    if (args.verbose) spdlog::set_level(spdlog::level::debug);
    // Everything the operator gave is checked before anything is said about the job, so a bad
    // flag or policy is one line on stderr.
    RunRequest request;
    request.workspace = args.workspace;
    request.env = args.env;
    request.timeout = parsed<std::chrono::milliseconds>(args.timeout, "--timeout", parse_duration);
    request.kill_grace = parsed<std::chrono::milliseconds>(args.kill_grace, "--kill-grace", parse_duration);
    request.memory_bytes = parsed<std::uint64_t>(args.memory, "--memory", parse_size);
    request.tmpfs_bytes = parsed<std::uint64_t>(args.tmpfs_size, "--tmpfs-size", parse_size);
    request.pids = args.pids;
    request.cpus = args.cpus;
    request.command = args.command;
    request.network = args.net;
    request.allow = args.allow;
    // Started by an unprivileged user: the cell is that user's, rootless (DESIGN.md "The cell").
    if (::geteuid() != 0) request.rootless_invoker = RunRequest::Invoker{::geteuid(), ::getegid()};
    const MetaRequest meta = parse_meta_request(args.meta);
    Policy policy = load_policy(args.policy);
    const EnvList host_env = parse_environ(environ);

    std::optional<TrustOutcome> outcome;
    if (args.tier == "auto") {
        outcome = decide_trust(policy, meta, host_env, real_file_reader());
        request.tier = outcome->decision.tier;
    } else {
        request.tier = args.tier;
    }
    SandboxSpec spec = resolve_spec(policy, request, host_env, current_dir(), host_realpath);
    nlohmann::json trust;  // null when --tier named the tier
    if (outcome) {
        trust = trust_to_json(*outcome);
        // Without any CI metadata there is nothing to warn about: untrusted is simply the default.
        const bool had_metadata = outcome->facts.adapter != "none";
        for (const auto& warning : outcome->facts.warnings)
            had_metadata ? spdlog::warn("{}", warning) : spdlog::debug("{}", warning);
        if (had_metadata) spdlog::info("tier {} ({})", outcome->decision.tier, outcome->decision.rule);
        else spdlog::debug("tier {} ({})", outcome->decision.tier, outcome->decision.rule);
    }
    if (args.dry_run) {
        std::cout << spec_to_json(spec).dump(2) << "\n";
        return 0;
    }
    std::optional<AuditLog> audit;
    if (args.audit) audit.emplace(*args.audit);
    auto started = std::chrono::system_clock::now();
    RunResult result;
    try {
        result = run_cell(spec);
    } catch (const Error& e) {
        if (audit) audit->append(audit_record(spec, nullptr, e.what(), started, trust));
        throw;
    }
    report(spec, result);
    if (audit) audit->append(audit_record(spec, &result, "", started, trust));
    return result.exit_code;
}

}  // namespace

CommandAction add_run_command(CLI::App& app) {
    auto args = std::make_shared<RunArgs>();
    CLI::App* cmd = app.add_subcommand("run", "Run a job in a throwaway cell: jobcell run [OPTIONS] -- COMMAND [ARG...]");
    add_policy_option(cmd, args->policy);
    cmd->add_option("--tier", args->tier, "Tier: auto (chosen from the job's metadata by the policy's rules) or a tier name (default: auto)");
    add_meta_option(cmd, args->meta);
    cmd->add_option("--workspace", args->workspace, "Directory bound read-write at the same path; the job starts there (default: .)");
    cmd->add_option("--env", args->env, "NAME=VALUE, or NAME to copy it from jobcell's environment (repeatable)")->allow_extra_args(false);
    cmd->add_option("--timeout", args->timeout, "Wall-clock limit, e.g. 90s, 10m, 1h30m");
    cmd->add_option("--kill-grace", args->kill_grace, "Time between SIGTERM and SIGKILL (default: the tier's)");
    cmd->add_option("--memory", args->memory, "Memory limit, e.g. 512M, 2G; 0: none");
    cmd->add_option("--pids", args->pids, "Process limit")->check(CLI::Range(std::uint64_t{1}, std::uint64_t{4194304}));
    cmd->add_option("--cpus", args->cpus, "CPU limit in cores, e.g. 1.5; 0: none")
        ->check(CLI::Validator(
            [](const std::string& text) -> std::string {
                const double cpus = std::strtod(text.c_str(), nullptr);
                return cpus == 0 || (cpus >= 0.01 && cpus <= 1024) ? "" : "0 (none) or 0.01 to 1024 cores";
            },
            "CPUS"));
    cmd->add_option("--tmpfs-size", args->tmpfs_size, "Size of /tmp and of $HOME, each");
    cmd->add_option("--net", args->net, "Network: none (loopback only), allowlist (only --allow and the tier's list), open (all but the always-deny list)")
        ->check(CLI::IsMember({"none", "allowlist", "open"}));
    cmd->add_option("--allow", args->allow, "Allow egress to HOST[:PORT], *.SUFFIX[:PORT], CIDR[:PORT] or [IPV6CIDR][:PORT]; a port may be N-M (repeatable)")
        ->allow_extra_args(false);
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
