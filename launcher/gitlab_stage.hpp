// GitLab custom executor: what one stage's cell is, decided from the stage's name and the job's
// stored decision. Pure: paths and the realpath resolver come in, a SandboxSpec comes out.
#pragma once

#include <string>
#include <string_view>

#include "launcher/gitlab_decision.hpp"
#include "launcher/policy.hpp"
#include "sandbox/env.hpp"
#include "sandbox/spec.hpp"

namespace jobcell {

// Where the job sees things, whatever the host paths: config_exec tells the runner these, and
// the runner's scripts use them.
inline constexpr const char* kGitlabBuildsDir = "/builds";
inline constexpr const char* kGitlabCacheDir = "/cache";
// The stage's script, bound read-only; the cell runs `bash kGitlabScriptDir/script`.
inline constexpr const char* kGitlabScriptDir = "/jobcell/stage";

// Runner stages are the ones GitLab Runner itself writes (sources, caches, artifacts, its own
// prologue); user stages run what .gitlab-ci.yml says. An unknown name is a user stage: the
// stricter of the two for an untrusted job, and a new runner stage must be named here first.
enum class GitlabStageKind { runner, user };
GitlabStageKind classify_gitlab_stage(std::string_view stage);
const char* gitlab_stage_kind_name(GitlabStageKind kind);  // "runner", "user"

// Stage names are short lower-case words with '_' and digits (step_<name> carries the
// step's name); anything else is refused before it is logged or used.
bool valid_gitlab_stage_name(std::string_view stage);

// The host directories of one stage's cell.
struct GitlabStagePaths {
    std::string workspace;   // the job's persistent workspace, shown at kGitlabBuildsDir
    std::string script_dir;  // holds `script`, shown read-only at kGitlabScriptDir
    std::string cache;       // this tier's (and project's) cache, shown read-write at kGitlabCacheDir
};

// The network a stage gets: "none", or "allowlist" with the entries (the tier's network for a
// user stage; the tier's gitlab_runner_stage_network for a runner stage).
struct GitlabStageNetwork {
    std::string mode = "none";
    std::vector<std::string> allow;
};
GitlabStageNetwork gitlab_stage_network(const TierPolicy& tier, GitlabStageKind kind,
                                        const std::string& server_allow);

// The stage's cell: the decision's tier with the stage's network, the workspace at /builds,
// the cache and the script bound in, and only the tier's own environment (the runner's script
// exports the job's variables itself).
SandboxSpec gitlab_stage_spec(const Policy& policy, const GitlabDecision& decision, std::string_view stage,
                              const GitlabStagePaths& paths, std::string (*realpath)(const std::string&));

// GitLab Runner's exit codes for a failing job (the runner fails it) and for jobcell's own
// failure (the runner may retry it), from BUILD_FAILURE_EXIT_CODE / SYSTEM_FAILURE_EXIT_CODE.
// Missing or unusable values fall back to 1 and 2, as in the runner's own documentation
// examples, so a failure is never reported as success.
struct GitlabExitCodes {
    int build_failure = 1;
    int system_failure = 2;
};
GitlabExitCodes gitlab_exit_codes(const EnvList& env);

}  // namespace jobcell
