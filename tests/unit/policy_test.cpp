#include "launcher/policy.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <catch2/catch.hpp>

#include "sandbox/error.hpp"

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using Catch::Matchers::StartsWith;
using jobcell::Error;
using jobcell::parse_policy;
using jobcell::Policy;

namespace {

constexpr std::uint64_t GiB = std::uint64_t{1} << 30;
const std::string shipped_path = std::string(JOBCELL_SOURCE_DIR) + "/profiles/policy.toml";

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A policy with one tier whose body is `tier_body`; the tier's first line is line 3.
std::string with_tier(const std::string& tier_body) {
    return "version = 1\n[tiers.untrusted]\n" + tier_body;
}

// A policy whose [cell] has `cell_body` (its first line is line 3) and one empty tier.
std::string with_cell(const std::string& cell_body) {
    return "version = 1\n[cell]\n" + cell_body + "\n[tiers.untrusted]\n";
}

// A policy whose `body` begins on line 2, followed by the tiers trusted and untrusted.
std::string with_rules(const std::string& body) {
    return "version = 1\n" + body + "\n[tiers.trusted]\n[tiers.untrusted]\n";
}

// One rule "a" selecting trusted whose `when` value begins at line 5, column 8.
std::string with_when(const std::string& when) {
    return with_rules("[[rules]]\nname = \"a\"\ntier = \"trusted\"\nwhen = " + when + "\n");
}

// A policy whose [verify] table has `body` (its first line is line 3).
std::string with_verify(const std::string& body) {
    return "version = 1\n[verify]\n" + body + "\n[tiers.untrusted]\n";
}

// The message parse_policy throws for `text`, read as "p.toml".
std::string error_of(const std::string& text) {
    try {
        parse_policy(text, "p.toml");
    } catch (const Error& e) {
        return e.what();
    }
    FAIL("no error for:\n" << text);
    return {};
}

// A file in a fresh temporary directory, removed at the end of the test.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "jobcell-policy-test-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string write(const std::string& name, const std::string& text) const {
        const auto file = path / name;
        std::ofstream(file) << text;
        return file.string();
    }
};

}  // namespace

// --- the shipped policy -------------------------------------------------------------------

TEST_CASE("the built-in policy is profiles/policy.toml, byte for byte", "[policy]") {
    CHECK(std::string(jobcell::builtin_policy_text()) == read_text(shipped_path));
}

TEST_CASE("the shipped policy parses, with the three tiers", "[policy]") {
    const Policy policy = parse_policy(read_text(shipped_path), shipped_path);
    CHECK(policy.source == shipped_path);
    REQUIRE(policy.tiers.size() == 3);
    for (const char* name : {"trusted", "internal", "untrusted"}) {
        CAPTURE(name);
        const auto& tier = policy.tier(name);
        CHECK(tier.name == name);
        CHECK_FALSE(tier.description.empty());
        // Only the untrusted tier is cut off; the others reach their public registries.
        CHECK(tier.network == (std::string(name) == "untrusted" ? "none" : "allowlist"));
        CHECK(tier.allow.empty() == (std::string(name) == "untrusted"));
        CHECK(tier.seccomp == "default");
        REQUIRE(tier.env_set.size() == 1);
        CHECK(tier.env_set[0] == std::pair<std::string, std::string>("JOBCELL_TIER", name));
        // Every shipped tier has every limit set: "no limit" is no default for a CI job.
        CHECK(tier.limits.memory_bytes > 0);
        CHECK(tier.limits.pids > 0);
        CHECK(tier.limits.timeout > 0ms);
        CHECK(tier.limits.tmpfs_bytes > 0);
        CHECK(tier.limits.tmpfs_inodes > 0);
        CHECK(tier.limits.kill_grace > 0ms);
    }
}

TEST_CASE("shipped tiers tighten from trusted to internal to untrusted", "[policy]") {
    const Policy policy = parse_policy(jobcell::builtin_policy_text(), "<built-in policy>");
    const auto& trusted = policy.tier("trusted").limits;
    const auto& internal = policy.tier("internal").limits;
    const auto& untrusted = policy.tier("untrusted").limits;
    CHECK(untrusted.memory_bytes < internal.memory_bytes);
    CHECK(internal.memory_bytes < trusted.memory_bytes);
    CHECK(untrusted.pids < internal.pids);
    CHECK(internal.pids < trusted.pids);
    CHECK(untrusted.timeout < internal.timeout);
    CHECK(internal.timeout < trusted.timeout);
    CHECK(untrusted.tmpfs_bytes < internal.tmpfs_bytes);
    CHECK(internal.tmpfs_bytes < trusted.tmpfs_bytes);
    // A cpu quota of 0 means none, the loosest of all.
    CHECK(untrusted.cpus > 0);
    CHECK(untrusted.cpus <= internal.cpus);
}

TEST_CASE("the shipped untrusted tier, value by value", "[policy]") {
    const auto tier = parse_policy(jobcell::builtin_policy_text(), "<built-in policy>").tier("untrusted");
    CHECK(tier.limits.timeout == 30min);
    CHECK(tier.limits.kill_grace == 10s);
    CHECK(tier.limits.memory_bytes == 2 * GiB);
    CHECK(tier.limits.pids == 1024);
    CHECK(tier.limits.cpus == 1);
    CHECK(tier.limits.tmpfs_bytes == GiB);
    CHECK(tier.limits.tmpfs_inodes == 200'000);
    CHECK(tier.env_pass.empty());  // no secrets, not even the job token
}

TEST_CASE("the shipped cell layout", "[policy]") {
    const auto cell = parse_policy(jobcell::builtin_policy_text(), "<built-in policy>").cell;
    CHECK(cell.system_dirs.front() == "/usr");
    CHECK(cell.system_dirs.size() == 7);
    CHECK(cell.host_etc.front() == "alternatives");
    CHECK(cell.user.name == "job");
    CHECK(cell.user.uid == 1000);
    CHECK(cell.user.gid == 1000);
    CHECK(cell.user.home == "/home/job");
    CHECK(cell.hostname == "jobcell");
    CHECK(cell.id_base == 1'700'000'000);
    for (const auto& entry : cell.host_etc) {
        CHECK(entry != "shadow");
        CHECK(entry.find("ssh") == std::string::npos);
    }
}

TEST_CASE("the shipped trusted tier passes CI variables by prefix", "[policy]") {
    const auto tier = parse_policy(jobcell::builtin_policy_text(), "<built-in policy>").tier("trusted");
    CHECK(tier.env_pass == std::vector<std::string>{"CI_*", "GITLAB_*", "GITHUB_*", "RUNNER_*"});
    CHECK(tier.limits.cpus == 0);
}

// --- values and defaults -----------------------------------------------------------------

TEST_CASE("missing keys keep the defaults of the structs", "[policy]") {
    const Policy policy = parse_policy("version = 1\n[tiers.bare]\n", "p.toml");
    const auto& tier = policy.tier("bare");
    const jobcell::CellLimits limits;
    CHECK(tier.limits.memory_bytes == limits.memory_bytes);
    CHECK(tier.limits.pids == limits.pids);
    CHECK(tier.limits.cpus == limits.cpus);
    CHECK(tier.limits.timeout == limits.timeout);
    CHECK(tier.limits.kill_grace == limits.kill_grace);
    CHECK(tier.network == "none");
    CHECK(tier.seccomp == "default");
    CHECK(tier.env_pass.empty());
    CHECK(tier.env_set.empty());
    const jobcell::CellPolicy cell;
    CHECK(policy.cell.user.name == cell.user.name);
    CHECK(policy.cell.user.uid == cell.user.uid);
    CHECK(policy.cell.hostname == cell.hostname);
    CHECK(policy.cell.system_dirs.empty());
}

TEST_CASE("every tier value is read", "[policy]") {
    const auto tier = parse_policy(with_tier("description = \"d\"\n"
                                             "timeout = \"1h30m15s\"\n"
                                             "kill_grace = \"250ms\"\n"
                                             "memory = \"1.5G\"\n"
                                             "pids = 0\n"
                                             "cpus = 1.5\n"
                                             "tmpfs_size = 4096\n"
                                             "tmpfs_inodes = 0\n"
                                             "network = \"allowlist\"\n"
                                             "env_pass = [\"HOME\", \"CI_*\", \"_x1\"]\n"),
                                   "p.toml")
                          .tier("untrusted");
    CHECK(tier.description == "d");
    CHECK(tier.limits.timeout == 1h + 30min + 15s);
    CHECK(tier.limits.kill_grace == 250ms);
    CHECK(tier.limits.memory_bytes == GiB + GiB / 2);
    CHECK(tier.limits.pids == 0);
    CHECK(tier.limits.cpus == 1.5);
    CHECK(tier.limits.tmpfs_bytes == 4096);
    CHECK(tier.limits.tmpfs_inodes == 0);
    CHECK(tier.network == "allowlist");
    CHECK(tier.env_pass == std::vector<std::string>{"HOME", "CI_*", "_x1"});
}

TEST_CASE("limits of 0 mean none, and a timeout of 0 is allowed", "[policy]") {
    for (const char* body : {"timeout = 0\n", "timeout = \"0s\"\n", "timeout = \"0\"\n"}) {
        CAPTURE(body);
        CHECK(parse_policy(with_tier(body), "p.toml").tier("untrusted").limits.timeout == 0ms);
    }
    const auto limits = parse_policy(with_tier("memory = 0\npids = 0\ncpus = 0\nkill_grace = 0\n"), "p.toml")
                            .tier("untrusted")
                            .limits;
    CHECK(limits.memory_bytes == 0);
    CHECK(limits.pids == 0);
    CHECK(limits.cpus == 0);
    CHECK(limits.kill_grace == 0ms);
    CHECK(parse_policy(with_tier("memory = \"0\"\n"), "p.toml").tier("untrusted").limits.memory_bytes == 0);
}

TEST_CASE("sizes may be integers of bytes, cpus may be integers", "[policy]") {
    const auto limits =
        parse_policy(with_tier("memory = 1073741824\ncpus = 2\ntmpfs_size = \"64K\"\n"), "p.toml")
            .tier("untrusted")
            .limits;
    CHECK(limits.memory_bytes == GiB);
    CHECK(limits.cpus == 2.0);
    CHECK(limits.tmpfs_bytes == 65536);
}

TEST_CASE("env_set keeps the order of the file", "[policy]") {
    SECTION("inline table") {
        const auto env =
            parse_policy(with_tier("env_set = { ZED = \"1\", ALPHA = \"2\", MID = \"3\" }\n"), "p.toml")
                .tier("untrusted")
                .env_set;
        CHECK(env ==
              std::vector<std::pair<std::string, std::string>>{{"ZED", "1"}, {"ALPHA", "2"}, {"MID", "3"}});
    }
    SECTION("sub-table over several lines") {
        const auto env =
            parse_policy(with_tier("[tiers.untrusted.env_set]\nB = \"x\"\nA = \"\"\nC = \"z=1\"\n"), "p.toml")
                .tier("untrusted")
                .env_set;
        CHECK(env == std::vector<std::pair<std::string, std::string>>{{"B", "x"}, {"A", ""}, {"C", "z=1"}});
    }
}

TEST_CASE("every cell value is read", "[policy]") {
    const auto cell = parse_policy(with_cell("system_dirs = [\"/usr\", \"/opt/tools\"]\n"
                                             "host_etc = [\"ssl/certs\", \"localtime\"]\n"
                                             "user = \"builder\"\nuid = 2000\ngid = 0\n"
                                             "home = \"/work/home\"\nhostname = \"ci-cell.local\"\n"
                                             "id_base = 4294901759"),
                                   "p.toml")
                          .cell;
    CHECK(cell.system_dirs == std::vector<std::string>{"/usr", "/opt/tools"});
    CHECK(cell.host_etc == std::vector<std::string>{"ssl/certs", "localtime"});
    CHECK(cell.user.name == "builder");
    CHECK(cell.user.uid == 2000);
    CHECK(cell.user.gid == 0);
    CHECK(cell.user.home == "/work/home");
    CHECK(cell.hostname == "ci-cell.local");
    CHECK(cell.id_base == 4'294'901'759U);  // the last one whose 65536 ids fit in 32 bits
}

TEST_CASE("a tier table may be written with dotted keys", "[policy]") {
    const Policy policy = parse_policy("version = 1\ntiers.quick.pids = 5\n", "p.toml");
    CHECK(policy.tier("quick").limits.pids == 5);
}

// --- Policy::tier --------------------------------------------------------------------------

TEST_CASE("an unknown tier is named with the ones the policy has", "[policy]") {
    const Policy policy = parse_policy(jobcell::builtin_policy_text(), "<built-in policy>");
    CHECK_THROWS_WITH(policy.tier("x"),
                      "unknown tier 'x' (policy <built-in policy> has: internal, trusted, untrusted)");
    CHECK_THROWS_WITH(policy.tier(""), StartsWith("unknown tier '' "));
    CHECK_THROWS_AS(policy.tier("Trusted"), Error);
}

// --- syntax errors -------------------------------------------------------------------------

TEST_CASE("a TOML syntax error names file, line and column", "[policy]") {
    CHECK_THAT(error_of("version = 1\nversion = 2\n"),
               StartsWith("p.toml:2:") && Contains("cannot redefine existing integer 'version'"));
    CHECK_THAT(error_of("version = 1\n[tiers.x]\n[tiers.x]\n"),
               StartsWith("p.toml:3:1: ") && Contains("tiers.x"));
    CHECK_THAT(error_of("version = 1\n\n[tiers.x\n"), StartsWith("p.toml:3:9: ") && Contains("expected ']'"));
    CHECK_THAT(error_of("version = 1\n[tiers.x]\npids = 99999999999999999999\n"),
               StartsWith("p.toml:3:") && Contains("not representable"));
}

TEST_CASE("a syntax error message stays on one line", "[policy]") {
    const std::string message = error_of("version = 1\n[tiers.x]\nenv_pass = tru\n");
    CHECK_THAT(message, StartsWith("p.toml:3:"));
    CHECK(message.find('\n') == std::string::npos);
}

TEST_CASE("an array left open points at the line that opened it", "[policy]") {
    const std::string broken_line = "network = [\"example.com\"\n";
    const std::string expected =
        "p.toml:3:11: Error while parsing array: encountered end-of-file (the [ opened here is never closed)";
    CHECK_THAT(error_of("# policy\n[tiers.untrusted]\n" + broken_line), Equals(expected));
    CHECK_THAT(error_of("# policy\n[tiers.untrusted]\nnetwork = [\"example.com\""), Equals(expected));
    // The end of the file, where toml++ notices, can be far below the line to fix.
    CHECK_THAT(error_of("# policy\n[tiers.untrusted]\n" + broken_line + "\n# more\n\n\n"),
               StartsWith("p.toml:3:11: "));
    // Brackets inside strings and comments do not count.
    CHECK_THAT(
        error_of(
            "# policy\n[tiers.untrusted]\nnetwork = [\"example.com\",\n\"b\", [1, 2],\n\"]\", '#', # ]\n\n"),
        StartsWith("p.toml:3:11: "));
}

TEST_CASE("other constructs left open point where they began", "[policy]") {
    CHECK_THAT(error_of("version = 1\n[tiers.x]\nenv_set = { A = \"1\",\n\n\n"), StartsWith("p.toml:3:"));
    CHECK_THAT(error_of("version = 1\n[tiers.x]\ndescription = \"\"\"\nlong\ntext\n\n"),
               StartsWith("p.toml:3:15: ") && Contains("the \"\"\" opened here is never closed"));
    CHECK_THAT(error_of("version = 1\n[tiers.x]\ndescription = '''\n\n"), StartsWith("p.toml:3:15: "));
    CHECK_THAT(error_of("version = 1\n[tiers.x]\ndescription = \"\"\"a\"\"\"\"\"\nenv_pass = [\n\n"),
               StartsWith("p.toml:4:12: "));
    // A policy is ASCII (see the fuzzing case below), so a non-ASCII key is refused first.
    CHECK_THAT(error_of("version = 1\n[tiers.x]\n\"éé\" = [1,\n\n"), StartsWith("p.toml:3:2: non-ASCII"));
}

// --- unknown keys --------------------------------------------------------------------------

TEST_CASE("unknown keys are refused wherever they are", "[policy]") {
    CHECK_THAT(
        error_of(with_tier("memory = \"1G\"\nmemroy = \"2G\"\n")),
        StartsWith(
            "p.toml:4:1: unknown key 'memroy' in [tiers.untrusted] (known keys: description, timeout,"));
    CHECK_THAT(error_of(with_cell("users = \"x\"")),
               StartsWith("p.toml:3:1: unknown key 'users' in [cell] (known keys: "));
    CHECK_THAT(error_of("version = 1\nrule = []\n[tiers.x]\n"),
               Equals("p.toml:2:1: unknown key 'rule' at the top level (known keys: version, cell, tiers, "
                      "fallback_tier, rules, verify, network)"));
    CHECK_THAT(error_of(with_tier("env_set = { A = \"1\" }\n[tiers.untrusted.limits]\npids = 1\n")),
               StartsWith("p.toml:4:18: unknown key 'limits' in [tiers.untrusted]"));
    CHECK_THAT(error_of("version = 1\n[tiers.a]\nfoo.bar = 1\n"),
               StartsWith("p.toml:3:1: unknown key 'foo' in [tiers.a]"));
}

// --- wrong types ---------------------------------------------------------------------------

TEST_CASE("a value of the wrong type names key and expected type", "[policy]") {
    CHECK_THAT(error_of(with_tier("pids = \"many\"\n")),
               Equals("p.toml:3:8: tiers.untrusted.pids: expected an integer"));
    CHECK_THAT(error_of(with_tier("pids = 1.5\n")),
               Equals("p.toml:3:8: tiers.untrusted.pids: expected an integer"));
    CHECK_THAT(error_of(with_tier("tmpfs_inodes = true\n")),
               Equals("p.toml:3:16: tiers.untrusted.tmpfs_inodes: expected an integer"));
    CHECK_THAT(error_of(with_tier("description = 5\n")),
               Equals("p.toml:3:15: tiers.untrusted.description: expected a string"));
    CHECK_THAT(error_of(with_tier("network = [\"none\"]\n")),
               Equals("p.toml:3:11: tiers.untrusted.network: expected a string"));
    CHECK_THAT(error_of(with_tier("cpus = \"2\"\n")),
               Equals("p.toml:3:8: tiers.untrusted.cpus: expected a number"));
    CHECK_THAT(error_of(with_tier("memory = 1.5\n")),
               Equals("p.toml:3:10: tiers.untrusted.memory: expected a size such as \"512M\" or an integer "
                      "number of bytes"));
    CHECK_THAT(error_of(with_tier("timeout = 1979-05-27\n")),
               StartsWith("p.toml:3:11: tiers.untrusted.timeout: expected a duration"));
    CHECK_THAT(error_of(with_tier("env_pass = \"CI_*\"\n")),
               Equals("p.toml:3:12: tiers.untrusted.env_pass: expected an array of strings"));
    CHECK_THAT(error_of(with_tier("env_pass = [\"A\", 1]\n")),
               Equals("p.toml:3:18: tiers.untrusted.env_pass: expected an array of strings"));
    CHECK_THAT(error_of(with_tier("env_set = [\"A=1\"]\n")),
               Equals("p.toml:3:11: tiers.untrusted.env_set: expected a table"));
    CHECK_THAT(error_of(with_tier("env_set = { A = 1 }\n")),
               Equals("p.toml:3:17: tiers.untrusted.env_set.A: expected a string"));
    CHECK_THAT(error_of(with_cell("uid = \"1000\"")), Equals("p.toml:3:7: cell.uid: expected an integer"));
    CHECK_THAT(error_of(with_cell("system_dirs = \"/usr\"")),
               Equals("p.toml:3:15: cell.system_dirs: expected an array of strings"));
    CHECK_THAT(error_of(with_cell("hostname = 1")), Equals("p.toml:3:12: cell.hostname: expected a string"));
    CHECK_THAT(error_of("version = 1\ncell = 1\n[tiers.x]\n"), Equals("p.toml:2:8: cell: expected a table"));
    CHECK_THAT(error_of("version = 1\ntiers = [1]\n"), Equals("p.toml:2:9: tiers: expected a table"));
    CHECK_THAT(error_of("version = 1\n[tiers]\nuntrusted = 1\n"),
               Equals("p.toml:3:13: tiers.untrusted: expected a table"));
    CHECK_THAT(error_of("version = \"1\"\n[tiers.x]\n"), Equals("p.toml:1:11: version: expected an integer"));
}

// --- values out of range -------------------------------------------------------------------

TEST_CASE("the policy format version must be 1", "[policy]") {
    CHECK_THAT(
        error_of("version = 2\n[tiers.x]\n"),
        Equals("p.toml:1:11: version: expected 1 to 1 (the only policy format this jobcell reads), got 2"));
    CHECK_THAT(error_of("[tiers.x]\n"),
               Equals("p.toml:1:1: version: missing; a policy begins with version = 1"));
}

TEST_CASE("limits out of range are refused", "[policy]") {
    CHECK_THAT(error_of(with_tier("pids = -1\n")),
               Equals("p.toml:3:8: tiers.untrusted.pids: expected 0 to 4194304 (0: no limit), got -1"));
    CHECK_THAT(error_of(with_tier("pids = 4194305\n")),
               StartsWith("p.toml:3:8: tiers.untrusted.pids: expected 0 to 4194304"));
    CHECK_THAT(error_of(with_tier("tmpfs_inodes = -5\n")),
               StartsWith("p.toml:3:16: tiers.untrusted.tmpfs_inodes: expected 0 to "));
    CHECK_THAT(error_of(with_tier("cpus = -0.5\n")),
               Equals("p.toml:3:8: tiers.untrusted.cpus: expected 0 (no limit) to 1024 cores"));
    CHECK_THAT(error_of(with_tier("cpus = 1025\n")),
               StartsWith("p.toml:3:8: tiers.untrusted.cpus: expected 0 (no limit)"));
    CHECK_THAT(error_of(with_tier("cpus = nan\n")), StartsWith("p.toml:3:8: tiers.untrusted.cpus: "));
    CHECK_THAT(error_of(with_tier("cpus = inf\n")), StartsWith("p.toml:3:8: tiers.untrusted.cpus: "));
    CHECK(parse_policy(with_tier("cpus = 1024\n"), "p.toml").tier("untrusted").limits.cpus == 1024);
    CHECK_THAT(error_of(with_tier("memory = -1\n")),
               StartsWith("p.toml:3:10: tiers.untrusted.memory: expected 0 to "));
}

TEST_CASE("sizes and durations units.cpp refuses are refused with their position", "[policy]") {
    CHECK_THAT(error_of(with_tier("memory = \"12x\"\n")),
               Equals("p.toml:3:10: tiers.untrusted.memory: '12x': expected a size such as 512M or 2G"));
    CHECK_THAT(error_of(with_tier("pids = 1\ntmpfs_size = \"-1G\"\n")),
               Equals("p.toml:4:14: tiers.untrusted.tmpfs_size: '-1G': a size cannot be negative"));
    CHECK_THAT(
        error_of(with_tier("timeout = \"90\"\n")),
        Equals("p.toml:3:11: tiers.untrusted.timeout: '90': expected a duration such as 90s, 10m or 1h30m"));
    CHECK_THAT(error_of(with_tier("kill_grace = \"10 s\"\n")),
               Equals("p.toml:3:14: tiers.untrusted.kill_grace: '10 s': expected a duration such as 90s, 10m "
                      "or 1h30m"));
    CHECK_THAT(error_of(with_tier("timeout = 90\n")),
               StartsWith("p.toml:3:11: tiers.untrusted.timeout: expected a duration such as \"90s\"") &&
                   Contains("an integer has no unit"));
    CHECK_THAT(error_of(with_tier("timeout = \"99999999999999h\"\n")), Contains("duration too large"));
}

TEST_CASE("network must be none, allowlist or open", "[policy]") {
    CHECK_THAT(error_of(with_tier("network = \"host\"\n")),
               Equals("p.toml:3:11: tiers.untrusted.network: 'host': expected one of none, allowlist, open"));
    CHECK_THAT(error_of(with_tier("network = \"\"\n")),
               StartsWith("p.toml:3:11: tiers.untrusted.network: ''"));
    CHECK(parse_policy(with_tier("network = \"open\"\n"), "p.toml").tier("untrusted").network == "open");
}

TEST_CASE("seccomp names a known profile", "[policy]") {
    CHECK_THAT(error_of(with_tier("seccomp = \"strict\"\n")),
               Equals("p.toml:3:11: tiers.untrusted.seccomp: 'strict': unknown seccomp profile (known "
                      "profiles: default)"));
}

TEST_CASE("env_pass takes variable names and prefixes ending in *", "[policy]") {
    CHECK_THAT(error_of(with_tier("env_pass = [\"CI_*\", \"*\"]\n")),
               Equals("p.toml:3:21: tiers.untrusted.env_pass: '*': would pass the whole host environment; "
                      "name a prefix such "
                      "as CI_*"));
    for (const char* bad : {"1A", "A-B", "A B", "A=B", "*CI", "C*I", "CI**", ""}) {
        CAPTURE(bad);
        CHECK_THAT(error_of(with_tier("env_pass = [\"" + std::string(bad) + "\"]\n")),
                   Equals("p.toml:3:13: tiers.untrusted.env_pass: '" + std::string(bad) +
                          "': expected a variable name, or a prefix ending in '*' such as CI_*"));
    }
}

TEST_CASE("env_set names are variable names", "[policy]") {
    CHECK_THAT(error_of(with_tier("env_set = { GOOD = \"1\", \"BAD NAME\" = \"2\" }\n")),
               Equals("p.toml:3:25: tiers.untrusted.env_set: 'BAD NAME': expected a variable name such as "
                      "JOBCELL_TIER"));
    CHECK_THAT(error_of(with_tier("env_set = { \"A=B\" = \"2\" }\n")),
               StartsWith("p.toml:3:13: tiers.untrusted.env_set: 'A=B'"));
}

TEST_CASE("tier names are plain words", "[policy]") {
    CHECK_THAT(error_of("version = 1\n[tiers.\"\"]\n"),
               Equals("p.toml:2:8: tiers: '': a tier name must not be empty"));
    CHECK_THAT(error_of("version = 1\n[tiers.auto]\n"),
               StartsWith("p.toml:2:8: tiers: 'auto': reserved: --tier auto means"));
    CHECK_THAT(error_of("version = 1\n[tiers.\"a b\"]\n"),
               Equals("p.toml:2:8: tiers: 'a b': a tier name has only letters, digits, '-' and '_'"));
    CHECK(parse_policy("version = 1\n[tiers.ci-Fast_2]\n", "p.toml").tiers.count("ci-Fast_2") == 1);
}

TEST_CASE("a policy without tiers is refused", "[policy]") {
    CHECK_THAT(error_of("version = 1\n"),
               Equals("p.toml:1:1: no tiers; a policy needs at least one [tiers.NAME] table"));
    CHECK_THAT(error_of("version = 1\n[cell]\nuser = \"job\"\n"), StartsWith("p.toml:1:1: no tiers"));
    CHECK_THAT(error_of("version = 1\n\n[tiers]\n"),
               Equals("p.toml:3:1: tiers: no tiers; a policy needs at least one [tiers.NAME] table"));
}

TEST_CASE("the job's user and ids are checked", "[policy]") {
    CHECK_THAT(error_of(with_cell("uid = 0")),
               Equals("p.toml:3:7: cell.uid: must not be 0: a job never runs as root"));
    CHECK_THAT(error_of(with_cell("uid = 65536")),
               Equals("p.toml:3:7: cell.uid: expected 1 to 65535, got 65536"));
    CHECK_THAT(error_of(with_cell("uid = -1")), Equals("p.toml:3:7: cell.uid: expected 1 to 65535, got -1"));
    CHECK_THAT(error_of(with_cell("gid = 65536")),
               Equals("p.toml:3:7: cell.gid: expected 0 to 65535, got 65536"));
    CHECK_THAT(error_of(with_cell("user = \"root:x:0\"")),
               StartsWith("p.toml:3:8: cell.user: expected a user name"));
    CHECK_THAT(error_of(with_cell("user = \"\"")), StartsWith("p.toml:3:8: cell.user: expected a user name"));
    CHECK_THAT(error_of(with_cell("user = \"job\\nroot\"")),
               StartsWith("p.toml:3:8: cell.user: expected a user name"));
    CHECK_THAT(error_of(with_cell("home = \"home/job\"")),
               Equals("p.toml:3:8: cell.home: expected an absolute path without '..', such as /usr"));
    CHECK_THAT(error_of(with_cell("home = \"/home/../etc\"")), StartsWith("p.toml:3:8: cell.home: "));
}

TEST_CASE("id_base leaves room for 65536 ids and is never 0", "[policy]") {
    CHECK_THAT(error_of(with_cell("id_base = 0")),
               Equals("p.toml:3:11: cell.id_base: must not be 0: the cell's root would be host root"));
    CHECK_THAT(error_of(with_cell("id_base = 4294901760")),
               Equals("p.toml:3:11: cell.id_base: expected 1 to 4294901759 (id_base + 65536 must fit in 32 "
                      "bits), got 4294901760"));
    CHECK_THAT(error_of(with_cell("id_base = 5000000000")),
               StartsWith("p.toml:3:11: cell.id_base: expected 1 to 4294901759"));
    CHECK_THAT(error_of(with_cell("id_base = -1")),
               StartsWith("p.toml:3:11: cell.id_base: expected 1 to 4294901759"));
}

TEST_CASE("cell paths and host name are checked", "[policy]") {
    CHECK_THAT(
        error_of(with_cell("system_dirs = [\"/usr\", \"lib\"]")),
        Equals("p.toml:3:24: cell.system_dirs: 'lib': expected an absolute path without '..', such as /usr"));
    CHECK_THAT(error_of(with_cell("system_dirs = [\"/usr/../etc\"]")),
               StartsWith("p.toml:3:16: cell.system_dirs: '/usr/../etc'"));
    CHECK_THAT(error_of(with_cell("host_etc = [\"/etc/ssl\"]")),
               Equals("p.toml:3:13: cell.host_etc: '/etc/ssl': expected a path relative to /etc without "
                      "'..', such as ssl/certs"));
    CHECK_THAT(error_of(with_cell("host_etc = [\"../root/.ssh\"]")),
               StartsWith("p.toml:3:13: cell.host_etc: '../root/.ssh'"));
    CHECK_THAT(error_of(with_cell("host_etc = [\"ssl/..\"]")),
               StartsWith("p.toml:3:13: cell.host_etc: 'ssl/..'"));
    CHECK_THAT(error_of(with_cell("host_etc = [\"\"]")), StartsWith("p.toml:3:13: cell.host_etc: ''"));
    CHECK(parse_policy(with_cell("host_etc = [\"..data\"]"), "p.toml").cell.host_etc.front() == "..data");
    CHECK_THAT(error_of(with_cell("hostname = \"bad host\"")),
               StartsWith("p.toml:3:12: cell.hostname: expected a host name"));
    CHECK_THAT(error_of(with_cell("hostname = \"\"")), StartsWith("p.toml:3:12: cell.hostname: "));
    CHECK_THAT(error_of(with_cell("hostname = \"" + std::string(65, 'a') + "\"")),
               StartsWith("p.toml:3:12: cell.hostname: "));
}

TEST_CASE("a message names the source as it was given", "[policy]") {
    try {
        parse_policy("version = 1\n[tiers.x]\npids = -1\n", "./conf/my policy.toml");
        FAIL("no error");
    } catch (const Error& e) {
        CHECK_THAT(e.what(), StartsWith("./conf/my policy.toml:3:8: tiers.x.pids: "));
    }
}

// --- trust rules ---------------------------------------------------------------------------

TEST_CASE("the shipped policy has rules, untrusted as the fallback, and no verification", "[policy]") {
    const Policy policy = parse_policy(jobcell::builtin_policy_text(), "<built-in policy>");
    CHECK(policy.fallback_tier == "untrusted");
    REQUIRE(policy.rules.size() == 5);
    for (const auto& rule : policy.rules) {
        CAPTURE(rule.name);
        CHECK(policy.tiers.count(rule.tier) == 1);
        CHECK_FALSE(rule.description.empty());
        CHECK_FALSE(rule.conditions.empty());
    }
    CHECK_FALSE(policy.verify.enabled);
    CHECK(policy.verify.github_api_url == "https://api.github.com");
    CHECK(policy.verify.timeout == 5s);
}

TEST_CASE("every rule value is read, conditions in the order written", "[policy]") {
    const Policy policy = parse_policy(
        with_rules("[[rules]]\n"
                   "name = \"first\"\n"
                   "tier = \"trusted\"\n"
                   "description = \"d\"\n"
                   "when = { ref_protected = true, event = [\"push\", \"web\"], author_association = { not = "
                   "[\"NONE\", \"FIRST_TIMER\"] }, fork = { not = true }, ci = \"gitlab\", ref = \"\" }\n"
                   "[[rules]]\n"
                   "name = \"Second_2\"\n"
                   "tier = \"untrusted\"\n"
                   "when = {}\n"),
        "p.toml");
    REQUIRE(policy.rules.size() == 2);
    const auto& first = policy.rules[0];
    CHECK(first.name == "first");
    CHECK(first.tier == "trusted");
    CHECK(first.description == "d");
    using jobcell::FactValue;
    using V = std::vector<FactValue>;
    REQUIRE(first.conditions.size() == 6);
    CHECK(first.conditions[0].fact == "ref_protected");
    CHECK(first.conditions[0].any_of == V{true});
    CHECK_FALSE(first.conditions[0].negated);
    CHECK(first.conditions[1].fact == "event");
    CHECK(first.conditions[1].any_of == V{std::string("push"), std::string("web")});
    CHECK(first.conditions[2].fact == "author_association");
    CHECK(first.conditions[2].any_of == V{std::string("NONE"), std::string("FIRST_TIMER")});
    CHECK(first.conditions[2].negated);
    CHECK(first.conditions[3].fact == "fork");
    CHECK(first.conditions[3].any_of == V{true});
    CHECK(first.conditions[3].negated);
    CHECK(first.conditions[4].any_of == V{std::string("gitlab")});
    CHECK(first.conditions[5].any_of == V{std::string()});
    const auto& second = policy.rules[1];
    CHECK(second.name == "Second_2");
    CHECK(second.tier == "untrusted");
    CHECK(second.description.empty());
    CHECK(second.conditions.empty());
    CHECK(policy.fallback_tier == "untrusted");
}

TEST_CASE("a rule's when may be a sub-table with dotted keys, rules an inline array", "[policy]") {
    const Policy sub_table =
        parse_policy(with_rules("[[rules]]\nname = \"a\"\ntier = \"trusted\"\n[rules.when]\nref = "
                                "\"main\"\nref_type.not = \"tag\"\n"),
                     "p.toml");
    REQUIRE(sub_table.rules.at(0).conditions.size() == 2);
    CHECK(sub_table.rules[0].conditions[0].fact == "ref");
    CHECK(sub_table.rules[0].conditions[1].fact == "ref_type");
    CHECK(sub_table.rules[0].conditions[1].negated);
    const Policy inline_array = parse_policy(
        with_rules("rules = [{ name = \"a\", tier = \"trusted\", when = { fork = false } }]"), "p.toml");
    REQUIRE(inline_array.rules.size() == 1);
    CHECK(inline_array.rules[0].conditions.at(0).any_of == std::vector<jobcell::FactValue>{false});
    CHECK(parse_policy(with_rules("rules = []"), "p.toml").rules.empty());
}

TEST_CASE("fallback_tier names the tier for jobs no rule matches", "[policy]") {
    const Policy policy = parse_policy(
        "version = 1\nfallback_tier = \"quarantine\"\n[tiers.quarantine]\n[tiers.ci]\n"
        "[[rules]]\nname = \"a\"\ntier = \"ci\"\nwhen = { fork = false }\n",
        "p.toml");
    CHECK(policy.fallback_tier == "quarantine");
    // A policy of tiers alone (for --tier NAME) needs neither rules nor an untrusted tier.
    const Policy bare = parse_policy("version = 1\n[tiers.site]\n", "p.toml");
    CHECK(bare.rules.empty());
    CHECK(bare.fallback_tier == "untrusted");
}

TEST_CASE("unknown facts in a rule are refused, naming the known ones", "[policy]") {
    CHECK_THAT(
        error_of(with_when("{ protected = true }")),
        Equals("p.toml:5:10: rules[0].when.protected: unknown fact 'protected' (known facts: ci, event, ref, "
               "ref_type, ref_protected, change_request, source_repo, target_repo, fork, "
               "author_association, approved)"));
    CHECK_THAT(error_of(with_when("{ fork = false, Fork = false }")),
               StartsWith("p.toml:5:24: rules[0].when.Fork: unknown fact 'Fork'"));
    CHECK_THAT(
        error_of(with_rules("[[rules]]\nname = \"a\"\ntier = \"trusted\"\nwhen = {}\n"
                            "[[rules]]\nname = \"b\"\ntier = \"trusted\"\n[rules.when]\nsource = \"x\"\n")),
        StartsWith("p.toml:10:1: rules[1].when.source: unknown fact 'source' (known facts: "));
}

TEST_CASE("a condition's value has the type of its fact", "[policy]") {
    CHECK_THAT(error_of(with_when("{ fork = \"false\" }")),
               Equals("p.toml:5:17: rules[0].when.fork: expected true or false (fork is a true/false fact)"));
    CHECK_THAT(error_of(with_when("{ ref = true }")),
               Equals("p.toml:5:16: rules[0].when.ref: expected a string (ref is a text fact)"));
    CHECK_THAT(error_of(with_when("{ event = [\"push\", 1] }")),
               Equals("p.toml:5:27: rules[0].when.event: expected a string (event is a text fact)"));
    CHECK_THAT(error_of(with_when("{ approved = [true, \"yes\"] }")),
               Equals("p.toml:5:28: rules[0].when.approved: expected true or false (approved is a true/false "
                      "fact)"));
    CHECK_THAT(error_of(with_when("{ change_request = 1 }")),
               StartsWith("p.toml:5:27: rules[0].when.change_request: expected true or false"));
    CHECK_THAT(error_of(with_when("{ ref_protected = 2024-01-01 }")),
               StartsWith("p.toml:5:26: rules[0].when.ref_protected: expected true or false"));
    CHECK_THAT(error_of(with_when("{ ref = [[\"main\"]] }")),
               Equals("p.toml:5:17: rules[0].when.ref: expected a string (ref is a text fact)"));
    CHECK_THAT(error_of(with_when("\"fork\"")), Equals("p.toml:5:8: rules[0].when: expected a table"));
}

TEST_CASE("lists and negations are checked", "[policy]") {
    CHECK_THAT(
        error_of(with_when("{ event = [] }")),
        Equals("p.toml:5:18: rules[0].when.event: an empty list matches nothing; list at least one value"));
    CHECK_THAT(
        error_of(with_when("{ fork = {} }")),
        Equals("p.toml:5:17: rules[0].when.fork: expected a value, a list of values, or { not = ... }"));
    CHECK_THAT(error_of(with_when("{ fork = { nto = true } }")),
               Equals("p.toml:5:19: unknown key 'nto' in rules[0].when.fork (known keys: not)"));
    CHECK_THAT(error_of(with_when("{ fork = { not = true, also = 1 } }")),
               StartsWith("p.toml:5:31: unknown key 'also' in rules[0].when.fork"));
    CHECK_THAT(
        error_of(with_when("{ fork = { not = \"yes\" } }")),
        Equals("p.toml:5:25: rules[0].when.fork.not: expected true or false (fork is a true/false fact)"));
    CHECK_THAT(error_of(with_when("{ fork = { not = [] } }")),
               Equals("p.toml:5:25: rules[0].when.fork.not: an empty list matches nothing; list at least one "
                      "value"));
    CHECK_THAT(error_of(with_when("{ fork = { not = { not = true } } }")),
               StartsWith("p.toml:5:25: rules[0].when.fork.not: expected true or false"));
}

TEST_CASE("facts with a closed set of values refuse any other", "[policy]") {
    // A misspelt value would make "none of" hold for every job.
    CHECK_THAT(error_of(with_when("{ author_association = { not = [\"NONE\", \"FIRST_TIMR\"] } }")),
               Equals("p.toml:5:48: rules[0].when.author_association.not: 'FIRST_TIMR': not a value of "
                      "author_association (known values: OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, "
                      "FIRST_TIME_CONTRIBUTOR, FIRST_TIMER, NONE, MANNEQUIN)"));
    CHECK_THAT(error_of(with_when("{ author_association = \"member\" }")),
               StartsWith("p.toml:5:31: rules[0].when.author_association: 'member': not a value of "));
    CHECK_THAT(error_of(with_when("{ ref_type = [\"branch\", \"tags\"] }")),
               Equals("p.toml:5:32: rules[0].when.ref_type: 'tags': not a value of ref_type (known values: "
                      "branch, tag)"));
    CHECK_THAT(
        error_of(with_when("{ ci = { not = \"gitlab-ci\" } }")),
        Equals("p.toml:5:23: rules[0].when.ci.not: 'gitlab-ci': not a value of ci (known values: gitlab, "
               "github, generic)"));
    // Open-ended facts take any string.
    CHECK(parse_policy(with_when("{ event = \"merge_request_event\", ref = \"x\", target_repo = \"4711\" }"),
                       "p.toml")
              .rules.at(0)
              .conditions.size() == 3);
}

TEST_CASE("a rule has a unique plain name, a known tier and a when", "[policy]") {
    CHECK_THAT(
        error_of(with_rules("[[rules]]\nname = \"a\"\ntier = \"trusted\"\nwhen = {}\ntiers = \"x\"\n")),
        Equals("p.toml:6:1: unknown key 'tiers' in rules[0] (known keys: name, tier, description, when)"));
    CHECK_THAT(error_of(with_rules("[[rules]]\ntier = \"trusted\"\nwhen = {}\n")),
               Equals("p.toml:2:1: rules[0]: missing name; every rule has a unique name"));
    CHECK_THAT(error_of(with_rules("[[rules]]\nname = \"a\"\nwhen = {}\n")),
               Equals("p.toml:2:1: rules[0]: missing tier; a rule selects a tier"));
    CHECK_THAT(
        error_of(with_rules("[[rules]]\nname = \"a\"\ntier = \"trusted\"\n")),
        Equals("p.toml:2:1: rules[0]: missing when; write when = {} for a rule that matches every job"));
    CHECK_THAT(error_of(with_rules("[[rules]]\nname = \"a\"\ntier = \"trusted\"\nwhen = {}\n\n"
                                   "[[rules]]\ndescription = \"x\"\n")),
               StartsWith("p.toml:7:1: rules[1]: missing name"));
    CHECK_THAT(error_of(with_rules("[[rules]]\nname = \"a\"\ntier = \"trusted\"\nwhen = {}\n"
                                   "[[rules]]\nname = \"b\"\ntier = \"trusted\"\nwhen = {}\n"
                                   "[[rules]]\nname = \"a\"\ntier = \"untrusted\"\nwhen = {}\n")),
               Equals("p.toml:11:8: rules[2].name: 'a' is already the name of rules[0]"));
    CHECK_THAT(error_of(with_rules("[[rules]]\nname = \"a b\"\ntier = \"trusted\"\nwhen = {}\n")),
               Equals("p.toml:3:8: rules[0].name: 'a b': a rule name has only letters, digits, '-' and '_'"));
    CHECK_THAT(error_of(with_rules("[[rules]]\nname = \"\"\ntier = \"trusted\"\nwhen = {}\n")),
               Equals("p.toml:3:8: rules[0].name: '': a rule name must not be empty"));
    CHECK_THAT(error_of(with_rules("[[rules]]\nname = 1\ntier = \"trusted\"\nwhen = {}\n")),
               Equals("p.toml:3:8: rules[0].name: expected a string"));
    CHECK_THAT(error_of(with_rules("[[rules]]\nname = \"a\"\ntier = \"trused\"\nwhen = {}\n")),
               Equals("p.toml:4:8: rules[0].tier: unknown tier 'trused' (known tiers: trusted, untrusted)"));
    CHECK_THAT(error_of(with_rules("[[rules]]\nname = \"a\"\ntier = [\"trusted\"]\nwhen = {}\n")),
               Equals("p.toml:4:8: rules[0].tier: expected a string"));
    CHECK_THAT(error_of(with_rules("[[rules]]\nname = \"a\"\ntier = \"\"\nwhen = {}\n")),
               Equals("p.toml:4:8: rules[0].tier: unknown tier '' (known tiers: trusted, untrusted)"));
}

TEST_CASE("rules is an array of tables", "[policy]") {
    CHECK_THAT(error_of("version = 1\nrules = 1\n[tiers.x]\n"),
               Equals("p.toml:2:9: rules: expected an array of tables, written [[rules]]"));
    CHECK_THAT(error_of("version = 1\nrules = [1]\n[tiers.x]\n"),
               Equals("p.toml:2:10: rules[0]: expected a table with name, tier and when"));
    CHECK_THAT(error_of("version = 1\n[rules]\nname = \"a\"\n[tiers.x]\n"),
               Equals("p.toml:2:1: rules: expected an array of tables, written [[rules]]"));
}

TEST_CASE("fallback_tier must name a tier of the policy", "[policy]") {
    CHECK_THAT(error_of("version = 1\nfallback_tier = \"quarantine\"\n[tiers.untrusted]\n"),
               Equals("p.toml:2:17: fallback_tier: unknown tier 'quarantine' (known tiers: untrusted)"));
    CHECK_THAT(error_of("version = 1\nfallback_tier = 1\n[tiers.untrusted]\n"),
               Equals("p.toml:2:17: fallback_tier: expected a string"));
    // Rules need somewhere to send the jobs they do not match.
    CHECK_THAT(
        error_of("version = 1\n[tiers.trusted]\n[[rules]]\nname = \"a\"\ntier = \"trusted\"\nwhen = {}\n"),
        Equals("p.toml:3:1: fallback_tier: missing, and the default 'untrusted' is not a tier of this "
               "policy (known tiers: trusted); name the tier for jobs no rule matches"));
}

// --- [verify] -------------------------------------------------------------------------------

TEST_CASE("every [verify] value is read", "[policy]") {
    const auto verify = parse_policy(with_verify("enabled = true\n"
                                                 "gitlab_url = \"https://gitlab.example.com\"\n"
                                                 "github_api_url = \"http://127.0.0.1:8080/api/v3\"\n"
                                                 "token_file = \"/etc/jobcell/scm-token\"\n"
                                                 "timeout = \"2s\""),
                                     "p.toml")
                            .verify;
    CHECK(verify.enabled);
    CHECK(verify.gitlab_url == "https://gitlab.example.com");
    CHECK(verify.github_api_url == "http://127.0.0.1:8080/api/v3");
    CHECK(verify.token_file == "/etc/jobcell/scm-token");
    CHECK(verify.timeout == 2s);
    const auto defaults = parse_policy(with_verify(""), "p.toml").verify;
    CHECK_FALSE(defaults.enabled);
    CHECK(defaults.gitlab_url.empty());
    CHECK(defaults.github_api_url == "https://api.github.com");
    CHECK(defaults.token_file.empty());
    CHECK(defaults.timeout == 5s);
    // Turned off, it needs no token.
    CHECK_FALSE(parse_policy(with_verify("enabled = false\n"), "p.toml").verify.enabled);
}

TEST_CASE("SCM URLs are https, or http only to this machine", "[policy]") {
    for (const char* good :
         {"https://gitlab.example.com", "https://gitlab.example.com:8443/gitlab/", "http://127.0.0.1",
          "http://127.0.0.1:38123", "http://localhost/api", "http://localhost:80"}) {
        CAPTURE(good);
        CHECK(parse_policy(with_verify("gitlab_url = \"" + std::string(good) + "\""), "p.toml")
                  .verify.gitlab_url == good);
    }
    const std::string https_only =
        "': expected an https:// URL (http:// only to 127.0.0.1 or localhost, for tests)";
    for (const char* bad :
         {"http://gitlab.example.com", "http://localhost.evil.example", "http://127.0.0.1.nip.io",
          "HTTPS://gitlab.example.com", "ftp://x", "gitlab.example.com", ""}) {
        CAPTURE(bad);
        CHECK_THAT(error_of(with_verify("gitlab_url = \"" + std::string(bad) + "\"")),
                   Equals("p.toml:3:14: verify.gitlab_url: '" + std::string(bad) + https_only));
    }
    CHECK_THAT(
        error_of(with_verify("github_api_url = \"https://user:ghp_secret@api.github.com\"")),
        Equals("p.toml:3:18: verify.github_api_url: 'https://user:ghp_secret@api.github.com': a URL must "
               "not carry user:password@ (the token comes from token_file)"));
    CHECK_THAT(error_of(with_verify("gitlab_url = \"https://\"")),
               Equals("p.toml:3:14: verify.gitlab_url: 'https://': the URL names no host"));
    CHECK_THAT(error_of(with_verify("gitlab_url = \"https://:443/x\"")), Contains("the URL names no host"));
    CHECK_THAT(error_of(with_verify("gitlab_url = \"https://gitlab.example.com/a b\"")),
               Contains("a URL has no spaces or control characters"));
    CHECK_THAT(
        error_of(with_verify("gitlab_url = \"https://gitlab.example.com\\n\"")),
        Equals("p.toml:3:14: verify.gitlab_url: 'https://gitlab.example.com\\n': a URL has no spaces or "
               "control characters"));
    CHECK_THAT(error_of(with_verify("gitlab_url = 1")),
               Equals("p.toml:3:14: verify.gitlab_url: expected a string"));
}

TEST_CASE("[verify] keys and values are checked", "[policy]") {
    CHECK_THAT(error_of(with_verify("enable = true")),
               Equals("p.toml:3:1: unknown key 'enable' in [verify] (known keys: enabled, gitlab_url, "
                      "github_api_url, token_file, timeout)"));
    CHECK_THAT(error_of(with_verify("enabled = \"yes\"")),
               Equals("p.toml:3:11: verify.enabled: expected true or false"));
    CHECK_THAT(
        error_of(with_verify("token_file = \"scm-token\"")),
        Equals("p.toml:3:14: verify.token_file: 'scm-token': expected an absolute path without '..', such as "
               "/usr"));
    CHECK_THAT(error_of(with_verify("token_file = \"/etc/../root/token\"")),
               StartsWith("p.toml:3:14: verify.token_file: '/etc/../root/token': "));
    CHECK_THAT(
        error_of(with_verify("timeout = \"0s\"")),
        Equals("p.toml:3:11: verify.timeout: must be more than 0: a request without a timeout could hang the "
               "job"));
    CHECK_THAT(error_of(with_verify("timeout = 0")),
               StartsWith("p.toml:3:11: verify.timeout: must be more than 0"));
    CHECK_THAT(error_of(with_verify("timeout = 5")),
               StartsWith("p.toml:3:11: verify.timeout: expected a duration such as \"90s\""));
    CHECK_THAT(error_of(with_verify("timeout = \"5 s\"")),
               Equals("p.toml:3:11: verify.timeout: '5 s': expected a duration such as 90s, 10m or 1h30m"));
    CHECK_THAT(
        error_of(with_verify("enabled = true\ngitlab_url = \"https://gitlab.example.com\"")),
        Equals("p.toml:2:1: verify: enabled without token_file; the SCM is asked with the operator's token, "
               "never the job's"));
    CHECK_THAT(error_of("version = 1\nverify = 1\n[tiers.x]\n"),
               Equals("p.toml:2:10: verify: expected a table"));
}

// --- load_policy ---------------------------------------------------------------------------

TEST_CASE("load_policy reads the file it is given", "[policy]") {
    const TempDir dir;
    const std::string path = dir.write("p.toml", "version = 1\n[tiers.only]\npids = 7\n");
    const Policy policy = jobcell::load_policy(path, (dir.path / "system.toml").string());
    CHECK(policy.source == path);
    CHECK(policy.tier("only").limits.pids == 7);
}

TEST_CASE("load_policy reports a file it cannot read", "[policy]") {
    const TempDir dir;
    const std::string missing = (dir.path / "missing.toml").string();
    CHECK_THROWS_WITH(jobcell::load_policy(missing),
                      missing + ": cannot read: ENOENT (No such file or directory)");
    CHECK_THROWS_WITH(jobcell::load_policy(dir.path.string()),
                      dir.path.string() + ": cannot read: EISDIR (Is a directory)");
}

TEST_CASE("load_policy errors carry the path", "[policy]") {
    const TempDir dir;
    const std::string path =
        dir.write("bad.toml", "# policy\n[tiers.untrusted]\nnetwork = [\"example.com\"\n");
    CHECK_THROWS_WITH(jobcell::load_policy(path), StartsWith(path + ":3:"));
}

TEST_CASE("without a path, the system policy wins over the built-in one", "[policy]") {
    const TempDir dir;
    const std::string system = (dir.path / "policy.toml").string();
    CHECK(jobcell::load_policy(std::nullopt, system).source == "<built-in policy>");
    CHECK(jobcell::load_policy(std::nullopt, system).tiers.size() == 3);
    dir.write("policy.toml", "version = 1\n[tiers.site]\n");
    const Policy policy = jobcell::load_policy(std::nullopt, system);
    CHECK(policy.source == system);
    CHECK(policy.tiers.count("site") == 1);
    // A given path beats both.
    const std::string given = dir.write("given.toml", "version = 1\n[tiers.given]\n");
    CHECK(jobcell::load_policy(given, system).source == given);
}

TEST_CASE("a system policy that exists but cannot be read is an error, not a fallback", "[policy]") {
    const TempDir dir;
    // A directory where the file should be: stat succeeds, reading fails.
    std::filesystem::create_directory(dir.path / "policy.toml");
    const std::string system = (dir.path / "policy.toml").string();
    CHECK_THROWS_WITH(jobcell::load_policy(std::nullopt, system),
                      StartsWith(system + ": cannot read: EISDIR"));
    // A path through a regular file: ENOTDIR, not "missing".
    const std::string file = dir.write("plain", "");
    CHECK_THROWS_WITH(jobcell::load_policy(std::nullopt, file + "/policy.toml"), Contains("ENOTDIR"));
}

TEST_CASE("load_policy without arguments uses /etc/jobcell/policy.toml or the built-in one", "[policy]") {
    if (std::filesystem::exists("/etc/jobcell/policy.toml")) {
        CHECK(jobcell::load_policy(std::nullopt).source == "/etc/jobcell/policy.toml");
    } else {
        CHECK(jobcell::load_policy(std::nullopt).source == "<built-in policy>");
    }
}

TEST_CASE("inputs that tripped toml++ (found by fuzzing) are plain errors", "[policy]") {
    // "[\n" failed an assertion inside toml++'s parse_key in debug builds.
    CHECK_THROWS_WITH(jobcell::parse_policy("[\n", "p.toml"), Catch::StartsWith("p.toml:1:2: "));
    // U+028D reached __builtin_unreachable() in toml++ 3.3: non-ASCII never reaches it.
    CHECK_THROWS_WITH(jobcell::parse_policy("version = 1\n# caf\xc3\xa9\n", "p.toml"),
                      Catch::StartsWith("p.toml:2:6: non-ASCII character"));
    CHECK_THROWS_WITH(jobcell::parse_policy("\xca\x8d", "p.toml"), Catch::StartsWith("p.toml:1:1: non-ASCII"));
}
