// The host side of a cell's network as values: the address pool, the per-cell NAT table
// (golden), the accounting the DNS forwarder reports, and the policy and command-line fields
// that choose a network.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "launcher/policy.hpp"
#include "launcher/spec_resolve.hpp"
#include "net/address_pool.hpp"
#include "net/dns_process.hpp"
#include "net/host_nat.hpp"
#include "sandbox/error.hpp"

using namespace jobcell;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using Catch::Matchers::StartsWith;

namespace {

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Compares with a golden file; JOBCELL_UPDATE_GOLDEN=1 rewrites it instead.
void check_golden(const std::string& name, const std::string& actual) {
    const std::string path = std::string(JOBCELL_SOURCE_DIR "/tests/unit/golden/") + name;
    if (const char* update = std::getenv("JOBCELL_UPDATE_GOLDEN"); update && std::string(update) == "1") {
        std::ofstream(path) << actual;
    }
    REQUIRE(read_text(path) == actual);
}

std::string same_path(const std::string& p) { return p; }

Policy policy_with(const std::string& extra_tier_lines, const std::string& top = "") {
    return parse_policy("version = 1\n" + top + "[tiers.untrusted]\n" + extra_tier_lines, "p.toml");
}

}  // namespace

TEST_CASE("pool: the n-th cell gets the n-th /30 and /126", "[netplumbing]") {
    const AddressPool pool = parse_address_pool("10.211.0.0/16", "fd6a:6f62:636c::/64");
    CHECK(pool.capacity == kMaxPoolCells);
    CellAddresses first = cell_addresses(pool, 0);
    CHECK(first.host4 == "10.211.0.1");
    CHECK(first.cell4 == "10.211.0.2");
    CHECK(first.host6 == "fd6a:6f62:636c::1");
    CHECK(first.cell6 == "fd6a:6f62:636c::2");
    CellAddresses later = cell_addresses(pool, 16383);
    CHECK(later.host4 == "10.211.255.253");
    CHECK(later.cell4 == "10.211.255.254");
    CHECK(later.cell6 == "fd6a:6f62:636c::fffe");
    CHECK_THROWS_WITH(cell_addresses(pool, 16384), Contains("outside the pool"));
}

TEST_CASE("pool: small pools hold fewer cells; bad pools are refused with why", "[netplumbing]") {
    CHECK(parse_address_pool("192.0.2.0/28", "2001:db8::/120").capacity == 4);
    CHECK(parse_address_pool("192.0.2.0/24", "2001:db8::/124").capacity == 4);
    CHECK_THROWS_WITH(parse_address_pool("10.211.0.1/16", "fd00::/64"), Equals("pool4 '10.211.0.1/16': host bits are set"));
    CHECK_THROWS_WITH(parse_address_pool("10.211.0.0/31", "fd00::/64"),
                      Contains("leaves no room for a cell (at most /30)"));
    CHECK_THROWS_WITH(parse_address_pool("10.211.0.0", "fd00::/64"), Contains("expected ADDRESS/PREFIX"));
    CHECK_THROWS_WITH(parse_address_pool("10.211.0.0/16", "10.0.0.0/8"), Contains("is not an IPv6 address"));
}

TEST_CASE("host NAT table: golden", "[netplumbing]") {
    const AddressPool pool = parse_address_pool("10.211.0.0/16", "fd6a:6f62:636c::/64");
    check_golden("host_nat_ipv4.nft", host_nat_script(7, cell_addresses(pool, 7), false));
    check_golden("host_nat_ipv6.nft", host_nat_script(7, cell_addresses(pool, 7), true));
    CHECK(host_veth_name(16383) == "jcell16383");  // fits IFNAMSIZ
    CHECK(host_table_name(7) == "jobcell_cell7");
}

TEST_CASE("accounting: counters and denied destinations come out of nft's JSON", "[netplumbing]") {
    const std::string listing = R"({"nftables": [{"metainfo": {"version": "1.0.6"}},
        {"table": {"family": "inet", "name": "jobcell", "handle": 1}},
        {"counter": {"family": "inet", "name": "denied_never", "table": "jobcell", "handle": 2, "packets": 3, "bytes": 180}},
        {"counter": {"family": "inet", "name": "denied_unlisted", "table": "jobcell", "handle": 3, "packets": 0, "bytes": 0}},
        {"set": {"family": "inet", "name": "denied4", "table": "jobcell", "type": ["ipv4_addr", "inet_proto", "inet_service"],
                 "handle": 4, "elem": [{"concat": ["169.254.169.254", "tcp", 80]}]}},
        {"set": {"family": "inet", "name": "names4_0", "table": "jobcell", "type": "ipv4_addr", "handle": 5,
                 "elem": ["203.0.113.10"]}}]})";
    NetworkAccounting accounting;
    read_ruleset_accounting(listing, accounting);
    CHECK(accounting.denied.at("denied_never") == 3);
    CHECK(accounting.denied.at("denied_unlisted") == 0);
    CHECK(accounting.denied_destinations == std::vector<std::string>{"169.254.169.254 tcp 80"});
    accounting.dns.refused = 2;
    accounting.dns.refused_names = {"evil.example (A)"};
    const NetworkAccounting back = accounting_from_json(accounting_to_json(accounting));
    CHECK(back.denied == accounting.denied);
    CHECK(back.denied_destinations == accounting.denied_destinations);
    CHECK(back.dns.refused == 2);
    CHECK(back.dns.refused_names == accounting.dns.refused_names);
}

TEST_CASE("policy: tiers carry an allowlist, [network] the pool and resolvers", "[netplumbing]") {
    Policy policy = policy_with("network = \"allowlist\"\nallow = [\"gitlab.example.com:443\", \"[2001:db8::/32]:80-90\"]\n",
                                "[network]\npool4 = \"10.77.0.0/16\"\npool6 = \"fd00:77::/64\"\nresolvers = [\"192.0.2.53\", \"2001:db8::53\"]\n");
    CHECK(policy.tier("untrusted").allow == std::vector<std::string>{"gitlab.example.com:443", "[2001:db8::/32]:80-90"});
    CHECK(policy.network.pool4 == "10.77.0.0/16");
    CHECK(policy.network.resolvers.size() == 2);
    CHECK_THROWS_WITH(policy_with("allow = [\"http://x\"]\n"), StartsWith("p.toml:3:10: tiers.untrusted.allow: 'http://x': "));
    CHECK_THROWS_WITH(policy_with("", "[network]\npool4 = \"10.0.0.0/31\"\n"),
                      StartsWith("p.toml:3:9: network.pool4: '10.0.0.0/31': prefix /31 leaves no room"));
    CHECK_THROWS_WITH(policy_with("", "[network]\nresolvers = [\"dns.example\"]\n"),
                      Equals("p.toml:3:14: network.resolvers: 'dns.example': expected an IPv4 or IPv6 address"));
    CHECK_THROWS_WITH(policy_with("", "[network]\npool = \"x\"\n"), Contains("unknown key 'pool' in [network]"));
    // an allowlist on a tier without one is a mistake, as --allow without --net allowlist is
    CHECK_THROWS_WITH(policy_with("network = \"none\"\nallow = [\"x.example\"]\n"),
                      StartsWith("p.toml:4:9: tiers.untrusted.allow: the tier's network is \"none\", which has no allowlist"));
    CHECK_THROWS_WITH(policy_with("network = \"open\"\nallow = [\"x.example\"]\n"), Contains("network is \"open\""));
}

TEST_CASE("spec: --net overrides the tier, --allow adds to its list and needs allowlist", "[netplumbing]") {
    Policy policy = policy_with("network = \"allowlist\"\nallow = [\"a.example\"]\n");
    RunRequest request;
    request.tier = "untrusted";
    request.command = {"true"};
    request.allow = {"b.example:443"};
    SandboxSpec spec = resolve_spec(policy, request, {}, "/builds/x", same_path);
    CHECK(spec.network == "allowlist");
    CHECK(spec.allow == std::vector<std::string>{"a.example", "b.example:443"});
    request.network = "none";
    CHECK_THROWS_WITH(resolve_spec(policy, request, {}, "/builds/x", same_path),
                      Contains("--allow: the network of this run is \"none\""));
    request.network = "allowlist";
    request.allow = {"*"};
    CHECK_THROWS_WITH(resolve_spec(policy, request, {}, "/builds/x", same_path), StartsWith("allow entry '*': "));
    request.allow.clear();
    request.network = "open";
    CHECK(resolve_spec(policy, request, {}, "/builds/x", same_path).network == "open");
}
