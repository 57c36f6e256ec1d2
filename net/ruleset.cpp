// The egress ruleset as nft script text. Nothing from the allowlist reaches the script
// unchecked: addresses are re-read with inet_pton and written back canonically, names never
// appear at all (only the sets their answers go to), so a hand-built entry cannot smuggle nft
// syntax in.
#include "net/ruleset.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/error.hpp"

namespace jobcell {
namespace {

// Never allowed, whatever the allowlist says: link-local (cloud metadata at 169.254.169.254 and
// fd00:ec2::254), "this network", multicast, broadcast, the unspecified and loopback addresses
// off lo, and the IPv6 forms that embed 169.254.0.0/16 (v4-mapped, NAT64, 6to4).
constexpr std::array<std::string_view, 4> kNever4{"0.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4",
                                                  "240.0.0.0/4"};
constexpr std::array<std::string_view, 8> kNever6{"::/128",         "::1/128",           "::ffff:0:0/96",
                                                  "64:ff9b::a9fe:0/112", "2002:a9fe::/32", "fd00:ec2::254/128",
                                                  "fe80::/10",      "ff00::/8"};

// Private: reachable only through the host's own networks, so only an explicit CIDR entry opens
// them. The IPv6 translation prefixes (NAT64, 6to4, Teredo) are here whole because they can
// embed any of these; fec0::/10 is the deprecated site-local range, private by another name.
constexpr std::array<std::string_view, 5> kPrivate4{"10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
                                                    "172.16.0.0/12", "192.168.0.0/16"};
constexpr std::array<std::string_view, 6> kPrivate6{"64:ff9b::/96", "64:ff9b:1::/48", "2001::/32",
                                                    "2002::/16",    "fc00::/7",       "fec0::/10"};

// Bounds kernel memory: the denied sets record the first destinations only, the name sets
// cannot grow without limit however many names a wildcard entry resolves.
constexpr unsigned kDeniedSetSize = 256;
constexpr unsigned kNameSetSize = 65536;

struct Ip {
    int family = AF_INET;
    std::array<unsigned char, 16> bytes{};
};

std::optional<Ip> parse_ip(std::string_view text, int family) {
    Ip ip;
    ip.family = family;
    if (inet_pton(family, std::string(text).c_str(), ip.bytes.data()) != 1) return std::nullopt;
    return ip;
}

std::optional<Ip> parse_any_ip(std::string_view text) {
    if (auto ip = parse_ip(text, AF_INET)) return ip;
    return parse_ip(text, AF_INET6);
}

std::string ip_text(const Ip& ip) {
    std::array<char, INET6_ADDRSTRLEN> text{};
    inet_ntop(ip.family, ip.bytes.data(), text.data(), text.size());
    return text.data();
}

int bits(int family) {
    return family == AF_INET ? 32 : 128;
}

bool same_prefix(const Ip& a, const Ip& b, int prefix) {
    for (int bit = 0; bit < prefix; ++bit) {
        const auto byte = static_cast<std::size_t>(bit / 8);
        const unsigned mask = 0x80U >> (bit % 8);
        if ((a.bytes[byte] & mask) != (b.bytes[byte] & mask)) return false;
    }
    return true;
}

// `cidr` is one of the tables above, always "ADDRESS/PREFIX" of ip's family or the other.
bool in_range(const Ip& ip, std::string_view cidr) {
    const std::size_t slash = cidr.find('/');
    const std::optional<Ip> network = parse_ip(cidr.substr(0, slash), ip.family);
    if (!network) return false;
    return same_prefix(ip, *network, std::stoi(std::string(cidr.substr(slash + 1))));
}

template <std::size_t N>
bool in_any(const Ip& ip, const std::array<std::string_view, N>& ranges) {
    return std::any_of(ranges.begin(), ranges.end(), [&](std::string_view r) { return in_range(ip, r); });
}

// The host addresses in canonical text, duplicates dropped, split by family.
struct HostAddresses {
    std::vector<std::string> v4;
    std::vector<std::string> v6;
};

HostAddresses canonical_host_addresses(const std::vector<std::string>& texts) {
    HostAddresses out;
    for (const std::string& text : texts) {
        const std::optional<Ip> ip = parse_any_ip(text);
        if (!ip) throw Error("host address '" + text + "': not a plain IPv4 or IPv6 address");
        auto& list = ip->family == AF_INET ? out.v4 : out.v6;
        const std::string canonical = ip_text(*ip);
        if (std::find(list.begin(), list.end(), canonical) == list.end()) list.push_back(canonical);
    }
    return out;
}

// "ip daddr 203.0.113.0/24" for an explicit CIDR entry, re-checked as the parser would.
std::string cidr_match(const AllowEntry& entry) {
    const bool v6 = entry.kind == AllowEntry::Kind::cidr6;
    const int family = v6 ? AF_INET6 : AF_INET;
    const std::optional<Ip> ip = parse_ip(entry.address, family);
    if (!ip || entry.prefix < 0 || entry.prefix > bits(family)) {
        throw Error("allow entry '" + entry.text + "': not a valid network (" + entry.address + "/" +
                    std::to_string(entry.prefix) + ")");
    }
    Ip network = *ip;
    for (int bit = entry.prefix; bit < bits(family); ++bit) {
        network.bytes[static_cast<std::size_t>(bit / 8)] &= static_cast<unsigned char>(~(0x80U >> (bit % 8)));
    }
    if (network.bytes != ip->bytes) {
        throw Error("allow entry '" + entry.text + "': host bits set in " + entry.address + "/" +
                    std::to_string(entry.prefix));
    }
    std::string match = v6 ? "ip6 daddr " : "ip daddr ";
    match += ip_text(network);
    if (entry.prefix != bits(family)) match += "/" + std::to_string(entry.prefix);
    return match;
}

// Ports apply to TCP and UDP alike; an entry without ports allows every protocol.
std::string port_match(const std::optional<PortRange>& ports) {
    if (!ports) return "";
    std::string match = " meta l4proto { tcp, udp } th dport " + std::to_string(ports->first);
    if (ports->last != ports->first) match += "-" + std::to_string(ports->last);
    return match;
}

bool is_single_address(const AllowEntry& entry) {
    return entry.prefix == (entry.kind == AllowEntry::Kind::cidr4 ? 32 : 128);
}

bool is_cidr(const AllowEntry& entry) {
    return entry.kind == AllowEntry::Kind::cidr4 || entry.kind == AllowEntry::Kind::cidr6;
}

class Script {
public:
    void line(int indent, std::string_view text) {
        text_.append(static_cast<std::size_t>(indent), '\t');
        text_ += text;
        text_ += '\n';
    }
    void blank() { text_ += '\n'; }
    template <typename Ranges>
    void set(std::string_view name, std::string_view type, std::string_view flags, const Ranges& elements) {
        line(1, "set " + std::string(name) + " {");
        line(2, "type " + std::string(type));
        if (!flags.empty()) line(2, "flags " + std::string(flags));
        if (!std::empty(elements)) {
            std::string list;
            for (const auto& element : elements) {
                if (!list.empty()) list += ", ";
                list += element;
            }
            line(2, "elements = { " + list + " }");
        }
        line(1, "}");
    }
    std::string take() { return std::move(text_); }

private:
    std::string text_;
};

// IPv6 neighbour discovery never leaves the link (hop limit 255); without it no IPv6 next hop
// resolves. Both chains let it pass.
constexpr const char* kNeighbourDiscovery = "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255 accept";

// Every drop jumps here first. Each update is a rule of its own: a full set makes its update
// end the rule, and that must never skip the drop that follows in the caller.
void record_chain(Script& s) {
    s.line(1, "chain record_denied {");
    s.line(2, "meta l4proto { tcp, udp } update @denied4 { ip daddr . meta l4proto . th dport }");
    s.line(2, "meta l4proto != { tcp, udp } update @denied4 { ip daddr . meta l4proto . 0 }");
    s.line(2, "meta l4proto { tcp, udp } update @denied6 { ip6 daddr . meta l4proto . th dport }");
    s.line(2, "meta l4proto != { tcp, udp } update @denied6 { ip6 daddr . meta l4proto . 0 }");
    s.line(1, "}");
}

// A silently dropped SYN leaves connect() retrying for minutes; a TCP attempt is rejected with
// "administratively prohibited" instead, which the job sees at once (EHOSTUNREACH over IPv4,
// EACCES over IPv6). Other protocols are dropped: the job's send() already fails with EPERM.
void drop_chain(Script& s, std::string_view counter) {
    const std::string name(counter);
    s.line(1, "chain drop_" + name.substr(name.find('_') + 1) + " {");
    s.line(2, "jump record_denied");
    s.line(2, "counter name \"" + name + "\"");
    s.line(2, "meta l4proto tcp reject with icmpx admin-prohibited");
    s.line(2, "drop");
    s.line(1, "}");
}

// Goes to the drop chain for `counter` ("denied_host" -> "drop_host").
std::string go_drop(std::string_view counter) {
    const std::string name(counter);
    return "goto drop_" + name.substr(name.find('_') + 1);
}

// Both families' sets of a kind ("never": @never4, @never6) to the drop chain for `counter`.
void drop_sets(Script& s, std::string_view kind, std::string_view counter) {
    const std::string set(kind);
    s.line(2, "ip daddr @" + set + "4 " + go_drop(counter));
    s.line(2, "ip6 daddr @" + set + "6 " + go_drop(counter));
}

void declare(Script& s, const HostAddresses& hosts, const std::vector<NameSetGroup>& groups) {
    for (const char* counter : kDenyCounters) s.line(1, "counter " + std::string(counter) + " { }");
    s.line(1, "counter " + std::string(kInboundDenyCounter) + " { }");
    s.blank();
    s.set("never4", "ipv4_addr", "interval", kNever4);
    s.set("never6", "ipv6_addr", "interval", kNever6);
    s.set("host4", "ipv4_addr", "", hosts.v4);
    s.set("host6", "ipv6_addr", "", hosts.v6);
    s.set("private4", "ipv4_addr", "interval", kPrivate4);
    s.set("private6", "ipv6_addr", "interval", kPrivate6);
    const std::string size = "size " + std::to_string(kNameSetSize);
    for (const NameSetGroup& group : groups) {
        for (const auto& [name, type] : {std::pair{group.set4, "ipv4_addr"}, std::pair{group.set6, "ipv6_addr"}}) {
            s.line(1, "set " + name + " {");
            s.line(2, std::string("type ") + type);
            s.line(2, "flags timeout");
            s.line(2, size);
            s.line(1, "}");
        }
    }
    for (const auto& [name, type] : {std::pair{"denied4", "ipv4_addr"}, std::pair{"denied6", "ipv6_addr"}}) {
        s.line(1, std::string("set ") + name + " {");
        s.line(2, std::string("type ") + type + " . inet_proto . inet_service");
        s.line(2, "flags dynamic");
        s.line(2, "size " + std::to_string(kDeniedSetSize));
        s.line(2, "counter");
        s.line(1, "}");
    }
    s.blank();
    record_chain(s);
    for (const char* counter : kDenyCounters) drop_chain(s, counter);
    s.blank();
}

// Steps 4 and 6: the explicit CIDR entries, single addresses or networks.
void cidr_rules(Script& s, const std::vector<AllowEntry>& entries, bool single) {
    for (const AllowEntry& entry : entries) {
        if (is_cidr(entry) && is_single_address(entry) == single) {
            s.line(2, cidr_match(entry) + port_match(entry.ports) + " accept");
        }
    }
}

void output_chain(Script& s, const EgressRulesetInput& input, const std::vector<NameSetGroup>& groups) {
    const bool open = input.mode == "open";
    s.line(1, "chain output {");
    s.line(2, "type filter hook output priority filter; policy drop;");
    s.line(2, "# 1. loopback (the DNS forwarder listens there), and IPv6 neighbour discovery, which");
    s.line(2, "#    never leaves the link (hop limit 255) and without which no IPv6 next hop resolves");
    s.line(2, "oif \"lo\" accept");
    s.line(2, kNeighbourDiscovery);
    s.line(2, "#    the kernel's own link chatter (router solicitations, multicast listener reports): not");
    s.line(2, "#    the job's (it cannot send these without CAP_NET_RAW), so dropped without counting");
    s.line(2, "ip6 daddr ff02::/16 icmpv6 type { nd-router-solicit, mld-listener-report, mld2-listener-report } drop");
    s.line(2, "# 2. never allowed: link-local and metadata, multicast, broadcast, 0.0.0.0/8");
    drop_sets(s, "never", kDenyCounters[0]);
    s.line(2, "# 3. replies and related traffic of connections allowed below");
    s.line(2, "ct state established,related accept");
    if (!open) {
        s.line(2, "# 4. allow entries for single addresses (may name one of the host's own)");
        cidr_rules(s, input.entries, true);
    }
    s.line(2, "# 5. the host's own addresses, the cell's gateway among them");
    drop_sets(s, "host", kDenyCounters[1]);
    if (!open) {
        s.line(2, "# 6. allow entries for networks");
        cidr_rules(s, input.entries, false);
    }
    s.line(2, "# 7. private ranges, and the translation prefixes that can embed them");
    drop_sets(s, "private", kDenyCounters[2]);
    if (open) {
        // Open mode needs neither name sets nor CIDR entries: every public address is allowed.
        s.line(2, "# 9. open: every other (public) destination");
        s.line(2, "accept");
    } else {
        s.line(2, "# 8. addresses the DNS forwarder resolved for allowlisted names");
        for (const NameSetGroup& group : groups) {
            s.line(2, "ip daddr @" + group.set4 + port_match(group.ports) + " accept");
            s.line(2, "ip6 daddr @" + group.set6 + port_match(group.ports) + " accept");
        }
        s.line(2, "# 9. allowlist: everything else");
        s.line(2, go_drop(kDenyCounters[3]));
    }
    s.line(1, "}");
}

// Nothing from outside may open a connection to the job (a listener in the cell reached from
// the LAN or through a route to the pool would be a channel the allowlist never sees): only
// replies of what the output chain let out, loopback, and neighbour discovery come in.
void input_chain(Script& s) {
    s.line(1, "chain input {");
    s.line(2, "type filter hook input priority filter; policy drop;");
    s.line(2, "iif \"lo\" accept");
    s.line(2, "ct state established,related accept");
    s.line(2, kNeighbourDiscovery);
    s.line(2, "counter name \"" + std::string(kInboundDenyCounter) + "\" drop");
    s.line(1, "}");
}

bool valid_set_name(const std::string& name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

}  // namespace

EgressRuleset generate_egress_ruleset(const EgressRulesetInput& input) {
    if (input.mode != "allowlist" && input.mode != "open") {
        throw Error("egress ruleset: network mode '" + input.mode + "' has none (expected allowlist or open)");
    }
    const bool open = input.mode == "open";
    EgressRuleset ruleset;
    ruleset.entry_group.assign(input.entries.size(), -1);
    for (std::size_t i = 0; !open && i < input.entries.size(); ++i) {
        const AllowEntry& entry = input.entries[i];
        if (is_cidr(entry)) continue;
        const auto found = std::find_if(ruleset.groups.begin(), ruleset.groups.end(),
                                        [&](const NameSetGroup& g) { return g.ports == entry.ports; });
        if (found != ruleset.groups.end()) {
            ruleset.entry_group[i] = static_cast<int>(found - ruleset.groups.begin());
            continue;
        }
        const std::string index = std::to_string(ruleset.groups.size());
        ruleset.entry_group[i] = static_cast<int>(ruleset.groups.size());
        ruleset.groups.push_back({entry.ports, "names4_" + index, "names6_" + index});
    }
    const HostAddresses hosts = canonical_host_addresses(input.host_addresses);

    Script s;
    s.line(0, "# The cell's egress ruleset (" + input.mode + "), from net/ruleset.cpp, for a fresh network");
    s.line(0, "# namespace. Every drop is counted and its destination recorded in denied4 / denied6.");
    s.line(0, "table inet " + std::string(kEgressTable) + " {");
    declare(s, hosts, ruleset.groups);
    output_chain(s, input, ruleset.groups);
    input_chain(s);
    s.line(0, "}");
    ruleset.script = s.take();
    return ruleset;
}

std::string add_name_address_command(const NameSetGroup& group, const std::string& address, bool ipv6,
                                     unsigned ttl_seconds) {
    const std::optional<Ip> ip = parse_ip(address, ipv6 ? AF_INET6 : AF_INET);
    if (!ip) {
        throw Error("name set address '" + address + "': not an " + (ipv6 ? "IPv6" : "IPv4") + " address");
    }
    const std::string& set = ipv6 ? group.set6 : group.set4;
    if (!valid_set_name(set)) throw Error("name set '" + set + "': not a set of the egress ruleset");
    // A timeout of 0 would be refused by nft; on kernels from 6.10 on, adding an element that is
    // already there sets its timeout anew, so a repeated answer extends (or shortens) it.
    const unsigned ttl = std::max(ttl_seconds, 1U);
    return "add element inet " + std::string(kEgressTable) + " " + set + " { " + ip_text(*ip) + " timeout " +
           std::to_string(ttl) + "s }\n";
}

bool address_always_denied_for_names(const std::string& address, const std::vector<std::string>& host_addresses) {
    const std::optional<Ip> ip = parse_any_ip(address);
    if (!ip) return true;  // unreadable: never allowed
    const bool v4 = ip->family == AF_INET;
    if (v4 ? (in_any(*ip, kNever4) || in_any(*ip, kPrivate4)) : (in_any(*ip, kNever6) || in_any(*ip, kPrivate6))) {
        return true;
    }
    return std::any_of(host_addresses.begin(), host_addresses.end(), [&](const std::string& host) {
        const std::optional<Ip> other = parse_ip(host, ip->family);
        return other && other->bytes == ip->bytes;
    });
}

}  // namespace jobcell
