#include <catch2/catch.hpp>

#include "launcher/policy.hpp"
#include "launcher/spec_json.hpp"
#include "launcher/spec_resolve.hpp"
#include "sandbox/error.hpp"

using namespace jobcell;
using namespace std::chrono_literals;

namespace {
std::string same_path(const std::string& p) { return p; }
Policy shipped() { return parse_policy(builtin_policy_text(), "<built-in policy>"); }
RunRequest request_for(std::vector<std::string> command) {
    RunRequest r;
    r.command = std::move(command);
    return r;
}
}  // namespace

TEST_CASE("without --tier the job is untrusted", "[spec]") {
    SandboxSpec spec = resolve_spec(shipped(), request_for({"make"}), {}, "/builds/x", same_path);
    CHECK(spec.tier == "untrusted");
    CHECK(spec.workspace == "/builds/x");
    CHECK(spec.command == std::vector<std::string>{"make"});
    CHECK(spec.network == "none");
    CHECK(spec.user.uid != 0);
    CHECK(spec.id_base != 0);
}

TEST_CASE("command-line values override the tier's", "[spec]") {
    RunRequest r = request_for({"true"});
    r.tier = "internal";
    r.memory_bytes = 256ull << 20;
    r.pids = 64;
    r.cpus = 0.5;
    r.timeout = 90s;
    r.kill_grace = 2s;
    r.tmpfs_bytes = 64ull << 20;
    r.workspace = "rel/dir";
    SandboxSpec spec = resolve_spec(shipped(), r, {}, "/cwd", same_path);
    CHECK(spec.tier == "internal");
    CHECK(spec.limits.memory_bytes == 256ull << 20);
    CHECK(spec.limits.pids == 64);
    CHECK(spec.limits.cpus == 0.5);
    CHECK(spec.limits.timeout == 90s);
    CHECK(spec.limits.kill_grace == 2s);
    CHECK(spec.limits.tmpfs_bytes == 64ull << 20);
    CHECK(spec.workspace == "/cwd/rel/dir");
    Policy p = shipped();
    CHECK(spec.limits.tmpfs_inodes == p.tier("internal").limits.tmpfs_inodes);
}

TEST_CASE("untrusted jobs get no host secrets; --env is explicit", "[spec]") {
    EnvList host = {{"CI_JOB_TOKEN", "tok"}, {"GITHUB_TOKEN", "gh"}, {"VISIBLE", "v"}};
    RunRequest r = request_for({"true"});
    r.env = {"VISIBLE", "EXTRA=1"};
    SandboxSpec spec = resolve_spec(shipped(), r, host, "/w", same_path);
    CHECK(env_get(spec.env, "CI_JOB_TOKEN") == nullptr);
    CHECK(env_get(spec.env, "GITHUB_TOKEN") == nullptr);
    CHECK(*env_get(spec.env, "VISIBLE") == "v");
    CHECK(*env_get(spec.env, "EXTRA") == "1");
    CHECK(*env_get(spec.env, "JOBCELL_TIER") == "untrusted");

    r.tier = "trusted";
    SandboxSpec trusted = resolve_spec(shipped(), r, host, "/w", same_path);
    CHECK(*env_get(trusted.env, "CI_JOB_TOKEN") == "tok");
}

TEST_CASE("bad requests are refused before anything starts", "[spec]") {
    RunRequest r = request_for({"true"});
    r.tier = "nosuch";
    CHECK_THROWS_WITH(resolve_spec(shipped(), r, {}, "/w", same_path), Catch::Contains("unknown tier 'nosuch'"));
    CHECK_THROWS_WITH(resolve_spec(shipped(), request_for({}), {}, "/w", same_path), Catch::Contains("no command"));
    RunRequest bad_env = request_for({"true"});
    bad_env.env = {"1BAD=x"};
    CHECK_THROWS_WITH(resolve_spec(shipped(), bad_env, {}, "/w", same_path), Catch::Contains("not a variable name"));
    for (const char* ws : {"/", "/usr", "/usr/local/src", "/etc", "/proc/1", "/dev"}) {
        RunRequest w = request_for({"true"});
        w.workspace = ws;
        CHECK_THROWS_WITH(resolve_spec(shipped(), w, {}, "/w", same_path), Catch::Contains("overlaps"));
    }
    RunRequest fine = request_for({"true"});
    fine.workspace = "/usrdata/x";  // a prefix of a system dir's name is not inside it
    CHECK(resolve_spec(shipped(), fine, {}, "/w", same_path).workspace == "/usrdata/x");
}

TEST_CASE("the dry-run JSON never prints a secret value", "[spec]") {
    EnvList host = {{"CI_JOB_TOKEN", "tok-canary"}};
    RunRequest r = request_for({"true"});
    r.tier = "trusted";
    r.env = {"API_KEY=key-canary"};
    auto json = spec_to_json(resolve_spec(shipped(), r, host, "/w", same_path));
    std::string text = json.dump();
    CHECK(text.find("tok-canary") == std::string::npos);
    CHECK(text.find("key-canary") == std::string::npos);
    CHECK(json["env"]["CI_JOB_TOKEN"] == "<set>");
    CHECK(json["env"]["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    CHECK(json["tier"] == "trusted");
    CHECK(json["limits"]["memory"] == "8 GiB");
}

TEST_CASE("a workspace is named by its real path: no symlink on the way", "[spec]") {
    auto through_link = [](const std::string& p) -> std::string { return p == "/builds/link/ws" ? "/root" : p; };
    RunRequest r = request_for({"true"});
    r.workspace = "/builds/link/ws";
    CHECK_THROWS_WITH(resolve_spec(shipped(), r, {}, "/w", through_link),
                      Catch::Contains("goes through a symlink (it is really /root)"));
    r.workspace = "/builds/./x//y/../ws/";  // only spelled differently: fine
    CHECK(resolve_spec(shipped(), r, {}, "/w", through_link).workspace == "/builds/x/ws");
}

TEST_CASE("workspace: the host's shared directories and jobcell's own state are refused", "[spec]") {
    auto at = [](const std::string& ws) {
        RunRequest r = request_for({"true"});
        r.workspace = ws;
        return resolve_spec(shipped(), r, {}, "/", same_path);
    };
    for (const char* dir : {"/root", "/home", "/var", "/var/lib", "/run", "/tmp", "/boot"})
        CHECK_THROWS_WITH(at(dir), std::string("workspace ") + dir +
                                       ": a directory the whole host shares; give the job a directory of its own");
    CHECK_THROWS_WITH(at("/var/lib/jobcell/gitlab"), "workspace /var/lib/jobcell/gitlab: it is inside jobcell's own state");
    CHECK_THROWS_WITH(at("/var/lib/jobcell/gitlab/jobs/7"), Catch::Contains("inside jobcell's own state"));
    CHECK_THROWS_WITH(at("/run"), Catch::Contains("shares"));
    CHECK_THROWS_WITH(at("/run/jobcell"), "workspace /run/jobcell: it holds jobcell's own state (/run/jobcell)");
    // a GitLab job's own builds directory is its workspace by design; ordinary subdirectories pass
    CHECK(at("/var/lib/jobcell/gitlab/jobs/7/builds").workspace == "/var/lib/jobcell/gitlab/jobs/7/builds");
    CHECK(at("/tmp/ws").workspace == "/tmp/ws");
    CHECK(at("/home/alice/src").workspace == "/home/alice/src");
    CHECK(at("/root/project").workspace == "/root/project");
    RunRequest empty = request_for({"true"});
    empty.workspace = "";
    CHECK_THROWS_WITH(resolve_spec(shipped(), empty, {}, "/root", same_path),
                      "--workspace: empty (an unset variable?); give the job's directory");
}
