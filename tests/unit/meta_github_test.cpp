// The GitHub Actions adapter: event payload and GITHUB_* runner variables are trusted;
// pull_request_target / workflow_run from a fork and external authors force the fallback tier.
#include <catch2/catch.hpp>

#include <map>

#include "tests/unit/fact_helpers.hpp"
#include "launcher/metadata.hpp"

using namespace jobcell;
using namespace jobcell::testing;

namespace {

const std::string kEventPath = "/runner/_temp/event.json";

EnvList github_env(const std::string& event, const std::string& ref, const std::string& ref_protected) {
    return {{"GITHUB_ACTIONS", "true"},         {"GITHUB_EVENT_NAME", event},
            {"GITHUB_EVENT_PATH", kEventPath},  {"GITHUB_REPOSITORY", "acme/widget"},
            {"GITHUB_REF", ref},                {"GITHUB_REF_PROTECTED", ref_protected}};
}

Facts github(const EnvList& env, const std::string& payload) {
    return read_facts({}, env, fake_reader({{kEventPath, payload}}));
}

std::string pull_request_payload(const std::string& head_repo, const std::string& association) {
    return R"({"action": "opened", "number": 314,
      "pull_request": {"number": 314, "author_association": ")" + association + R"(",
        "head": {"ref": "patch-1", "sha": "3333", "repo": )" + head_repo + R"(},
        "base": {"ref": "main", "sha": "4444", "repo": {"full_name": "acme/widget", "fork": false}}},
      "repository": {"full_name": "acme/widget", "fork": false}, "sender": {"login": "someone"}})";
}

const std::string kForkHead = R"({"full_name": "outsider/widget", "fork": true})";
const std::string kSameHead = R"({"full_name": "acme/widget", "fork": false})";

}  // namespace

TEST_CASE("github: protected push (tiers: github-push-protected)", "[meta]") {
    EnvList env = github_env("push", "refs/heads/main", "true");
    env.emplace_back("GITHUB_REF_NAME", "main");
    const Facts facts = github(env, R"({"ref": "refs/heads/main", "before": "1111", "after": "2222",
        "repository": {"full_name": "acme/widget", "fork": false, "private": false},
        "pusher": {"name": "maintainer1"}, "sender": {"login": "maintainer1"}})");
    CHECK(detect_meta_kind(env) == MetaKind::github);
    CHECK(facts.adapter == "github");
    CHECK(usable_is(facts, "ci", std::string("github")));
    CHECK(usable_is(facts, "event", std::string("push")));
    CHECK(facts.usable("event")->source == FactSource::runner_env);
    CHECK(usable_is(facts, "ref", std::string("main")));
    CHECK(usable_is(facts, "ref_type", std::string("branch")));
    CHECK(usable_is(facts, "ref_protected", true));
    CHECK(usable_is(facts, "change_request", false));
    CHECK(usable_is(facts, "target_repo", std::string("acme/widget")));
    CHECK(usable_is(facts, "source_repo", std::string("acme/widget")));
    CHECK(usable_is(facts, "fork", false));
    CHECK(facts.contradictions.empty());
    CHECK(facts.forced_untrusted.empty());
    CHECK(facts.warnings.empty());
}

TEST_CASE("github: pull request from a fork by a contributor (tiers: github-fork-pull-request)", "[meta]") {
    EnvList env = github_env("pull_request", "refs/pull/314/merge", "false");
    const Facts facts = github(env, pull_request_payload(kForkHead, "CONTRIBUTOR"));
    CHECK(usable_is(facts, "change_request", true));
    CHECK(usable_is(facts, "source_repo", std::string("outsider/widget")));
    CHECK(usable_is(facts, "target_repo", std::string("acme/widget")));
    CHECK(usable_is(facts, "fork", true));
    CHECK(usable_is(facts, "author_association", std::string("CONTRIBUTOR")));
    CHECK(usable_is(facts, "ref_protected", false));
    CHECK(facts.context.at("github_pr_number") == "314");
    CHECK(facts.forced_untrusted.size() == 1);
}

TEST_CASE("github: same-repository pull request by a member (tiers: github-same-repo-pr-member)", "[meta]") {
    const Facts facts = github(github_env("pull_request", "refs/pull/315/merge", "false"),
                               pull_request_payload(kSameHead, "MEMBER"));
    CHECK(usable_is(facts, "change_request", true));
    CHECK(usable_is(facts, "fork", false));
    CHECK(usable_is(facts, "author_association", std::string("MEMBER")));
    CHECK(facts.forced_untrusted.empty());
    CHECK(facts.contradictions.empty());
}

TEST_CASE("github: forks, deleted forks and external authors lower trust", "[meta]") {
    SECTION("pull_request_target from a fork is forced untrusted even by a member on a protected ref") {
        const Facts facts = github(github_env("pull_request_target", "refs/heads/main", "true"),
                                   pull_request_payload(kForkHead, "MEMBER"));
        CHECK(usable_is(facts, "ref_protected", true));  // the base branch: exactly why it is dangerous
        CHECK(usable_is(facts, "change_request", true));
        CHECK(facts.forced_untrusted.size() == 1);
        CHECK(facts.forced_untrusted[0].find("pull_request_target") != std::string::npos);
    }
    SECTION("pull_request_target from the same repository is not forced") {
        const Facts facts = github(github_env("pull_request_target", "refs/heads/main", "true"),
                                   pull_request_payload(kSameHead, "MEMBER"));
        CHECK(facts.forced_untrusted.empty());
        CHECK(usable_is(facts, "change_request", true));
    }
    SECTION("a deleted fork (head.repo null) counts as a fork") {
        const Facts facts = github(github_env("pull_request", "refs/pull/9/merge", "false"),
                                   pull_request_payload("null", "MEMBER"));
        CHECK(usable_is(facts, "fork", true));
        CHECK(facts.usable("source_repo") == nullptr);
        const Facts target = github(github_env("pull_request_target", "refs/heads/main", "true"),
                                    pull_request_payload("null", "OWNER"));
        CHECK(target.forced_untrusted.size() == 1);
    }
    SECTION("a head repository that is itself a fork of something stays a fork") {
        const Facts facts = github(github_env("pull_request", "refs/pull/9/merge", "false"),
                                   pull_request_payload(R"({"full_name": "acme/widget", "fork": true})", "MEMBER"));
        CHECK(usable_is(facts, "fork", true));
        CHECK(facts.contradictions.count("fork") == 0);
    }
    SECTION("external author associations") {
        for (const char* association : {"FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", "NONE", "MANNEQUIN", "CONTRIBUTOR"}) {
            const Facts facts = github(github_env("pull_request", "refs/pull/9/merge", "false"),
                                       pull_request_payload(kSameHead, association));
            CHECK(facts.forced_untrusted.size() == 1);
        }
        for (const char* association : {"OWNER", "MEMBER", "COLLABORATOR"}) {
            const Facts facts = github(github_env("pull_request", "refs/pull/9/merge", "false"),
                                       pull_request_payload(kSameHead, association));
            CHECK(facts.forced_untrusted.empty());
        }
    }
    SECTION("pull_request_review events are change requests too") {
        const Facts facts = github(github_env("pull_request_review", "refs/pull/9/merge", "false"),
                                   pull_request_payload(kForkHead, "MEMBER"));
        CHECK(usable_is(facts, "change_request", true));
        CHECK(usable_is(facts, "fork", true));
    }
}

TEST_CASE("github: workflow_run", "[meta]") {
    const auto payload = [](const std::string& head, const std::string& trigger) {
        return R"({"action": "completed", "workflow_run": {"event": ")" + trigger + R"(", "head_branch": "patch-1",
            "head_repository": )" + head + R"(}, "repository": {"full_name": "acme/widget"}})";
    };
    SECTION("whose head is a fork: forced untrusted") {
        const Facts facts = github(github_env("workflow_run", "refs/heads/main", "true"), payload(kForkHead, "pull_request"));
        CHECK(usable_is(facts, "fork", true));
        CHECK(usable_is(facts, "change_request", true));
        CHECK(facts.forced_untrusted.size() == 1);
        CHECK(facts.forced_untrusted[0].find("workflow_run") != std::string::npos);
    }
    SECTION("whose head is the repository itself, after a push") {
        const Facts facts = github(github_env("workflow_run", "refs/heads/main", "true"), payload(kSameHead, "push"));
        CHECK(usable_is(facts, "fork", false));
        CHECK(usable_is(facts, "change_request", false));
        CHECK(facts.forced_untrusted.empty());
    }
    SECTION("whose head repository is missing: assumed a fork") {
        const Facts facts = github(github_env("workflow_run", "refs/heads/main", "true"),
                                   R"({"workflow_run": {"event": "pull_request"}, "repository": {"full_name": "acme/widget"}})");
        CHECK(facts.forced_untrusted.size() == 1);
        CHECK(has_warning(facts, "workflow_run.head_repository: missing"));
    }
    SECTION("without any payload") {
        EnvList env = github_env("workflow_run", "refs/heads/main", "true");
        const Facts facts = read_facts({}, env, fake_reader({}));
        CHECK(facts.forced_untrusted.size() == 1);
        CHECK(has_warning(facts, "GITHUB_EVENT_PATH /runner/_temp/event.json: ENOENT (No such file or directory)"));
    }
}

TEST_CASE("github: malformed payloads and variables: warnings, facts missing", "[meta]") {
    const EnvList env = github_env("pull_request", "refs/pull/314/merge", "false");
    const std::string good = pull_request_payload(kForkHead, "MEMBER");
    SECTION("truncated") {
        const Facts facts = github(env, good.substr(0, 100));
        CHECK(has_warning(facts, "GITHUB_EVENT_PATH /runner/_temp/event.json: invalid JSON"));
        CHECK(facts.usable("fork") == nullptr);
        CHECK(facts.usable("source_repo") == nullptr);
        // what the runner's variables say still holds
        CHECK(usable_is(facts, "change_request", true));
    }
    SECTION("an array, a string, nothing") {
        for (const std::string text : {"[]", R"("pull_request")", "", "null"}) {
            const Facts facts = github(env, text);
            CHECK(facts.usable("fork") == nullptr);
            CHECK_FALSE(facts.warnings.empty());
        }
    }
    SECTION("pull_request is an array") {
        const Facts facts = github(env, R"({"pull_request": [], "repository": {"full_name": "acme/widget"}})");
        CHECK(has_warning(facts, "pull_request: expected an object"));
        CHECK(facts.usable("fork") == nullptr);
    }
    SECTION("head.repo.fork is a string") {
        const Facts facts = github(env, pull_request_payload(R"({"full_name": "acme/widget", "fork": "false"})", "MEMBER"));
        CHECK(has_warning(facts, "pull_request.head.repo.fork: expected a boolean"));
        // the names still say same repository; fork=false is derived from them
        CHECK(usable_is(facts, "fork", false));
    }
    SECTION("head.repo is a number") {
        const Facts facts = github(env, pull_request_payload("7", "MEMBER"));
        CHECK(has_warning(facts, "pull_request.head.repo: expected an object"));
        CHECK(facts.usable("fork") == nullptr);
    }
    SECTION("author_association of the wrong type") {
        std::string payload = good;
        payload.replace(payload.find(R"("MEMBER")"), 8, "42");
        const Facts facts = github(env, payload);
        CHECK(has_warning(facts, "pull_request.author_association: expected a string"));
        CHECK(facts.usable("author_association") == nullptr);
    }
    SECTION("a huge repository name") {
        const Facts facts = github(env, pull_request_payload(R"({"full_name": ")" + std::string(5000, 'x') + R"("})", "MEMBER"));
        CHECK(facts.usable("source_repo") == nullptr);
        CHECK(facts.usable("fork") == nullptr);
    }
    SECTION("GITHUB_EVENT_PATH not set") {
        EnvList no_path;
        for (const auto& entry : env) {
            if (entry.first != "GITHUB_EVENT_PATH") no_path.push_back(entry);
        }
        const Facts facts = read_facts({}, no_path, fake_reader({}));
        CHECK(has_warning(facts, "GITHUB_EVENT_PATH: not set"));
        CHECK(facts.usable("fork") == nullptr);
    }
    SECTION("GITHUB_REF_PROTECTED that is not a boolean") {
        const Facts facts = github(github_env("push", "refs/heads/main", "yes"),
                                   R"({"ref": "refs/heads/main", "repository": {"full_name": "acme/widget"}})");
        CHECK(has_warning(facts, "GITHUB_REF_PROTECTED: expected true or false"));
        CHECK(facts.usable("ref_protected") == nullptr);
    }
}

TEST_CASE("github: disagreeing trusted sources contradict", "[meta]") {
    SECTION("GITHUB_REPOSITORY vs the payload's repository") {
        EnvList env = github_env("push", "refs/heads/main", "true");
        const Facts facts = github(env, R"({"ref": "refs/heads/main", "repository": {"full_name": "evil/widget"}})");
        CHECK(facts.usable("target_repo") == nullptr);
        CHECK(facts.contradictions.count("target_repo") == 1);
        CHECK(facts.usable("fork") == nullptr);
    }
    SECTION("GITHUB_REF vs the push payload's ref") {
        const Facts facts = github(github_env("push", "refs/heads/main", "true"),
                                   R"({"ref": "refs/heads/other", "repository": {"full_name": "acme/widget"}})");
        CHECK(facts.contradictions.count("ref") == 1);
    }
    SECTION("a push event whose GITHUB_REF is a pull request ref") {
        const Facts facts = github(github_env("push", "refs/pull/1/merge", "false"),
                                   R"({"ref": "refs/pull/1/merge", "repository": {"full_name": "acme/widget"}})");
        CHECK(facts.contradictions.count("change_request") == 1);
    }
}

TEST_CASE("github: events that are not about a change say nothing about one", "[meta]") {
    const Facts comment = github(github_env("issue_comment", "refs/heads/main", "true"),
                                 R"({"action": "created", "issue": {"number": 3}, "repository": {"full_name": "acme/widget"}})");
    CHECK(comment.usable("change_request") == nullptr);
    CHECK(comment.usable("fork") == nullptr);

    const Facts schedule = github(github_env("schedule", "refs/heads/main", "true"),
                                  R"({"schedule": "0 3 * * *", "repository": {"full_name": "acme/widget"}})");
    CHECK(usable_is(schedule, "change_request", false));
    CHECK(usable_is(schedule, "fork", false));

    const Facts tag = github(github_env("push", "refs/tags/v1.0", "true"),
                             R"({"ref": "refs/tags/v1.0", "repository": {"full_name": "acme/widget"}})");
    CHECK(usable_is(tag, "ref", std::string("v1.0")));
    CHECK(usable_is(tag, "ref_type", std::string("tag")));
}
