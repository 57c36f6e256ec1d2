// jobcell gitlab config|prepare|run SCRIPT STAGE|cleanup: GitLab Runner's custom executor
// (docs/gitlab.md). Each sub-command is one of the runner's *_exec calls; every failure of
// jobcell's own exits $SYSTEM_FAILURE_EXIT_CODE (the runner may retry), a failing stage script
// $BUILD_FAILURE_EXIT_CODE (the job failed).
#include <unistd.h>

#include <iostream>
#include <memory>
#include <optional>

#include <spdlog/spdlog.h>

#include "launcher/cli.hpp"
#include "launcher/gitlab_config.hpp"
#include "launcher/gitlab_decision.hpp"
#include "launcher/gitlab_job_response.hpp"
#include "launcher/gitlab_stage.hpp"
#include "launcher/gitlab_state.hpp"
#include "launcher/policy.hpp"
#include "launcher/spec_resolve.hpp"
#include "launcher/trust.hpp"
#include "launcher/units.hpp"
#include "net/host_network.hpp"
#include "sandbox/cgroup.hpp"
#include "sandbox/error.hpp"
#include "sandbox/fd.hpp"
#include "sandbox/supervisor.hpp"

extern char** environ;

namespace jobcell {
namespace {

// How long cleanup lets a stage that is still running stop on SIGTERM before it kills it.
constexpr std::chrono::milliseconds kCleanupGrace{2000};

struct GitlabArgs {
    std::optional<std::string> policy, state_dir;
    std::string script, stage;
};

std::string state_dir(const GitlabArgs& args, const EnvList& env) {
    if (args.state_dir) return *args.state_dir;
    if (const std::string* dir = env_get(env, kGitlabStateDirEnv); dir != nullptr) {
        // Set but empty is a mistake (an unset variable in a unit file), not a wish for the default.
        if (dir->empty()) throw Error(std::string(kGitlabStateDirEnv) + ": set but empty; give an absolute path or unset it");
        return *dir;
    }
    return kGitlabStateDirDefault;
}

// What the trust decision may read: the runner's job response and the job's variables. The
// runner's own environment (this process's) says nothing about the job.
EnvList trust_env(const EnvList& env) {
    EnvList out;
    for (const auto& [name, value] : env)
        if (name == "JOB_RESPONSE_FILE" || name.rfind("CUSTOM_ENV_", 0) == 0) out.emplace_back(name, value);
    return out;
}

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "jobcell";
    return buf;
}

int config(const GitlabArgs& args) {
    load_policy(args.policy);  // a bad policy fails the job here already, as a system failure
    std::cout << gitlab_config_json(JOBCELL_VERSION, host_name()).dump() << "\n";
    return 0;
}

std::string network_text(const GitlabStageNetwork& net) {
    if (net.mode != "allowlist") return net.mode;
    std::string list;
    for (const auto& entry : net.allow) list += (list.empty() ? "" : ", ") + entry;
    return "allowlist (" + (list.empty() ? std::string("empty") : list) + ")";
}

int prepare(const GitlabArgs& args) {
    const Policy policy = load_policy(args.policy);
    const EnvList env = parse_environ(environ);
    const FileReader reader = real_file_reader();
    const GitlabJobResponse response = read_gitlab_job_response(env, reader);
    const TrustOutcome outcome = decide_trust(policy, MetaRequest{MetaKind::gitlab, {}}, trust_env(env), reader);
    GitlabDecision decision{response.job_id, outcome.decision.tier, outcome.decision.rule, response.project_id,
                            response.server_allow};
    const GitlabStateRoot root(state_dir(args, env));
    root.cache_dir(decision.tier, decision.project_id);
    create_gitlab_job(root, decision.job_id, gitlab_decision_to_json(decision, trust_to_json(outcome)));

    for (const auto& warning : outcome.facts.warnings) spdlog::warn("{}", warning);
    if (!response.server_note.empty()) spdlog::warn("runner stages get no GitLab server: {}", response.server_note);
    const TierPolicy& tier = policy.tier(decision.tier);
    // On stdout, so it is in the job log: anyone reading it sees what the job was trusted with.
    std::cout << "jobcell: job " << decision.job_id << ": tier " << decision.tier << " (rule " << decision.rule
              << ")\n"
              << "jobcell: runner stages: network "
              << network_text(gitlab_stage_network(tier, GitlabStageKind::runner, decision.server_allow))
              << "; user stages: network "
              << network_text(gitlab_stage_network(tier, GitlabStageKind::user, decision.server_allow))
              << "; cache: the " << decision.tier << " tier's\n";
    return 0;
}

void write_build_exit_code(const EnvList& env, int code) {
    const std::string* path = env_get(env, "BUILD_EXIT_CODE_FILE");
    if (path == nullptr || path->empty()) return;
    write_file(*path, std::to_string(code), 0600);  // the bare integer, as the runner reads it
}

int run(const GitlabArgs& args, const GitlabExitCodes& codes) {
    const Policy policy = load_policy(args.policy);
    const EnvList env = parse_environ(environ);
    if (!valid_gitlab_stage_name(args.stage))
        throw Error("stage name: expected lower-case letters, digits, '_' and '-'");
    const GitlabJobResponse response = read_gitlab_job_response(env, real_file_reader());
    const GitlabStateRoot root(state_dir(args, env));
    const GitlabJobLock lock(root, response.job_id);
    const std::string where = root.job_dir(response.job_id) + "/decision.json";
    const GitlabDecision decision =
        gitlab_decision_from_json(read_gitlab_decision(root, response.job_id), response.job_id, policy, where);
    GitlabStagePaths paths;
    paths.workspace = root.job_dir(response.job_id) + "/builds";
    paths.script_dir = copy_gitlab_stage_script(root, response.job_id, args.script);
    paths.cache = root.cache_dir(decision.tier, decision.project_id);
    const SandboxSpec spec = gitlab_stage_spec(policy, decision, args.stage, paths, host_realpath);
    spdlog::info("stage {} ({} stage): tier {}, network {}", args.stage,
                 gitlab_stage_kind_name(classify_gitlab_stage(args.stage)), spec.tier,
                 network_text({spec.network, spec.allow}));

    const RunResult result = run_cell(spec);
    // The runner's script runs the job's commands in a subshell, which turns a SIGKILLed command
    // into a plain failure: say so whenever the memory limit killed anything, not only on 137.
    if (result.oom_killed || result.usage.oom_kills > 0)
        spdlog::error("out of memory (limit {}): the kernel killed {} process{} of this stage",
                      format_size(spec.limits.memory_bytes), result.usage.oom_kills,
                      result.usage.oom_kills == 1 ? "" : "es");
    if (result.timed_out)
        spdlog::error("timed out after {} (SIGTERM, then SIGKILL after {})", format_duration(spec.limits.timeout),
                      format_duration(spec.limits.kill_grace));
    if (result.exit_code == 0) return 0;
    // The script failed, was killed, ran out of memory or time: the job failed, jobcell did not.
    write_build_exit_code(env, result.exit_code);
    return codes.build_failure;
}

int cleanup(const GitlabArgs& args) {
    const EnvList env = parse_environ(environ);
    const GitlabJobResponse response = read_gitlab_job_response(env, real_file_reader());
    const GitlabStateRoot root(state_dir(args, env));
    const bool removed = remove_gitlab_job(root, response.job_id, kCleanupGrace);
    // What a SIGKILLed stage could not remove itself: its cgroup and its network.
    const int cgroups = collect_dead_cgroups(read_cgroup_mounts());
    const int networks = collect_dead_cell_networks();
    std::cout << "jobcell: job " << response.job_id << ": "
              << (removed ? "removed its workspace and state" : "nothing to remove");
    if (cgroups + networks > 0) std::cout << "; collected " << cgroups << " cgroup(s), " << networks << " network leftover(s) of dead cells";
    std::cout << "\n";
    load_policy(args.policy);  // checked last: a bad policy must not keep a job's leftovers
    return 0;
}

// Every failure of jobcell's own becomes the runner's system failure, in every stage.
int guarded(const GitlabExitCodes& codes, const std::function<int()>& body) {
    try {
        return body();
    } catch (const Error& e) {
        spdlog::error("{}", e.what());
    } catch (const std::exception& e) {
        spdlog::error("internal error: {}", e.what());
    }
    return codes.system_failure;
}

CLI::App* add_stage(CLI::App* gitlab, const char* name, const char* help, GitlabArgs& args) {
    CLI::App* cmd = gitlab->add_subcommand(name, help);
    add_policy_option(cmd, args.policy);
    cmd->add_option("--state-dir", args.state_dir,
                    std::string("Where jobs' state, workspaces and caches live (default: $") + kGitlabStateDirEnv +
                        ", else " + kGitlabStateDirDefault + ")");
    return cmd;
}

}  // namespace

int gitlab_system_failure_code() { return gitlab_exit_codes(parse_environ(environ)).system_failure; }

CommandAction add_gitlab_command(CLI::App& app) {
    auto args = std::make_shared<GitlabArgs>();
    CLI::App* gitlab = app.add_subcommand("gitlab", "GitLab Runner custom executor: config, prepare, run SCRIPT STAGE, cleanup");
    gitlab->require_subcommand(1);
    add_stage(gitlab, "config", "config_exec: print the executor's configuration as JSON", *args);
    add_stage(gitlab, "prepare", "prepare_exec: decide the job's tier once and create its state", *args);
    CLI::App* run_cmd = add_stage(gitlab, "run", "run_exec: run one stage's SCRIPT in a fresh cell", *args);
    run_cmd->add_option("script", args->script, "The stage's script, written by the runner")->required();
    run_cmd->add_option("stage", args->stage, "The stage's name (get_sources, build_script, step_NAME, ...)")->required();
    add_stage(gitlab, "cleanup", "cleanup_exec: remove the job's cells, state and workspace", *args);
    return [args, gitlab](const std::vector<std::string>&) {
        const GitlabExitCodes codes = gitlab_exit_codes(parse_environ(environ));
        const std::string which = gitlab->get_subcommands().front()->get_name();
        return guarded(codes, [&] {
            if (which == "config") return config(*args);
            if (which == "prepare") return prepare(*args);
            if (which == "run") return run(*args, codes);
            return cleanup(*args);
        });
    };
}

}  // namespace jobcell
