// The GitLab custom executor's pure parts: config_exec's JSON, the job response, stage
// classes and their cells, the stored decision, exit codes; and the state directory's
// write-once rules, on a scratch directory.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "launcher/gitlab_config.hpp"
#include "launcher/gitlab_decision.hpp"
#include "launcher/gitlab_job_response.hpp"
#include "launcher/gitlab_stage.hpp"
#include "launcher/gitlab_state.hpp"
#include "launcher/policy.hpp"
#include "sandbox/error.hpp"

using namespace jobcell;

namespace {

const std::string kWhere = "JOB_RESPONSE_FILE /r.json";

const Policy& shipped() {
    static const Policy policy = parse_policy(builtin_policy_text(), "<built-in policy>");
    return policy;
}

std::string same_path(const std::string& path) { return path; }

GitlabDecision decision(const std::string& tier) {
    return {"90001", tier, "protected-ref", "4711", "gitlab.example.test:443"};
}

GitlabStagePaths paths() { return {"/var/lib/jobcell/gitlab/jobs/90001/builds", "/s/stage", "/s/cache"}; }

// A scratch state root, removed afterwards.
struct ScratchRoot {
    std::string dir;
    ScratchRoot() {
        char tmpl[] = "/tmp/jobcell-gitlab-unit.XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir = tmpl;
    }
    ~ScratchRoot() { std::filesystem::remove_all(dir); }
};

}  // namespace

TEST_CASE("gitlab config: the JSON config_exec prints") {
    const auto json = gitlab_config_json("0.1.0", "runner-7");
    CHECK(json["builds_dir"] == "/builds");
    CHECK(json["cache_dir"] == "/cache");
    CHECK(json["builds_dir_is_shared"] == false);
    CHECK(json["hostname"] == "runner-7");
    CHECK(json["driver"]["name"] == "jobcell");
    CHECK(json["driver"]["version"] == "0.1.0");
    CHECK(json.size() == 5);
}

TEST_CASE("gitlab job response: id, project and server") {
    const auto r = parse_gitlab_job_response(
        R"({"id": 90001, "token": "t", "job_info": {"project_id": 4711},
            "git_info": {"repo_url": "https://gitlab-ci-token:glcbt-secret@gitlab.example.test/acme/w.git"}})",
        kWhere);
    CHECK(r.job_id == "90001");
    CHECK(r.project_id == "4711");
    CHECK(r.server_allow == "gitlab.example.test:443");
    CHECK(r.server_note.empty());
}

TEST_CASE("gitlab job response: an unusable id is an error naming the field") {
    auto error_of = [](const std::string& text) {
        try {
            parse_gitlab_job_response(text, kWhere);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK(error_of("{}") == kWhere + ": id: missing (the job id)");
    CHECK(error_of(R"({"id": "../../etc"})") == kWhere + ": id: expected a positive integer");
    CHECK(error_of(R"({"id": -4})") == kWhere + ": id: expected a positive integer");
    CHECK(error_of(R"({"id": 0})") == kWhere + ": id: expected a positive integer");
    CHECK(error_of(R"({"id": "007"})") == kWhere + ": id: expected a positive integer");
    CHECK(error_of(R"({"id": 1.5})") == kWhere + ": id: expected a positive integer");
    CHECK(error_of(R"({"id": true})") == kWhere + ": id: expected a positive integer");
    CHECK(error_of("[1]") == kWhere + ": expected a JSON object");
    CHECK(error_of("{garbage").rfind(kWhere + ": invalid JSON: ", 0) == 0);
    CHECK(parse_gitlab_job_response(R"({"id": "12"})", kWhere).job_id == "12");
}

TEST_CASE("gitlab job response: no usable server or project means none (most restrictive)") {
    auto r = parse_gitlab_job_response(R"({"id": 5})", kWhere);
    CHECK(r.server_allow.empty());
    CHECK(r.server_note == "git_info.repo_url is missing");
    CHECK(r.project_id.empty());
    r = parse_gitlab_job_response(R"({"id": 5, "job_info": {"project_id": "x/y"}, "git_info": {"repo_url": 7}})", kWhere);
    CHECK(r.project_id.empty());
    CHECK(r.server_allow.empty());
    r = parse_gitlab_job_response(R"({"id": 5, "git_info": {"repo_url": "git@gitlab.example.test:a/b.git"}})", kWhere);
    CHECK(r.server_allow.empty());
    CHECK(r.server_note == "git_info.repo_url is not an http(s) URL");
}

TEST_CASE("gitlab server allow entry from repo_url") {
    std::string why;
    CHECK(gitlab_server_allow_entry("http://gitlab.local/a.git", why) == "gitlab.local:80");
    CHECK(gitlab_server_allow_entry("https://u:p@gitlab.example.test:8443/a/b.git", why) ==
          "gitlab.example.test:8443");
    CHECK(gitlab_server_allow_entry("https://[2001:db8::5]:8443/a.git", why) == "[2001:db8::5]:8443");
    CHECK(gitlab_server_allow_entry("https://192.0.2.10/a.git", why) == "192.0.2.10:443");
    CHECK_FALSE(gitlab_server_allow_entry("https:///a.git", why));
    CHECK_FALSE(gitlab_server_allow_entry("https://host:notaport/a.git", why));
    CHECK_FALSE(gitlab_server_allow_entry("file:///srv/repo.git", why));
    // The error never repeats the URL: it carries the job token.
    CHECK(why.find("srv") == std::string::npos);
}

TEST_CASE("gitlab stages: runner stages, user stages, unknown names are user stages") {
    for (const char* s : {"prepare_script", "get_sources", "restore_cache", "download_artifacts", "archive_cache",
                          "archive_cache_on_failure", "upload_artifacts_on_success", "upload_artifacts_on_failure",
                          "cleanup_file_variables"})
        CHECK(classify_gitlab_stage(s) == GitlabStageKind::runner);
    for (const char* s : {"step_script", "step_release", "build_script", "after_script", "brand_new_stage", ""})
        CHECK(classify_gitlab_stage(s) == GitlabStageKind::user);
    CHECK(valid_gitlab_stage_name("step_my-step2"));
    CHECK_FALSE(valid_gitlab_stage_name(""));
    CHECK_FALSE(valid_gitlab_stage_name("../x"));
    CHECK_FALSE(valid_gitlab_stage_name("Build Script"));
}

TEST_CASE("gitlab stage network: the shipped policy") {
    const std::string server = "gitlab.example.test:443";
    const auto& untrusted = shipped().tier("untrusted");
    auto runner = gitlab_stage_network(untrusted, GitlabStageKind::runner, server);
    CHECK(runner.mode == "allowlist");
    CHECK(runner.allow == std::vector<std::string>{server});
    auto user = gitlab_stage_network(untrusted, GitlabStageKind::user, server);
    CHECK(user.mode == "none");
    CHECK(user.allow.empty());
    // No known server: runner stages get nothing rather than everything.
    CHECK(gitlab_stage_network(untrusted, GitlabStageKind::runner, "").mode == "none");
    const auto& trusted = shipped().tier("trusted");
    CHECK(gitlab_stage_network(trusted, GitlabStageKind::runner, server).allow == std::vector<std::string>{server});
    CHECK(gitlab_stage_network(trusted, GitlabStageKind::user, server).allow == trusted.allow);
}

TEST_CASE("gitlab stage network: gitlab_runner_stage_network in the policy") {
    TierPolicy tier;
    tier.network = "allowlist";
    tier.allow = {"pypi.org:443"};
    tier.gitlab_runner_stage_network = "tier";
    CHECK(gitlab_stage_network(tier, GitlabStageKind::runner, "g:443").allow ==
          std::vector<std::string>{"pypi.org:443", "g:443"});
    CHECK(gitlab_stage_network(tier, GitlabStageKind::user, "g:443").allow == std::vector<std::string>{"pypi.org:443"});
    tier.gitlab_runner_stage_network = "none";
    CHECK(gitlab_stage_network(tier, GitlabStageKind::runner, "g:443").mode == "none");
    std::string text(builtin_policy_text());
    text.replace(text.find("[tiers.untrusted]\n"), 18, "[tiers.untrusted]\ngitlab_runner_stage_network = \"open\"\n");
    CHECK_THROWS_WITH(parse_policy(text, "p.toml"), Catch::Contains("expected one of gitlab, tier, none"));
}

TEST_CASE("gitlab stage spec: workspace at /builds, cache and script bound, no runner environment") {
    const SandboxSpec get_sources = gitlab_stage_spec(shipped(), decision("untrusted"), "get_sources", paths(), same_path);
    CHECK(get_sources.tier == "untrusted");
    CHECK(get_sources.workspace == paths().workspace);
    CHECK(get_sources.workspace_at == "/builds");
    CHECK(get_sources.command == std::vector<std::string>{"bash", "/jobcell/stage/script"});
    CHECK(get_sources.network == "allowlist");
    CHECK(get_sources.allow == std::vector<std::string>{"gitlab.example.test:443"});
    REQUIRE(get_sources.binds.size() == 2);
    CHECK(get_sources.binds[0].host == "/s/cache");
    CHECK(get_sources.binds[0].cell == "/cache");
    CHECK(get_sources.binds[0].writable);
    CHECK(get_sources.binds[1].host == "/s/stage");
    CHECK(get_sources.binds[1].cell == "/jobcell/stage");
    CHECK_FALSE(get_sources.binds[1].writable);
    for (const auto& [name, value] : get_sources.env) {
        CHECK(name.rfind("CUSTOM_ENV_", 0) != 0);
        CHECK(name != "JOB_RESPONSE_FILE");
    }
    const SandboxSpec build = gitlab_stage_spec(shipped(), decision("untrusted"), "build_script", paths(), same_path);
    CHECK(build.network == "none");
    CHECK(build.allow.empty());
    CHECK(build.limits.memory_bytes == shipped().tier("untrusted").limits.memory_bytes);
}

TEST_CASE("gitlab decision: round trip, and tampered or foreign decisions refused") {
    const auto stored = gitlab_decision_to_json(decision("trusted"), nlohmann::json::object());
    const auto back = gitlab_decision_from_json(stored, "90001", shipped(), "d.json");
    CHECK(back.tier == "trusted");
    CHECK(back.rule == "protected-ref");
    CHECK(back.server_allow == "gitlab.example.test:443");
    CHECK_THROWS_WITH(gitlab_decision_from_json(stored, "90002", shipped(), "d.json"),
                      "d.json: job_id: is for job 90001, not job 90002");
    auto bad = stored;
    bad["tier"] = "root";
    CHECK_THROWS_WITH(gitlab_decision_from_json(bad, "90001", shipped(), "d.json"),
                      Catch::StartsWith("d.json: tier: 'root' is not a tier of"));
    bad = stored;
    bad.erase("rule");
    CHECK_THROWS_WITH(gitlab_decision_from_json(bad, "90001", shipped(), "d.json"), "d.json: rule: expected a string");
    bad = stored;
    bad["version"] = 2;
    CHECK_THROWS_WITH(gitlab_decision_from_json(bad, "90001", shipped(), "d.json"), "d.json: version: expected 1");
    bad = stored;
    bad["server_allow"] = "*";
    CHECK_THROWS_WITH(gitlab_decision_from_json(bad, "90001", shipped(), "d.json"),
                      Catch::StartsWith("d.json: server_allow: "));
    CHECK_THROWS_WITH(gitlab_decision_from_json(nlohmann::json::array(), "90001", shipped(), "d.json"),
                      "d.json: expected a JSON object");
}

TEST_CASE("gitlab exit codes: from the runner's variables, else 1 and 2") {
    CHECK(gitlab_exit_codes({}).build_failure == 1);
    CHECK(gitlab_exit_codes({}).system_failure == 2);
    const auto codes = gitlab_exit_codes({{"BUILD_FAILURE_EXIT_CODE", "37"}, {"SYSTEM_FAILURE_EXIT_CODE", "38"}});
    CHECK(codes.build_failure == 37);
    CHECK(codes.system_failure == 38);
    const auto junk = gitlab_exit_codes({{"BUILD_FAILURE_EXIT_CODE", "0"}, {"SYSTEM_FAILURE_EXIT_CODE", "4x"}});
    CHECK(junk.build_failure == 1);  // 0 would report a failure as success
    CHECK(junk.system_failure == 2);
}

TEST_CASE("gitlab state: a decision is written once, root-owned 0600; a second prepare is refused") {
    ScratchRoot scratch;
    const GitlabStateRoot root(scratch.dir + "/state");
    const auto stored = gitlab_decision_to_json(decision("untrusted"), nlohmann::json::object());
    create_gitlab_job(root, "90001", stored);
    struct stat st {};
    REQUIRE(::stat((root.job_dir("90001") + "/decision.json").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    CHECK(st.st_uid == ::geteuid());
    CHECK(read_gitlab_decision(root, "90001") == stored);
    CHECK_THROWS_WITH(create_gitlab_job(root, "90001", stored), Catch::Contains("prepared already"));
    CHECK(read_gitlab_decision(root, "90001")["tier"] == "untrusted");

    // Tampering that loosens the file's mode is refused, whatever it now says.
    const std::string file = root.job_dir("90001") + "/decision.json";
    REQUIRE(::chmod(file.c_str(), 0666) == 0);
    CHECK_THROWS_WITH(read_gitlab_decision(root, "90001"), Catch::Contains("expected mode 0600"));
    REQUIRE(::chmod(file.c_str(), 0600) == 0);
    { std::ofstream(file) << "{not json"; }
    CHECK_THROWS_WITH(read_gitlab_decision(root, "90001"), Catch::EndsWith("invalid JSON"));
    CHECK_THROWS_WITH(read_gitlab_decision(root, "90002"), Catch::Contains("was prepare run?"));
}

TEST_CASE("gitlab state: one stage at a time; cleanup removes the job and is idempotent") {
    ScratchRoot scratch;
    const GitlabStateRoot root(scratch.dir);
    CHECK_THROWS_WITH(GitlabJobLock(root, "7"), Catch::Contains("not prepared"));
    create_gitlab_job(root, "7", gitlab_decision_to_json(decision("untrusted"), {}));
    {
        const GitlabJobLock held(root, "7");
        // flock is per open file: a second lock from this process conflicts like another stage's.
        CHECK_THROWS_WITH(GitlabJobLock(root, "7"), Catch::Contains("another stage of it is running (pid " +
                                                                    std::to_string(::getpid()) + ")"));
    }
    const GitlabJobLock again(root, "7");
    (void)again;
    const std::string script = scratch.dir + "/script.sh";
    { std::ofstream(script) << "#!/usr/bin/env bash\necho hi\n"; }
    const std::string dir = copy_gitlab_stage_script(root, "7", script);
    struct stat st {};
    REQUIRE(::stat((dir + "/script").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    const std::string link = scratch.dir + "/link.sh";
    REQUIRE(::symlink(script.c_str(), link.c_str()) == 0);
    CHECK_THROWS(copy_gitlab_stage_script(root, "7", link));
}

TEST_CASE("gitlab state: cleanup") {
    ScratchRoot scratch;
    const GitlabStateRoot root(scratch.dir);
    CHECK_FALSE(remove_gitlab_job(root, "8", std::chrono::milliseconds(100)));
    create_gitlab_job(root, "8", gitlab_decision_to_json(decision("untrusted"), {}));
    { std::ofstream(root.job_dir("8") + "/builds/file") << "x"; }
    REQUIRE(::symlink("/etc", (root.job_dir("8") + "/builds/etc-link").c_str()) == 0);
    CHECK(remove_gitlab_job(root, "8", std::chrono::milliseconds(100)));
    CHECK_FALSE(std::filesystem::exists(root.job_dir("8")));
    CHECK(std::filesystem::exists("/etc/passwd"));
    CHECK_FALSE(remove_gitlab_job(root, "8", std::chrono::milliseconds(100)));
    const std::string cache = root.cache_dir("untrusted", "4711");
    CHECK(cache == root.path() + "/cache/untrusted/4711");
    CHECK(root.cache_dir("trusted", "") == root.path() + "/cache/trusted/no-project");
}
