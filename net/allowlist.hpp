// The egress allowlist as data: parsing of the entries an operator writes in a tier's `allow`
// list or with --allow, and the name matching the DNS forwarder needs. Pure: no syscalls.
//
// ENTRY is one of
//   HOST[:PORTS]          "gitlab.example.com", "gitlab.example.com:443"
//   *.SUFFIX[:PORTS]      "*.debian.org:80" (every name below the suffix, not the suffix itself)
//   CIDR[:PORTS]          "203.0.113.0/24:443", "198.51.100.7" (a bare address is a /32)
//   [IPV6CIDR][:PORTS]    "[2001:db8::/32]:443", "[2001:db8::1]"
// PORTS is N or N-M (1..65535). No port means every port. Port matches apply to TCP and UDP.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobcell {

struct PortRange {
    std::uint16_t first = 0;
    std::uint16_t last = 0;  // == first for one port
    bool operator==(const PortRange&) const = default;
};

struct AllowEntry {
    enum class Kind { host, suffix, cidr4, cidr6 };
    Kind kind = Kind::host;
    // host: the lower-case name without a trailing dot; suffix: the part after "*.".
    std::string name;
    // cidr4/cidr6: the network address in canonical text ("203.0.113.0", "2001:db8::") and the
    // prefix length; host bits are refused at parse time ("203.0.113.1/24" is an error).
    std::string address;
    int prefix = 0;
    std::optional<PortRange> ports;  // nullopt: every port
    std::string text;                // as written, for messages and the audit record
    bool operator==(const AllowEntry&) const = default;
};

// Throws Error("allow entry 'TEXT': why") for anything that is not exactly one of the forms.
AllowEntry parse_allow_entry(std::string_view text);
std::vector<AllowEntry> parse_allowlist(const std::vector<std::string>& texts);

// Normalises a DNS name for matching: lower case, no trailing dot. Returns nullopt for names
// that are not plain LDH host names (empty labels, labels over 63, name over 253 characters,
// characters other than [a-z0-9-_]).
std::optional<std::string> normalise_dns_name(std::string_view name);

// Whether a normalised name is covered by a host or suffix entry (CIDR entries never match).
bool entry_matches_name(const AllowEntry& entry, std::string_view normalised_name);

}  // namespace jobcell
