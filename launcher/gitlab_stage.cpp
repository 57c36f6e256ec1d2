#include "launcher/gitlab_stage.hpp"

#include <array>
#include <charconv>

#include "launcher/spec_resolve.hpp"
#include "sandbox/error.hpp"

namespace jobcell {

GitlabStageKind classify_gitlab_stage(std::string_view stage) {
    // GitLab Runner's own stages (common/build.go, the BuildStage constants), in run order.
    static constexpr std::array<std::string_view, 9> runner_stages = {
        "prepare_script", "get_sources", "restore_cache", "download_artifacts", "archive_cache",
        "archive_cache_on_failure", "upload_artifacts_on_success", "upload_artifacts_on_failure",
        "cleanup_file_variables"};
    for (auto name : runner_stages)
        if (name == stage) return GitlabStageKind::runner;
    return GitlabStageKind::user;
}

const char* gitlab_stage_kind_name(GitlabStageKind kind) {
    return kind == GitlabStageKind::runner ? "runner" : "user";
}

bool valid_gitlab_stage_name(std::string_view stage) {
    if (stage.empty() || stage.size() > 128) return false;
    for (char c : stage)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
    return true;
}

GitlabStageNetwork gitlab_stage_network(const TierPolicy& tier, GitlabStageKind kind,
                                        const std::string& server_allow) {
    GitlabStageNetwork net;
    const std::string& runner_mode = tier.gitlab_runner_stage_network;
    if (kind == GitlabStageKind::user || runner_mode == "tier") {
        net.mode = tier.network;
        net.allow = tier.allow;
        if (kind == GitlabStageKind::runner && net.mode == "allowlist" && !server_allow.empty())
            net.allow.push_back(server_allow);
    } else if (runner_mode == "gitlab" && !server_allow.empty()) {
        net.mode = "allowlist";
        net.allow = {server_allow};
    }
    // runner_mode "none", or "gitlab" without a known server: loopback only.
    return net;
}

SandboxSpec gitlab_stage_spec(const Policy& policy, const GitlabDecision& decision, std::string_view stage,
                              const GitlabStagePaths& paths, std::string (*realpath)(const std::string&)) {
    const TierPolicy& tier = policy.tier(decision.tier);
    const GitlabStageKind kind = classify_gitlab_stage(stage);
    RunRequest request;
    request.tier = decision.tier;
    request.workspace = paths.workspace;
    request.command = {"bash", std::string(kGitlabScriptDir) + "/script"};
    // The runner's environment (JOB_RESPONSE_FILE, CUSTOM_ENV_*, its own) never reaches the
    // cell: the host environment given to the resolver is empty.
    SandboxSpec spec = resolve_spec(policy, request, EnvList{}, "/", realpath);
    const GitlabStageNetwork net = gitlab_stage_network(tier, kind, decision.server_allow);
    spec.network = net.mode;
    spec.allow = net.allow;
    spec.workspace_at = kGitlabBuildsDir;
    spec.binds = {{paths.cache, kGitlabCacheDir, true}, {paths.script_dir, kGitlabScriptDir, false}};
    return spec;
}

GitlabExitCodes gitlab_exit_codes(const EnvList& env) {
    GitlabExitCodes codes;
    auto read = [&](const char* name, int& out) {
        const std::string* text = env_get(env, name);
        if (text == nullptr) return;
        int value = 0;
        const char* end = text->data() + text->size();
        auto [ptr, ec] = std::from_chars(text->data(), end, value);
        if (ec == std::errc() && ptr == end && value >= 1 && value <= 255) out = value;
    };
    read("BUILD_FAILURE_EXIT_CODE", codes.build_failure);
    read("SYSTEM_FAILURE_EXIT_CODE", codes.system_failure);
    return codes;
}

}  // namespace jobcell
