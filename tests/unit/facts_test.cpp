// Facts: provenance and the contradiction rule ("only trusted sources may raise trust; any
// source may lower it"), and the facts derived after every adapter.
#include <catch2/catch.hpp>

#include "tests/unit/fact_helpers.hpp"
#include "launcher/facts.hpp"
#include "launcher/metadata.hpp"

using namespace jobcell;
using namespace jobcell::testing;

namespace {

}  // namespace

TEST_CASE("fact sources: only job_env is untrusted", "[facts]") {
    for (FactSource source : {FactSource::job_response, FactSource::event_payload, FactSource::runner_env,
                              FactSource::operator_file, FactSource::scm_api, FactSource::derived}) {
        CHECK(is_trusted(source));
    }
    CHECK_FALSE(is_trusted(FactSource::job_env));
    CHECK(std::string(fact_source_name(FactSource::job_response)) == "job_response");
    CHECK(std::string(fact_source_name(FactSource::event_payload)) == "event_payload");
    CHECK(std::string(fact_source_name(FactSource::runner_env)) == "runner_env");
    CHECK(std::string(fact_source_name(FactSource::operator_file)) == "operator_file");
    CHECK(std::string(fact_source_name(FactSource::scm_api)) == "scm_api");
    CHECK(std::string(fact_source_name(FactSource::derived)) == "derived");
    CHECK(std::string(fact_source_name(FactSource::job_env)) == "job_env");
}

TEST_CASE("fact names and types", "[facts]") {
    CHECK(kFactNames.size() == 11);
    for (const char* name : {"ci", "event", "ref", "ref_type", "ref_protected", "change_request", "source_repo",
                             "target_repo", "fork", "author_association", "approved"}) {
        CHECK(is_fact_name(name));
    }
    CHECK_FALSE(is_fact_name("protected"));
    CHECK_FALSE(is_fact_name(""));
    CHECK(is_bool_fact("ref_protected"));
    CHECK(is_bool_fact("change_request"));
    CHECK(is_bool_fact("fork"));
    CHECK(is_bool_fact("approved"));
    CHECK_FALSE(is_bool_fact("ref"));
    CHECK(fact_value_text(true) == "true");
    CHECK(fact_value_text(false) == "false");
    CHECK(fact_value_text(std::string("main")) == "main");
}

TEST_CASE("a trusted value is usable; an untrusted one never is", "[facts]") {
    Facts facts;
    facts.set_trusted("ref_protected", true, FactSource::job_response, "JOB_RESPONSE_FILE git_info.protected");
    REQUIRE(facts.usable("ref_protected") != nullptr);
    CHECK(facts.usable("ref_protected")->source == FactSource::job_response);
    CHECK(facts.usable("ref_protected")->origin == "JOB_RESPONSE_FILE git_info.protected");

    facts.set_untrusted("event", std::string("push"), "CUSTOM_ENV_CI_PIPELINE_SOURCE");
    CHECK(facts.usable("event") == nullptr);
    CHECK(facts.untrusted.count("event") == 1);
    CHECK(facts.usable("fork") == nullptr);  // never set

    SECTION("set_trusted with an untrusted source records it as untrusted") {
        facts.set_trusted("ref", std::string("main"), FactSource::job_env, "CI_COMMIT_REF_NAME");
        CHECK(facts.usable("ref") == nullptr);
        CHECK(facts.trusted.count("ref") == 0);
        CHECK(facts.untrusted.count("ref") == 1);
    }
}

TEST_CASE("contradictions: any disagreement makes a fact unusable", "[facts]") {
    Facts facts;
    SECTION("two trusted values that agree") {
        facts.set_trusted("target_repo", std::string("acme/widget"), FactSource::runner_env, "GITHUB_REPOSITORY");
        facts.set_trusted("target_repo", std::string("acme/widget"), FactSource::event_payload,
                          "GITHUB_EVENT_PATH repository.full_name");
        CHECK(usable_is(facts, "target_repo", std::string("acme/widget")));
        CHECK(facts.contradictions.empty());
    }
    SECTION("two trusted values that differ") {
        facts.set_trusted("target_repo", std::string("acme/widget"), FactSource::runner_env, "GITHUB_REPOSITORY");
        facts.set_trusted("target_repo", std::string("evil/widget"), FactSource::event_payload,
                          "GITHUB_EVENT_PATH repository.full_name");
        CHECK(facts.usable("target_repo") == nullptr);
        REQUIRE(facts.contradictions.count("target_repo") == 1);
        CHECK(facts.contradictions["target_repo"].find("GITHUB_REPOSITORY says acme/widget") != std::string::npos);
        CHECK(facts.contradictions["target_repo"].find("evil/widget") != std::string::npos);
        // the first trusted value stays for explain
        CHECK(facts.trusted.at("target_repo").value == FactValue{std::string("acme/widget")});
    }
    SECTION("an untrusted value that differs from the trusted one, set after it") {
        facts.set_trusted("ref_protected", false, FactSource::job_response, "JOB_RESPONSE_FILE git_info.protected");
        facts.set_untrusted("ref_protected", true, "CUSTOM_ENV_CI_COMMIT_REF_PROTECTED");
        CHECK(facts.usable("ref_protected") == nullptr);
        CHECK(facts.contradictions.count("ref_protected") == 1);
    }
    SECTION("an untrusted value that differs from the trusted one, set before it") {
        facts.set_untrusted("fork", true, "CUSTOM_ENV_CI_MERGE_REQUEST_SOURCE_PROJECT_ID");
        facts.set_trusted("fork", false, FactSource::derived, "source_repo == target_repo");
        CHECK(facts.usable("fork") == nullptr);
        CHECK(facts.contradictions.count("fork") == 1);
    }
    SECTION("an untrusted value that agrees changes nothing") {
        facts.set_untrusted("ref_protected", true, "CUSTOM_ENV_CI_COMMIT_REF_PROTECTED");
        facts.set_trusted("ref_protected", true, FactSource::job_response, "JOB_RESPONSE_FILE git_info.protected");
        CHECK(usable_is(facts, "ref_protected", true));
    }
    SECTION("two untrusted values that differ: a predefined variable was overridden") {
        facts.set_untrusted("event", std::string("merge_request_event"), "JOB_RESPONSE_FILE variables CI_PIPELINE_SOURCE");
        facts.set_untrusted("event", std::string("push"), "CUSTOM_ENV_CI_PIPELINE_SOURCE");
        CHECK(facts.contradictions.count("event") == 1);
        // and a trusted value arriving later cannot make it usable again
        facts.set_trusted("event", std::string("push"), FactSource::scm_api, "GET /projects/1/pipelines/2");
        CHECK(facts.usable("event") == nullptr);
    }
    SECTION("a string for a bool fact is refused, not stored") {
        facts.set_trusted("fork", std::string("false"), FactSource::operator_file, "file:/m.json fork");
        CHECK(facts.trusted.count("fork") == 0);
        CHECK(facts.warnings.size() == 1);
    }
    SECTION("an unknown fact name is refused") {
        facts.set_trusted("protected", true, FactSource::operator_file, "file:/m.json protected");
        CHECK(facts.trusted.empty());
        CHECK(facts.warnings.size() == 1);
    }
}

TEST_CASE("derived facts: fork from source and target, external authors", "[facts][meta]") {
    Facts facts;
    SECTION("same repository: not a fork") {
        facts.set_trusted("source_repo", std::string("4711"), FactSource::job_response, "a");
        facts.set_trusted("target_repo", std::string("4711"), FactSource::job_response, "b");
        derive_facts(facts);
        REQUIRE(usable_is(facts, "fork", false));
        CHECK(facts.usable("fork")->source == FactSource::derived);
    }
    SECTION("different repositories: a fork") {
        facts.set_trusted("source_repo", std::string("outsider/widget"), FactSource::event_payload, "a");
        facts.set_trusted("target_repo", std::string("acme/widget"), FactSource::event_payload, "b");
        derive_facts(facts);
        CHECK(usable_is(facts, "fork", true));
    }
    SECTION("a trusted fork=false that the repositories contradict") {
        facts.set_trusted("fork", false, FactSource::operator_file, "file:/m.json fork");
        facts.set_trusted("source_repo", std::string("9120"), FactSource::operator_file, "file:/m.json source_repo");
        facts.set_trusted("target_repo", std::string("4711"), FactSource::operator_file, "file:/m.json target_repo");
        derive_facts(facts);
        CHECK(facts.usable("fork") == nullptr);
        CHECK(facts.contradictions.count("fork") == 1);
    }
    SECTION("a trusted fork=true stays even when the names agree: lowering is always allowed") {
        facts.set_trusted("fork", true, FactSource::event_payload, "GITHUB_EVENT_PATH pull_request.head.repo");
        facts.set_trusted("source_repo", std::string("me/widget"), FactSource::event_payload, "a");
        facts.set_trusted("target_repo", std::string("me/widget"), FactSource::event_payload, "b");
        derive_facts(facts);
        CHECK(usable_is(facts, "fork", true));
    }
    SECTION("one side untrusted: nothing derived") {
        facts.set_untrusted("source_repo", std::string("4711"), "CUSTOM_ENV_CI_MERGE_REQUEST_SOURCE_PROJECT_ID");
        facts.set_trusted("target_repo", std::string("4711"), FactSource::job_response, "b");
        derive_facts(facts);
        CHECK(facts.usable("fork") == nullptr);
    }
    SECTION("external author associations force the fallback, from any source") {
        for (const char* association : {"FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", "NONE", "MANNEQUIN", "CONTRIBUTOR"}) {
            Facts trusted_facts;
            trusted_facts.set_trusted("author_association", std::string(association), FactSource::event_payload, "a");
            derive_facts(trusted_facts);
            CHECK(trusted_facts.forced_untrusted.size() == 1);
            Facts untrusted_facts;
            untrusted_facts.set_untrusted("author_association", std::string(association), "SOME_VARIABLE");
            derive_facts(untrusted_facts);
            CHECK(untrusted_facts.forced_untrusted.size() == 1);
        }
        for (const char* association : {"OWNER", "MEMBER", "COLLABORATOR"}) {
            Facts member;
            member.set_trusted("author_association", std::string(association), FactSource::event_payload, "a");
            derive_facts(member);
            CHECK(member.forced_untrusted.empty());
        }
    }
    SECTION("deriving twice adds nothing twice") {
        facts.set_trusted("author_association", std::string("NONE"), FactSource::event_payload, "a");
        derive_facts(facts);
        derive_facts(facts);
        CHECK(facts.forced_untrusted.size() == 1);
    }
}
