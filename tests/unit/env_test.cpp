#include <catch2/catch.hpp>

#include "sandbox/env.hpp"

using namespace jobcell;

TEST_CASE("the job's environment is built, not inherited", "[env]") {
    JobUser user;
    EnvList host = {{"CI_JOB_TOKEN", "secret"}, {"AWS_SECRET_ACCESS_KEY", "k"}, {"PATH", "/host/bin"},
                    {"CI_JOB_ID", "42"}, {"HOME", "/root"}};

    SECTION("nothing of the host passes by default") {
        EnvList env = build_job_env(user, host, {}, {}, {});
        CHECK(env_get(env, "CI_JOB_TOKEN") == nullptr);
        CHECK(env_get(env, "AWS_SECRET_ACCESS_KEY") == nullptr);
        CHECK(*env_get(env, "PATH") == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        CHECK(*env_get(env, "HOME") == "/home/job");
        CHECK(*env_get(env, "CI") == "true");
    }
    SECTION("the tier's pass list, by name and by prefix") {
        EnvList env = build_job_env(user, host, {"CI_*"}, {}, {});
        CHECK(*env_get(env, "CI_JOB_TOKEN") == "secret");
        CHECK(*env_get(env, "CI_JOB_ID") == "42");
        CHECK(env_get(env, "AWS_SECRET_ACCESS_KEY") == nullptr);
    }
    SECTION("order: base, pass, set, then --env; a later value replaces in place") {
        EnvList env = build_job_env(user, host, {"CI_JOB_ID"}, {{"CI_JOB_ID", "7"}, {"X", "1"}},
                                    {"X=2", "AWS_SECRET_ACCESS_KEY", "MISSING_ON_HOST"});
        CHECK(*env_get(env, "CI_JOB_ID") == "7");
        CHECK(*env_get(env, "X") == "2");
        CHECK(*env_get(env, "AWS_SECRET_ACCESS_KEY") == "k");
        CHECK(env_get(env, "MISSING_ON_HOST") == nullptr);
        int count = 0;
        for (auto& kv : env) count += kv.first == "X";
        CHECK(count == 1);
    }
}

TEST_CASE("env patterns and names", "[env]") {
    CHECK(env_pattern_matches("CI_*", "CI_JOB_ID"));
    CHECK_FALSE(env_pattern_matches("CI_*", "XCI_JOB_ID"));
    CHECK(env_pattern_matches("TERM", "TERM"));
    CHECK_FALSE(env_pattern_matches("TERM", "TERMINAL"));
    CHECK(valid_env_name("A_1"));
    CHECK_FALSE(valid_env_name("1A"));
    CHECK_FALSE(valid_env_name("A-B"));
    CHECK_FALSE(valid_env_name(""));
}

TEST_CASE("parse_environ splits at the first '='", "[env]") {
    const char* envp[] = {"A=1", "B=x=y", "NOEQUALS", nullptr};
    EnvList env = parse_environ(envp);
    REQUIRE(env.size() == 2);
    CHECK(env[1].second == "x=y");
}
