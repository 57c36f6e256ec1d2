// The address pool cells take their veth addresses from. Pure: index -> addresses.
// A cell with index N gets the N-th /30 of pool4 (host side .1, cell .2 of it) and the N-th
// /126 of pool6 (host side ::1, cell ::2 of it).
#pragma once

#include <netinet/in.h>

#include <string>

namespace jobcell {

struct AddressPool {
    in_addr base4{};
    int prefix4 = 16;
    in6_addr base6{};
    int prefix6 = 64;
    unsigned capacity = 0;  // cells that fit in both pools (at most kMaxPoolCells)
};

// Interface names are "jcell<N>", which must fit IFNAMSIZ; 16384 concurrent cells is plenty.
inline constexpr unsigned kMaxPoolCells = 16384;

struct CellAddresses {
    std::string host4, cell4;  // plain text
    std::string host6, cell6;
    static constexpr int prefix4 = 30;
    static constexpr int prefix6 = 126;
};

// Throws Error("pool4 '...': why") / ("pool6 ...") unless each is a network address with room
// for at least one cell (prefix at most 30 / 126) and no host bits.
AddressPool parse_address_pool(const std::string& pool4, const std::string& pool6);

// The problem with one pool text, or "" when it is fine (for the policy reader's messages).
std::string pool_problem(const std::string& text, bool ipv6);

CellAddresses cell_addresses(const AddressPool& pool, unsigned index);

}  // namespace jobcell
