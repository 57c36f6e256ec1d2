// The cell's egress ruleset, generated as nftables script text (one `inet` table, IPv4 and
// IPv6 alike) and loaded inside the cell's network namespace before the job loses its
// privileges (net/nft.hpp loads it). Pure: no syscalls; golden-tested.
//
// Rule order in the output chain (policy drop):
//   1. loopback accepted (the DNS forwarder listens on the cell's loopback), and IPv6 neighbour
//      solicitations and advertisements with hop limit 255 (link-local by construction; without
//      them no IPv6 next hop resolves); the kernel's own router solicitations and multicast
//      listener reports to ff02::/16 are dropped there without counting (not the job's doing)
//   2. never-allowed destinations dropped and counted: link-local and metadata
//      (169.254.0.0/16, fe80::/10, fd00:ec2::254, their NAT64 / 6to4 forms), multicast,
//      broadcast, 0.0.0.0/8
//   3. established and related traffic accepted
//   4. explicit single-address CIDR entries (/32, /128) accepted, on their ports
//   5. the host's own addresses (including the cell's gateway) dropped and counted
//   6. the other explicit CIDR entries accepted, on their ports
//   7. private ranges dropped and counted: RFC 1918, 100.64.0.0/10 (CGNAT), fc00::/7 (ULA),
//      fec0::/10 (site-local), and NAT64 / 6to4 / Teredo prefixes that can embed them
//   8. addresses the DNS forwarder added for allowlisted names (per port group, with
//      timeouts) accepted on their ports
//   9. allowlist: everything else dropped and counted; open: everything else accepted
// Every drop is counted (TCP rejected as administratively prohibited, so connect() fails at
// once), and also records the destination in a bounded dynamic set, so the audit record can
// say what was attempted: denied4 / denied6, keyed by address . protocol . destination port (0
// for protocols without ports), 256 elements each with a packet counter; once full, later
// destinations are still dropped and counted, just not listed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "net/allowlist.hpp"

namespace jobcell {

inline constexpr const char* kEgressTable = "jobcell";  // table inet jobcell, in the cell's netns

// Names of the named counters, one per drop reason, in the order above.
inline constexpr const char* kDenyCounters[] = {"denied_never", "denied_host", "denied_private",
                                                 "denied_unlisted"};

// Counts packets from outside that would have opened a connection to the cell (dropped).
inline constexpr const char* kInboundDenyCounter = "denied_inbound";

// The set pair that DNS answers for names of one port group are added to.
struct NameSetGroup {
    std::optional<PortRange> ports;  // nullopt: every port
    std::string set4;                // "names4_0": type ipv4_addr, flags timeout
    std::string set6;                // "names6_0": type ipv6_addr, flags timeout
};

struct EgressRulesetInput {
    std::string mode;                         // "allowlist" or "open"
    std::vector<AllowEntry> entries;          // parsed allowlist (ignored in open mode)
    std::vector<std::string> host_addresses;  // the host's own addresses, plain text (v4 or v6)
};

struct EgressRuleset {
    std::string script;                  // nft script: creates table inet jobcell from scratch
    std::vector<NameSetGroup> groups;    // one per distinct port spec among name entries
    std::vector<int> entry_group;        // per input entry: its index in groups, -1 for CIDRs
};

EgressRuleset generate_egress_ruleset(const EgressRulesetInput& input);

// The nft command adding one resolved address to a group's set for `ttl_seconds`.
std::string add_name_address_command(const NameSetGroup& group, const std::string& address,
                                     bool ipv6, unsigned ttl_seconds);

// Whether an address (plain text) lies in a range the ruleset always drops for names: the
// never-allowed ranges, the private ranges, or one of host_addresses. The DNS forwarder leaves
// such answers out of the allow sets.
bool address_always_denied_for_names(const std::string& address,
                                     const std::vector<std::string>& host_addresses);

}  // namespace jobcell
