// Rootless mode's pure parts: the spec it plans, what it refuses, and how slirp4netns is found
// and started.
#include <catch2/catch.hpp>

#include "launcher/policy.hpp"
#include "launcher/spec_resolve.hpp"
#include "net/slirp_uplink.hpp"
#include "sandbox/error.hpp"

using namespace jobcell;

namespace {
std::string same_path(const std::string& p) { return p; }
Policy shipped() { return parse_policy(builtin_policy_text(), "<built-in policy>"); }
RunRequest rootless_request() {
    RunRequest r;
    r.command = {"make"};
    r.rootless_invoker = RunRequest::Invoker{1234, 5678};
    r.memory_bytes = 0;
    r.cpus = 0;
    return r;
}
}  // namespace

TEST_CASE("rootless: the cell is planned for the invoking user's ids", "[rootless]") {
    SandboxSpec spec = resolve_spec(shipped(), rootless_request(), {}, "/home/u/src", same_path);
    CHECK(spec.rootless);
    CHECK(spec.host_uid == 1234);
    CHECK(spec.host_gid == 5678);
    CHECK(spec.limits.memory_bytes == 0);
    CHECK(spec.limits.cpus == 0);
    CHECK(spec.limits.pids != 0);  // kept: enforced as RLIMIT_NPROC
    RunRequest root = rootless_request();
    root.rootless_invoker.reset();
    CHECK_FALSE(resolve_spec(shipped(), root, {}, "/home/u/src", same_path).rootless);
}

TEST_CASE("rootless: memory and cpu limits it cannot enforce are refused, naming the flag", "[rootless]") {
    RunRequest both = rootless_request();
    both.memory_bytes.reset();
    both.cpus.reset();
    CHECK_THROWS_WITH(resolve_spec(shipped(), both, {}, "/w", same_path),
                      "rootless: tier untrusted's memory and cpu limits need a cgroup, which jobcell can only create "
                      "as root; run jobcell as root, or pass --memory 0 --cpus 0 to run without them");
    RunRequest r = rootless_request();
    r.memory_bytes.reset();  // the tier's, as set in the shipped policy
    CHECK_THROWS_WITH(resolve_spec(shipped(), r, {}, "/w", same_path),
                      Catch::Matches("rootless: tier untrusted's memory limit needs a cgroup.*--memory 0.*"));
    r = rootless_request();
    r.cpus.reset();
    CHECK_THROWS_WITH(resolve_spec(shipped(), r, {}, "/w", same_path),
                      Catch::Matches("rootless: tier untrusted's cpu limit needs a cgroup.*--cpus 0.*"));
}

TEST_CASE("slirp4netns: found only in absolute PATH entries", "[rootless]") {
    static std::vector<std::string> asked;
    asked.clear();
    auto only_usr_bin = [](const std::string& path) {
        asked.push_back(path);
        return path == "/usr/bin/slirp4netns";
    };
    CHECK(find_program("slirp4netns", "bin:/opt/x/:/usr/bin:/bin", only_usr_bin) == "/usr/bin/slirp4netns");
    CHECK(asked == std::vector<std::string>{"/opt/x/slirp4netns", "/usr/bin/slirp4netns"});
    CHECK(find_program("slirp4netns", ".::relative", only_usr_bin).empty());
    CHECK(find_program("slirp4netns", "", only_usr_bin).empty());
}

TEST_CASE("slirp4netns: no host loopback, no DNS proxy of its own, seccomp on, jobcell configures tap0", "[rootless]") {
    const auto argv = slirp4netns_argv("/usr/bin/slirp4netns", 4242, 3, 4);
    CHECK(argv == std::vector<std::string>{"/usr/bin/slirp4netns", "--disable-host-loopback", "--disable-dns",
                                           "--enable-seccomp", "--ready-fd=3", "--exit-fd=4", "4242", "tap0"});
}
