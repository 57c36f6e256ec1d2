#include "net/host_nat.hpp"

namespace jobcell {

std::string host_veth_name(unsigned index) { return kHostVethPrefix + std::to_string(index); }
std::string host_table_name(unsigned index) { return kHostTablePrefix + std::to_string(index); }

std::string host_nat_script(unsigned index, const CellAddresses& a, bool ipv6) {
    const std::string veth = "\"" + host_veth_name(index) + "\"";
    const std::string from = "iifname " + veth + " ";
    std::string s = "table inet " + host_table_name(index) + " {\n";
    s += "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n";
    s += "    ip saddr " + a.cell4 + " oifname != " + veth + " masquerade\n";
    if (ipv6) s += "    ip6 saddr " + a.cell6 + " oifname != " + veth + " masquerade\n";
    s += "  }\n";
    s += "  chain forward {\n    type filter hook forward priority filter; policy accept;\n";
    s += "    " + from + "ip saddr != " + a.cell4 + " drop\n";
    s += ipv6 ? "    " + from + "ip6 saddr != " + a.cell6 + " drop\n" : "    " + from + "meta nfproto ipv6 drop\n";
    s += "    " + from + "ip daddr { 0.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4, 240.0.0.0/4 } drop\n";
    s += "    " + from + "ip6 daddr { fe80::/10, fd00:ec2::254, ff00::/8 } drop\n";
    s += "    " + from + "oifname \"" + std::string(kHostVethPrefix) + "*\" drop\n";
    // Nothing connects to a cell: towards it only replies of what it began pass (the cell's
    // own input chain says the same; this holds should that one ever be rewritten).
    s += "    oifname " + veth + " ct state != { established, related } drop\n";
    s += "  }\n";
    // Neighbour discovery must reach the host's end of the pair, or IPv6 has no next hop.
    s += "  chain input {\n    type filter hook input priority filter; policy accept;\n";
    s += "    " + from + "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept\n";
    s += "    " + from + "drop\n";
    s += "  }\n}\n";
    return s;
}

}  // namespace jobcell
