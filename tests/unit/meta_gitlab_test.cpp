// The GitLab adapter: the job response is trusted, the job's variables are not. Inputs are
// inline (the shared tier scenarios' shapes plus what real GitLab sends), read through a fake
// FileReader.
#include <catch2/catch.hpp>

#include <map>

#include "tests/unit/fact_helpers.hpp"
#include "launcher/metadata.hpp"
#include "sandbox/error.hpp"

using namespace jobcell;
using namespace jobcell::testing;

namespace {

struct FakeFiles {
    std::map<std::string, std::string> files;
    FileReader reader() const {
        return [this](const std::string& path, std::string& error) -> std::optional<std::string> {
            const auto found = files.find(path);
            if (found == files.end()) {
                error = "ENOENT (No such file or directory)";
                return std::nullopt;
            }
            return found->second;
        };
    }
};

const std::string kPath = "/x/response.json";

Facts gitlab(const std::string& response, EnvList env) {
    FakeFiles files;
    files.files[kPath] = response;
    env.emplace_back("JOB_RESPONSE_FILE", kPath);
    return read_facts({MetaKind::gitlab, {}}, env, files.reader());
}

// Shapes from ../shared/tiers (gitlab-*), inline so the repository does not depend on them.
const std::string kPushProtectedMain = R"({"id": 90001, "token": "glcbt-64_canary", "allow_git_fetch": true,
 "job_info": {"name": "build", "stage": "build", "pipeline_id": 5001, "project_id": 4711, "project_name": "widget", "project_full_path": "acme/widget", "user_id": 12},
 "git_info": {"repo_url": "https://gitlab-ci-token:glcbt-64_canary@gitlab.example.test/acme/widget.git", "ref": "main", "sha": "3f1c0de5a1e2b7c9d4f6a8b0c2e4f6a8b0c2e4f6", "before_sha": "0000000000000000000000000000000000000000", "ref_type": "branch", "refspecs": ["+refs/heads/main:refs/remotes/origin/main"], "depth": 20, "protected": true},
 "variables": [{"key": "CI_PIPELINE_SOURCE", "value": "push", "public": true, "masked": false}, {"key": "CI_COMMIT_REF_PROTECTED", "value": "true", "public": true, "masked": false}, {"key": "CI_PROJECT_ID", "value": "4711", "public": true, "masked": false}]})";

const std::string kPushUnprotected = R"({"id": 90002, "token": "glcbt-64_canary",
 "job_info": {"name": "test", "stage": "test", "pipeline_id": 5002, "project_id": 4711, "project_full_path": "acme/widget", "user_id": 12},
 "git_info": {"repo_url": "https://gitlab.example.test/acme/widget.git", "ref": "feature/faster-parser", "sha": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", "ref_type": "branch", "refspecs": ["+refs/heads/feature/faster-parser:refs/remotes/origin/feature/faster-parser"], "depth": 20, "protected": false},
 "variables": [{"key": "CI_PIPELINE_SOURCE", "value": "push", "public": true, "masked": false}]})";

const std::string kForkMr = R"({"id": 90003, "token": "glcbt-64_canary",
 "job_info": {"name": "test", "stage": "test", "pipeline_id": 5003, "project_id": 4711, "project_full_path": "acme/widget", "user_id": 3301},
 "git_info": {"repo_url": "https://gitlab.example.test/acme/widget.git", "ref": "patch-1", "sha": "b2c3d4e5f60718293a4b5c6d7e8f901234567890", "ref_type": "branch", "refspecs": ["+refs/merge-requests/77/head:refs/remotes/origin/patch-1"], "depth": 20, "protected": false},
 "variables": [{"key": "CI_PIPELINE_SOURCE", "value": "merge_request_event", "public": true, "masked": false}, {"key": "CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "value": "9120", "public": true, "masked": false}]})";

const std::string kSpoofedProtected = R"({"id": 90004, "token": "glcbt-64_canary",
 "job_info": {"name": "test", "stage": "test", "pipeline_id": 5004, "project_id": 4711, "project_full_path": "acme/widget", "user_id": 3301},
 "git_info": {"repo_url": "https://gitlab.example.test/acme/widget.git", "ref": "main", "sha": "c3d4e5f60718293a4b5c6d7e8f90123456789012", "ref_type": "branch", "refspecs": ["+refs/merge-requests/78/head:refs/remotes/origin/main"], "depth": 20, "protected": false},
 "variables": [{"key": "CI_PIPELINE_SOURCE", "value": "merge_request_event", "public": true, "masked": false}, {"key": "CI_COMMIT_REF_PROTECTED", "value": "true", "public": true, "masked": false}]})";

// What GitLab really sends for a merge request pipeline in the target project: the ref is the
// merge request's ref path and the refspecs hold only the pipeline's persistent ref.
const std::string kRealMrPipeline = R"({"id": 1, "token": "t",
 "job_info": {"name": "test", "stage": "test", "project_id": 4711, "project_name": "widget"},
 "git_info": {"repo_url": "https://gitlab.example.test/acme/widget.git", "repo_object_format": "sha1", "ref": "refs/merge-requests/77/head", "sha": "b2c3", "before_sha": "0000", "ref_type": "branch", "refspecs": ["+refs/pipelines/5003:refs/pipelines/5003"], "depth": 20, "protected": false}})";

std::string response_with_git_info(const std::string& git_info) {
    return R"({"id": 1, "job_info": {"project_id": 4711}, "git_info": )" + git_info + "}";
}

}  // namespace

TEST_CASE("gitlab: protected push of the project itself", "[meta]") {
    const Facts facts = gitlab(kPushProtectedMain, {{"CUSTOM_ENV_CI_PIPELINE_SOURCE", "push"},
                                                    {"CUSTOM_ENV_CI_COMMIT_REF_NAME", "main"},
                                                    {"CUSTOM_ENV_CI_COMMIT_REF_PROTECTED", "true"},
                                                    {"CUSTOM_ENV_CI_PROJECT_ID", "4711"},
                                                    {"CUSTOM_ENV_CI_JOB_TOKEN", "glcbt-64_canary"},
                                                    {"CUSTOM_ENV_GITLAB_CI", "true"}});
    CHECK(facts.adapter == "gitlab");
    CHECK(usable_is(facts, "ci", std::string("gitlab")));
    CHECK(usable_is(facts, "ref", std::string("main")));
    CHECK(usable_is(facts, "ref_type", std::string("branch")));
    CHECK(usable_is(facts, "ref_protected", true));
    CHECK(usable_is(facts, "change_request", false));
    CHECK(usable_is(facts, "target_repo", std::string("4711")));
    CHECK(usable_is(facts, "source_repo", std::string("4711")));
    CHECK(usable_is(facts, "fork", false));
    CHECK(facts.usable("ref_protected")->source == FactSource::job_response);
    CHECK(facts.usable("ref_protected")->origin == "JOB_RESPONSE_FILE git_info.protected");
    // GitLab has no trusted pipeline source: the event is recorded, never usable
    CHECK(facts.usable("event") == nullptr);
    REQUIRE(facts.untrusted.count("event") == 1);
    CHECK(facts.untrusted.at("event").value == FactValue{std::string("push")});
    CHECK(facts.contradictions.empty());
    CHECK(facts.forced_untrusted.empty());
    CHECK(facts.warnings.empty());
    CHECK(facts.context.at("gitlab_project_id") == "4711");
    CHECK(facts.context.at("gitlab_project_path") == "acme/widget");
    // no warning or fact carries the job token
    for (const auto& [name, fact] : facts.untrusted) CHECK(fact_value_text(fact.value) != "glcbt-64_canary");
}

TEST_CASE("gitlab: push to an unprotected branch", "[meta]") {
    const Facts facts = gitlab(kPushUnprotected, {{"CUSTOM_ENV_CI_PIPELINE_SOURCE", "push"},
                                                  {"CUSTOM_ENV_CI_COMMIT_REF_NAME", "feature/faster-parser"},
                                                  {"CUSTOM_ENV_CI_COMMIT_REF_PROTECTED", "false"},
                                                  {"CUSTOM_ENV_CI_PROJECT_ID", "4711"},
                                                  {"CUSTOM_ENV_GITLAB_CI", "true"}});
    CHECK(usable_is(facts, "ref", std::string("feature/faster-parser")));
    CHECK(usable_is(facts, "ref_protected", false));
    CHECK(usable_is(facts, "change_request", false));
    CHECK(usable_is(facts, "fork", false));
    CHECK(facts.contradictions.empty());
}

TEST_CASE("gitlab: merge request from a fork", "[meta]") {
    const Facts facts = gitlab(kForkMr, {{"CUSTOM_ENV_CI_PIPELINE_SOURCE", "merge_request_event"},
                                         {"CUSTOM_ENV_CI_MERGE_REQUEST_IID", "77"},
                                         {"CUSTOM_ENV_CI_MERGE_REQUEST_PROJECT_ID", "4711"},
                                         {"CUSTOM_ENV_CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "9120"},
                                         {"CUSTOM_ENV_CI_MERGE_REQUEST_SOURCE_PROJECT_PATH", "outsider/widget"},
                                         {"CUSTOM_ENV_CI_MERGE_REQUEST_EVENT_TYPE", "detached"},
                                         {"CUSTOM_ENV_CI_COMMIT_REF_PROTECTED", "false"},
                                         {"CUSTOM_ENV_GITLAB_CI", "true"}});
    CHECK(usable_is(facts, "change_request", true));
    CHECK(facts.context.at("gitlab_mr_iid") == "77");
    CHECK(usable_is(facts, "ref_protected", false));
    CHECK(usable_is(facts, "target_repo", std::string("4711")));
    // the response does not say where a merge request comes from: no trusted source or fork
    CHECK(facts.usable("source_repo") == nullptr);
    CHECK(facts.usable("fork") == nullptr);
    REQUIRE(facts.untrusted.count("fork") == 1);
    CHECK(facts.untrusted.at("fork").value == FactValue{true});
}

TEST_CASE("gitlab: a real merge request pipeline (ref refs/merge-requests/IID/head)", "[meta]") {
    const Facts facts = gitlab(kRealMrPipeline, {{"CUSTOM_ENV_CI_PIPELINE_SOURCE", "merge_request_event"},
                                                 {"CUSTOM_ENV_CI_COMMIT_REF_NAME", "patch-1"},
                                                 {"CUSTOM_ENV_CI_MERGE_REQUEST_IID", "77"},
                                                 {"CUSTOM_ENV_CI_MERGE_REQUEST_PROJECT_ID", "4711"},
                                                 {"CUSTOM_ENV_CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "4711"},
                                                 {"CUSTOM_ENV_CI_PROJECT_ID", "4711"}});
    CHECK(usable_is(facts, "change_request", true));
    CHECK(facts.context.at("gitlab_mr_iid") == "77");
    CHECK(usable_is(facts, "ref", std::string("refs/merge-requests/77/head")));
    // CI_COMMIT_REF_NAME is the source branch in a merge request pipeline: not a contradiction
    CHECK(facts.contradictions.count("ref") == 0);
    CHECK(facts.usable("fork") == nullptr);  // same-project claim from variables only
    CHECK(facts.untrusted.at("fork").value == FactValue{false});
    CHECK(facts.warnings.empty());
}

TEST_CASE("gitlab: tag pipelines and GIT_DEPTH=0 wildcard refspecs", "[meta]") {
    const Facts tag = gitlab(response_with_git_info(
                                 R"({"ref": "v1.2", "ref_type": "tag", "protected": true,
                                     "refspecs": ["+refs/pipelines/9:refs/pipelines/9", "+refs/tags/v1.2:refs/tags/v1.2"]})"),
                             {{"CUSTOM_ENV_CI_COMMIT_TAG", "v1.2"}});
    CHECK(usable_is(tag, "ref_type", std::string("tag")));
    CHECK(usable_is(tag, "change_request", false));
    CHECK(tag.contradictions.empty());

    const Facts wildcard = gitlab(response_with_git_info(
                                      R"({"ref": "main", "ref_type": "branch", "protected": true,
                                          "refspecs": ["+refs/pipelines/9:refs/pipelines/9", "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]})"),
                                  {});
    CHECK(usable_is(wildcard, "change_request", false));

    // a branch whose name merely contains a merge request path is still a branch
    const Facts odd_name = gitlab(response_with_git_info(
                                      R"({"ref": "x/refs/merge-requests/1/y", "ref_type": "branch", "protected": false,
                                          "refspecs": ["+refs/heads/x/refs/merge-requests/1/y:refs/remotes/origin/x"]})"),
                                  {});
    CHECK(usable_is(odd_name, "ref", std::string("x/refs/merge-requests/1/y")));
    CHECK(usable_is(odd_name, "change_request", false));
}

TEST_CASE("gitlab spoofing: variables never raise trust, and any disagreement lowers it", "[meta]") {
    SECTION("a merge request sets CI_COMMIT_REF_PROTECTED and CI_PIPELINE_SOURCE (tiers: gitlab-spoofed-protected-env)") {
        const Facts facts = gitlab(kSpoofedProtected, {{"CUSTOM_ENV_CI_PIPELINE_SOURCE", "push"},
                                                       {"CUSTOM_ENV_CI_COMMIT_REF_NAME", "main"},
                                                       {"CUSTOM_ENV_CI_COMMIT_REF_PROTECTED", "true"},
                                                       {"CUSTOM_ENV_CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "4711"},
                                                       {"CUSTOM_ENV_CI_MERGE_REQUEST_PROJECT_ID", "4711"},
                                                       {"CUSTOM_ENV_GITLAB_CI", "true"}});
        CHECK(facts.usable("ref_protected") == nullptr);
        CHECK(facts.contradictions.count("ref_protected") == 1);
        CHECK(usable_is(facts, "change_request", true));  // the response's refspec shows the MR
        CHECK(facts.usable("fork") == nullptr);             // "not a fork" from variables only
        CHECK(facts.contradictions.count("event") == 1);    // push (env) vs merge_request_event (variables)
    }
    SECTION("no response file: only variables, nothing usable (tiers: gitlab-no-response-file)") {
        EnvList env = {{"CUSTOM_ENV_CI_PIPELINE_SOURCE", "push"},
                       {"CUSTOM_ENV_CI_COMMIT_REF_NAME", "main"},
                       {"CUSTOM_ENV_CI_COMMIT_REF_PROTECTED", "true"},
                       {"CUSTOM_ENV_GITLAB_CI", "true"}};
        CHECK(detect_meta_kind(env) == MetaKind::gitlab);
        const Facts facts = read_facts({}, env, FakeFiles{}.reader());
        CHECK(facts.adapter == "gitlab");
        for (const auto& name : kFactNames) CHECK(facts.usable(name) == nullptr);
        CHECK(facts.untrusted.at("ref_protected").value == FactValue{true});
        CHECK(has_warning(facts, "JOB_RESPONSE_FILE: not set"));
    }
    SECTION("shell executor: plain CI_* variables are just as untrusted") {
        const Facts facts = read_facts({MetaKind::gitlab, {}},
                                       {{"GITLAB_CI", "true"}, {"CI_COMMIT_REF_PROTECTED", "true"}, {"CI_PIPELINE_SOURCE", "push"}},
                                       FakeFiles{}.reader());
        CHECK(facts.usable("ref_protected") == nullptr);
        CHECK(facts.untrusted.at("ref_protected").origin == "CI_COMMIT_REF_PROTECTED");
    }
    SECTION("the response's own variables array overrides a predefined variable") {
        const std::string response = R"({"job_info": {"project_id": 4711},
          "git_info": {"ref": "main", "ref_type": "branch", "protected": false, "refspecs": ["+refs/heads/main:refs/remotes/origin/main"]},
          "variables": [{"key": "CI_COMMIT_REF_PROTECTED", "value": "false"}, {"key": "CI_COMMIT_REF_PROTECTED", "value": "true"}]})";
        const Facts facts = gitlab(response, {});
        CHECK(facts.contradictions.count("ref_protected") == 1);
        CHECK(facts.usable("ref_protected") == nullptr);
    }
    SECTION("variables say merge request from another project; the response says branch pipeline") {
        const Facts facts = gitlab(kPushUnprotected, {{"CUSTOM_ENV_CI_MERGE_REQUEST_IID", "5"},
                                                      {"CUSTOM_ENV_CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "9120"},
                                                      {"CUSTOM_ENV_CI_MERGE_REQUEST_PROJECT_ID", "4711"}});
        CHECK(facts.usable("change_request") == nullptr);
        CHECK(facts.usable("fork") == nullptr);
        CHECK(facts.usable("source_repo") == nullptr);
    }
    SECTION("a variable that agrees with the response changes nothing") {
        const Facts facts = gitlab(kPushProtectedMain, {{"CUSTOM_ENV_CI_COMMIT_REF_PROTECTED", "true"}});
        CHECK(usable_is(facts, "ref_protected", true));
    }
}

TEST_CASE("gitlab: malformed or missing response: warnings naming file and field, facts missing", "[meta]") {
    SECTION("missing file") {
        FakeFiles files;
        const Facts facts = read_facts({MetaKind::gitlab, {}}, {{"JOB_RESPONSE_FILE", "/nope.json"}}, files.reader());
        CHECK(has_warning(facts, "JOB_RESPONSE_FILE /nope.json: ENOENT (No such file or directory)"));
        for (const auto& name : kFactNames) CHECK(facts.usable(name) == nullptr);
    }
    SECTION("truncated JSON") {
        const Facts facts = gitlab(kPushProtectedMain.substr(0, kPushProtectedMain.size() / 2), {});
        CHECK(has_warning(facts, "JOB_RESPONSE_FILE /x/response.json: invalid JSON: "));
        CHECK(facts.trusted.empty());
    }
    SECTION("empty file and a JSON array") {
        CHECK(has_warning(gitlab("", {}), "invalid JSON"));
        CHECK(has_warning(gitlab("[1, 2]", {}), "JOB_RESPONSE_FILE /x/response.json: expected a JSON object"));
        CHECK(gitlab("[1, 2]", {}).trusted.empty());
    }
    SECTION("a field of the wrong type") {
        const Facts facts = gitlab(response_with_git_info(
                                       R"({"ref": "main", "ref_type": "branch", "protected": "true", "refspecs": ["+refs/heads/main:refs/remotes/origin/main"]})"),
                                   {});
        CHECK(has_warning(facts, "JOB_RESPONSE_FILE /x/response.json: git_info.protected: expected a boolean"));
        CHECK(facts.usable("ref_protected") == nullptr);
        CHECK(usable_is(facts, "ref", std::string("main")));  // the rest still counts
    }
    SECTION("protected null (server did not send it) or absent (older runner)") {
        const Facts null_protected = gitlab(
            response_with_git_info(R"({"ref": "main", "ref_type": "branch", "protected": null, "refspecs": ["+refs/heads/main:x"]})"), {});
        CHECK(null_protected.usable("ref_protected") == nullptr);
        CHECK(has_warning(null_protected, "git_info.protected: null"));
        const Facts absent = gitlab(response_with_git_info(R"({"ref": "main", "ref_type": "branch", "refspecs": ["+refs/heads/main:x"]})"), {});
        CHECK(absent.usable("ref_protected") == nullptr);
        CHECK(has_warning(absent, "git_info.protected: missing"));
    }
    SECTION("git_info is an array, job_info a string") {
        const Facts facts = gitlab(R"({"git_info": [1], "job_info": "x"})", {});
        CHECK(has_warning(facts, "git_info: expected an object"));
        CHECK(has_warning(facts, "job_info: expected an object"));
        CHECK(facts.usable("ref") == nullptr);
        CHECK(facts.usable("target_repo") == nullptr);
    }
    SECTION("ref_type neither branch nor tag") {
        const Facts facts = gitlab(response_with_git_info(R"({"ref": "main", "ref_type": "commit", "protected": true, "refspecs": ["+refs/heads/main:x"]})"), {});
        CHECK(has_warning(facts, "git_info.ref_type: expected branch or tag"));
        CHECK(facts.usable("ref_type") == nullptr);
        CHECK(facts.usable("change_request") == nullptr);
    }
    SECTION("refspecs that say nothing") {
        for (const std::string refspecs : {R"("+refs/heads/main:x")", "[]", R"([1])", R"(["+abc123:refs/x"])", "null"}) {
            const Facts facts = gitlab(
                response_with_git_info(R"({"ref": "main", "ref_type": "branch", "protected": true, "refspecs": )" + refspecs + "}"), {});
            CHECK(facts.usable("change_request") == nullptr);
            CHECK(facts.usable("fork") == nullptr);
            CHECK(has_warning(facts, "git_info.refspecs"));
        }
    }
    SECTION("project ids: negative, fractional, boolean") {
        for (const std::string id : {"-1", "1.5", "true", "{}"}) {
            const Facts facts = gitlab(R"({"job_info": {"project_id": )" + id + R"(}, "git_info": {}})", {});
            CHECK(facts.usable("target_repo") == nullptr);
            CHECK(has_warning(facts, "job_info.project_id"));
        }
    }
    SECTION("huge values") {
        const std::string huge(100000, 'a');
        const Facts facts = gitlab(response_with_git_info(R"({"ref": ")" + huge + R"(", "ref_type": "branch", "protected": true})"),
                                   {{"CUSTOM_ENV_CI_COMMIT_REF_NAME", huge}});
        CHECK(facts.usable("ref") == nullptr);
        CHECK(facts.untrusted.count("ref") == 0);
        CHECK(has_warning(facts, "git_info.ref: longer than"));
        const Facts big_number = gitlab(R"({"job_info": {"project_id": 1e400}})", {});
        CHECK(big_number.usable("target_repo") == nullptr);
    }
    SECTION("variables of the wrong shape") {
        const Facts facts = gitlab(R"({"variables": {"CI_PIPELINE_SOURCE": "push"}})", {});
        CHECK(has_warning(facts, "variables: expected an array"));
        const Facts entries = gitlab(R"({"variables": [1, {"key": "CI_PIPELINE_SOURCE"}, {"key": "CI_PIPELINE_SOURCE", "value": "push"}]})", {});
        CHECK(has_warning(entries, "variables: expected objects with string key and value"));
        CHECK(entries.untrusted.at("event").value == FactValue{std::string("push")});
    }
    SECTION("a CI_COMMIT_REF_PROTECTED that is not a boolean") {
        const Facts facts = gitlab(kPushProtectedMain, {{"CUSTOM_ENV_CI_COMMIT_REF_PROTECTED", "yes"}});
        CHECK(has_warning(facts, "CUSTOM_ENV_CI_COMMIT_REF_PROTECTED: expected true or false"));
        CHECK(usable_is(facts, "ref_protected", true));
    }
}

TEST_CASE("--meta: parsing and auto detection", "[meta]") {
    CHECK(parse_meta_request("auto").kind == MetaKind::automatic);
    CHECK(parse_meta_request("gitlab").kind == MetaKind::gitlab);
    CHECK(parse_meta_request("github").kind == MetaKind::github);
    CHECK(parse_meta_request("none").kind == MetaKind::none);
    const MetaRequest file = parse_meta_request("file:/etc/jobcell/meta.json");
    CHECK(file.kind == MetaKind::file);
    CHECK(file.path == "/etc/jobcell/meta.json");
    for (const char* bad : {"", "file:", "GITLAB", "jenkins", "file", " auto"}) {
        CHECK_THROWS_WITH(parse_meta_request(bad), "--meta " + std::string(bad) +
                                                       ": expected auto, gitlab, github, file:PATH or none");
    }
    CHECK(std::string(meta_kind_name(MetaKind::automatic)) == "auto");
    CHECK(std::string(meta_kind_name(MetaKind::file)) == "file");

    CHECK(detect_meta_kind({}) == MetaKind::none);
    CHECK(detect_meta_kind({{"JOB_RESPONSE_FILE", "/r.json"}}) == MetaKind::gitlab);
    CHECK(detect_meta_kind({{"CUSTOM_ENV_CI", "true"}}) == MetaKind::gitlab);
    CHECK(detect_meta_kind({{"GITLAB_CI", "true"}}) == MetaKind::gitlab);
    CHECK(detect_meta_kind({{"GITHUB_ACTIONS", "true"}}) == MetaKind::github);
    CHECK(detect_meta_kind({{"GITHUB_ACTIONS", ""}}) == MetaKind::none);
    // GitLab first: a GitLab job that sets GITHUB_ACTIONS in its variables stays a GitLab job
    CHECK(detect_meta_kind({{"CUSTOM_ENV_GITHUB_ACTIONS", "true"}, {"JOB_RESPONSE_FILE", "/r"}, {"GITHUB_ACTIONS", "true"}}) ==
          MetaKind::gitlab);

    SECTION("markers of both systems: neither is read (found by our attack run)") {
        // A GitHub fork PR whose workflow sets JOB_RESPONSE_FILE to a forged protected-branch
        // response must not become a trusted GitLab job; nor the other way round.
        FakeFiles files;
        files.files[kPath] = R"({"git_info": {"ref": "main", "protected": true}, "job_info": {"project_id": 1}})";
        const EnvList env = {{"GITHUB_ACTIONS", "true"}, {"GITHUB_EVENT_NAME", "pull_request"}, {"JOB_RESPONSE_FILE", kPath}};
        CHECK(conflicting_ci_markers(env) ==
              "markers of two CI systems are set (JOB_RESPONSE_FILE and GITHUB_ACTIONS): one of them was set by the "
              "job, so neither system's metadata is read");
        const Facts facts = read_facts({MetaKind::automatic, {}}, env, files.reader());
        CHECK(facts.adapter == "none");
        CHECK(facts.trusted.empty());
        CHECK(facts.warnings.size() == 1);
        CHECK(conflicting_ci_markers({{"GITLAB_CI", "true"}}).empty());
        CHECK(conflicting_ci_markers({{"GITHUB_ACTIONS", "true"}}).empty());
        // the same key in two objects is fine; in one object it is not
        for (const auto& warning : gitlab(R"({"id": 1, "job_info": {"id": 1, "project_id": 1}})", {}).warnings)
            CHECK_THAT(warning, !Catch::Contains("invalid JSON"));
        const Facts twice = gitlab(R"({"git_info": {"protected": false, "protected": true}})", {});
        REQUIRE(twice.warnings.size() == 1);
        CHECK_THAT(twice.warnings[0], Catch::Contains("key 'protected' given twice in one object"));
        CHECK(twice.trusted.count("ref_protected") == 0);
        // an explicit --meta names the system: no guessing, no conflict
        CHECK(read_facts({MetaKind::gitlab, {}}, env, files.reader()).adapter == "gitlab");
    }

    SECTION("no metadata at all (tiers: no-metadata)") {
        const Facts facts = read_facts({}, {{"PATH", "/usr/bin"}}, FakeFiles{}.reader());
        CHECK(facts.adapter == "none");
        CHECK(facts.trusted.empty());
        CHECK(facts.warnings.size() == 1);
        const Facts none = read_facts({MetaKind::none, {}}, {{"JOB_RESPONSE_FILE", "/r"}}, FakeFiles{}.reader());
        CHECK(none.adapter == "none");
        CHECK(none.trusted.empty());
    }
}
