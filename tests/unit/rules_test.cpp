// The trust decision: decide() over hand-built Facts, and the shipped rules over the situations
// the DESIGN.md table names. Every test here reads as "these facts, from these sources, get
// this tier, for this reason".
#include "launcher/rules.hpp"

#include <array>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "launcher/facts.hpp"
#include "launcher/policy.hpp"
#include "sandbox/error.hpp"

using namespace std::string_literals;
using Catch::Matchers::StartsWith;
using jobcell::decide;
using jobcell::Decision;
using jobcell::Fact;
using jobcell::Facts;
using jobcell::FactSource;
using jobcell::FactValue;
using jobcell::Rule;
using jobcell::RuleCondition;

namespace {

RuleCondition is(const std::string& fact, std::vector<FactValue> values) {
    return {fact, std::move(values), false};
}

RuleCondition is_not(const std::string& fact, std::vector<FactValue> values) {
    return {fact, std::move(values), true};
}

// Facts as an adapter would leave them, with the trusted map written directly so that these
// tests pin decide() and not the adapters' bookkeeping.
Facts trusted_facts(const std::vector<std::pair<std::string, FactValue>>& values,
                    FactSource source = FactSource::event_payload) {
    Facts facts;
    for (const auto& [name, value] : values) facts.trusted[name] = Fact{value, source, "test " + name};
    return facts;
}

const std::string fallback_rule = "fallback (no rule matched)";

}  // namespace

// --- decide(): the engine ---------------------------------------------------------------------

TEST_CASE("without rules every job gets the fallback tier", "[rules]") {
    const Decision decision = decide({}, "untrusted", trusted_facts({{"ref_protected", true}}));
    CHECK(decision.tier == "untrusted");
    CHECK(decision.rule == fallback_rule);
    CHECK(decision.trace.empty());
}

TEST_CASE("a rule without conditions matches every job, even one without facts", "[rules]") {
    const Decision decision = decide({{"everyone", "internal", "", {}}}, "untrusted", Facts{});
    CHECK(decision.tier == "internal");
    CHECK(decision.rule == "everyone");
    REQUIRE(decision.trace.size() == 1);
    CHECK(decision.trace[0].matched);
    CHECK(decision.trace[0].conditions.empty());
}

TEST_CASE("each kind of condition, held or failed, with what it wanted and got", "[rules]") {
    struct Case {
        const char* what;
        RuleCondition condition;
        std::vector<std::pair<std::string, FactValue>> facts;
        bool held;
        std::string wanted;
        std::string got;
    };
    const std::vector<Case> cases = {
        {"bool equal", is("fork", {false}), {{"fork", false}}, true, "false", "false"},
        {"bool differs", is("fork", {false}), {{"fork", true}}, false, "false", "true"},
        {"bool list",
         is("approved", {true, false}),
         {{"approved", false}},
         true,
         "one of true, false",
         "false"},
        {"string equal", is("event", {"push"s}), {{"event", "push"s}}, true, "push", "push"},
        {"string differs", is("event", {"push"s}), {{"event", "web"s}}, false, "push", "web"},
        {"string is case-sensitive",
         is("ref_type", {"branch"s}),
         {{"ref_type", "Branch"s}},
         false,
         "branch",
         "Branch"},
        {"one of, held",
         is("event", {"push"s, "web"s}),
         {{"event", "web"s}},
         true,
         "one of push, web",
         "web"},
        {"one of, failed",
         is("event", {"push"s, "web"s}),
         {{"event", "api"s}},
         false,
         "one of push, web",
         "api"},
        {"not, held",
         is_not("event", {"pull_request_target"s}),
         {{"event", "push"s}},
         true,
         "not pull_request_target",
         "push"},
        {"not, failed",
         is_not("event", {"pull_request_target"s}),
         {{"event", "pull_request_target"s}},
         false,
         "not pull_request_target",
         "pull_request_target"},
        {"not bool", is_not("fork", {true}), {{"fork", false}}, true, "not true", "false"},
        {"none of, held",
         is_not("author_association", {"NONE"s, "FIRST_TIMER"s}),
         {{"author_association", "MEMBER"s}},
         true,
         "none of NONE, FIRST_TIMER",
         "MEMBER"},
        {"none of, failed",
         is_not("author_association", {"NONE"s, "FIRST_TIMER"s}),
         {{"author_association", "FIRST_TIMER"s}},
         false,
         "none of NONE, FIRST_TIMER",
         "FIRST_TIMER"},
        {"missing", is("ref_protected", {true}), {{"fork", false}}, false, "true", "missing"},
        // Silence is never "not": a negated condition on a missing fact fails too.
        {"missing, negated", is_not("fork", {true}), {}, false, "not true", "missing"},
        {"missing, none of", is_not("author_association", {"NONE"s}), {}, false, "not NONE", "missing"},
        // A value of the other type can only come from a hand-built rule or an adapter bug; it
        // must not make "none of" hold.
        {"type mismatch",
         is_not("fork", {true}),
         {{"fork", "false"s}},
         false,
         "not true",
         "false (a text value; the rule compares true/false values)"},
        {"type mismatch, string rule",
         is("event", {"push"s}),
         {{"event", true}},
         false,
         "push",
         "true (a true/false value; the rule compares text values)"},
        {"empty list",
         is("event", {}),
         {{"event", "push"s}},
         false,
         "a value from an empty list (matches nothing)",
         "push"},
        {"empty list, negated",
         is_not("event", {}),
         {{"event", "push"s}},
         false,
         "a value from an empty list (matches nothing)",
         "push"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        const Decision decision =
            decide({{"r", "trusted", "", {c.condition}}}, "untrusted", trusted_facts(c.facts));
        CHECK(decision.tier == (c.held ? "trusted" : "untrusted"));
        CHECK(decision.rule == (c.held ? "r" : fallback_rule));
        REQUIRE(decision.trace.size() == 1);
        CHECK(decision.trace[0].rule == "r");
        CHECK(decision.trace[0].tier == "trusted");
        CHECK(decision.trace[0].matched == c.held);
        REQUIRE(decision.trace[0].conditions.size() == 1);
        const auto& trace = decision.trace[0].conditions[0];
        CHECK(trace.fact == c.condition.fact);
        CHECK(trace.held == c.held);
        CHECK(trace.wanted == c.wanted);
        CHECK(trace.got == c.got);
    }
}

TEST_CASE("every source but the job's own variables may satisfy a condition", "[rules]") {
    for (const auto source : {FactSource::job_response, FactSource::event_payload, FactSource::runner_env,
                              FactSource::operator_file, FactSource::scm_api, FactSource::derived}) {
        CAPTURE(jobcell::fact_source_name(source));
        const Decision decision = decide({{"r", "trusted", "", {is("ref_protected", {true})}}}, "untrusted",
                                         trusted_facts({{"ref_protected", true}}, source));
        CHECK(decision.tier == "trusted");
    }
}

TEST_CASE("a fact only the job's variables state never satisfies a condition", "[rules]") {
    Facts facts;
    facts.set_untrusted("ref_protected", true, "CUSTOM_ENV_CI_COMMIT_REF_PROTECTED");
    facts.set_untrusted("fork", false, "CUSTOM_ENV_CI_MERGE_REQUEST_SOURCE_PROJECT_ID");
    const std::vector<Rule> rules = {
        {"protected", "trusted", "", {is("ref_protected", {true})}},
        {"not-fork", "internal", "", {is_not("fork", {true})}},
    };
    const Decision decision = decide(rules, "untrusted", facts);
    CHECK(decision.tier == "untrusted");
    CHECK(decision.rule == fallback_rule);
    REQUIRE(decision.trace.size() == 2);
    CHECK(decision.trace[0].conditions.at(0).got ==
          "only from job_env (CUSTOM_ENV_CI_COMMIT_REF_PROTECTED=true), not trusted");
    CHECK(decision.trace[1].conditions.at(0).got ==
          "only from job_env (CUSTOM_ENV_CI_MERGE_REQUEST_SOURCE_PROJECT_ID=false), not trusted");
}

TEST_CASE("an untrusted fact's origin in words reads as what it says", "[rules]") {
    Facts facts;
    facts.set_untrusted("event", "merge_request_event"s, "JOB_RESPONSE_FILE variables CI_PIPELINE_SOURCE");
    Facts bare;
    bare.untrusted["event"] = Fact{"push"s, FactSource::job_env, ""};
    const std::vector<Rule> rules = {{"r", "trusted", "", {is("event", {"push"s})}}};
    CHECK(decide(rules, "untrusted", facts).trace.at(0).conditions.at(0).got ==
          "only from job_env (JOB_RESPONSE_FILE variables CI_PIPELINE_SOURCE says merge_request_event), not "
          "trusted");
    CHECK(decide(rules, "untrusted", bare).trace.at(0).conditions.at(0).got ==
          "only from job_env (push), not trusted");
}

TEST_CASE("an entry of the trusted map from an untrusted source is not used", "[rules]") {
    // set_trusted never does this; decide() does not rely on it.
    Facts facts;
    facts.trusted["ref_protected"] = Fact{true, FactSource::job_env, "CI_COMMIT_REF_PROTECTED"};
    const Decision decision =
        decide({{"r", "trusted", "", {is("ref_protected", {true})}}}, "untrusted", facts);
    CHECK(decision.tier == "untrusted");
    CHECK(decision.trace.at(0).conditions.at(0).got ==
          "from job_env (CI_COMMIT_REF_PROTECTED=true), not trusted");
}

TEST_CASE("a contradicted fact fails every condition that reads it", "[rules]") {
    Facts facts = trusted_facts({{"ref_protected", false}, {"fork", false}}, FactSource::job_response);
    facts.contradictions["ref_protected"] = "the job response says false, CI_COMMIT_REF_PROTECTED says true";
    facts.contradictions["fork"] = "source project 9120 is not target project 4711";
    for (const auto& condition :
         {is("ref_protected", {false}), is_not("ref_protected", {true}), is("ref_protected", {true, false}),
          is("fork", {false}), is_not("fork", {true})}) {
        CAPTURE(condition.fact, condition.negated);
        const Decision decision = decide({{"r", "trusted", "", {condition}}}, "untrusted", facts);
        CHECK(decision.tier == "untrusted");
        CHECK(decision.trace.at(0).conditions.at(0).got ==
              "contradicted: " + facts.contradictions[condition.fact]);
    }
}

TEST_CASE("a contradiction recorded by the facts themselves reads as one", "[rules]") {
    Facts facts;
    facts.set_trusted("ref_protected", false, FactSource::job_response,
                      "JOB_RESPONSE_FILE git_info.protected");
    facts.set_untrusted("ref_protected", true, "CUSTOM_ENV_CI_COMMIT_REF_PROTECTED");
    const Decision decision =
        decide({{"r", "internal", "", {is("ref_protected", {false})}}}, "untrusted", facts);
    CHECK(decision.tier == "untrusted");
    CHECK_THAT(decision.trace.at(0).conditions.at(0).got, StartsWith("contradicted: "));
}

TEST_CASE("a rule's conditions all hold, and its trace stops at the first that fails", "[rules]") {
    const Rule rule{
        "three", "trusted", "", {is("ref_type", {"branch"s}), is("fork", {false}), is("ci", {"github"s})}};
    SECTION("all hold") {
        const Decision decision =
            decide({rule}, "untrusted",
                   trusted_facts({{"ref_type", "branch"s}, {"fork", false}, {"ci", "github"s}}));
        CHECK(decision.tier == "trusted");
        CHECK(decision.trace.at(0).conditions.size() == 3);
    }
    SECTION("the second fails: the third is not read") {
        const Decision decision = decide(
            {rule}, "untrusted", trusted_facts({{"ref_type", "branch"s}, {"fork", true}, {"ci", "github"s}}));
        CHECK(decision.tier == "untrusted");
        const auto& conditions = decision.trace.at(0).conditions;
        REQUIRE(conditions.size() == 2);
        CHECK(conditions[0].held);
        CHECK_FALSE(conditions[1].held);
        CHECK(conditions[1].fact == "fork");
    }
}

TEST_CASE("the first matching rule wins and later rules are not tried", "[rules]") {
    const std::vector<Rule> rules = {
        {"no", "trusted", "", {is("fork", {true})}},
        {"first", "internal", "", {is("fork", {false})}},
        {"second", "trusted", "", {is("fork", {false})}},
        {"catch-all", "trusted", "", {}},
    };
    const Decision decision = decide(rules, "untrusted", trusted_facts({{"fork", false}}));
    CHECK(decision.tier == "internal");
    CHECK(decision.rule == "first");
    REQUIRE(decision.trace.size() == 2);
    CHECK(decision.trace[0].rule == "no");
    CHECK_FALSE(decision.trace[0].matched);
    CHECK(decision.trace[1].rule == "first");
    CHECK(decision.trace[1].matched);
}

TEST_CASE("a rule that selects the fallback tier is named as the rule", "[rules]") {
    const std::vector<Rule> rules = {{"stop-forks", "untrusted", "", {is("fork", {true})}},
                                     {"rest", "trusted", "", {}}};
    const Decision decision = decide(rules, "untrusted", trusted_facts({{"fork", true}}));
    CHECK(decision.tier == "untrusted");
    CHECK(decision.rule == "stop-forks");
}

TEST_CASE("forced facts end in the fallback tier and no rule is tried", "[rules]") {
    Facts facts = trusted_facts({{"ref_protected", true}, {"change_request", false}});
    facts.forced_untrusted = {"pull_request_target from fork outsider/widget",
                              "author_association CONTRIBUTOR is external"};
    const std::vector<Rule> rules = {{"catch-all", "trusted", "", {}}};
    const Decision decision = decide(rules, "restricted", facts);
    CHECK(decision.tier == "restricted");
    CHECK(decision.rule == "forced: pull_request_target from fork outsider/widget");
    CHECK(decision.trace.empty());
}

TEST_CASE("decide refuses to guess without a fallback tier or a rule's tier", "[rules]") {
    CHECK_THROWS_AS(decide({}, "", Facts{}), jobcell::Error);
    CHECK_THROWS_WITH(decide({{"nameless-tier", "", "", {}}}, "untrusted", Facts{}),
                      "trust rules: rule 'nameless-tier' names no tier");
}

// --- the shipped rules ------------------------------------------------------------------------

namespace {

const jobcell::Policy& shipped() {
    static const jobcell::Policy policy = jobcell::parse_policy(jobcell::builtin_policy_text(), "<built-in>");
    return policy;
}

Decision decide_shipped(const Facts& facts) {
    return decide(shipped().rules, shipped().fallback_tier, facts);
}

constexpr auto response = FactSource::job_response;
constexpr auto payload = FactSource::event_payload;
constexpr auto runner = FactSource::runner_env;

// A GitLab job as the adapter reads it from JOB_RESPONSE_FILE, plus the CUSTOM_ENV_* variables
// the job's own configuration controls.
Facts gitlab_job(const std::string& ref, const std::string& ref_type, bool is_protected, bool merge_request) {
    Facts facts;
    facts.adapter = "gitlab";
    facts.set_trusted("ci", "gitlab"s, FactSource::derived, "JOB_RESPONSE_FILE");
    facts.set_trusted("ref", ref, response, "JOB_RESPONSE_FILE git_info.ref");
    facts.set_trusted("ref_type", ref_type, response, "JOB_RESPONSE_FILE git_info.ref_type");
    facts.set_trusted("ref_protected", is_protected, response, "JOB_RESPONSE_FILE git_info.protected");
    facts.set_trusted("change_request", merge_request, response, "JOB_RESPONSE_FILE git_info.refspecs");
    facts.set_trusted("target_repo", "4711"s, response, "JOB_RESPONSE_FILE job_info.project_id");
    return facts;
}

// A GitHub job as the adapter reads it from GITHUB_EVENT_PATH and the GITHUB_* runner variables.
Facts github_job(const std::string& event, bool ref_protected) {
    Facts facts;
    facts.adapter = "github";
    facts.set_trusted("ci", "github"s, FactSource::derived, "GITHUB_ACTIONS");
    facts.set_trusted("event", event, runner, "GITHUB_EVENT_NAME");
    facts.set_trusted("ref_protected", ref_protected, runner, "GITHUB_REF_PROTECTED");
    facts.set_trusted("target_repo", "acme/widget"s, payload, "event repository.full_name");
    return facts;
}

Facts github_pull_request(const std::string& event, const std::string& head_repo,
                          const std::string& association) {
    Facts facts = github_job(event, false);
    facts.set_trusted("change_request", true, payload, "event pull_request");
    facts.set_trusted("source_repo", head_repo, payload, "event pull_request.head.repo.full_name");
    facts.set_trusted("fork", head_repo != "acme/widget", payload, "event pull_request.head.repo.fork");
    facts.set_trusted("author_association", association, payload, "event pull_request.author_association");
    return facts;
}

}  // namespace

TEST_CASE("the shipped rules, in order, with untrusted as the fallback", "[rules]") {
    CHECK(shipped().fallback_tier == "untrusted");
    std::vector<std::pair<std::string, std::string>> rules;
    for (const auto& rule : shipped().rules) {
        CHECK_FALSE(rule.description.empty());
        rules.emplace_back(rule.name, rule.tier);
    }
    CHECK(rules ==
          std::vector<std::pair<std::string, std::string>>{{"github-base-context-events", "untrusted"},
                                                           {"protected-ref", "trusted"},
                                                           {"unprotected-branch-push", "internal"},
                                                           {"member-change-request", "internal"},
                                                           {"gitlab-same-project-merge-request", "internal"}});
}

TEST_CASE("shipped: a push to a protected GitLab branch is trusted", "[rules]") {
    Facts facts = gitlab_job("main", "branch", true, false);
    facts.set_untrusted("ref_protected", true, "CUSTOM_ENV_CI_COMMIT_REF_PROTECTED");  // agrees
    facts.set_untrusted("event", "push"s, "CUSTOM_ENV_CI_PIPELINE_SOURCE");
    const Decision decision = decide_shipped(facts);
    CHECK(decision.tier == "trusted");
    CHECK(decision.rule == "protected-ref");
    // GitLab's pipeline source is only known from the job's variables: the GitHub rule reads it
    // and does not match.
    CHECK(decision.trace.at(0).conditions.at(0).got ==
          "only from job_env (CUSTOM_ENV_CI_PIPELINE_SOURCE=push), not trusted");
}

TEST_CASE("shipped: a protected tag is trusted, an unprotected tag is not even internal", "[rules]") {
    CHECK(decide_shipped(gitlab_job("v1.2.0", "tag", true, false)).tier == "trusted");
    const Decision decision = decide_shipped(gitlab_job("v1.2.0", "tag", false, false));
    CHECK(decision.tier == "untrusted");
    CHECK(decision.rule == fallback_rule);
}

TEST_CASE("shipped: a push to an unprotected GitLab branch is internal", "[rules]") {
    Facts facts = gitlab_job("feature/faster-parser", "branch", false, false);
    facts.set_untrusted("ref_protected", false, "CUSTOM_ENV_CI_COMMIT_REF_PROTECTED");
    const Decision decision = decide_shipped(facts);
    CHECK(decision.tier == "internal");
    CHECK(decision.rule == "unprotected-branch-push");
}

TEST_CASE("shipped: CI_COMMIT_REF_PROTECTED=true set by a merge request is untrusted", "[rules]") {
    // gitlab-spoofed-protected-env: the job response says an unprotected merge-request ref.
    Facts facts = gitlab_job("main", "branch", false, true);
    facts.set_untrusted("ref_protected", true, "CUSTOM_ENV_CI_COMMIT_REF_PROTECTED");
    facts.set_untrusted("event", "push"s, "CUSTOM_ENV_CI_PIPELINE_SOURCE");
    facts.set_untrusted("source_repo", "4711"s, "CUSTOM_ENV_CI_MERGE_REQUEST_SOURCE_PROJECT_ID");
    const Decision decision = decide_shipped(facts);
    CHECK(decision.tier == "untrusted");
    CHECK(decision.rule == fallback_rule);
    REQUIRE(decision.trace.size() == 5);
    CHECK_THAT(decision.trace[1].conditions.at(0).got, StartsWith("contradicted: "));
    CHECK(decision.trace[3].conditions.back().fact == "fork");
    CHECK(decision.trace[3].conditions.back().got == "missing");
}

TEST_CASE("shipped: only the job's variables, however flattering, are untrusted", "[rules]") {
    // gitlab-no-response-file
    Facts facts;
    facts.adapter = "gitlab";
    facts.set_untrusted("event", "push"s, "CUSTOM_ENV_CI_PIPELINE_SOURCE");
    facts.set_untrusted("ref", "main"s, "CUSTOM_ENV_CI_COMMIT_REF_NAME");
    facts.set_untrusted("ref_protected", true, "CUSTOM_ENV_CI_COMMIT_REF_PROTECTED");
    facts.set_untrusted("change_request", false, "CUSTOM_ENV_CI_MERGE_REQUEST_IID");
    facts.warnings.push_back("JOB_RESPONSE_FILE: not set");
    const Decision decision = decide_shipped(facts);
    CHECK(decision.tier == "untrusted");
    CHECK(decision.rule == fallback_rule);
}

TEST_CASE("shipped: a GitLab merge request without SCM verification is untrusted", "[rules]") {
    // The job response shows a merge-request ref but says nothing of its source project or
    // author; CI_MERGE_REQUEST_SOURCE_PROJECT_ID is the job's to set.
    Facts facts = gitlab_job("patch-1", "branch", false, true);
    facts.set_untrusted("fork", false, "CUSTOM_ENV_CI_MERGE_REQUEST_SOURCE_PROJECT_ID");
    CHECK(decide_shipped(facts).tier == "untrusted");
    // Verification shows the same project: GitLab has no author association, so the member
    // rule cannot match, but gitlab-same-project-merge-request does.
    facts = gitlab_job("patch-1", "branch", false, true);
    facts.set_trusted("fork", false, FactSource::scm_api, "GET /projects/4711/merge_requests/77");
    const Decision decision = decide_shipped(facts);
    CHECK(decision.trace.at(3).conditions.back().fact == "author_association");
    CHECK(decision.trace.at(3).conditions.back().got == "missing");
    CHECK(decision.tier == "internal");
    CHECK(decision.rule == "gitlab-same-project-merge-request");
}

TEST_CASE("shipped: a push to a protected GitHub branch is trusted", "[rules]") {
    Facts facts = github_job("push", true);
    facts.set_trusted("ref", "main"s, runner, "GITHUB_REF");
    facts.set_trusted("ref_type", "branch"s, runner, "GITHUB_REF");
    facts.set_trusted("change_request", false, FactSource::derived, "GITHUB_EVENT_NAME");
    const Decision decision = decide_shipped(facts);
    CHECK(decision.tier == "trusted");
    CHECK(decision.rule == "protected-ref");
}

TEST_CASE("shipped: a same-repository pull request by a member is internal", "[rules]") {
    for (const char* association : {"OWNER", "MEMBER", "COLLABORATOR"}) {
        CAPTURE(association);
        const Decision decision =
            decide_shipped(github_pull_request("pull_request", "acme/widget", association));
        CHECK(decision.tier == "internal");
        CHECK(decision.rule == "member-change-request");
    }
}

TEST_CASE("shipped: a same-repository pull request by anyone else is untrusted", "[rules]") {
    for (const char* association :
         {"CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", "NONE", "MANNEQUIN", "member"}) {
        CAPTURE(association);
        CHECK(decide_shipped(github_pull_request("pull_request", "acme/widget", association)).tier ==
              "untrusted");
    }
}

TEST_CASE("shipped: a fork's pull request is untrusted, forced or not", "[rules]") {
    // As the adapter leaves it: CONTRIBUTOR is external, so the fallback is forced.
    Facts forced = github_pull_request("pull_request", "outsider/widget", "CONTRIBUTOR");
    forced.forced_untrusted.push_back("author_association CONTRIBUTOR is external");
    const Decision decision = decide_shipped(forced);
    CHECK(decision.tier == "untrusted");
    CHECK(decision.rule == "forced: author_association CONTRIBUTOR is external");
    // Even a member's fork is a fork: nothing reviewed its code.
    const Decision member = decide_shipped(github_pull_request("pull_request", "teammate/widget", "MEMBER"));
    CHECK(member.tier == "untrusted");
    CHECK(member.rule == fallback_rule);
}

TEST_CASE("shipped: pull_request_target and workflow_run never rise above untrusted", "[rules]") {
    for (const char* event : {"pull_request_target", "workflow_run"}) {
        CAPTURE(event);
        // The base branch is protected, and an adapter that got change_request wrong must not
        // turn that into trusted.
        Facts facts = github_job(event, true);
        facts.set_trusted("change_request", false, payload, "event");
        Decision decision = decide_shipped(facts);
        CHECK(decision.tier == "untrusted");
        CHECK(decision.rule == "github-base-context-events");
        // A member's same-repository head does not make it internal either.
        decision = decide_shipped(github_pull_request(event, "acme/widget", "MEMBER"));
        CHECK(decision.tier == "untrusted");
        CHECK(decision.rule == "github-base-context-events");
    }
}

TEST_CASE("shipped: an operator's metadata file is trusted like any trusted source", "[rules]") {
    const Facts facts = trusted_facts(
        {{"ci", "generic"s}, {"ref_protected", true}, {"change_request", false}, {"ref_type", "branch"s}},
        FactSource::operator_file);
    CHECK(decide_shipped(facts).tier == "trusted");
}

TEST_CASE("shipped: a job without metadata is untrusted", "[rules]") {
    Facts facts;
    facts.adapter = "none";
    const Decision decision = decide_shipped(facts);
    CHECK(decision.tier == "untrusted");
    CHECK(decision.rule == fallback_rule);
    CHECK(decision.trace.size() == shipped().rules.size());
}

// Every combination of how the deciding facts may stand, against the DESIGN.md table stated
// independently of the rules, and the one rule of trust: a fact known only from the job's
// variables, or contradicted, changes nothing compared with not knowing it at all.
TEST_CASE("shipped: every combination of fact states against the DESIGN.md table", "[rules]") {
    enum class State { missing, trusted, untrusted, contradicted };
    struct Option {
        State state;
        FactValue value;
    };
    const auto options = [](std::vector<FactValue> values) {
        std::vector<Option> result{{State::missing, false}};
        for (const auto& value : values) {
            result.push_back({State::trusted, value});
            result.push_back({State::untrusted, value});
        }
        result.push_back({State::contradicted, values.front()});
        return result;
    };
    const std::array<std::string, 6> names = {"ref_protected", "change_request",     "fork",
                                              "ref_type",      "author_association", "event"};
    const std::array<std::vector<Option>, 6> choices = {
        options({true, false}),
        options({true, false}),
        options({true, false}),
        options({"branch"s, "tag"s}),
        options({"MEMBER"s, "CONTRIBUTOR"s}),
        options({"push"s, "pull_request_target"s}),
    };

    const auto build = [&](const std::array<std::size_t, 6>& pick, bool drop_unusable) {
        Facts facts;
        for (std::size_t i = 0; i < names.size(); ++i) {
            const Option& option = choices[i][pick[i]];
            if (drop_unusable && option.state != State::trusted) continue;
            switch (option.state) {
                case State::missing:
                    break;
                case State::trusted:
                    facts.set_trusted(names[i], option.value, payload, "payload");
                    break;
                case State::untrusted:
                    facts.set_untrusted(names[i], option.value, "CI_VARIABLE");
                    break;
                case State::contradicted:
                    facts.set_trusted(names[i], option.value, payload, "payload");
                    facts.contradictions[names[i]] = "test";
                    break;
            }
        }
        return facts;
    };
    // The table, read only from trusted facts.
    const auto expected = [&](const std::array<std::size_t, 6>& pick) {
        const auto has = [&](std::size_t i, const FactValue& value) {
            const Option& option = choices[i][pick[i]];
            return option.state == State::trusted && option.value == value;
        };
        if (has(5, "pull_request_target"s)) return "untrusted";
        if (has(0, true) && has(1, false)) return "trusted";
        if (has(1, false) && has(0, false) && has(3, "branch"s)) return "internal";
        if (has(1, true) && has(2, false) && has(4, "MEMBER"s)) return "internal";
        return "untrusted";
    };

    std::size_t combinations = 0;
    std::vector<std::string> mismatches;
    std::array<std::size_t, 6> pick{};
    for (;;) {
        ++combinations;
        const std::string tier = decide_shipped(build(pick, false)).tier;
        const std::string without_unusable = decide_shipped(build(pick, true)).tier;
        if (tier != expected(pick) || tier != without_unusable) {
            std::string text = "got " + tier + ", table says " + expected(pick) +
                               ", trusted facts alone give " + without_unusable + " for";
            for (std::size_t i = 0; i < names.size(); ++i)
                text += " " + names[i] + "#" + std::to_string(pick[i]);
            mismatches.push_back(text);
        }
        std::size_t i = 0;
        while (i < pick.size() && ++pick[i] == choices[i].size()) pick[i++] = 0;
        if (i == pick.size()) break;
    }
    CHECK(combinations == 6 * 6 * 6 * 6 * 6 * 6);
    CAPTURE(mismatches.size());
    CHECK(mismatches == std::vector<std::string>{});
}
